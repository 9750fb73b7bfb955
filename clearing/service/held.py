"""References already held by an order: which order paid a reference an authority calls paid,
and which references of a case another order holds.

An authority that says "already paid" does not say by whom; the clerk needs the order number to
find the receipt. ``held_references`` keeps the references of live and paid orders (an expired or
cancelled order lets go of them); a tax declaration or fund notice itself is not held (their
vouchers are), so the case references each order was made from are asked as well.
"""

from __future__ import annotations

from typing import Any

from clearing.db import Conn
from clearing.domain.orders import STATE_ZH, OrderState
from clearing.ports import DueItem

_PAID_BY_HELD = """
SELECT o.order_no FROM held_references h JOIN orders o ON o.id = h.order_id
 WHERE h.authority = $1 AND h.reference = $2 AND o.cleared_at IS NOT NULL
"""
# the newest paid order made from this case reference; only asked after a refusal, so the scan
# of paid orders costs nothing on the way an order is made
_PAID_BY_CASE = """
SELECT order_no FROM orders
 WHERE cleared_at IS NOT NULL AND CASE $1::text
       WHEN 'tax' THEN case_refs->>'declaration_no' = $2
       WHEN 'fiscal' THEN coalesce(case_refs->'payment_codes' ? $2, false)
       WHEN 'fund' THEN $2 IN (case_refs->>'fund_notice', case_refs->>'property_unit')
       ELSE false END
 ORDER BY cleared_at DESC LIMIT 1
"""
_HELD = """
SELECT h.authority, h.reference, o.order_no, o.state
  FROM held_references h JOIN orders o ON o.id = h.order_id
 WHERE (h.authority, h.reference) IN (SELECT * FROM unnest($1::text[], $2::text[]))
 ORDER BY o.order_no, h.reference
"""
_UNPAID = (OrderState.OPEN, OrderState.PAYING)


async def name_paying_orders(conn: Conn, failures: list[dict[str, Any]]) -> None:
    """Add ``order_no`` to each "already paid" refusal whose paying order we know."""
    for f in failures:
        if f["code"] != "ALREADY_PAID" or not f["reference"]:
            continue
        order_no = await conn.fetchval(_PAID_BY_HELD, f["authority"], f["reference"])
        if order_no is None:
            order_no = await conn.fetchval(_PAID_BY_CASE, f["authority"], f["reference"])
        if order_no is not None:
            f["order_no"] = order_no


async def held_elsewhere(conn: Conn, items: list[DueItem]) -> list[dict[str, Any]]:
    """The references of a looked-up case that an order already holds: an order made of them
    would be refused, so the clerk hears it before filling in the rest."""
    refs = [(i.authority, i.reference) for i in items if i.reference]
    if not refs:
        return []
    rows = await conn.fetch(_HELD, [a for a, _ in refs], [r for _, r in refs])
    warnings = []
    for r in rows:
        state = OrderState(r["state"])
        if state in _UNPAID:
            zh = (
                f"该凭证（{r['reference']}）已在缴费单 {r['order_no']}（{STATE_ZH[state]}）中，"
                "不能再开具；如需重新开具，请先撤销该缴费单"
            )
        else:
            zh = (
                f"该凭证（{r['reference']}）已由缴费单 {r['order_no']}（{STATE_ZH[state]}）缴纳，"
                "不能重复缴费"
            )
        warnings.append(
            {
                "authority": r["authority"],
                "reference": r["reference"],
                "order_no": r["order_no"],
                "order_state": r["state"],
                "message_zh": zh,
            }
        )
    return warnings
