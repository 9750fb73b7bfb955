"""Real PostgreSQL for every test that needs one.

One throwaway embedded cluster per test session (or the server named by TONGJIAO_DATABASE_URL),
a template database migrated once, and a fresh database cloned from it for each test module.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from clearing.db.embedded import EmbeddedPostgres
from clearing.db.migrate import migrate
from clearing.db.pool import create_pool, ensure_database, init_connection

TEMPLATE = "tj_template"


@pytest.fixture(scope="session")
def pg_admin_dsn() -> Iterator[str]:
    external = os.environ.get("TONGJIAO_DATABASE_URL")
    if external:
        yield external
        return
    root = Path(tempfile.mkdtemp(prefix="tj-test-pg-"))
    pg = EmbeddedPostgres(root / "data")
    pg.start()
    try:
        yield pg.dsn("postgres")
    finally:
        pg.destroy()
        root.rmdir() if root.exists() and not any(root.iterdir()) else None


def _with_db(dsn: str, name: str) -> str:
    # replace the database name in a postgresql:// URL
    head, _, tail = dsn.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{tail}" if tail else "")


@pytest.fixture(scope="session")
async def template_dsn(pg_admin_dsn: str) -> str:
    admin = await asyncpg.connect(pg_admin_dsn)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
    finally:
        await admin.close()
    await ensure_database(pg_admin_dsn, TEMPLATE)
    dsn = _with_db(pg_admin_dsn, TEMPLATE)
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
        from clearing.service import catalogue

        await init_connection(conn)
        await catalogue.seed_demo(conn)
    finally:
        await conn.close()
    return dsn


async def fresh_database(pg_admin_dsn: str, template_dsn: str) -> str:
    name = "tj_" + secrets.token_hex(4)
    await ensure_database(pg_admin_dsn, name, template=TEMPLATE)
    return _with_db(pg_admin_dsn, name)


@pytest.fixture(scope="module")
async def db_dsn(pg_admin_dsn: str, template_dsn: str) -> str:
    """A database of this module's own, migrated and seeded with the demo catalogue."""
    return await fresh_database(pg_admin_dsn, template_dsn)


@pytest.fixture(scope="module")
async def pool(db_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    p = await create_pool(db_dsn, min_size=1, max_size=20)
    yield p
    await p.close()
