"""Refunds staff ask for: a supervisor requests (whole order or chosen lines, with a reason), a
finance user — never the same person — approves, the channel refunds with an idempotent refund
number, and the ledger reverses exactly the refunded lines once the channel confirms.

A line already paid out to its beneficiary cannot be taken back from its payable account: it is
booked as a claim on that beneficiary (``clawback:<beneficiary>``) and a ``leg.clawback`` task is
queued for the authority's recovery process.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from clearing.db import Conn
from clearing.errors import Conflict, Forbidden, InvalidRequest, NotFound
from clearing.service import audit
from clearing.service.orders import no_order, notify
from clearing.service.principals import Principal, require_role

REQUEST_ROLES = frozenset({"supervisor", "admin"})
DECIDE_ROLES = frozenset({"finance"})


def _view(r: asyncpg.Record, lines: list[asyncpg.Record]) -> dict[str, Any]:
    return {
        "id": r["id"],
        "order_no": r["order_no"],
        "amount_fen": r["amount_fen"],
        "reason": r["reason"],
        "state": r["state"],
        "requested_by": r["requested_by"],
        "decided_by": r["decided_by"],
        "decision_note": r["decision_note"],
        "out_refund_no": r["out_refund_no"],
        "lines": [{"line_no": x["line_no"], "amount_fen": x["amount_fen"]} for x in lines],
        "created_at": r["created_at"].isoformat(),
    }


_ONE = """
SELECT r.*, o.order_no, rq.username AS requested_by, d.username AS decided_by
  FROM refund_requests r JOIN orders o ON o.id = r.order_id
  JOIN principals rq ON rq.id = r.requested_by LEFT JOIN principals d ON d.id = r.decided_by
 WHERE r.id = $1
