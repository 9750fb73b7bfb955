"""Running behind a connection pooler in transaction mode (docs/scaling.md §5): with the statement
cache off, the service's connections hold no named prepared statements and payments still clear;
the screens' LISTEN goes to its own address, not through the pooler's."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest

from clearing.api.keys import EVENTS, POOL
from clearing.db.pool import create_pool
from tests.integration.service_harness import Service, order_body, running_wechat_service

_LISTENER = "tj-listen-direct"


@pytest.fixture(scope="module")
async def svc(db_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
    tmp = tmp_path_factory.mktemp("pooler")
    sep = "&" if "?" in db_dsn else "?"
    async with running_wechat_service(
        db_dsn,
        tmp,
        sim_retry_scale=0.01,
        workers=1,
        db_statement_cache_size=0,
        listen_database_url=f"{db_dsn}{sep}application_name={_LISTENER}",
    ) as s:
        yield s


async def _named_statements(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM pg_prepared_statements"))


async def test_payments_clear_without_named_prepared_statements(svc: Service, db_dsn: str) -> None:
    staff = await svc.supervisor()
    status, order = await svc.create_order(staff, order_body((25_00, 5_00)))
    assert status == 201, order
    qr = await svc.open_qr(staff, order["order_no"])
    assert (await svc.sim.pay(qr["out_trade_no"]))[0] == 200
    await svc.wait_state(staff, order["order_no"], "CLEARED", within_s=10)
    # every connection of the service's pool: none holds a named statement a pooler could lose
    pool = svc.app[POOL]
    conns = [await pool.acquire() for _ in range(pool.get_size())]
    try:
        for conn in conns:
            await conn.fetchval(
                "SELECT count(*) FROM orders WHERE order_no = $1", order["order_no"]
            )
            assert await _named_statements(conn) == 0
    finally:
        for conn in conns:
            await pool.release(conn)
    # the default keeps asyncpg's cache, whose statements are named (what breaks behind a pooler)
    default = await create_pool(db_dsn, min_size=1, max_size=1)
    try:
        async with default.acquire() as conn:
            await conn.fetchval("SELECT count(*) FROM orders WHERE order_no = $1", "x")
            assert await _named_statements(conn) >= 1
    finally:
        await default.close()


async def test_the_screens_listen_on_their_own_address(svc: Service) -> None:
    await asyncio.wait_for(svc.app[EVENTS].connected.wait(), timeout=10)
    deadline = time.monotonic() + 10
    async with svc.app[POOL].acquire() as conn:
        while True:
            rows = await conn.fetch(
                "SELECT query FROM pg_stat_activity WHERE application_name = $1", _LISTENER
            )
            if rows or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
    assert len(rows) == 1
    # the one connection on the listener's address is the hub's: it listened, then checks itself
    assert rows[0]["query"].split()[0].upper() in ("LISTEN", "SELECT")
