"""/readyz says not ready while the database it reaches does not take writes.

After a failover a pooled connection may reach the old primary come back as a standby, or a server
set read-only; a load balancer must then send no payments to this node.
"""

from __future__ import annotations

import aiohttp
import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestServer

from clearing.api import routes_ops
from clearing.api.keys import POOL
from clearing.db.pool import create_pool
from tests.conftest import fresh_database


async def _readyz(dsn: str) -> tuple[int, dict[str, object]]:
    pool = await create_pool(dsn, min_size=1, max_size=2)
    app = web.Application()
    app[POOL] = pool
    app.add_routes(routes_ops.routes)
    try:
        async with (
            TestServer(app) as srv,
            aiohttp.ClientSession() as s,
            s.get(srv.make_url("/readyz")) as r,
        ):
            return r.status, await r.json()
    finally:
        await pool.close()


async def test_a_read_only_database_is_not_ready(pg_admin_dsn: str, template_dsn: str) -> None:
    dsn = await fresh_database(pg_admin_dsn, template_dsn)
    conn = await asyncpg.connect(dsn)
    name = await conn.fetchval("SELECT current_database()")
    await conn.close()
    admin = await asyncpg.connect(pg_admin_dsn)
    try:
        assert (await _readyz(dsn))[0] == 200
        await admin.execute(f"ALTER DATABASE {name} SET default_transaction_read_only = on")
        status, body = await _readyz(dsn)
        assert status == 503
        assert body["status"] == "not ready"
        assert body["checks"]["database"] == "read-only: transaction_read_only"  # type: ignore[index]
        await admin.execute(f"ALTER DATABASE {name} RESET default_transaction_read_only")
        assert (await _readyz(dsn))[0] == 200
    finally:
        await admin.close()
