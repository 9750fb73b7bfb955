"""Repeatable functions and views (clearing/db/sql) on real PostgreSQL.

A database built by the previous layout (every function written out in the numbered migrations,
as on main before the move: tests/integration/migrations_before_sql holds the files that changed,
SHA256SUMS the checksums of all 28) must upgrade cleanly, and a fresh database must get exactly the
schema the previous layout gave. A changed file is applied again, an unchanged one is not, and
migrators racing on several nodes apply each change once.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import shutil
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import asyncpg
import pytest

from clearing.db import migrate, repeatable
from clearing.db.embedded import bin_dir
from clearing.db.pool import ensure_database, init_connection
from clearing.service import catalogue, payments
from tests import migrations_before as old_layout
from tests.conftest import _with_db, fresh_database
from tests.integration import factories as f


def layout_before() -> list[migrate.Migration]:
    """The 28 migrations exactly as main had them before the move: the changed files from the
    fixture, the others from the release (their text did not change), each checked against the
    checksum main had."""
    sums, old_files = old_layout.checksums(), old_layout.files()
    out = []
    for m in migrate.available()[: len(sums)]:
        old = f"{m.version:04d}_{m.name}.sql"
        sql = old_files.get(old, m.sql)
        assert hashlib.sha256(sql.encode()).hexdigest() == sums[old], old
        out.append(migrate.Migration(m.version, m.name, sql))
    assert len(out) == len(sums) == 28
    return out


async def build_before(conn: asyncpg.Connection, upto: int = 28) -> None:
    """What the previous release's migrator did, with its first ``upto`` files."""
    await old_layout.applied_as_before(conn, layout_before()[:upto])


async def pg_dump(dsn: str, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        str(bin_dir() / "pg_dump"), "--schema-only", *args, "-d", dsn,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    # pg_dump 17.6+ fences its output with a random key: the only line that differs per run
    return "\n".join(
        line
        for line in out.decode().splitlines()
        if not line.startswith(("\\restrict ", "\\unrestrict "))
    )


async def contents(conn: asyncpg.Connection) -> dict[str, object]:
    """What the migrations put in the tables: rows per table and the ledger's accounts."""
    tables = await conn.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        " AND tablename NOT LIKE 'schema\\_%' ORDER BY 1"
    )
    counts = {
        t["tablename"]: await conn.fetchval(f'SELECT count(*) FROM "{t["tablename"]}"')
        for t in tables
    }
    accounts = await conn.fetch("SELECT code, name, kind FROM ledger_accounts ORDER BY code")
    return {"counts": counts, "accounts": [tuple(a) for a in accounts]}


class Db:
    def __init__(self, admin_dsn: str, name: str) -> None:
        self.name, self.dsn, self._admin = name, _with_db(admin_dsn, name), admin_dsn

    async def drop(self) -> None:
        admin = await asyncpg.connect(self._admin)
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
        finally:
            await admin.close()


async def empty_db(admin_dsn: str, prefix: str) -> Db:
    db = Db(admin_dsn, f"{prefix}_{secrets.token_hex(4)}")
    await ensure_database(admin_dsn, db.name)
    return db


@dataclass
class Fresh:
    dump: str  # pg_dump --schema-only
    dump_without_repeatables: str  # the same without the one table the previous layout lacks
    contents: dict[str, object]


@pytest.fixture(scope="module")
async def fresh(pg_admin_dsn: str) -> AsyncIterator[Fresh]:
    """A database migrated from nothing by this release."""
    db = await empty_db(pg_admin_dsn, "tj_mig_fresh")
    conn = await asyncpg.connect(db.dsn)
    try:
        await migrate.upgrade(conn)
        yield Fresh(
            await pg_dump(db.dsn),
            await pg_dump(db.dsn, "--exclude-table=schema_repeatables"),
            await contents(conn),
        )
    finally:
        await conn.close()
        await db.drop()


