"""`tongjiao bills fetch` as finance staff run it: a channel's bill for a day, as CSV for Excel."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import aiohttp

from adapters.wechatpay.client import WeChatPayClient
from clearing.ports import LegPaid, PaymentAsk
from tests.integration.wechat_harness import running_wechat_sim

BEIJING = timezone(timedelta(hours=8))


async def _cli(env: dict[str, str], *args: str) -> tuple[int, bytes, bytes]:
    """``tongjiao ARGS`` as a real process: exit code, standard output, standard error."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "clearing", *args,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    return int(proc.returncode or 0), out, err


async def _cli_today(party: str, keys: Path, base_url: str, *args: str) -> tuple[int, bytes, bytes]:
    """``tongjiao ARGS --date TODAY`` (Beijing) configured for ``party`` alone: our keys for
    it and its simulator's URL."""
    env = {
        **os.environ,
        f"TONGJIAO_{party}_KEYS": str(keys),
        f"TONGJIAO_{party}_BASE_URL": base_url,
        "TONGJIAO_LOG_JSON": "false",
    }
    return await _cli(env, *args, "--date", datetime.now(BEIJING).date().isoformat())


async def test_bills_fetch_writes_the_days_payments(tmp_path: Path) -> None:
    async with running_wechat_sim(tmp_path / "wechat") as sim, aiohttp.ClientSession() as http:
        client = WeChatPayClient(
            http, base_url=sim.base_url, keys=sim.merchant, notify_url="http://127.0.0.1:9/n"
        )
        for i, amount in enumerate((123_45, 80_00)):
            otn = f"TJ20261126CLIBILL{i:04d}P01"
            await client.create_qr(
                PaymentAsk(
                    out_trade_no=otn,
                    description="不动产登记税费",
                    total_fen=amount,
                    expires_at=datetime.now(UTC) + timedelta(minutes=10),
                )
            )
            await sim.pay(otn)
        out = tmp_path / "bill.csv"
        code, stdout, stderr = await _cli_today(
            "WECHATPAY",
            tmp_path / "wechat" / "merchant",
            sim.base_url,
            *("bills", "fetch", "--channel", "wechatpay", "--out", str(out)),
        )
    assert code == 0, stderr.decode()
    assert stdout.decode().strip() == str(out)
    text = out.read_text(encoding="utf-8")
    assert text.startswith("\ufeff渠道,类型")
    rows = [r.split(",") for r in text.splitlines()[1:]]
    assert sorted(r[7] for r in rows if r[1] == "支付") == ["123.45", "80.00"]
    assert "payment_count 2" in stderr.decode()


async def test_an_unconfigured_channel_is_a_clear_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGJIAO_")}
    code, _, stderr = await _cli(
        env, "bills", "fetch", "--channel", "alipay", "--date", "2026-11-25"
    )
    assert code == 2
    assert "not configured" in stderr.decode()


async def test_confirmations_fetch_lists_the_tax_certificates_of_the_day(tmp_path: Path) -> None:
    from tests.integration.tax_harness import running_tax_sim

    async with running_tax_sim(tmp_path / "tax") as sim:
        client = sim.client()
        declaration = await sim.create_case(price="3000000.00", area_m2="89.50")
        items = await client.lookup(declaration["declaration_no"])
        legs = [
            await client.confirm(
                LegPaid(
                    item.reference,
                    item.amount_fen,
                    datetime.now(UTC),
                    "WX4200009",
                    "TJ20261126CLICONF1",
                )
            )
            for item in items
        ]
        code, stdout, stderr = await _cli_today(
            "TAX",
            tmp_path / "tax" / "merchant",
            sim.base_url,
            *("confirmations", "fetch", "--authority", "tax"),
        )
    assert code == 0, stderr.decode()
    lines = stdout.decode("utf-8").splitlines()
    assert lines[0] == "\ufeff主管部门,缴款凭证号,确认凭证号,确认时间,金额（元）,凭证要素"
    rows = [r.split(",") for r in lines[1:]]
    assert sorted(r[2].strip() for r in rows) == sorted(leg.proof_no for leg in legs)
    assert {r[0] for r in rows} == {"税务部门"}  # one name per authority, as on every page
    total = sum(i.amount_fen for i in items)
    assert f"confirmed_count {len(items)}" in stderr.decode()
    assert f"confirmed_fen {total}" in stderr.decode()
