"""The migration that brings offices and windows: a database in use keeps working."""

from __future__ import annotations

import secrets

import asyncpg
import pytest

from clearing.db import migrate as migrations
from clearing.db.pool import ensure_database
from tests.conftest import _with_db
from tests.migrations_before import applied_as_before


async def test_offices_and_windows_in_use_become_rows(pg_admin_dsn: str) -> None:
    name = f"tj_mig_admin_{secrets.token_hex(4)}"
    await ensure_database(pg_admin_dsn, name)
    conn = await asyncpg.connect(_with_db(pg_admin_dsn, name))
    try:
        files = migrations.available()
        mine = next(i for i, m in enumerate(files) if m.name == "offices_windows_admin")
        # the schema as it was the day before: every migration before this one
        await applied_as_before(conn, files[:mine])
        clerk = await conn.fetchval(
            "INSERT INTO principals (kind, username, display_name, role, office, password_hash)"
            " VALUES ('staff', 'old-clerk', '老员工', 'clerk', 'HALL7', 'x') RETURNING id"
        )
        await conn.execute(
            "INSERT INTO orders (order_no, case_no, office, window_no, payer_name_enc,"
            " payer_id_enc, payer_id_masked, total_fen, created_by, expires_at)"
            " VALUES ('20260101OLD00001', 'C1', 'HALL7', 'W05', '\\x00', '\\x00', '1***2', 100,"
            " $1, now())",
            clerk,
        )
        applied = await migrations.migrate(conn)
        assert applied[0].name == "offices_windows_admin"
        assert await conn.fetchval("SELECT name FROM offices WHERE code = 'HALL7'") == "HALL7"
        assert (
            await conn.fetchval(
                "SELECT name FROM windows WHERE office_code = 'HALL7' AND code = 'W05'"
            )
            == "W05"
        )
        row = await conn.fetchrow(
            "SELECT window_code, must_change_password FROM principals WHERE username = 'old-clerk'"
        )
        assert tuple(row) == (None, False)
        # a window of another office cannot be assigned: the database itself refuses
        await conn.execute("INSERT INTO offices (code, name) VALUES ('HALL8', '八号大厅')")
        await conn.execute(
            "INSERT INTO windows (office_code, code, name) VALUES ('HALL8', 'W01', '窗口一')"
        )
        with pytest.raises(asyncpg.ForeignKeyViolationError, match="principals_window_fkey"):
            await conn.execute(
                "UPDATE principals SET window_code = 'W01' WHERE username = 'old-clerk'"
            )
    finally:
        await conn.close()
        admin = await asyncpg.connect(pg_admin_dsn)
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {name}")
        finally:
            await admin.close()