"""


async def get(conn: Conn, refund_id: int) -> dict[str, Any]:
    r = await conn.fetchrow(_ONE, refund_id)
    if r is None:
        raise NotFound("REFUND_NOT_FOUND", f"no refund request {refund_id}", "退款申请不存在")
    lines = await conn.fetch(
        "SELECT line_no, amount_fen FROM refund_request_lines WHERE refund_id = $1 ORDER BY 1",
        refund_id,
    )
    return _view(r, list(lines))


async def request(
    conn: Conn,
    who: Principal,
    order_no: str,
    *,
    lines: list[int] | None,
    reason: str,
    request_id: str | None = None,
) -> dict[str, Any]:
    require_role(
        who, REQUEST_ROLES, "only a supervisor may request a refund", "只有值班主任可以申请退款"
    )
    async with conn.transaction():
        o = await conn.fetchrow(
            "SELECT id, state, office FROM orders WHERE order_no = $1 FOR UPDATE", order_no
        )
        if o is None or (who.office is not None and o["office"] != who.office):
            raise no_order(order_no)
        if o["state"] not in ("CLEARED", "SETTLED"):
            raise Conflict(
                "ORDER_NOT_REFUNDABLE",
                f"order {order_no} is {o['state']}; only a paid order can be refunded",
                "只有已缴费的缴费单可以退款",
                state=o["state"],
            )
        payment = await conn.fetchrow(
            "SELECT id FROM payments WHERE order_id = $1 AND outcome = 'CLEARED'", o["id"]
        )
        assert payment is not None
        all_lines = await conn.fetch(
            "SELECT l.line_no, l.amount_fen, r.refund_id FROM order_lines l"
            " LEFT JOIN refunded_lines r ON r.order_id = l.order_id AND r.line_no = l.line_no"
            " WHERE l.order_id = $1 ORDER BY l.line_no",
            o["id"],
        )
        by_no = {x["line_no"]: x for x in all_lines}
        wanted = (
            sorted(set(lines))
            if lines
            else [x["line_no"] for x in all_lines if x["refund_id"] is None]
        )
        if not wanted:
            raise Conflict(
                "NOTHING_TO_REFUND", "every line is already refunded", "所有项目均已退款"
            )
        for n in wanted:
            if n not in by_no:
                raise InvalidRequest(
                    "UNKNOWN_LINE", f"order has no line {n}", f"缴费单没有第 {n} 项", line=n
                )
            if by_no[n]["refund_id"] is not None:
                raise Conflict(
                    "LINE_ALREADY_REFUNDED",
                    f"line {n} is already in refund request {by_no[n]['refund_id']}",
                    f"第 {n} 项已申请过退款",
                    line=n,
                )
        amount = sum(int(by_no[n]["amount_fen"]) for n in wanted)
        # one refund number per request, fixed now, so that every retry at the channel is the
        # same refund; numbered within the order (whose row we hold locked)
        seq = await conn.fetchval(
            "SELECT count(*) + 1 FROM refund_requests WHERE order_id = $1", o["id"]
        )
        refund_id = await conn.fetchval(
            "INSERT INTO refund_requests (order_id, payment_id, amount_fen, reason, requested_by,"
            " out_refund_no) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            o["id"],
            payment["id"],
            amount,
            reason,
            who.id,
            f"{order_no}R{int(seq):02d}",
        )
        await conn.executemany(
            "INSERT INTO refund_request_lines (refund_id, order_id, line_no, amount_fen)"
            " VALUES ($1, $2, $3, $4)",
            [(refund_id, o["id"], n, by_no[n]["amount_fen"]) for n in wanted],
        )
        await conn.executemany(
            "INSERT INTO refunded_lines (order_id, line_no, refund_id) VALUES ($1, $2, $3)",
            [(o["id"], n, refund_id) for n in wanted],
        )
        await audit.record(
            conn,
            who,
            "refund.requested",
            order_no,
            {
                "refund_id": refund_id,
                "lines": wanted,
                "amount_fen": amount,
                "reason": reason,
            },
            object_type="order",
            request_id=request_id,
        )
        return await get(conn, int(refund_id))


async def decide(
    conn: Conn,
    who: Principal,
    refund_id: int,
    *,
    approve: bool,
    note: str | None,
    request_id: str | None = None,
) -> dict[str, Any]:
    require_role(who, DECIDE_ROLES, "only finance may approve refunds", "只有财务人员可以审批退款")
    async with conn.transaction():
        r = await conn.fetchrow(
            "SELECT r.id, r.state, r.requested_by, r.order_id, o.order_no, r.amount_fen,"
            " (SELECT count(*) FROM order_lines l WHERE l.order_id = r.order_id) AS order_lines,"
            " (SELECT count(*) FROM refunded_lines x WHERE x.order_id = r.order_id) AS covered"
            " FROM refund_requests r JOIN orders o ON o.id = r.order_id WHERE r.id = $1"
            " FOR UPDATE OF r",
            refund_id,
        )
        if r is None:
            raise NotFound("REFUND_NOT_FOUND", f"no refund request {refund_id}", "退款申请不存在")
        if r["requested_by"] == who.id:
            raise Forbidden(
                "FOUR_EYES",
                "the person who requested a refund cannot approve or reject it",
                "申请人不能审批自己的退款申请",
            )
        if r["state"] != "REQUESTED":
            raise Conflict(
                "REFUND_ALREADY_DECIDED", f"refund {refund_id} is {r['state']}", "该退款申请已处理"
            )
        state = "APPROVED" if approve else "REJECTED"
        await conn.execute(
            "UPDATE refund_requests SET state = $2, decided_by = $3, decision_note = $4,"
            " updated_at = now() WHERE id = $1",
            refund_id,
            state,
            who.id,
            note,
        )
        if approve:
            await conn.execute(
                "INSERT INTO tasks (kind, payload, dedupe_key) VALUES ('refund.execute',"
                " jsonb_build_object('refund_id', $1::bigint), 'refund.execute:' || $1)",
                refund_id,
            )
            if r["covered"] == r["order_lines"]:
                await conn.execute(
                    "UPDATE orders SET state = 'REFUNDING', updated_at = now()"
                    " WHERE id = $1 AND state IN ('CLEARED', 'SETTLED')",
                    r["order_id"],
                )
        else:
            await conn.execute("DELETE FROM refunded_lines WHERE refund_id = $1", refund_id)
        await audit.record(
            conn,
            who,
            f"refund.{state.lower()}",
            r["order_no"],
            {"refund_id": refund_id, "note": note},
            object_type="order",
            request_id=request_id,
        )
        return await get(conn, refund_id)


async def for_order(conn: Conn, order_no: str) -> list[dict[str, Any]]:
    ids = await conn.fetch(
        "SELECT r.id FROM refund_requests r JOIN orders o ON o.id = r.order_id"
        " WHERE o.order_no = $1 ORDER BY r.id",
        order_no,
    )
    return [await get(conn, int(x["id"])) for x in ids]


async def waiting(conn: Conn) -> list[dict[str, Any]]:
    ids = await conn.fetch(
        "SELECT id FROM refund_requests WHERE state IN ('REQUESTED', 'PROCESSING', 'ABNORMAL')"
        " ORDER BY id"
    )
    return [await get(conn, int(x["id"])) for x in ids]


async def execution_facts(conn: Conn, refund_id: int) -> asyncpg.Record | None:
    """What the channel needs to refund an approved request, or None when nothing is to do."""
    return await conn.fetchrow(
        "SELECT r.id, r.state, r.amount_fen, r.out_refund_no, p.provider, p.out_trade_no,"
        " p.amount_fen AS paid_fen FROM refund_requests r JOIN payments p ON p.id = r.payment_id"
        " WHERE r.id = $1 AND r.state IN ('APPROVED', 'PROCESSING', 'ABNORMAL')",
        refund_id,
    )


async def record_progress(
    conn: Conn, refund_id: int, state: str, provider_refund_id: str | None
) -> None:
    await conn.execute(
        "UPDATE refund_requests SET state = $2, provider_refund_id = coalesce($3,"
        " provider_refund_id), updated_at = now() WHERE id = $1 AND state <> 'SUCCEEDED'",
        refund_id,
        state,
        provider_refund_id,
    )


async def record_failure(conn: Conn, refund_id: int, why: str) -> None:
    """The channel closed the refund for good: the lines are free again, the order is paid."""
    async with conn.transaction():
        order_id = await conn.fetchval(
            "UPDATE refund_requests SET state = 'FAILED', decision_note = coalesce(decision_note"
            " || '; ', '') || $2, updated_at = now() WHERE id = $1 AND state <> 'SUCCEEDED'"
            " RETURNING order_id",
            refund_id,
            why,
        )
        if order_id is None:
            return
        await conn.execute("DELETE FROM refunded_lines WHERE refund_id = $1", refund_id)
        order_no = await conn.fetchval(
            "UPDATE orders SET state = 'CLEARED', updated_at = now() WHERE id = $1"
            " AND state = 'REFUNDING' RETURNING order_no",
            order_id,
        )
        await audit.record(
            conn, "system:refund", "refund.failed", refund_id, {"why": why, "order_no": order_no}
        )


async def record_success(conn: Conn, refund_id: int, provider_refund_id: str | None) -> bool:
    """Post the reversal of exactly the refunded lines, once. False if it was posted before."""
    async with conn.transaction():
        r = await conn.fetchrow(
            "SELECT r.id, r.order_id, r.amount_fen, p.provider FROM refund_requests r"
            " JOIN payments p ON p.id = r.payment_id WHERE r.id = $1 AND r.state <> 'SUCCEEDED'"
            " FOR UPDATE OF r",
            refund_id,
        )
        if r is None:
            return False
        entry = await conn.fetchval(
            "INSERT INTO journal_entries (kind, order_id, memo) VALUES ('REFUND', $1, $2)"
            " RETURNING id",
            r["order_id"],
            f"refund request {refund_id}",
        )
        # each refunded line leaves its beneficiary's payable, or, when already paid out, becomes
        # a claim on the beneficiary; the acquirer receivable gives the total back
        await conn.execute(
            "INSERT INTO postings (entry_id, account_id, amount_fen, order_id, line_no)"
            " SELECT $1::bigint, a.id, rl.amount_fen, rl.order_id, rl.line_no"
            "   FROM refund_request_lines rl"
            "   JOIN order_lines l ON l.order_id = rl.order_id AND l.line_no = rl.line_no"
            "   JOIN ledger_accounts a ON a.code = CASE WHEN l.settled_at IS NULL"
            "        THEN 'payable:' ELSE 'clawback:' END || l.beneficiary_code"
            "  WHERE rl.refund_id = $2"
            " UNION ALL"
            " SELECT $1::bigint, a.id, -$3::bigint, $4::bigint, NULL FROM ledger_accounts a"
            "  WHERE a.code = 'receivable:' || $5",
            entry,
            refund_id,
            r["amount_fen"],
            r["order_id"],
            r["provider"],
        )
        await conn.execute(
            "INSERT INTO tasks (kind, payload, dedupe_key)"
            " SELECT 'leg.clawback', jsonb_build_object('refund_id', $1::bigint, 'line_no',"
            " l.line_no, 'beneficiary', l.beneficiary_code, 'amount_fen', rl.amount_fen),"
            " 'leg.clawback:' || $1 || ':' || l.line_no"
            " FROM refund_request_lines rl JOIN order_lines l"
            "   ON l.order_id = rl.order_id AND l.line_no = rl.line_no"
            " WHERE rl.refund_id = $1 AND l.settled_at IS NOT NULL",
            refund_id,
        )
        await conn.execute(
            "UPDATE refund_requests SET state = 'SUCCEEDED', entry_id = $2, provider_refund_id ="
            " coalesce($3, provider_refund_id), updated_at = now() WHERE id = $1",
            refund_id,
            entry,
            provider_refund_id,
        )
        row = await conn.fetchrow(
            "UPDATE orders o SET state = CASE WHEN (SELECT count(*) FROM order_lines l"
            "   WHERE l.order_id = o.id) = (SELECT count(*) FROM refunded_lines x"
            "   JOIN refund_requests q ON q.id = x.refund_id AND q.state = 'SUCCEEDED'"
            "   WHERE x.order_id = o.id) THEN 'REFUNDED'"
            " WHEN o.state = 'REFUNDING' THEN 'CLEARED' ELSE o.state END,"
            " updated_at = now()"
            " WHERE o.id = $1 RETURNING o.order_no, o.state, o.office, o.window_no",
            r["order_id"],
        )
        assert row is not None
        await audit.record(
            conn,
            "system:refund",
            "refund.succeeded",
            row["order_no"],
            {
                "refund_id": refund_id,
                "amount_fen": r["amount_fen"],
                "order_state": row["state"],
            },
            object_type="order",
        )
        await notify(conn, row["order_no"], row["state"], row["office"], row["window_no"])
    return True
