"""日结/交班: a person's shift at a window, closed and frozen; a supervisor's 轧账 of the office's
day against the ledger.

A shift holds what one person did at one window of an office since their previous close: orders
issued, payments received (attributed to whoever started the payment attempt), cancellations,
refunds requested. Nothing is assigned while the shift is open; closing claims every item not yet
claimed (``shift_items``, unique per item) and stores the totals, which are never recomputed.
An item that shows up later — even one stamped before the close, from a transaction that
committed after it — is unclaimed and so goes to the next shift.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from clearing.db import Conn
from clearing.errors import Conflict, Forbidden, InvalidRequest, NotFound
from clearing.service import audit
from clearing.service.orders import READ_ALL_ROLES
from clearing.service.principals import Principal

SHIFT_ROLES = frozenset({"clerk", "supervisor"})
# rows stamped this long before a person's last close are still looked at (a transaction that
# committed late); anything older was visible to that close
LATE_COMMIT_MARGIN = timedelta(hours=1)
FAR_FUTURE = datetime(9999, 1, 1).astimezone()

# Every item of an office's activity in [$3, $4), with the person it belongs to; $2 limits it to
# one person, $5 to one window; only items no shift has claimed yet.
_UNCLAIMED = """
WITH x AS (
  SELECT 'order'::text AS kind, o.id AS ref_id, o.created_by AS principal_id, o.window_no,
         NULL::text AS channel, o.total_fen AS amount_fen, o.created_at AS at
    FROM orders o
   WHERE o.office = $1 AND o.created_at >= $3 AND o.created_at < $4
  UNION ALL
  SELECT 'payment', pm.id, coalesce(sp.id, o.created_by), o.window_no, pm.provider,
         pm.amount_fen, pm.recorded_at
    FROM payments pm JOIN orders o ON o.id = pm.order_id
    LEFT JOIN payment_attempts a ON a.id = pm.attempt_id
    LEFT JOIN principals sp ON a.started_by IN ('user:' || sp.username, 'client:' || sp.username)
   WHERE pm.outcome = 'CLEARED' AND o.office = $1 AND pm.recorded_at >= $3 AND pm.recorded_at < $4
  UNION ALL
  SELECT 'cancel', o.id, o.created_by, o.window_no, NULL, o.total_fen, o.updated_at
    FROM orders o
   WHERE o.state = 'CANCELLED' AND o.office = $1 AND o.updated_at >= $3 AND o.updated_at < $4
  UNION ALL
  SELECT 'refund', r.id, r.requested_by, o.window_no, pm.provider, r.amount_fen, r.created_at
    FROM refund_requests r JOIN orders o ON o.id = r.order_id
    JOIN payments pm ON pm.id = r.payment_id
   WHERE o.office = $1 AND r.created_at >= $3 AND r.created_at < $4
)
SELECT x.*, p.display_name FROM x JOIN principals p ON p.id = x.principal_id
 WHERE ($2::bigint IS NULL OR x.principal_id = $2) AND ($5::text IS NULL OR x.window_no = $5)
   AND NOT EXISTS (SELECT 1 FROM shift_items si WHERE si.kind = x.kind AND si.ref_id = x.ref_id)
 ORDER BY x.at, x.kind, x.ref_id
"""

_SHIFT_COLUMNS = """
s.id, s.principal_id, p.display_name, p.username, s.office, s.window_no, s.opened_at,
s.closed_at, s.orders_count, s.orders_fen, s.received_count, s.received_fen, s.cancelled_count,
s.cancelled_fen, s.refunds_count, s.refunds_fen, s.by_channel, s.refunds_by_channel
"""


@dataclass(frozen=True)
class Totals:
    orders: tuple[int, int]
    received: tuple[int, int]
    cancelled: tuple[int, int]
    refunds: tuple[int, int]
    by_channel: list[dict[str, Any]]
    refunds_by_channel: list[dict[str, Any]]


def _by_channel(items: list[asyncpg.Record], kind: str) -> list[dict[str, Any]]:
    acc: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in items:
        if r["kind"] == kind:
            acc[r["channel"]][0] += 1
            acc[r["channel"]][1] += int(r["amount_fen"])
    return [{"channel": c, "count": n, "amount_fen": f} for c, (n, f) in sorted(acc.items())]


def totals(items: list[asyncpg.Record]) -> Totals:
    def of(kind: str) -> tuple[int, int]:
        chosen = [int(r["amount_fen"]) for r in items if r["kind"] == kind]
        return len(chosen), sum(chosen)

    return Totals(
        orders=of("order"),
        received=of("payment"),
        cancelled=of("cancel"),
        refunds=of("refund"),
        by_channel=_by_channel(items, "payment"),
        refunds_by_channel=_by_channel(items, "refund"),
    )


def _window_staff(who: Principal) -> str:
    if who.role not in SHIFT_ROLES or who.office is None:
        raise Forbidden(
            "SHIFT_ROLE_FORBIDDEN", "only window staff have shifts", "只有窗口人员需要交班"
        )
    return who.office


async def epoch(conn: Conn) -> datetime:
    """When shifts began (the migration that made them): older activity is no one's shift."""
    since: datetime = await conn.fetchval("SELECT since FROM shifts_epoch")
    return since


