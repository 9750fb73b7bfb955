"""轧账: a supervisor closes the office's day. The money the closed shifts counted as received on
the day must equal, channel by channel and to the fen, what the ledger debited to the acquirers'
receivables for the office's orders that day. A difference is shown and stored with a note,
never hidden or rounded away; a day with unclosed shifts cannot be closed.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from clearing.db import Conn
from clearing.errors import Conflict, Forbidden, InvalidRequest
from clearing.service import audit, shifts
from clearing.service.principals import Principal
from clearing.service.search import CHANNEL_ZH

BEIJING = timezone(timedelta(hours=8))
CLOSE_ROLES = frozenset({"supervisor", "admin"})
CLOSE_REFUSED = (
    "DAY_CLOSE_FORBIDDEN",
    "only the office's supervisor closes its day",
    "只有本大厅值班主任可以轧账",
)

# what the closed shifts of the office counted as received on the day, by channel
_SHIFTS_SIDE = """
SELECT si.channel, count(*) AS n, sum(si.amount_fen)::bigint AS fen
  FROM shift_items si JOIN shifts s ON s.id = si.shift_id
 WHERE s.office = $1 AND si.kind = 'payment' AND si.at >= $2 AND si.at < $3
 GROUP BY 1
"""
_SHIFTS_COUNT = """
SELECT count(DISTINCT s.id) FROM shift_items si JOIN shifts s ON s.id = si.shift_id
 WHERE s.office = $1 AND si.at >= $2 AND si.at < $3
"""
# the ledger: receivable debits of capture entries for the office's orders, by posting time
_LEDGER_SIDE = """
SELECT substr(a.code, length('receivable:') + 1) AS channel, count(*) AS n,
       sum(p.amount_fen)::bigint AS fen
  FROM postings p JOIN journal_entries e ON e.id = p.entry_id
  JOIN ledger_accounts a ON a.id = p.account_id
  JOIN orders o ON o.id = p.order_id
 WHERE e.kind = 'CAPTURE' AND a.code LIKE 'receivable:%' AND p.amount_fen > 0
   AND o.office = $1 AND p.created_at >= $2 AND p.created_at < $3
 GROUP BY 1
"""


def bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), BEIJING)
    return start, start + timedelta(days=1)


async def _closed(conn: Conn, office: str, day: date) -> dict[str, Any] | None:
    r = await conn.fetchrow(
        "SELECT d.closed_at, d.shifts_count, d.shifts_fen, d.ledger_fen, d.difference_fen,"
        " d.by_channel, d.note, p.display_name FROM office_days d"
        " JOIN principals p ON p.id = d.closed_by WHERE d.office = $1 AND d.business_date = $2",
        office,
        day,
    )
    if r is None:
        return None
    return {
        "closed_at": r["closed_at"].isoformat(),
        "closed_by": r["display_name"],
        "shifts_count": r["shifts_count"],
        "shifts_fen": r["shifts_fen"],
        "ledger_fen": r["ledger_fen"],
        "difference_fen": r["difference_fen"],
        "by_channel": r["by_channel"],
        "note": r["note"],
    }


async def _compare(conn: Conn, office: str, day: date) -> dict[str, Any]:
    start, end = bounds(day)
    ours = {r["channel"]: r for r in await conn.fetch(_SHIFTS_SIDE, office, start, end)}
    ledger = {r["channel"]: r for r in await conn.fetch(_LEDGER_SIDE, office, start, end)}
    rows = []
    for ch in sorted(set(ours) | set(ledger)):
        s_n, s_f = (int(ours[ch]["n"]), int(ours[ch]["fen"])) if ch in ours else (0, 0)
        l_n, l_f = (int(ledger[ch]["n"]), int(ledger[ch]["fen"])) if ch in ledger else (0, 0)
        rows.append(
            {
                "channel": ch,
                "channel_zh": CHANNEL_ZH.get(ch, "其他渠道"),
                "shifts_count": s_n,
                "shifts_fen": s_f,
                "ledger_count": l_n,
                "ledger_fen": l_f,
                "difference_fen": s_f - l_f,
            }
        )
    shifts_fen = sum(r["shifts_fen"] for r in rows)
    ledger_fen = sum(r["ledger_fen"] for r in rows)
    return {
        "shifts_count": int(await conn.fetchval(_SHIFTS_COUNT, office, start, end)),
        "shifts_fen": shifts_fen,
        "ledger_fen": ledger_fen,
        "difference_fen": shifts_fen - ledger_fen,
        "by_channel": rows,
    }


async def view(conn: Conn, office: str, day: date) -> dict[str, Any]:
    """The day as it stands: the comparison now, unclosed shifts, and the close if made."""
    start, end = bounds(day)
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        compare = await _compare(conn, office, day)
        open_shifts = await shifts.open_activity(conn, office, start, end)
        closed = await _closed(conn, office, day)
        closed_shifts = await conn.fetchval(
            "SELECT count(*) FROM shifts WHERE office = $1 AND closed_at >= $2 AND closed_at < $3",
            office,
            start,
            end,
        )
    return {
        "office": office,
        "date": day.isoformat(),
        **compare,
        "closed_shifts": int(closed_shifts),
        "open_shifts": open_shifts,
        "closed": closed,
    }


async def close(
    conn: Conn,
    who: Principal,
    *,
    office: str,
    day: date,
    note: str | None,
    request_id: str | None = None,
) -> dict[str, Any]:
    if who.role not in CLOSE_ROLES or (who.role == "supervisor" and who.office != office):
        raise Forbidden(*CLOSE_REFUSED)
    start, end = bounds(day)
    note = (note or "").strip() or None
    async with conn.transaction():
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('tj_office_day'), hashtext($1))", office
        )
        if await _closed(conn, office, day) is not None:
            raise Conflict("DAY_ALREADY_CLOSED", "this day is already closed", "该日已轧账")
        open_shifts = await shifts.open_activity(conn, office, start, end)
        if open_shifts:
            names = "、".join(f"窗口 {s['window']}（{s['clerk']}）" for s in open_shifts)
            raise Conflict(
                "SHIFTS_OPEN",
                "some windows have not closed their shifts",
                f"以下窗口尚未交班：{names}；请先交班再轧账",
                open_shifts=[{"window": s["window"], "clerk": s["clerk"]} for s in open_shifts],
            )
        c = await _compare(conn, office, day)
        if c["difference_fen"] != 0 and note is None:
            raise InvalidRequest(
                "DIFFERENCE_NOTE_REQUIRED",
                "the shifts and the ledger differ; a note explaining the difference is required",
                "轧账不平：交班合计与账务不符，请填写差异说明",
                difference_fen=c["difference_fen"],
            )
        await conn.execute(
            "INSERT INTO office_days (office, business_date, closed_by, closed_at, shifts_count,"
            " shifts_fen, ledger_fen, difference_fen, by_channel, note)"
            " VALUES ($1,$2,$3,now(),$4,$5,$6,$7,$8,$9)",
            office,
            day,
            who.id,
            c["shifts_count"],
            c["shifts_fen"],
            c["ledger_fen"],
            c["difference_fen"],
            c["by_channel"],
            note,
        )
        await audit.record(
            conn,
            who,
            "office_day.closed",
            f"{office}:{day.isoformat()}",
            {
                "shifts_fen": c["shifts_fen"],
                "ledger_fen": c["ledger_fen"],
                "difference_fen": c["difference_fen"],
                "note": note,
            },
            request_id=request_id,
        )
    return await view(conn, office, day)
