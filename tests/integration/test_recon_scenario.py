"""A simulated business day with faults, reconciled on real PostgreSQL against every simulator:
a lost callback, a duplicate payment, a fee difference, a rejected settlement line and a tax
confirmation missing each appear as exactly one discrepancy of the right type; after the
recovery actions the next run shows none open and the accounts balanced. Re-running a day changes
nothing, and two runs of the same day at once double nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import aiohttp
import pytest

from adapters.wechatpay.sim_state import STATE as WECHAT_STATE
from clearing import wiring
from clearing.api.keys import POOL, SETTINGS
from clearing.metrics import Metrics
from clearing.service import settlement
from reconciliation.runs import reconcile
from tests.integration.alipay_harness import running_alipay_sim
from tests.integration.bank_harness import ACQUIRER, COLLECTION, FUND, running_settling_service
from tests.integration.factories import PAYER_ID
from tests.integration.service_harness import Service, order_body
from tests.integration.tax_harness import running_tax_sim

pytestmark = pytest.mark.slow
BEIJING = timezone(timedelta(hours=8))


@pytest.fixture(scope="module")
async def env(db_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    tmp = tmp_path_factory.mktemp("recon")
    async with (
        running_alipay_sim(tmp / "alipay") as alipay,
        running_tax_sim(tmp / "tax") as tax,
        running_settling_service(
            db_dsn,
            tmp,
            others={"alipay": alipay},
            # lost callbacks stay lost until reconciliation finds them
            poll_first_s=600,
            poll_later_s=600,
            tax_keys=tmp / "tax" / "merchant",
            tax_base_url=tax.base_url,
            authority_timeout_s=1.0,
            recon_settle_lag_days=0,
        ) as (svc, wechat, bank, _ours, _tls),
    ):
        yield svc, wechat, alipay, tax, bank


async def _until(
    check: Callable[[], Awaitable[Any]], what: str | Callable[[], str], within_s: float = 15
) -> Any:
    deadline = time.monotonic() + within_s
    while not (got := await check()):
        assert time.monotonic() < deadline, (
            f"timed out waiting for {what if isinstance(what, str) else what()}"
        )
        await asyncio.sleep(0.1)
    return got


async def _run(svc: Service, **options: Any) -> dict[str, Any]:
    day = datetime.now(BEIJING).date()
    async with aiohttp.ClientSession() as session:
        sources, opt = wiring.recon_sources(svc.app[SETTINGS], session, Metrics(), svc.app[POOL])
        import dataclasses

        opt = dataclasses.replace(opt, confirm_grace=timedelta(0), **options)
        return await reconcile(svc.app[POOL], day, sources, opt, actor="test")


async def _open(svc: Service) -> list[dict[str, Any]]:
    rows = await svc.app[POOL].fetch(
        "SELECT type, source, reference, state FROM discrepancies"
        " WHERE state IN ('OPEN', 'ASSIGNED') ORDER BY type"
    )
    return [dict(r) for r in rows]


async def _nudge(svc: Service, kind: str) -> None:
    """Tasks waiting out a backoff run now (a test does not wait minutes)."""
    await svc.app[POOL].execute(
        "UPDATE tasks SET run_at = now() WHERE kind = $1 AND state = 'READY'", kind
    )


async def _written(svc: Service, batch_id: int) -> bool:
    async with svc.app[POOL].acquire() as conn:
        return bool(
            await conn.fetchval(
                "SELECT state <> 'CREATED' FROM settlement_batches WHERE id = $1", batch_id
            )
        )


async def _settled_and_fetched(svc: Service, bank: Any, files: str) -> None:
    """A cut-off of every account now, its ``files`` written, and the bank told to fetch."""
    async with svc.app[POOL].acquire() as conn:
        batch = await settlement.cutoff(
            conn, bank="SFBK", now=datetime.now(UTC), every_account=True, actor="test"
        )
    assert batch is not None
    await _until(lambda: _written(svc, batch), files)
    await bank.control("POST", "/sim/fetch", {})


async def _pay(svc: Service, amounts: tuple[int, ...], items: list[str] | None = None) -> str:
    supervisor = await svc.supervisor()
    body = order_body(amounts)
    if items:
        body["lines"] = [
            {"item_code": i, "amount_fen": a} for i, a in zip(items, amounts, strict=True)
        ]
    status, order = await svc.create_order(supervisor, body)
    assert status == 201, order
    qr = await svc.open_qr(supervisor, order["order_no"])
    status, _ = await svc.sim.pay(qr["out_trade_no"])
    assert status == 200
    return str(order["order_no"])


async def test_a_day_with_five_faults_reconciles_to_zero(env: Any) -> None:
    svc, wechat, alipay, tax, bank = env
    supervisor = await svc.supervisor()
    wechat_paid = 0
    fees = 0
    # normal business
    for amounts in ((350_000_00, 80_00), (1_234_56, 90_00, 3_000_00)):
        order_no = await _pay(svc, amounts)
        await svc.wait_state(supervisor, order_no, "CLEARED")
        wechat_paid += sum(amounts)
    # 2. a fee difference: the channel charged 0.60% on one payment where the contract says 0
    wechat.app[WECHAT_STATE].fee_ppm = 6000
    charged = await _pay(svc, (10_000_00,), ["MAINT_FUND"])
    wechat.app[WECHAT_STATE].fee_ppm = 0
    wechat_paid += 10_000_00
    fees += ((10_000_00 * 6000 + 500) // 1000 + 500) // 1000
    await svc.wait_state(supervisor, charged, "CLEARED")
    # 3. a duplicate payment: one order paid on two channels; the second refund is slow
    status, order = await svc.create_order(supervisor, order_body((520_00,)))
    assert status == 201
    qr = await svc.open_qr(supervisor, order["order_no"])
    second = await svc.start_payment(supervisor, order["order_no"], method="qr", channel="alipay")
    # (Alipay's gateway answers 502 meanwhile, so no refund attempt reaches it)
    await alipay.set_faults(api_5xx=1_000_000)
    await svc.sim.pay(qr["out_trade_no"])
    await svc.wait_state(supervisor, order["order_no"], "CLEARED")
    wechat_paid += 520_00
    await alipay.pay(second["out_trade_no"])

    async def second_recorded() -> bool:
        async with svc.app[POOL].acquire() as conn:
            return bool(
                await conn.fetchval(
                    "SELECT 1 FROM payments WHERE provider = 'alipay' AND out_trade_no = $1",
                    second["out_trade_no"],
                )
            )

    # the second payment's callback is delivered in the background: the night's run must find it
    await _until(second_recorded, "the duplicate payment's callback")

    async def refund_held() -> bool:
        """The refund waits (an hour's backoff) with no attempt in flight."""
        async with svc.app[POOL].acquire() as conn:
            await conn.execute(
                "UPDATE tasks SET run_at = now() + interval '1 hour'"
                " WHERE kind = 'payment.refund' AND state = 'READY'"
            )
            return not await conn.fetchval(
                "SELECT count(*) FROM tasks WHERE kind = 'payment.refund' AND state <> 'READY'"
            ) and bool(
                await conn.fetchval("SELECT count(*) FROM tasks WHERE kind = 'payment.refund'")
            )

    # the second refund is slow: it has not happened by the night's run, whatever the machine
    await _until(refund_held, "the duplicate's refund held back")
    await alipay.set_faults(api_5xx=0)
    # 4. a tax confirmation missing: the bureau is down when the leg is confirmed
    decl = await tax.create_case(buyer_name="张三", buyer_id=PAYER_ID)
    case = {"declaration_no": decl["declaration_no"], "matters": [{"kind": "residential"}]}
    status, taxed = await svc.create_order(
        supervisor, {**order_body(), "lines": None, "case": case, "manual_reason": None}
    )
    assert status == 201, taxed
    qr = await svc.open_qr(supervisor, taxed["order_no"])
    await tax.set_faults(down=True)
    await svc.sim.pay(qr["out_trade_no"])
    await svc.wait_state(supervisor, taxed["order_no"], "CLEARED")
    wechat_paid += taxed["total_fen"]
    # 1. a lost callback: the citizen paid, we never heard (every delivery and retry dropped)
    await wechat.set_faults(drop_callbacks=1.0)
    lost = await _pay(svc, (777_00,))
    wechat_paid += 777_00
    # the acquirer settles the day (net of its fee); settlement pays every beneficiary, but
    # 5. the fund's account is refused by the bank
    status, _ = await bank.control(
        "POST",
        "/sim/credit",
        {"account": COLLECTION, "amount_fen": wechat_paid - fees, "payer_name": ACQUIRER},
    )
    assert status == 201
    await bank.set_faults(reject_accounts=[FUND])
    await _settled_and_fetched(svc, bank, "the batch's files")

    async def fund_rejected() -> bool:
        async with svc.app[POOL].acquire() as conn:
            return bool(
                await conn.fetchval(
                    "SELECT count(*) FROM settlement_instructions WHERE state = 'REJECTED'"
                )
            )

    await _until(fund_rejected, "the bank's rejection")
    await bank.set_faults(reject_accounts=[])
    await bank.close_day(datetime.now(BEIJING).date())

    # the night's run: each fault exactly once, nothing else
    run = await _run(svc)
    assert run["state"] == "DONE"
    found = await _open(svc)
    assert sorted(d["type"] for d in found) == [
        "DUPLICATE",
        "FEE_MISMATCH",
        "LONG",
        "SETTLEMENT_REJECTED",
        "UNCONFIRMED_LEG",
    ], found
    by_type = {d["type"]: d for d in found}
    # what an operator's dashboard sees
    async with svc.session.get(svc.ops_url + "/metrics") as r:
        metrics = await r.text()
    for kind in by_type:
        assert f'tongjiao_discrepancies_open{{type="{kind}"}} 1.0' in metrics, kind
    assert "tongjiao_beneficiaries_payout_held 1.0" in metrics
    assert by_type["LONG"]["source"] == "wechatpay"
    assert by_type["DUPLICATE"]["source"] == "alipay"
    assert by_type["UNCONFIRMED_LEG"]["source"] == "tax"
    # the run itself recovered the lost payment through the normal capture path
    await svc.wait_state(supervisor, lost, "CLEARED")
    await wechat.set_faults(drop_callbacks=0.0)

    # re-running the day changes nothing; two runs at once double nothing
    before = await _open(svc)
    await asyncio.gather(
        _run(svc, fetch=False, recover=False), _run(svc, fetch=False, recover=False)
    )
    total = await svc.app[POOL].fetchval("SELECT count(*) FROM discrepancies")
    after = [d for d in await _open(svc) if d["type"] != "LONG"]  # LONG closes: now captured
    assert after == [d for d in before if d["type"] != "LONG"]
    assert total == 5

    # recovery: the refund goes through, the bureau answers, a corrected account, a person
    await _nudge(svc, "payment.refund")
    await tax.set_faults(down=False)
    await _nudge(svc, "leg.confirm")
    maker, checker = await svc.add_user("finance", None), await svc.add_user("finance", None)
    change = await svc.answered(
        "POST",
        "/api/v1/beneficiaries/FUND_CUSTODY/account-changes",
        maker,
        json={
            "account_no": FUND,
            "account_name": "示范市住房保障和房产管理局",
            "bank_name": "示范银行市分行营业部",
            "bank_code": "313100000013",
            "reason": "银行核实账户正常，重新付款",
        },
        expect=201,
    )
    status, _ = await svc.request(
        "POST", f"/api/v1/account-changes/{change['id']}/approve", checker, json={"note": "同意"}
    )
    assert status == 200
    fee = by_type["FEE_MISMATCH"]
    fee_id = await svc.app[POOL].fetchval(
        "SELECT id FROM discrepancies WHERE type = 'FEE_MISMATCH' AND reference = $1",
        fee["reference"],
    )
    await svc.answered(
        "POST",
        f"/api/v1/discrepancies/{fee_id}/resolve",
        checker,
        json={"reason": "渠道按合同例外收取手续费，已入手续费支出"},
    )
    await _settled_and_fetched(svc, bank, "the second batch's files")

    async def everything_booked() -> bool:
        async with svc.app[POOL].acquire() as conn:
            pending = await conn.fetchval(
                "SELECT count(*) FROM settlement_instructions WHERE state IN ('PENDING', 'ACCEPTED')"
            )
            refunded = await conn.fetchval("SELECT count(*) FROM refunds WHERE state = 'SUCCESS'")
            confirmed = await conn.fetchval(
                "SELECT count(*) FROM order_lines WHERE confirm_state = 'PENDING'"
            )
        last.update(pending=pending, refunded=refunded, unconfirmed=confirmed)
        return pending == 0 and refunded >= 1 and confirmed == 0

    last: dict[str, int] = {}
    await _until(everything_booked, lambda: f"the recovery actions: {last}", within_s=30)

    # the next run: nothing open, the accounts balanced
    run = await _run(svc)
    assert run["state"] == "DONE"
    assert await _open(svc) == []
    async with svc.app[POOL].acquire() as conn:
        balances = {
            r["code"]: int(r["balance_fen"])
            for r in await conn.fetch("SELECT code, balance_fen FROM account_balances")
        }
    assert all(v == 0 for k, v in balances.items() if k.startswith("payable:")), balances
    assert balances["suspense"] == 0
    assert balances["receivable:wechatpay"] == 0, balances
    assert balances["acquirer_fees"] == fees
    assert sum(balances.values()) == 0