async def _since(conn: Conn, who: Principal, window: str) -> datetime:
    last = await conn.fetchval(
        "SELECT max(closed_at) FROM shifts WHERE principal_id = $1 AND office = $2"
        " AND window_no = $3",
        who.id,
        who.office,
        window,
    )
    start = await epoch(conn)
    return max(start, last - LATE_COMMIT_MARGIN) if last is not None else start


async def _unclaimed(
    conn: Conn,
    office: str,
    *,
    principal_id: int | None,
    window: str | None,
    start: datetime,
    end: datetime,
) -> list[asyncpg.Record]:
    return list(await conn.fetch(_UNCLAIMED, office, principal_id, start, end, window))


def _totals_view(t: Totals) -> dict[str, Any]:
    return {
        "orders_count": t.orders[0],
        "orders_fen": t.orders[1],
        "received_count": t.received[0],
        "received_fen": t.received[1],
        "cancelled_count": t.cancelled[0],
        "cancelled_fen": t.cancelled[1],
        "refunds_count": t.refunds[0],
        "refunds_fen": t.refunds[1],
        "by_channel": t.by_channel,
        "refunds_by_channel": t.refunds_by_channel,
    }


async def _open_items(conn: Conn, who: Principal, office: str, window: str) -> list[asyncpg.Record]:
    """What this person did at this window that no close has claimed yet."""
    return await _unclaimed(
        conn,
        office,
        principal_id=who.id,
        window=window,
        start=await _since(conn, who, window),
        end=FAR_FUTURE,
    )


async def current(conn: Conn, who: Principal, window: str) -> dict[str, Any]:
    """The open shift: what this person did at this window since their last close (live)."""
    office = _window_staff(who)
    items = await _open_items(conn, who, office, window)
    return {
        "id": None,
        "state": "OPEN",
        "clerk": who.display_name,
        "username": who.username,
        "office": office,
        "window": window,
        "opened_at": items[0]["at"].isoformat() if items else None,
        "closed_at": None,
        **_totals_view(totals(items)),
    }


async def close(
    conn: Conn, who: Principal, window: str, request_id: str | None = None
) -> dict[str, Any]:
    """Close this person's shift at this window: claim every unclaimed item, freeze the sums."""
    office = _window_staff(who)
    async with conn.transaction():
        # one close at a time per person; the unique key on shift_items is the backstop
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('tj_shift'), $1::int)", who.id)
        items = await _open_items(conn, who, office, window)
        if not items:
            raise Conflict(
                "SHIFT_EMPTY",
                "nothing was done at this window since the last close",
                "本班次尚无业务，无需交班",
            )
        t = totals(items)
        now = await conn.fetchval("SELECT now()")
        closed_at = max(now, items[-1]["at"])
        shift_id = await conn.fetchval(
            "INSERT INTO shifts (principal_id, office, window_no, opened_at, closed_at,"
            " orders_count, orders_fen, received_count, received_fen, cancelled_count,"
            " cancelled_fen, refunds_count, refunds_fen, by_channel, refunds_by_channel)"
            " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15) RETURNING id",
            who.id,
            office,
            window,
            items[0]["at"],
            closed_at,
            *t.orders,
            *t.received,
            *t.cancelled,
            *t.refunds,
            t.by_channel,
            t.refunds_by_channel,
        )
        try:
            await conn.executemany(
                "INSERT INTO shift_items (shift_id, kind, ref_id, channel, amount_fen, at)"
                " VALUES ($1,$2,$3,$4,$5,$6)",
                [
                    (shift_id, r["kind"], r["ref_id"], r["channel"], r["amount_fen"], r["at"])
                    for r in items
                ],
            )
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(
                "SHIFT_RACE", "another close claimed these items; try again", "交班冲突，请重试"
            ) from exc
        await audit.record(
            conn,
            who,
            "shift.closed",
            shift_id,
            {"office": office, "window": window, **_totals_view(t)},
            request_id=request_id,
        )
        return await get(conn, who, int(shift_id))


