"""Use cases on orders: create (idempotently), read, list, cancel. Each owns its transaction."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from clearing.db import Conn
from clearing.domain.money import capital_amount, format_yuan
from clearing.domain.orders import (
    STATE_ZH,
    Limits,
    OrderState,
    check_lines,
    mask_payer_id,
    new_order_no,
    normalize_payer_id,
)
from clearing.domain.times import day_bounds
from clearing.errors import Conflict, Forbidden, InvalidRequest, NotFound
from clearing.security import PiiCipher
from clearing.service import audit, catalogue, places
from clearing.service.principals import Principal, require_role

CREATE_ROLES = frozenset({"clerk", "supervisor", "admin"})
# amounts typed by hand instead of asked of the authorities: an exception, kept to supervisors
MANUAL_ROLES = frozenset({"supervisor", "admin"})
READ_ALL_ROLES = frozenset({"finance", "admin", "auditor"})


@dataclass(frozen=True)
class LineInput:
    item_code: str
    amount_fen: int
    reference: str | None = None


@dataclass(frozen=True)
class OrderInput:
    case_no: str
    office: str
    # a clerk's window comes from their assignment: None takes it, another one is refused
    window: str | None
    payer_name: str
    payer_id: str
    lines: list[LineInput]


def request_hash(body: dict[str, Any]) -> bytes:
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    ).digest()


def _may_see(principal: Principal, office: str) -> bool:
    return principal.role in READ_ALL_ROLES or principal.office in (None, office)


def _check_manual(principal: Principal, reason: str | None) -> None:
    if principal.role not in MANUAL_ROLES:
        raise Forbidden(
            "MANUAL_LINES_FORBIDDEN",
            "only a supervisor may type amounts by hand; create the order from the case's"
            " references instead",
            "窗口人员不能手工录入金额，请按税票号、缴款码等查询生成缴费单；确需手工录入请由值班主任办理",
        )
    if not (reason or "").strip():
        raise InvalidRequest(
            "MANUAL_REASON_REQUIRED",
            "amounts typed by hand need a reason (manual_reason)",
            "手工录入金额须填写原因",
        )


async def create(
    conn: Conn,
    *,
    principal: Principal,
    order: OrderInput,
    idempotency_key: str,
    body_hash: bytes,
    limits: Limits,
    cipher: PiiCipher,
    now: datetime,
    ttl: timedelta,
    request_id: str | None = None,
    held: list[tuple[str, str]] | None = None,
    case_refs: dict[str, Any] | None = None,
    manual_reason: str | None = None,
) -> tuple[int, dict[str, Any]]:
    """Create an order; the same key with the same body returns the first response. ``held`` are
    the (authority, reference) pairs this order takes: each can be in one live order only.

    An order without ``case_refs`` has amounts typed by hand: only a supervisor may do that, with
    a ``manual_reason``, and the audit log keeps who, why and what."""
    require_role(
        principal, CREATE_ROLES, "your role cannot create orders", "您的角色不能开具缴费单"
    )
    places.check_order_office(principal, order.office)
    if case_refs is None:
        _check_manual(principal, manual_reason)
    window = await places.order_window(conn, principal, order.office, order.window)
    async with conn.transaction():
        # The key row goes in first: a concurrent request with the same key waits on it here
        # and then finds the stored response.
        inserted = await conn.fetchval(
            "INSERT INTO idempotency_keys (principal_id, key, request_hash, response_status,"
            " response_body) VALUES ($1, $2, $3, 0, '{}') ON CONFLICT DO NOTHING RETURNING 1",
            principal.id,
            idempotency_key,
            body_hash,
        )
        if not inserted:
            row = await conn.fetchrow(
                "SELECT request_hash, response_status, response_body FROM idempotency_keys"
                " WHERE principal_id = $1 AND key = $2",
                principal.id,
                idempotency_key,
            )
            assert row is not None
            if bytes(row["request_hash"]) != body_hash:
                raise Conflict(
                    "IDEMPOTENCY_KEY_REUSED",
                    "this Idempotency-Key was used with a different request body",
                    "重复的请求编号对应了不同的内容",
                )
            return int(row["response_status"]), dict(row["response_body"])

        total = check_lines([ln.amount_fen for ln in order.lines], limits)
        payer_id = normalize_payer_id(order.payer_id)
        items = await catalogue.fee_items(conn)
        for i, ln in enumerate(order.lines, start=1):
            if ln.item_code not in items:
                raise InvalidRequest(
                    "UNKNOWN_FEE_ITEM",
                    f"line {i}: unknown or inactive fee item {ln.item_code!r}",
                    f"第 {i} 项：收费项目不存在或已停用",
                    line=i,
                )
        order_no = new_order_no(now)
        order_id = await conn.fetchval(
            "INSERT INTO orders (order_no, case_no, office, window_no, payer_name_enc,"
            " payer_id_enc, payer_id_masked, total_fen, created_by, created_at, expires_at,"
            " case_refs, payer_id_hmac) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)"
            " RETURNING id",
            order_no,
            order.case_no,
            order.office,
            window,
            cipher.encrypt(order.payer_name, "orders.payer_name"),
            cipher.encrypt(payer_id, "orders.payer_id"),
            mask_payer_id(payer_id),
            total,
            principal.id,
            now,
            now + ttl,
            case_refs,
            cipher.search_hash(payer_id),
        )
        await conn.executemany(
            "INSERT INTO order_lines (order_id, line_no, item_code, beneficiary_code, amount_fen,"
            " reference) VALUES ($1,$2,$3,$4,$5,$6)",
            [
                (
                    order_id,
                    i,
                    ln.item_code,
                    items[ln.item_code].beneficiary_code,
                    ln.amount_fen,
                    ln.reference,
                )
                for i, ln in enumerate(order.lines, start=1)
            ],
        )
        for authority, reference in held or []:
            holder = await conn.fetchval(
                "INSERT INTO held_references (authority, reference, order_id) VALUES ($1, $2, $3)"
                " ON CONFLICT DO NOTHING RETURNING order_id",
                authority,
                reference,
                order_id,
            )
            if holder is None:
                other = await conn.fetchval(
                    "SELECT o.order_no FROM held_references h JOIN orders o ON o.id = h.order_id"
                    " WHERE h.authority = $1 AND h.reference = $2",
                    authority,
                    reference,
                )
                raise Conflict(
                    "REFERENCE_HELD",
                    f"{authority} reference {reference} is already in order {other}",
                    f"该缴款凭证（{reference}）已在缴费单 {other} 中，不能重复缴费",
                    reference=reference,
                    order_no=other,
                )
        # closes the order at its acquirers and expires it if nobody pays in time
        await conn.execute(
            "INSERT INTO tasks (kind, payload, dedupe_key, run_at) VALUES ('order.expire',"
            " jsonb_build_object('order_no', $1::text), 'order.expire:' || $1, $2)",
            order_no,
            now + ttl,
        )
        await audit.record(
            conn,
            principal,
            "order.created",
            order_no,
            {
                "case_no": order.case_no,
                "window": window,
                "total_fen": total,
                "lines": len(order.lines),
            },
            request_id=request_id,
        )
        if case_refs is None:
            await audit.record(
                conn,
                principal,
                "order.lines_typed",
                order_no,
                {
                    "reason": (manual_reason or "").strip(),
                    "lines": [[ln.item_code, ln.amount_fen, ln.reference] for ln in order.lines],
                },
                request_id=request_id,
            )
        view = await _view(conn, order_no, cipher)
        await conn.execute(
            "UPDATE idempotency_keys SET response_status = 201, response_body = $3"
            " WHERE principal_id = $1 AND key = $2",
            principal.id,
            idempotency_key,
            view,
        )
    return 201, view


_ORDER_SQL = """
SELECT o.id, o.order_no, o.case_no, o.office, o.window_no, o.payer_name_enc, o.payer_id_masked,
       o.total_fen, o.state, o.exception_reason, o.created_at, o.expires_at, o.cleared_at,
       p.username AS created_by, p.display_name AS created_by_name
  FROM orders o JOIN principals p ON p.id = o.created_by
 WHERE o.order_no = $1
