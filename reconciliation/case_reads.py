"""What finance staff read of reconciliation discrepancies: the filtered list with its counts,
the CSV export, one discrepancy with its comments, adjustments and proposed match, one adjustment,
and the ledger accounts an adjustment may name.

Also the rules every discrepancy use case shares — who may read, who may act, the types and
states a discrepancy has — which ``reconciliation.cases`` (what people do with them) builds on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from clearing.db import Conn
from clearing.errors import Forbidden, InvalidRequest, NotFound
from clearing.service.principals import Principal

READ_ROLES: Final = frozenset({"finance", "admin", "auditor"})
ACT_ROLES: Final = frozenset({"finance", "admin"})
TYPES: Final = (
    "LONG", "SHORT", "TIMING", "AMOUNT_MISMATCH", "DUPLICATE", "FEE_MISMATCH", "REFUND_MISMATCH",
    "UNCONFIRMED_LEG", "UNKNOWN_CONFIRMATION", "SETTLEMENT_REJECTED", "STATEMENT_CREDIT_UNMATCHED",
    "STATEMENT_DEBIT_UNMATCHED", "ACQUIRER_CREDIT_MISMATCH", "BALANCE_DRIFT",
)  # fmt: skip
STATES: Final = ("OPEN", "ASSIGNED", "RESOLVED", "VOID")

# --- what is read: columns named as the API names them --------------------------------------

_ROWS = """
SELECT d.id, d.business_date, d.type, d.source, d.reference, d.our_ref, d.amount_fen,
       d.their_amount_fen, d.their_amount_fen - d.amount_fen AS difference_fen, d.state,
       a.username AS assigned_to, a.display_name AS assigned_to_name, d.resolution,
       d.resolved_by, d.resolved_at, d.first_run_id, d.last_run_id, d.created_at, d.detail,
       (SELECT count(*) FROM recon_adjustments x
         WHERE x.discrepancy_id = d.id AND x.state = 'REQUESTED') AS pending_adjustments
  FROM discrepancies d LEFT JOIN principals a ON a.id = d.assigned_to
"""
_BASE = """($1::date IS NULL OR d.business_date >= $1)
   AND ($2::date IS NULL OR d.business_date <= $2) AND ($3::text IS NULL OR d.source = $3)"""
_WHERE = f""" WHERE {_BASE}
   AND (cardinality($4::text[]) = 0 OR d.type = ANY($4))
   AND (cardinality($5::text[]) = 0 OR d.state = ANY($5))
 ORDER BY d.business_date DESC, d.id DESC"""
_COUNTS = "SELECT d.type, d.state, count(*) AS n FROM discrepancies d WHERE "
_COMMENTS = """
SELECT c.id, p.username AS author, p.display_name AS author_name, c.body, c.created_at
  FROM discrepancy_comments c JOIN principals p ON p.id = c.author
 WHERE c.discrepancy_id = $1 ORDER BY c.id
"""
_ADJUSTMENTS = """
SELECT a.id, a.discrepancy_id, a.legs, a.memo, a.state, rq.username AS requested_by,
       a.requested_at, dc.username AS decided_by, a.decided_at, a.entry_id
  FROM recon_adjustments a JOIN principals rq ON rq.id = a.requested_by
  LEFT JOIN principals dc ON dc.id = a.decided_by
"""
_MATCHES = """
SELECT m.id, m.business_date, m.rule, m.confidence, m.state, m.external_ref, m.internal_ref,
       m.amount_fen, m.detail, dc.username AS decided_by, m.decided_at
  FROM recon_matches m LEFT JOIN principals dc ON dc.id = m.decided_by