def _shift_view(r: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": r["id"],
        "state": "CLOSED",
        "clerk": r["display_name"],
        "username": r["username"],
        "office": r["office"],
        "window": r["window_no"],
        "opened_at": r["opened_at"].isoformat(),
        "closed_at": r["closed_at"].isoformat(),
        "orders_count": r["orders_count"],
        "orders_fen": r["orders_fen"],
        "received_count": r["received_count"],
        "received_fen": r["received_fen"],
        "cancelled_count": r["cancelled_count"],
        "cancelled_fen": r["cancelled_fen"],
        "refunds_count": r["refunds_count"],
        "refunds_fen": r["refunds_fen"],
        "by_channel": r["by_channel"],
        "refunds_by_channel": r["refunds_by_channel"],
    }


def may_see_shift(who: Principal, office: str, principal_id: int) -> bool:
    if who.role in READ_ALL_ROLES:
        return True
    if who.role == "supervisor":
        return who.office == office
    return who.id == principal_id


async def get(conn: Conn, who: Principal, shift_id: int) -> dict[str, Any]:
    r = await conn.fetchrow(
        f"SELECT {_SHIFT_COLUMNS} FROM shifts s JOIN principals p ON p.id = s.principal_id"  # noqa: S608
        " WHERE s.id = $1",
        shift_id,
    )
    if r is None or not may_see_shift(who, r["office"], r["principal_id"]):
        raise NotFound("SHIFT_NOT_FOUND", f"no shift {shift_id}", "交班记录不存在")
    return _shift_view(r)


def office_of(who: Principal, asked: str | None) -> str:
    """The office whose shifts someone may list: their own, or any for finance/admin/auditor."""
    if who.role in READ_ALL_ROLES or who.office is None:
        if not asked:
            raise InvalidRequest("OFFICE_REQUIRED", "give ?office=", "请指定办事大厅")
        return asked
    if asked and asked != who.office:
        raise Forbidden(
            "OFFICE_FORBIDDEN", "you can only see your own office", "只能查看本大厅的交班记录"
        )
    return who.office


async def list_closed(
    conn: Conn, who: Principal, office: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Shifts closed in [start, end): a clerk their own, a supervisor every window's."""
    only = who.id if who.role == "clerk" else None
    rows = await conn.fetch(
        f"SELECT {_SHIFT_COLUMNS} FROM shifts s JOIN principals p ON p.id = s.principal_id"  # noqa: S608
        " WHERE s.office = $1 AND s.closed_at >= $2 AND s.closed_at < $3"
        " AND ($4::bigint IS NULL OR s.principal_id = $4) ORDER BY s.closed_at, s.id",
        office,
        start,
        end,
        only,
    )
    return [_shift_view(r) for r in rows]


async def open_activity(
    conn: Conn, office: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Unclosed shifts with activity in [start, end): one row per person and window."""
    start = max(start, await epoch(conn))
    items = await _unclaimed(conn, office, principal_id=None, window=None, start=start, end=end)
    groups: dict[tuple[int, str], list[asyncpg.Record]] = defaultdict(list)
    for r in items:
        groups[(r["principal_id"], r["window_no"])].append(r)
    out = []
    for (_pid, window), rows in sorted(groups.items(), key=lambda g: (g[0][1], g[0][0])):
        t = totals(rows)
        out.append(
            {
                "clerk": rows[0]["display_name"],
                "window": window,
                "opened_at": rows[0]["at"].isoformat(),
                **_totals_view(t),
            }
        )
    return out