"""

_LINES_SQL = """
SELECT l.line_no, l.item_code, f.name_zh AS item_name, l.beneficiary_code,
       b.name AS beneficiary_name, l.amount_fen, l.reference, l.confirm_state, l.proof_no
  FROM order_lines l JOIN fee_items f ON f.code = l.item_code
  JOIN beneficiaries b ON b.code = l.beneficiary_code
 WHERE l.order_id = $1 ORDER BY l.line_no
"""

_ATTEMPTS_SQL = """
SELECT provider, out_trade_no, state, code_url, created_at, expires_at, method, terminal_id,
       failure_zh
  FROM payment_attempts WHERE order_id = $1 ORDER BY id
"""

_PAYMENTS_SQL = """
SELECT provider, provider_txn_id, amount_fen, outcome, reason, paid_at, details
  FROM payments WHERE order_id = $1 ORDER BY id
"""


def no_order(order_no: str) -> NotFound:
    """The refusal for an order that does not exist, or that the asker may not see."""
    return NotFound("ORDER_NOT_FOUND", f"no order {order_no}", "缴费单不存在")


def _iso(v: datetime | None) -> str | None:
    return v.isoformat() if v is not None else None


async def _view(conn: Conn, order_no: str, cipher: PiiCipher | None) -> dict[str, Any]:
    o = await conn.fetchrow(_ORDER_SQL, order_no)
    if o is None:
        raise no_order(order_no)
    lines = await conn.fetch(_LINES_SQL, o["id"])
    attempts = await conn.fetch(_ATTEMPTS_SQL, o["id"])
    payments = await conn.fetch(_PAYMENTS_SQL, o["id"])
    return {
        "order_no": o["order_no"],
        "case_no": o["case_no"],
        "office": o["office"],
        "window": o["window_no"],
        "payer_name": (
            cipher.decrypt(o["payer_name_enc"], "orders.payer_name") if cipher is not None else None
        ),
        "payer_id_masked": o["payer_id_masked"],
        "total_fen": o["total_fen"],
        "total_display": format_yuan(o["total_fen"]),
        "total_capital": capital_amount(o["total_fen"]),
        "state": o["state"],
        "state_zh": STATE_ZH[OrderState(o["state"])],
        "exception_reason": o["exception_reason"],
        "created_by": o["created_by"],
        "created_by_name": o["created_by_name"],
        "created_at": _iso(o["created_at"]),
        "expires_at": _iso(o["expires_at"]),
        "cleared_at": _iso(o["cleared_at"]),
        "lines": [dict(r) for r in lines],
        "attempts": [
            {**dict(a), "created_at": _iso(a["created_at"]), "expires_at": _iso(a["expires_at"])}
            for a in attempts
        ],
        "payments": [{**dict(p), "paid_at": _iso(p["paid_at"])} for p in payments],
    }


async def get(conn: Conn, principal: Principal, order_no: str, cipher: PiiCipher) -> dict[str, Any]:
    view = await _view(conn, order_no, cipher)
    if not _may_see(principal, view["office"]):
        # another office's order is reported as absent: its existence is not the clerk's business
        raise no_order(order_no)
    return view


async def unscoped_view(conn: Conn, order_no: str) -> dict[str, Any] | None:
    """An order without its payer's name, whoever asks: for the public receipt check, which
    shows only what the printed receipt itself shows."""
    try:
        return await _view(conn, order_no, None)
    except NotFound:
        return None


async def list_for_window(
    conn: Conn, principal: Principal, office: str, window: str | None, day: date
) -> list[dict[str, Any]]:
    if not _may_see(principal, office):
        raise Forbidden(
            "OFFICE_FORBIDDEN", "you can only see your own office", "只能查看本大厅的缴费单"
        )
    rows = await conn.fetch(
        "SELECT order_no, case_no, window_no, payer_id_masked, total_fen, state, created_at,"
        " cleared_at FROM orders WHERE office = $1 AND ($2::text IS NULL OR window_no = $2)"
        " AND created_at >= $3 AND created_at < $4 ORDER BY created_at DESC",
        office,
        window,
        # the Beijing day, whatever the database session's time zone
        *day_bounds(day),
    )
    return [
        {
            "order_no": r["order_no"],
            "case_no": r["case_no"],
            "window": r["window_no"],
            "payer_id_masked": r["payer_id_masked"],
            "total_fen": r["total_fen"],
            "state": r["state"],
            "state_zh": STATE_ZH[OrderState(r["state"])],
            "created_at": _iso(r["created_at"]),
            "cleared_at": _iso(r["cleared_at"]),
        }
        for r in rows
    ]


async def mark_cancelled(
    conn: Conn,
    principal: Principal,
    order_no: str,
    reason: str,
    request_id: str | None = None,
) -> None:
    """Guarded OPEN/PAYING → CANCELLED; attempts must be closed at the acquirer first."""
    async with conn.transaction():
        row = await conn.fetchrow(
            "UPDATE orders SET state = 'CANCELLED', updated_at = now()"
            " WHERE order_no = $1 AND state IN ('OPEN', 'PAYING')"
            " AND NOT EXISTS (SELECT 1 FROM payment_attempts a WHERE a.order_id = orders.id"
            "                 AND a.state IN ('CREATING', 'OPEN'))"
            " RETURNING office, window_no",
            order_no,
        )
        if row is None:
            state = await conn.fetchval("SELECT state FROM orders WHERE order_no = $1", order_no)
            raise Conflict(
                "ORDER_NOT_CANCELLABLE",
                f"order {order_no} is {state} and cannot be cancelled",
                f"缴费单当前状态为「{STATE_ZH[OrderState(state)]}」，不能撤销",
                state=state,
            )
        await audit.record(
            conn, principal, "order.cancelled", order_no, {"reason": reason}, request_id=request_id
        )
        await notify(conn, order_no, "CANCELLED", row["office"], row["window_no"])


async def notify(conn: Conn, order_no: str, state: str, office: str, window: str) -> None:
    await conn.execute(
        "SELECT pg_notify('tj_order_events', json_build_object('order_no', $1::text,"
        " 'state', $2::text, 'office', $3::text, 'window', $4::text)::text)",
        order_no,
        state,
        office,
        window,
    )
