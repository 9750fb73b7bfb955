"""The registration fee schedule as versioned data; a new version is an audited admin action."""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg

from clearing.db import Conn
from clearing.db.rows import row_into
from clearing.domain.fees import FeeSchedule
from clearing.errors import Conflict, InvalidRequest
from clearing.service import audit
from clearing.service.principals import Principal, require_role


def _schedule(r: asyncpg.Record) -> FeeSchedule:
    return row_into(FeeSchedule, r, exemptions=frozenset(r["exemptions"]))


async def all_versions(conn: Conn) -> list[tuple[FeeSchedule, dict[str, Any]]]:
    rows = await conn.fetch("SELECT * FROM registration_fee_schedules ORDER BY version")
    return [
        (
            _schedule(r),
            {
                "basis": r["basis"],
                "created_by": r["created_by"],
                "created_at": r["created_at"].isoformat(),
            },
        )
        for r in rows
    ]


async def add_version(
    conn: Conn,
    who: Principal,
    *,
    effective_from: date,
    residential_fen: int,
    non_residential_fen: int,
    extra_certificate_fen: int,
    exemptions: list[str],
    basis: str,
    today: date,
    request_id: str | None = None,
) -> FeeSchedule:
    """Publish a new version. It may only take effect in the future: what was charged under the
    schedule in force stays explainable by that schedule."""
    require_role(
        who, ("admin",), "only an admin may change the fee schedule", "只有管理员可以调整收费标准"
    )
    if effective_from <= today:
        raise InvalidRequest(
            "SCHEDULE_NOT_IN_FUTURE",
            "a new fee schedule must take effect after today",
            "新的收费标准只能从明天或以后生效",
        )
    async with conn.transaction():
        version = await conn.fetchval(
            "SELECT coalesce(max(version), 0) + 1 FROM registration_fee_schedules"
        )
        try:
            row = await conn.fetchrow(
                "INSERT INTO registration_fee_schedules (version, effective_from, residential_fen,"
                " non_residential_fen, extra_certificate_fen, exemptions, basis, created_by)"
                " VALUES ($1,$2,$3,$4,$5,$6,$7,$8) RETURNING *",
                version,
                effective_from,
                residential_fen,
                non_residential_fen,
                extra_certificate_fen,
                sorted(set(exemptions)),
                basis,
                who.username,
            )
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(
                "SCHEDULE_DATE_TAKEN",
                f"a schedule already takes effect on {effective_from}",
                "该生效日期已有收费标准",
            ) from exc
        assert row is not None
        await audit.record(
            conn,
            who,
            "fee_schedule.published",
            version,
            {
                "effective_from": effective_from.isoformat(),
                "residential_fen": residential_fen,
                "non_residential_fen": non_residential_fen,
                "extra_certificate_fen": extra_certificate_fen,
                "exemptions": sorted(set(exemptions)),
                "basis": basis,
            },
            request_id=request_id,
        )
    return _schedule(row)