async def test_a_fresh_database_has_exactly_the_schema_of_before(
    pg_admin_dsn: str, fresh: Fresh
) -> None:
    db = await empty_db(pg_admin_dsn, "tj_mig_before")
    conn = await asyncpg.connect(db.dsn)
    try:
        await build_before(conn)
        before = await pg_dump(db.dsn)
        # every function, trigger and view, as the previous layout defined them
        assert before.count("CREATE FUNCTION public.tj_") == 17
        assert "CREATE CONSTRAINT TRIGGER journal_entries_balance" in before
        assert before.count("CREATE TRIGGER ") == 19
        assert "CREATE VIEW public.account_balances" in before
        assert fresh.dump_without_repeatables == before
        assert "schema_repeatables" in fresh.dump
        assert fresh.contents == await contents(conn)
    finally:
        await conn.close()
        await db.drop()


@pytest.mark.parametrize("upto", [5, 27, 28])
async def test_a_database_of_the_previous_layout_upgrades_to_the_same_schema(
    pg_admin_dsn: str, fresh: Fresh, upto: int
) -> None:
    # 28: main before the move. 5 and 27: older databases, which still have what later migrations
    # dropped or changed (tj_capture's first signature, the per-posting balance trigger, the
    # per-row leg-confirmation trigger)
    db = await empty_db(pg_admin_dsn, "tj_mig_up")
    conn = await asyncpg.connect(db.dsn)
    try:
        await build_before(conn, upto)
        recorded = await conn.fetch("SELECT version, checksum FROM schema_migrations ORDER BY 1")
        report = await migrate.upgrade(conn)
        assert [m.version for m in report.migrations] == list(range(upto + 1, 29))
        assert report.lines()[len(report.migrations) :] == [
            f"applied {r.label} (new)" for r in repeatable.available()
        ]
        assert await pg_dump(db.dsn) == fresh.dump
        # the earlier checksums stay recorded as they were: a node of the previous release still
        # starts against this database
        assert (
            await conn.fetch(
                f"SELECT version, checksum FROM schema_migrations WHERE version <= {upto} ORDER BY 1"
            )
            == recorded
        )
        again = await migrate.upgrade(conn)
        assert again.lines() == [
            f"database is up to date: 28 migrations applied,"
            f" {len(repeatable.available())} functions and views unchanged"
        ]
    finally:
        await conn.close()
        await db.drop()


async def test_a_database_in_use_keeps_capturing_across_the_upgrade(pg_admin_dsn: str) -> None:
    db = await empty_db(pg_admin_dsn, "tj_mig_use")
    conn = await asyncpg.connect(db.dsn)
    await init_connection(conn)
    try:
        await build_before(conn)
        await catalogue.seed_demo(conn)
        who = await f.staff(conn)
        paid_before = await f.order(conn, who, [100_00, 20_00])
        otn = await f.attempt(conn, str(paid_before["order_no"]))
        first = await payments.capture(conn, f.notice(otn, 120_00), "notify")
        assert first.outcome == "CLEARED"

        await migrate.upgrade(conn)

        o = await f.order(conn, who, [300_00, 45_00])
        otn2 = await f.attempt(conn, str(o["order_no"]))
        second = await payments.capture(conn, f.notice(otn2, 345_00), "notify")
        assert (second.outcome, second.order_state) == ("CLEARED", "CLEARED")
        # the capture from before is recognised: same transaction, same outcome, nothing new
        txn = await conn.fetchval(
            "SELECT provider_txn_id FROM payments WHERE id = $1", first.payment_id
        )
        again = await payments.capture(conn, f.notice(otn, 120_00, txn=txn), "query")
        assert (again.payment_id, again.first_time) == (first.payment_id, False)
        assert await conn.fetchval("SELECT sum(balance_fen) FROM account_balances") == 0
        assert (
            await conn.fetchval(
                "SELECT balance_fen FROM account_balances WHERE code = 'receivable:wechatpay'"
            )
            == 120_00 + 345_00
        )
        # one leg-confirmation task per order, queued by the statement-level trigger
        assert await conn.fetchval("SELECT count(*) FROM tasks WHERE kind = 'leg.confirm'") == 2
    finally:
        await conn.close()
        await db.drop()


