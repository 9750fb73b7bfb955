"""Crash recovery with real processes: the service is SIGKILLed, or PostgreSQL crashes, in the middle
of a burst of WeChat Pay callbacks. Once things are back, the simulator's retries and the poller
must leave every paid order cleared exactly once, with a ledger that balances.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import asyncpg
import pytest

from adapters.wechatpay.keys import generate_keyset
from clearing.db.embedded import EmbeddedPostgres
from clearing.db.migrate import migrate
from clearing.db.pool import init_connection
from clearing.service import catalogue
from tests.integration import factories as f
from tests.procs import Proc, Processes

pytestmark = pytest.mark.slow

ORDERS = 40
KILL_AFTER = 10  # payments recorded before the axe falls
IN_FLIGHT = 5  # citizens who pay before it falls, beyond those
STAGGER_S = 0.01  # between two citizens paying
PASSWORD = "Correct horse battery 9"  # what factories.clerk gives every clerk
ITEMS = ["DEED_TAX", "REG_FEE", "MAINT_FUND", "VAT", "IIT", "STAMP_DUTY", "LAND_TRANSFER"]
# the poller asks every open attempt twice a second, so it can find payments too
SERVICE_ENV = {"TONGJIAO_POLL_FIRST_S": "0.5", "TONGJIAO_POLL_LATER_S": "1"}
SETTLE_WITHIN_S = 30.0


@dataclass(frozen=True)
class Trade:
    order_no: str
    out_trade_no: str
    total_fen: int


async def _connect(dsn: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn)
    await init_connection(conn)
    return conn


async def _login(http: aiohttp.ClientSession, base: str, dsn: str) -> str:
    conn = await _connect(dsn)
    try:
        who = await f.staff(conn)
    finally:
        await conn.close()
    body = {"username": who.username, "password": PASSWORD}
    async with http.post(f"{base}/api/v1/sessions", json=body) as r:
        assert r.status == 201, await r.text()
        return str((await r.json())["token"])


async def _open_orders(http: aiohttp.ClientSession, base: str, token: str, n: int) -> list[Trade]:
    """Orders and their QR attempts, made through the API as a window makes them."""
    rng = random.Random(n)
    trades = []
    for i in range(n):
        amounts = [rng.randint(1, 90_000_000) for _ in range(rng.randint(1, 4))]
        body = {
            "case_no": f"2026-BDC-{i:06d}",
            "office": "HALL1",
            "window": "W01",
            "payer_name": "张三",
            "payer_id": f.PAYER_ID,
            "lines": [
                {"item_code": ITEMS[j % len(ITEMS)], "amount_fen": a, "reference": f"REF{j}"}
                for j, a in enumerate(amounts)
            ],
            "manual_reason": "测试：主管手工录入",
        }
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": secrets.token_hex(12)}
        async with http.post(f"{base}/api/v1/orders", json=body, headers=headers) as r:
            assert r.status == 201, await r.text()
            order = await r.json()
        async with http.post(
            f"{base}/api/v1/orders/{order['order_no']}/payments",
            json={"channel": "wechatpay"},
            headers=headers,
        ) as r:
            assert r.status == 201, await r.text()
            qr = await r.json()
        assert order["total_fen"] == sum(amounts)
        trades.append(Trade(order["order_no"], qr["out_trade_no"], sum(amounts)))
    return trades


async def _pay(
    http: aiohttp.ClientSession, sim: str, trade: Trade, delay: float, after: asyncio.Event
) -> None:
    await after.wait()
    await asyncio.sleep(delay)
    async with http.post(f"{sim}/sim/orders/{quote(trade.out_trade_no)}/pay") as r:
        assert r.status == 200, await r.text()


async def _burst_with_crash(
    http: aiohttp.ClientSession,
    sim: str,
    trades: list[Trade],
    watch: asyncpg.Connection,
    crash: Callable[[], Any],
) -> int:
    """Every citizen pays, one after another in quick succession. Once KILL_AFTER payments are
    recorded, ``crash`` runs; the first KILL_AFTER + IN_FLIGHT citizens pay before it (so that
    some callbacks are in flight when it hits) and the rest from the moment it hits on.
    Returns how many payments were recorded when it hit."""
    now, crashed = asyncio.Event(), asyncio.Event()
    now.set()
    early = KILL_AFTER + IN_FLIGHT
    pays = [
        asyncio.create_task(
            _pay(
                http,
                sim,
                t,
                0.0 if i < early else (i - early) * STAGGER_S,
                now if i < early else crashed,
            )
        )
        for i, t in enumerate(trades)
    ]
    try:
        deadline = time.monotonic() + 10
        while (recorded := await watch.fetchval("SELECT count(*) FROM payments")) < KILL_AFTER:
            assert time.monotonic() < deadline, f"only {recorded} payments recorded"
            await asyncio.sleep(0.002)
        crashed.set()
        done = crash()
        if asyncio.iscoroutine(done):
            await done
    finally:
        crashed.set()
        await asyncio.gather(*pays)
    return int(recorded)


async def _sim_orders(
    http: aiohttp.ClientSession, sim: str, trades: list[Trade]
) -> list[dict[str, Any]]:
    out = []
    for t in trades:
        async with http.get(f"{sim}/sim/orders/{quote(t.out_trade_no)}") as r:
            assert r.status == 200, await r.text()
            out.append(await r.json())
    return out


async def _settle(
    http: aiohttp.ClientSession, sim: str, dsn: str, trades: list[Trade]
) -> list[dict[str, Any]]:
    """Wait until every order is CLEARED and the simulator has had every callback acknowledged."""
    deadline = time.monotonic() + SETTLE_WITHIN_S
    cleared = 0
    while time.monotonic() < deadline:
        try:
            conn = await _connect(dsn)
            try:
                cleared = await conn.fetchval(
                    "SELECT count(*) FROM orders WHERE order_no = ANY($1::text[])"
                    " AND state = 'CLEARED'",
                    [t.order_no for t in trades],
                )
            finally:
                await conn.close()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            cleared = 0
        if cleared == len(trades):
            orders = await _sim_orders(http, sim, trades)
            if all(n["acknowledged"] for o in orders for n in o["notifications"]):
                return orders
        await asyncio.sleep(0.25)
    raise AssertionError(f"{cleared} of {len(trades)} orders cleared in {SETTLE_WITHIN_S:.0f}s")


async def _assert_cleared_exactly_once(
    dsn: str, trades: list[Trade], sim_orders: list[dict[str, Any]]
) -> dict[str, Any]:
    """The invariants; returns what the run looked like, for the test to print."""
    by_no = {t.out_trade_no: t for t in trades}
    txns = {o["transaction_id"]: o for o in sim_orders}
    assert len(txns) == len(trades), "the simulator paid each order once"
    for o in sim_orders:
        assert o["state"] == "SUCCESS"
        assert o["paid_fen"] == by_no[o["out_trade_no"]].total_fen
    conn = await _connect(dsn)
    try:
        payments = await conn.fetch(
            "SELECT p.provider_txn_id, p.out_trade_no, p.amount_fen, p.outcome, p.source,"
            " o.order_no, o.state FROM payments p LEFT JOIN orders o ON o.id = p.order_id"
        )
        # exactly one payment per acquirer transaction, each one CLEARED, none in suspense
        assert sorted(p["provider_txn_id"] for p in payments) == sorted(txns)
        for p in payments:
            sim = txns[p["provider_txn_id"]]
            assert p["out_trade_no"] == sim["out_trade_no"]
            assert p["amount_fen"] == sim["paid_fen"]
            assert (p["outcome"], p["state"]) == ("CLEARED", "CLEARED"), dict(p)
        entries = await conn.fetch(
            "SELECT o.order_no, e.kind, count(*) AS n FROM journal_entries e"
            " LEFT JOIN orders o ON o.id = e.order_id GROUP BY o.order_no, e.kind"
        )
        assert {(e["order_no"], e["kind"]): e["n"] for e in entries} == {
            (t.order_no, "CAPTURE"): 1 for t in trades
        }
        unbalanced = await conn.fetch(
            "SELECT entry_id, sum(amount_fen) AS s FROM postings GROUP BY entry_id"
            " HAVING sum(amount_fen) <> 0"
        )
        assert unbalanced == []
        # every beneficiary line credited once, for its exact amount
        lines = await conn.fetchval(
            "SELECT count(*) FROM order_lines l JOIN orders o ON o.id = l.order_id"
            " WHERE NOT EXISTS (SELECT 1 FROM postings p WHERE p.order_id = l.order_id"
            " AND p.line_no = l.line_no AND p.amount_fen = -l.amount_fen)"
        )
        assert lines == 0
        rows = await conn.fetch("SELECT code, balance_fen FROM account_balances")
        balances: dict[str, int] = {r["code"]: r["balance_fen"] for r in rows}
        assert balances["receivable:wechatpay"] == sum(t.total_fen for t in trades)
        assert balances["suspense"] == 0
        payable = sum(v for k, v in balances.items() if k.startswith("payable:"))
        assert payable == -sum(t.total_fen for t in trades)
        dead = await conn.fetch("SELECT kind, last_error FROM tasks WHERE state = 'DEAD'")
        assert dead == []
    finally:
        await conn.close()
    deliveries = [d for o in sim_orders for d in o["deliveries"]]
    failed = [d for d in deliveries if d["error"] or d["status"] not in (200, 204)]
    return {
        "sources": Counter(p["source"] for p in payments),
        "deliveries": len(deliveries),
        "failed": Counter(d["error"] or d["status"] for d in failed),
    }


@asynccontextmanager
async def _orders_open(
    tmp_path: Path, dsn: str
) -> AsyncIterator[tuple[aiohttp.ClientSession, Proc, Proc, list[Trade]]]:
    """A fresh keyset, the WeChat Pay simulator and the service as real processes on ``dsn``,
    and ORDERS orders each with an open QR attempt, before anything is paid or crashed."""
    keys = tmp_path / "keys"
    generate_keyset(keys)
    async with (
        Processes(tmp_path / "procs") as procs,
        aiohttp.ClientSession() as http,
    ):
        sim = await procs.simulator(keys, retry_scale=0.02)
        svc = await procs.service(dsn, keys, sim_url=sim.url, env=SERVICE_ENV)
        token = await _login(http, svc.url, dsn)
        yield http, sim, svc, await _open_orders(http, svc.url, token, ORDERS)


async def test_service_killed_mid_burst_clears_every_payment_exactly_once(
    db_dsn: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    async with _orders_open(tmp_path, db_dsn) as (http, sim, svc, trades):
        watch = await _connect(db_dsn)
        try:
            at_kill = await _burst_with_crash(http, sim.url, trades, watch, svc.kill)
        finally:
            await watch.close()
        assert not svc.alive
        await svc.restart()  # same port: the simulator's notify_url points there

        sim_orders = await _settle(http, sim.url, db_dsn, trades)
        seen = await _assert_cleared_exactly_once(db_dsn, trades, sim_orders)
        # the kill hit callbacks: some deliveries failed and were retried
        assert seen["failed"], seen
        print(f"killed after {at_kill} payments; {seen}; {time.monotonic() - started:.1f}s in all")


async def test_database_crash_mid_burst_clears_every_payment_exactly_once(tmp_path: Path) -> None:
    # a server of our own, since this test crashes it; the session's serves everyone else
    pg = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="tj-crash-pg-")) / "data")
    pg.start()
    try:
        conn = await _connect(pg.dsn())
        try:
            await migrate(conn)
            await catalogue.seed_demo(conn)
        finally:
            await conn.close()
        dsn = pg.dsn()
        started = time.monotonic()
        async with _orders_open(tmp_path, dsn) as (http, sim, svc, trades):

            async def crash() -> None:
                # immediate: no checkpoint, WAL replay at the next start, like a power cut
                await asyncio.to_thread(pg.stop, "immediate")
                await asyncio.sleep(0.5)
                await asyncio.to_thread(pg.start)

            watch = await _connect(dsn)
            try:
                at_crash = await _burst_with_crash(http, sim.url, trades, watch, crash)
            finally:
                watch.terminate()
            # the service was not restarted: it must have found its database again by itself
            assert svc.alive

            sim_orders = await _settle(http, sim.url, dsn, trades)
            seen = await _assert_cleared_exactly_once(dsn, trades, sim_orders)
            assert seen["failed"], seen
            print(
                f"database crashed after {at_crash} payments; {seen};"
                f" {time.monotonic() - started:.1f}s in all"
            )
    finally:
        pg.destroy()
        root = pg.data_dir.parent
        if root.exists() and not any(root.iterdir()):
            root.rmdir()
