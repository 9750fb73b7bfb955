"""The case-system simulator: as an operator starts it (``tongjiao sim casesys``: secrets from its
keys folder or options, a signed event accepted and shown on its page, stops on SIGTERM), and
refusing what is not a genuine, fresh event — forged, altered, unsigned, replayed."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp

from adapters.casesys.simulator import SECRET_FILE, WEBHOOK_PATH
from clearing.domain.webhooks import signature_header
from clearing.service import webhooks
from tests.integration.casesys_harness import running_casesys
from tests.integration.serving import running_sim_cli, spawn_python, stops_on_sigterm


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


def _signed(
    secret: str, body: dict[str, Any], at: int | None = None
) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    ts = int(time.time()) if at is None else at
    return raw, {
        "Content-Type": "application/json",
        "X-Tongjiao-Event-Id": str(body["id"]),
        "X-Tongjiao-Timestamp": str(ts),
        "X-Tongjiao-Signature": signature_header([secret], ts, raw),
    }


_EVENT = {
    "id": "evt_" + "ab" * 16,
    "type": "order.paid",
    "occurred_at": "2026-12-07T20:00:00.000+08:00",
    "data": {"order_no": "T0000001", "case_no": "2026-BDC-1", "paid_fen": 100},
}


async def test_the_simulator_refuses_forged_and_replayed_events() -> None:
    async with running_casesys() as sim:
        secret = webhooks.new_secret()
        await sim.set_secrets(secret)
        # signed with a secret the case system never had
        body, headers = _signed(webhooks.new_secret(), _EVENT)
        assert (await sim.post(body, headers))[0] == 401
        # a genuine body altered in flight
        body, headers = _signed(secret, _EVENT)
        forged = body.replace(b'"paid_fen":100', b'"paid_fen":1')
        assert (await sim.post(forged, headers))[1]["code"] == "SIGNATURE_INVALID"
        # no signature at all
        assert (await sim.post(body, {**headers, "X-Tongjiao-Signature": ""}))[0] == 401
        # the genuine one is processed once; the same request again is acknowledged only
        assert await sim.post(body, headers) == (200, {"received": True, "duplicate": False})
        assert await sim.post(body, headers) == (200, {"received": True, "duplicate": True})
        # replayed later: its signed timestamp is stale, whatever the signature
        old = int(time.time()) - 600
        body, headers = _signed(secret, {**_EVENT, "id": "evt_" + "cd" * 16}, at=old)
        status, answer = await sim.post(body, headers)
        assert (status, answer["code"]) == (400, "TIMESTAMP_STALE")
        seen = await sim.events()
        assert [e["id"] for e in seen["events"]] == [_EVENT["id"]] and seen["duplicates"] == 1
        assert [r["code"] for r in seen["refused"]] == [
            "SIGNATURE_INVALID",
            "SIGNATURE_INVALID",
            "SIGNATURE_INVALID",
            "TIMESTAMP_STALE",
        ]


async def test_the_module_runs_on_its_own(tmp_path: Path) -> None:
    """``python -m adapters.casesys.simulator`` serves as ``tongjiao sim casesys`` does: the
    module's own entry point must not run before the whole module is defined."""
    proc = await spawn_python(
        *("-m", "adapters.casesys.simulator", "--port", "0", "--keys", str(tmp_path))
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode().strip()
        assert line.startswith("casesys simulator listening on http://127.0.0.1:"), line
        url = line.rsplit(" ", 1)[1] + "/sim/faults"
        async with aiohttp.ClientSession() as session, session.put(url, json=[]) as resp:
            assert resp.status == 400
            assert await resp.json() == {"detail": "body must be a JSON object"}
        assert await stops_on_sigterm(proc)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