def sql_folder_copy(tmp_path: Path) -> Path:
    """This release's clearing/db/sql, copied so that a test may change a file."""
    folder = tmp_path / "sql"
    shutil.copytree(str(resources.files("clearing.db") / "sql"), folder)
    return folder


async def test_a_changed_file_is_applied_again_and_nothing_else(
    pg_admin_dsn: str, template_dsn: str, tmp_path: Path
) -> None:
    conn = await asyncpg.connect(await fresh_database(pg_admin_dsn, template_dsn))
    try:
        unchanged = await migrate.upgrade(conn)
        assert (unchanged.migrations, unchanged.repeatables) == ([], [])
        folder = sql_folder_copy(tmp_path)
        reason = folder / "tj_capture_reason.sql"
        reason.write_text(reason.read_text().replace("'ORDER_UNKNOWN'", "'ORDER_NOT_FOUND'"))
        before = await conn.fetchval("SELECT tj_capture_reason(false, NULL, NULL, NULL, 100)")
        assert before == "ORDER_UNKNOWN"

        changed = repeatable.load(folder)
        assert [r.name for r in await repeatable.stale(conn, changed)] == ["tj_capture_reason"]
        report = await migrate.upgrade(conn, repeatables=changed)
        assert report.lines() == ["re-applied function tj_capture_reason (checksum changed)"]
        assert await repeatable.stale(conn, changed) == []
        after = await conn.fetchval("SELECT tj_capture_reason(false, NULL, NULL, NULL, 100)")
        assert after == "ORDER_NOT_FOUND"
        assert (
            await conn.fetchval(
                "SELECT checksum FROM schema_repeatables WHERE name = 'tj_capture_reason'"
            )
            == hashlib.sha256(reason.read_text().encode()).hexdigest()
        )
        # applied once: the next run finds nothing to do
        again = await migrate.upgrade(conn, repeatables=repeatable.load(folder))
        assert again.repeatables == []
        assert again.lines()[0].startswith("database is up to date")

        # and the release's own text, once more different from what was applied, goes back in
        back = await migrate.upgrade(conn)
        assert back.lines() == ["re-applied function tj_capture_reason (checksum changed)"]
        assert (
            await conn.fetchval("SELECT tj_capture_reason(false, NULL, NULL, NULL, 100)")
            == "ORDER_UNKNOWN"
        )
    finally:
        await conn.close()


async def test_a_file_that_fails_changes_nothing_and_stops_the_run(
    pg_admin_dsn: str, template_dsn: str, tmp_path: Path
) -> None:
    conn = await asyncpg.connect(await fresh_database(pg_admin_dsn, template_dsn))
    try:
        folder = sql_folder_copy(tmp_path)
        # two changed files: the first (by name) is fine, the second fails half-way, after its
        # function was replaced and before its trigger was
        (folder / "tj_append_only.sql").write_text(
            (folder / "tj_append_only.sql").read_text() + "\n-- reviewed\n"
        )
        guard = folder / "tj_audit_guard.sql"
        guard.write_text(
            guard.read_text()
            .replace("'audit_log is append-only: DELETE refused'", "'no deleting the audit log'")
            .replace(
                "BEFORE UPDATE OR DELETE ON audit_log", "BEFORE UPDATE OR DELETE ON no_such_table"
            )
        )
        recorded = await repeatable.recorded(conn)
        with pytest.raises(asyncpg.UndefinedTableError, match="no_such_table"):
            await migrate.upgrade(conn, repeatables=repeatable.load(folder))
        now = await repeatable.recorded(conn)
        assert now["tj_append_only"] != recorded["tj_append_only"]
        assert now["tj_audit_guard"] == recorded["tj_audit_guard"]
        source = await conn.fetchval("SELECT prosrc FROM pg_proc WHERE proname = 'tj_audit_guard'")
        assert "DELETE refused" in source and "no deleting" not in source
        # the lock was let go: the release's files apply at once
        assert [a.line() for a in (await migrate.upgrade(conn)).repeatables] == [
            "re-applied function tj_append_only (checksum changed)"
        ]
    finally:
        await conn.close()


