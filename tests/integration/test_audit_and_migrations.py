"""The audit chain catches edits and deletions; migrations run once and refuse changed files."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from clearing.db import migrate as migrations
from clearing.db.pool import init_connection
from clearing.service import audit
from tests.conftest import fresh_database


async def _connect(dsn: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn)
    await init_connection(conn)
    return conn


async def _fill(conn: asyncpg.Connection, n: int) -> None:
    for i in range(n):
        await audit.record(
            conn, actor="user:t", action="order.created", object_type="order",
            object_id=f"TJ{i:010d}", detail={"i": i, "名": "张三"},
        )  # fmt: skip
    while await audit.seal(conn):
        pass


async def test_intact_chain_verifies(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await _fill(conn, 30)
        report = await audit.verify(conn)
    assert report.ok, report.problems
    assert report.sealed >= 30 and report.unsealed == 0
    assert len(report.head_hash) == 64


async def test_audit_rows_cannot_be_changed_through_sql(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await _fill(conn, 2)
        with pytest.raises(asyncpg.PostgresError, match="append-only"):
            await conn.execute("UPDATE audit_log SET actor = 'x' WHERE seq = 1")
        with pytest.raises(asyncpg.PostgresError, match="append-only"):
            await conn.execute("DELETE FROM audit_log WHERE seq = 1")


async def test_verify_finds_an_edited_row(
    db_dsn: str, pg_admin_dsn: str, template_dsn: str
) -> None:
    dsn = await fresh_database(pg_admin_dsn, template_dsn)
    conn = await _connect(dsn)
    try:
        await _fill(conn, 10)
        # someone with superuser rights switches the guard off and edits history
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_guard")
        await conn.execute("UPDATE audit_log SET detail = '{\"i\": 999}' WHERE seq = 4")
        report = await audit.verify(conn)
        assert not report.ok
        assert any("seq 4" in p and "altered" in p for p in report.problems)
    finally:
        await conn.close()


async def test_verify_finds_a_deleted_row(pg_admin_dsn: str, template_dsn: str) -> None:
    dsn = await fresh_database(pg_admin_dsn, template_dsn)
    conn = await _connect(dsn)
    try:
        await _fill(conn, 10)
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_guard")
        await conn.execute("DELETE FROM audit_log WHERE seq = 5")
        report = await audit.verify(conn)
        assert not report.ok
        assert any("missing" in p for p in report.problems)
    finally:
        await conn.close()


async def test_cli_audit_verify_exit_codes(pg_admin_dsn: str, template_dsn: str) -> None:
    dsn = await fresh_database(pg_admin_dsn, template_dsn)
    conn = await _connect(dsn)
    await _fill(conn, 3)
    env = {"TONGJIAO_DATABASE_URL": dsn, "TONGJIAO_LOG_JSON": "false"}

    async def run() -> tuple[int, str]:
        import os
        import sys

        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "clearing", "audit", "verify",
            env={**os.environ, **env}, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await proc.communicate()
        return proc.returncode or 0, out.decode()

    code, out = await run()
    assert code == 0 and out.startswith("OK"), out
    await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_guard")
    await conn.execute("UPDATE audit_log SET actor = 'user:mallory' WHERE seq = 2")
    await conn.close()
    code, out = await run()
    assert code == 1 and "altered" in out, out


async def test_migrations_apply_once_even_when_raced(pg_admin_dsn: str) -> None:
    from clearing.db.pool import ensure_database
    from tests.conftest import _with_db

    await ensure_database(pg_admin_dsn, "tj_migrate_race")
    dsn = _with_db(pg_admin_dsn, "tj_migrate_race")
    conns = [await asyncpg.connect(dsn) for _ in range(4)]
    try:
        applied = await asyncio.gather(*(migrations.migrate(c) for c in conns))
        assert sorted(len(a) for a in applied) == [0, 0, 0, len(migrations.available())]
        assert await conns[0].fetchval("SELECT count(*) FROM schema_migrations") == len(
            migrations.available()
        )
        assert await migrations.migrate(conns[0]) == []
    finally:
        for c in conns:
            await c.close()


async def test_a_changed_migration_is_refused(pg_admin_dsn: str, template_dsn: str) -> None:
    dsn = await fresh_database(pg_admin_dsn, template_dsn)
    conn = await _connect(dsn)
    try:
        await conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 2")
        with pytest.raises(migrations.MigrationError, match="changed after it was applied"):
            await migrations.migrate(conn)
    finally:
        await conn.close()


async def test_schema_built_from_migrations_matches_the_files(template_dsn: str) -> None:
    conn = await asyncpg.connect(template_dsn)
    try:
        rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations ORDER BY 1")
    finally:
        await conn.close()
    files = migrations.available()
    assert [(r["version"], r["name"], r["checksum"]) for r in rows] == [
        (m.version, m.name, m.checksum) for m in files
    ]
    assert all(m.sql.startswith("-- Why:") for m in files), "each migration opens with why"