"""


# --- rules shared by every use case --------------------------------------------------------------


def _may(who: Principal, roles: frozenset[str]) -> None:
    if who.role not in roles:
        acting = roles == ACT_ROLES
        raise Forbidden(
            "ROLE_FORBIDDEN",
            "only finance or admin may act on discrepancies" if acting else "no access",
            "只有财务人员或管理员可以处理对账差异" if acting else "您无权查看对账差异",
        )


def _not_found(what: str, key: int, what_zh: str) -> NotFound:
    return NotFound(f"{what.upper()}_NOT_FOUND", f"no {what} {key}", f"{what_zh}不存在")


# --- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What a list or an export is narrowed to; empty ``types`` / ``states`` mean all."""

    date_from: date | None = None
    date_to: date | None = None
    types: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    source: str | None = None

    def __post_init__(self) -> None:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise InvalidRequest(
                "INVALID_DATE_RANGE", "date_from is after date_to", "起始日期不能晚于截止日期"
            )
        if not set(self.types) <= set(TYPES):
            raise InvalidRequest("INVALID_TYPE", "unknown discrepancy type", "差异类型参数无效")
        if not set(self.states) <= set(STATES):
            raise InvalidRequest("INVALID_STATE", "unknown discrepancy state", "状态参数无效")

    def args(self) -> tuple[Any, ...]:
        return (self.date_from, self.date_to, self.source, list(self.types), list(self.states))


async def search(
    conn: Conn, who: Principal, *, filters: Filters, page: int = 1, page_size: int = 50
) -> dict[str, Any]:
    """One page, newest business date first; the total, and counts per type (under the state
    filter) and per state (under the type filter), as a filter bar shows them."""
    _may(who, READ_ROLES)
    by_type, by_state, total = dict.fromkeys(TYPES, 0), dict.fromkeys(STATES, 0), 0
    for g in await conn.fetch(_COUNTS + _BASE + " GROUP BY 1, 2", *filters.args()[:3]):
        in_type = not filters.types or g["type"] in filters.types
        in_state = not filters.states or g["state"] in filters.states
        by_type[g["type"]] += g["n"] if in_state else 0
        by_state[g["state"]] += g["n"] if in_type else 0
        total += g["n"] if in_type and in_state else 0
    rows = await conn.fetch(
        _ROWS + _WHERE + " LIMIT $6 OFFSET $7", *filters.args(), page_size, (page - 1) * page_size
    )
    return {
        "items": [dict(r) for r in rows],
        "total": total,
        "page": page,
        "page_size": page_size,
        "counts": {"by_type": by_type, "by_state": by_state},
    }


async def export(
    conn: Conn, who: Principal, *, filters: Filters, limit: int = 100_000
) -> list[dict[str, Any]]:
    """Every discrepancy the filters select (up to ``limit``), as ``search`` shows them."""
    _may(who, READ_ROLES)
    rows = await conn.fetch(_ROWS + _WHERE + " LIMIT $6", *filters.args(), limit)
    return [dict(r) for r in rows]


async def get(conn: Conn, who: Principal, discrepancy_id: int) -> dict[str, Any]:
    """One discrepancy with its comments, adjustments and the rule match it waits for."""
    _may(who, READ_ROLES)
    r = await conn.fetchrow(_ROWS + " WHERE d.id = $1", discrepancy_id)
    if r is None:
        raise _not_found("discrepancy", discrepancy_id, "对账差异")
    comments = await conn.fetch(_COMMENTS, discrepancy_id)
    adjustments = await conn.fetch(
        _ADJUSTMENTS + " WHERE a.discrepancy_id = $1 ORDER BY 1", r["id"]
    )
    # the engine links a discrepancy to the match it proposes by detail.match_id; compared as
    # text, so that a malformed value matches nothing rather than failing a cast
    key = r["detail"].get("match_id")
    matches = await conn.fetch(
        _MATCHES + " WHERE m.id::text = $1", None if key is None else str(key)
    )
    return {
        **dict(r),
        "comments": [dict(c) for c in comments],
        "adjustments": [dict(a) for a in adjustments],
        "matches": [dict(m) for m in matches],
    }


async def get_adjustment(conn: Conn, who: Principal, adjustment_id: int) -> dict[str, Any]:
    _may(who, READ_ROLES)
    r = await conn.fetchrow(_ADJUSTMENTS + " WHERE a.id = $1", adjustment_id)
    if r is None:
        raise _not_found("adjustment", adjustment_id, "调整分录")
    return dict(r)


async def accounts(conn: Conn, who: Principal) -> list[dict[str, str]]:
    """The ledger accounts an adjustment may name, for the proposal form."""
    _may(who, READ_ROLES)
    rows = await conn.fetch("SELECT code, name, kind FROM ledger_accounts ORDER BY code")
    return [dict(r) for r in rows]
