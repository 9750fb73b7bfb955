"""日结 across offices: the shifts closed on a Beijing day, summed per office, per kind of office
(登记大厅, 便民服务中心, 银行网点 of 同城通办) and in all, for the daily report.

Each shift's numbers were frozen when it closed (clearing.service.shifts); they are only added
up here, in integer fen, so every subtotal is the exact sum of its offices and the total the
exact sum of the kinds. Each office also says whether its day was closed (轧账) and with what
difference.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from clearing.db import Conn
from clearing.domain import times

_BY_OFFICE = """
SELECT s.office, coalesce(f.kind, 'hall') AS kind, count(*) AS shifts,
       sum(s.orders_count)::bigint AS orders_count, sum(s.orders_fen)::bigint AS orders_fen,
       sum(s.received_count)::bigint AS received_count,
       sum(s.received_fen)::bigint AS received_fen,
       sum(s.cancelled_count)::bigint AS cancelled_count,
       sum(s.cancelled_fen)::bigint AS cancelled_fen,
       sum(s.refunds_count)::bigint AS refunds_count, sum(s.refunds_fen)::bigint AS refunds_fen,
       d.closed_at IS NOT NULL AS day_closed, d.difference_fen AS day_difference_fen
  FROM shifts s LEFT JOIN offices f ON f.code = s.office
  LEFT JOIN office_days d ON d.office = s.office AND d.business_date = $3
 WHERE s.closed_at >= $1 AND s.closed_at < $2
 GROUP BY s.office, f.kind, d.closed_at, d.difference_fen
 ORDER BY 2, 1
"""
_SUMS = (
    "shifts",
    "orders_count",
    "orders_fen",
    "received_count",
    "received_fen",
    "cancelled_count",
    "cancelled_fen",
    "refunds_count",
    "refunds_fen",
)


@dataclass(frozen=True, slots=True)
class ShiftSum:
    key: str  # the office code; the kind for a kind's subtotal; "" for the total
    kind: str  # offices.kind; "" for the total
    shifts: int
    orders_count: int
    orders_fen: int
    received_count: int
    received_fen: int
    cancelled_count: int
    cancelled_fen: int
    refunds_count: int
    refunds_fen: int
    day_closed: bool | None = None  # offices only: the office's day closed (轧账)
    day_difference_fen: int | None = None  # offices only, once closed: shifts minus ledger


@dataclass(frozen=True, slots=True)
class ShiftSplit:
    offices: list[ShiftSum] = field(default_factory=list)
    by_kind: list[ShiftSum] = field(default_factory=list)
    total: ShiftSum | None = None


def _sums(key: str, kind: str, n: dict[str, int]) -> ShiftSum:
    counts: dict[str, Any] = {name: n[name] for name in _SUMS}  # ints, named by field
    return ShiftSum(key, kind, **counts)


def _sum(key: str, kind: str, rows: list[ShiftSum]) -> ShiftSum:
    return _sums(key, kind, {name: sum(int(getattr(r, name)) for r in rows) for name in _SUMS})


def split(offices: list[ShiftSum]) -> ShiftSplit:
    """The kinds' subtotals and the total of the offices' sums."""
    kinds = sorted({o.kind for o in offices})
    by_kind = [_sum(k, k, [o for o in offices if o.kind == k]) for k in kinds]
    return ShiftSplit(offices, by_kind, _sum("", "", by_kind))


async def of_day(conn: Conn, day: date) -> ShiftSplit:
    """The shifts closed on the Beijing ``day``, by office and kind of office."""
    start, end = times.day_bounds(day)
    rows = await conn.fetch(_BY_OFFICE, start, end, day)
    offices = [
        replace(
            _sums(r["office"], r["kind"], {name: int(r[name]) for name in _SUMS}),
            day_closed=bool(r["day_closed"]),
            day_difference_fen=r["day_difference_fen"],
        )
        for r in rows
    ]
    return split(offices)