async def test_migrators_racing_on_several_nodes_apply_each_change_once(
    pg_admin_dsn: str, template_dsn: str
) -> None:
    dsn = await fresh_database(pg_admin_dsn, template_dsn)
    setup = await asyncpg.connect(dsn)
    try:
        # as if a release changed two files: their recorded checksums no longer match
        await setup.execute(
            "UPDATE schema_repeatables SET checksum = 'earlier'"
            " WHERE name IN ('tj_capture', 'tj_capture_batch')"
        )
    finally:
        await setup.close()
    conns = [await asyncpg.connect(dsn) for _ in range(4)]
    try:
        reports = await asyncio.gather(*(migrate.upgrade(c) for c in conns))
        lines = sorted(line for r in reports for line in r.lines())
        up_to_date = f"database is up to date: 28 migrations applied, {len(repeatable.available())} functions and views unchanged"
        assert lines == [up_to_date] * 3 + [
            "re-applied function tj_capture (checksum changed)",
            "re-applied function tj_capture_batch (checksum changed)",
        ]
    finally:
        for c in conns:
            await c.close()


async def test_a_fresh_database_raced_gets_every_file_once(pg_admin_dsn: str) -> None:
    db = await empty_db(pg_admin_dsn, "tj_mig_race")
    conns = [await asyncpg.connect(db.dsn) for _ in range(3)]
    try:
        reports = await asyncio.gather(*(migrate.upgrade(c) for c in conns))
        assert sorted(len(r.repeatables) for r in reports) == [0, 0, len(repeatable.available())]
        assert await conns[0].fetchval("SELECT count(*) FROM schema_repeatables") == len(
            repeatable.available()
        )
    finally:
        for c in conns:
            await c.close()
        await db.drop()


async def test_an_earlier_checksum_is_accepted_only_for_its_own_migration(
    pg_admin_dsn: str, template_dsn: str
) -> None:
    conn = await asyncpg.connect(await fresh_database(pg_admin_dsn, template_dsn))
    try:
        old = {m.version: m.checksum for m in layout_before()}
        await conn.execute("UPDATE schema_migrations SET checksum = $1 WHERE version = 4", old[4])
        assert (await migrate.upgrade(conn)).migrations == []
        # 0004's earlier text recorded for 0003: somebody's edit, not the move
        await conn.execute("UPDATE schema_migrations SET checksum = $1 WHERE version = 3", old[4])
        with pytest.raises(migrate.MigrationError, match="0003_audit changed after it was applied"):
            await migrate.upgrade(conn)
    finally:
        await conn.close()


async def test_tongjiao_migrate_says_what_it_reapplied_and_when_nothing_changed(
    pg_admin_dsn: str, template_dsn: str, tmp_path: Path
) -> None:
    dsn = await fresh_database(pg_admin_dsn, template_dsn)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "UPDATE schema_repeatables SET checksum = 'earlier' WHERE name = 'tj_capture'"
        )
        await conn.execute("DELETE FROM schema_repeatables WHERE name = 'account_balances'")
    finally:
        await conn.close()

    async def run() -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "clearing", "migrate",
            env={**os.environ, "TONGJIAO_DATABASE_URL": dsn, "TONGJIAO_LOG_JSON": "false",
                 "TONGJIAO_VAR_DIR": str(tmp_path)},
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await proc.communicate()
        return proc.returncode or 0, out.decode()

    code, out = await run()
    assert (code, out.splitlines()) == (
        0,
        [
            "applied view account_balances (new)",
            "re-applied function tj_capture (checksum changed)",
        ],
    )
    code, out = await run()
    assert (code, out.splitlines()) == (
        0,
        [
            f"database is up to date: 28 migrations applied,"
            f" {len(repeatable.available())} functions and views unchanged"
        ],
    )
