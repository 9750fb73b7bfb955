"""``tongjiao sim casesys`` as an operator starts it: secrets from its keys folder or options,
a signed event accepted and shown on its page, stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import time
from pathlib import Path

import aiohttp

from adapters.casesys.simulator import SECRET_FILE, WEBHOOK_PATH
from clearing.domain.webhooks import signature_header
from tests.integration.serving import running_sim_cli, stops_on_sigterm


def _event(order_no: str, secret: str) -> tuple[bytes, dict[str, str]]:
    body = {
        "id": f"evt_{order_no.lower()}",
        "type": "order.paid",
        "occurred_at": "2026-12-07T20:00:00.000+08:00",
        "data": {"order_no": order_no, "case_no": "2026-BDC-CLI", "paid_fen": 8000},
    }
    raw = json.dumps(body).encode()
    ts = int(time.time())
    return raw, {
        "X-Tongjiao-Event-Id": str(body["id"]),
        "X-Tongjiao-Timestamp": str(ts),
        "X-Tongjiao-Signature": signature_header([secret], ts, raw),
    }


async def test_cli_verifies_with_its_secrets_and_stops_on_sigterm(tmp_path: Path) -> None:
    keys = tmp_path / "casesys"
    keys.mkdir()
    (keys / SECRET_FILE).write_text("whsec_from_file\n")
    async with (
        running_sim_cli("casesys", keys, "--secret", "whsec_from_option") as (url, proc),
        aiohttp.ClientSession() as session,
    ):
        for order_no, secret in (("CLI0001", "whsec_from_file"), ("CLI0002", "whsec_from_option")):
            body, headers = _event(order_no, secret)
            async with session.post(url + WEBHOOK_PATH, data=body, headers=headers) as resp:
                assert resp.status == 200, await resp.text()
        body, headers = _event("CLI0003", "whsec_never_given")
        async with session.post(url + WEBHOOK_PATH, data=body, headers=headers) as resp:
            assert resp.status == 401
        async with session.get(url + "/sim/") as resp:
            page = await resp.text()
        assert "CLI0001" in page and "CLI0002" in page and "CLI0003" not in page
        assert "缴费成功" in page and "拒收 1 次" in page
        assert await stops_on_sigterm(proc)
