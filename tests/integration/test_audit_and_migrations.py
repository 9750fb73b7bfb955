"""The audit chain catches edits and deletions; migrations run once and refuse changed files."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest

from clearing.db import migrate as migrations
from clearing.db.pool import init_connection
from clearing.service import audit, audit_witness
from tests.conftest import fresh_database


async def _connect(dsn: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn)
    await init_connection(conn)
    return conn


@asynccontextmanager
async def _fresh(pg_admin_dsn: str, template_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to a database of its own (these tests switch its guards off), closed after."""
    conn = await _connect(await fresh_database(pg_admin_dsn, template_dsn))
    try:
        yield conn
    finally:
        await conn.close()


async def _tamper(conn: asyncpg.Connection, sql: str) -> None:
    """What someone with superuser rights can do: switch the append-only guard off and run ``sql``."""
    await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_guard")
    await conn.execute(sql)


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
    async with _fresh(pg_admin_dsn, template_dsn) as conn:
        await _fill(conn, 10)
        # someone with superuser rights switches the guard off and edits history
        await _tamper(conn, "UPDATE audit_log SET detail = '{\"i\": 999}' WHERE seq = 4")
        report = await audit.verify(conn)
        assert not report.ok
        assert any("seq 4" in p and "altered" in p for p in report.problems)


async def test_verify_finds_a_deleted_row(pg_admin_dsn: str, template_dsn: str) -> None:
    async with _fresh(pg_admin_dsn, template_dsn) as conn:
        await _fill(conn, 10)
        await _tamper(conn, "DELETE FROM audit_log WHERE seq = 5")
        report = await audit.verify(conn)
        assert not report.ok
        # the gap is named, and only the gap: the row after it is not blamed
        assert report.problems == ["rows 5..5 of the chain are missing (deleted?)"]


async def _witnessed(conn: asyncpg.Connection, tmp_path: Path, n: int) -> audit_witness.Witness:
    """n rows sealed and witnessed, as the service's sealer does."""
    witness = audit_witness.Witness(
        tmp_path / "audit" / "witness.jsonl",
        audit_witness.load_or_create_key(tmp_path / "keys" / "audit.pem"),
    )
    for i in range(n):
        await audit.record(
            conn, actor="user:t", action="order.created", object_type="order",
            object_id=f"TJ{i:010d}", detail={"i": i},
        )  # fmt: skip
        if i % 3 == 2:  # several sealing passes, several checkpoints
            await audit.seal(conn)
            await witness.record(conn)
    await audit.seal(conn)
    await witness.record(conn)
    return witness


def _view(tmp_path: Path) -> audit_witness.WitnessView:
    keys = audit_witness.verifying_keys(tmp_path / "keys" / "audit.pem", tmp_path / "retired")
    return audit_witness.read(tmp_path / "audit" / "witness.jsonl", keys)


async def test_the_witness_catches_a_chain_cut_short(
    pg_admin_dsn: str, template_dsn: str, tmp_path: Path
) -> None:
    async with _fresh(pg_admin_dsn, template_dsn) as conn:
        await _witnessed(conn, tmp_path, 10)
        assert (await audit.verify(conn, witness=_view(tmp_path))).ok
        # a superuser, triggers off, deletes the newest rows: the chain alone still looks whole
        await conn.execute("SET session_replication_role = replica")
        await conn.execute("DELETE FROM audit_log WHERE seq > 7")
        await conn.execute("SET session_replication_role = origin")
        assert (await audit.verify(conn)).ok
        report = await audit.verify(conn, witness=_view(tmp_path))
        assert report.problems == [
            "rows 8..10 were sealed and witnessed but are gone: the chain was cut after seq 7"
        ]


async def test_the_witness_names_the_first_row_rewritten_and_resealed(
    pg_admin_dsn: str, template_dsn: str, tmp_path: Path
) -> None:
    async with _fresh(pg_admin_dsn, template_dsn) as conn:
        witness = await _witnessed(conn, tmp_path, 12)
        # a superuser edits row 6, unseals it and every row after it, and lets the sealer
        # (the service's, still running) seal them anew: the chain is consistent again
        await conn.execute("SET session_replication_role = replica")
        await conn.execute(
            "UPDATE audit_log SET detail = '{\"i\": 999}' WHERE seq = 6;"
            " UPDATE audit_log SET seq = NULL, prev_hash = NULL, hash = NULL WHERE seq >= 6"
        )
        await conn.execute("SET session_replication_role = origin")
        await audit.seal(conn)
        await witness.record(conn)  # the sealer writes only what is new: nothing
        assert (await audit.verify(conn)).ok
        report = await audit.verify(conn, witness=_view(tmp_path))
        assert not report.ok
        assert len(report.problems) == 1, report.problems
        assert report.problems[0].startswith("row seq 6 ")
        assert "rewritten" in report.problems[0]


async def test_a_forged_witness_checkpoint_is_refused(
    pg_admin_dsn: str, template_dsn: str, tmp_path: Path
) -> None:
    async with _fresh(pg_admin_dsn, template_dsn) as conn:
        await _witnessed(conn, tmp_path, 4)
        path = tmp_path / "audit" / "witness.jsonl"
        lines = path.read_text().splitlines()
        last = json.loads(lines[-1])
        last["checkpoint"]["seq"] = 99  # claims more than was sealed, without the key
        path.write_text("\n".join([*lines[:-1], json.dumps(last)]) + "\n")
        report = await audit.verify(conn, witness=_view(tmp_path))
        assert any("signature invalid" in p for p in report.problems), report.problems
        # a retired key still verifies what it signed
        (tmp_path / "retired").mkdir()
        (tmp_path / "keys" / "audit.pub").rename(tmp_path / "retired" / "old.pub")
        path.write_text("\n".join(lines) + "\n")
        assert (await audit.verify(conn, witness=_view(tmp_path))).ok


async def test_cli_audit_verify_exit_codes(
    pg_admin_dsn: str, template_dsn: str, tmp_path: Path
) -> None:
    dsn = await fresh_database(pg_admin_dsn, template_dsn)
    conn = await _connect(dsn)
    await _fill(conn, 3)
    env = {
        "TONGJIAO_DATABASE_URL": dsn,
        "TONGJIAO_LOG_JSON": "false",
        "TONGJIAO_VAR_DIR": str(tmp_path),
    }

    async def run(*args: str) -> tuple[int, str]:
        import os
        import sys

        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "clearing", "audit", *args,
            env={**os.environ, **env}, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await proc.communicate()
        return proc.returncode or 0, out.decode()

    # sealed rows and no witness: that is itself a finding, unless asked to check the chain alone
    code, out = await run("verify")
    assert code == 1 and "no witness file" in out, out
    code, out = await run("verify", "--no-witness")
    assert code == 0 and out.startswith("OK"), out
    code, out = await run("seal")
    assert code == 0 and "3 rows witnessed" in out, out
    code, out = await run("verify")
    assert code == 0 and "OK:" in out, out
    await _tamper(conn, "UPDATE audit_log SET actor = 'user:mallory' WHERE seq = 2")
    await conn.close()
    code, out = await run("verify")
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
    async with _fresh(pg_admin_dsn, template_dsn) as conn:
        await conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 2")
        with pytest.raises(migrations.MigrationError, match="changed after it was applied"):
            await migrations.migrate(conn)


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
