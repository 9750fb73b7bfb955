"""What the citizen's screen shows, and the 好差评 rating given on it.

The screen reads only the order on display at its own window (``display.set_current``): the
lines, the total and its 大写, whether a QR code waits to be scanned, the state, and after payment
the rating. The payer's name is masked (张*), the ID number is never sent. Nothing here takes an
order number from the screen except the rating, which must name the order on display.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg

from clearing.db import Conn
from clearing.domain.money import capital_amount, format_yuan
from clearing.domain.orders import STATE_ZH, OrderState
from clearing.domain.ratings import GRADES, check_rating, mask_name
from clearing.errors import Conflict, Forbidden
from clearing.security import PiiCipher
from clearing.service.display import Device, announce

PAID_STATES = frozenset({"CLEARED", "SETTLED"})
UNPAID_STATES = frozenset({"OPEN", "PAYING"})
# after a rating the screen thanks the citizen this long, then waits for the next one; a paid
# order nobody rates, or one cancelled or expired, leaves the screen after a while by itself,
# so that the next citizen never reads the one before
THANKS = timedelta(seconds=8)
RATE_FOR = timedelta(minutes=3)
CLOSED_FOR = timedelta(seconds=30)
CHANNEL_ZH = {"wechatpay": "微信", "alipay": "支付宝", "unionpay": "云闪付", "pos": "银行卡"}

_SHOWN = """
SELECT o.id, o.order_no, o.payer_name_enc, o.total_fen, o.state, o.cleared_at, o.updated_at,
       r.grade, r.rated_at
  FROM display_windows d JOIN orders o ON o.id = d.order_id
  LEFT JOIN service_ratings r ON r.order_id = o.id
 WHERE d.office = $1 AND d.window_no = $2
"""
_LINES = """
SELECT f.name_zh AS item_name, b.name AS beneficiary_name, l.amount_fen
  FROM order_lines l JOIN fee_items f ON f.code = l.item_code
  JOIN beneficiaries b ON b.code = l.beneficiary_code
 WHERE l.order_id = $1 ORDER BY l.line_no
"""
# the QR the clerk showed: the newest attempt still open that has one (codes and cards have none)
_OPEN_QR = """
SELECT provider, expires_at FROM payment_attempts
 WHERE order_id = $1 AND state = 'OPEN' AND code_url IS NOT NULL
 ORDER BY id DESC LIMIT 1
"""
_PAID_WITH = """
SELECT provider, paid_at FROM payments WHERE order_id = $1 AND outcome = 'CLEARED'
 ORDER BY id LIMIT 1
"""


async def qr_view(conn: Conn, order_id: int, svg_url: str) -> dict[str, str] | None:
    """The QR the clerk showed, as an unattended screen names it (its picture at ``svg_url``);
    None while no attempt with a code is open."""
    qr = await conn.fetchrow(_OPEN_QR, order_id)
    if qr is None:
        return None
    return {
        "channel_zh": CHANNEL_ZH.get(qr["provider"], qr["provider"]),
        "expires_at": qr["expires_at"].isoformat(),
        "svg_url": svg_url,
    }


async def paid_view(conn: Conn, order_id: int | None) -> dict[str, str | None]:
    """How and when the order was paid, by the channel's Chinese name (both None for no
    ``order_id``: the caller asks only of a paid order)."""
    paid = None if order_id is None else await conn.fetchrow(_PAID_WITH, order_id)
    return {
        "paid_with_zh": CHANNEL_ZH.get(paid["provider"], paid["provider"]) if paid else None,
        "paid_at": paid["paid_at"].isoformat() if paid else None,
    }


async def line_views(conn: Conn, order_id: int) -> list[dict[str, Any]]:
    """An order's lines as a citizen reads them: item, beneficiary (by name), amount."""
    return [
        {
            "item_name": r["item_name"],
            "beneficiary_name": r["beneficiary_name"],
            "amount_fen": r["amount_fen"],
            "amount_display": format_yuan(r["amount_fen"]),
        }
        for r in await conn.fetch(_LINES, order_id)
    ]


def _idle(device: Device) -> dict[str, Any]:
    return {"office": device.office, "window": device.window, "phase": "idle", "order": None}


async def screen_view(
    conn: Conn, device: Device, cipher: PiiCipher, now: datetime
) -> dict[str, Any]:
    """The screen's whole state. ``phase``: idle (nothing on display), pay (waiting for the
    money), rate (paid, not rated yet), thanks (rated a moment ago), closed (expired,
    cancelled, in exception or refunded: nothing to pay)."""
    o = await conn.fetchrow(_SHOWN, device.office, device.window)
    if o is None:
        return _idle(device)
    rated_at, state = o["rated_at"], o["state"]
    until: datetime | None = None
    if state in UNPAID_STATES:
        phase = "pay"
    elif state in PAID_STATES:
        phase = "rate" if rated_at is None else "thanks"
        until = rated_at + THANKS if rated_at else (o["cleared_at"] or o["updated_at"]) + RATE_FOR
    else:
        phase, until = "closed", o["updated_at"] + CLOSED_FOR
    if until is not None and now >= until:
        return _idle(device)
    lines = await line_views(conn, o["id"])
    qr = await qr_view(conn, o["id"], "/api/v1/display/qr.svg") if phase == "pay" else None
    paid = await paid_view(conn, o["id"] if state in PAID_STATES else None)
    name = cipher.decrypt(o["payer_name_enc"], "orders.payer_name")
    order = {
        "order_no": o["order_no"],
        "payer_masked": mask_name(name),
        "lines": lines,
        "total_fen": o["total_fen"],
        "total_display": format_yuan(o["total_fen"]),
        "total_capital": capital_amount(o["total_fen"]),
        "state": state,
        "state_zh": STATE_ZH[OrderState(state)],
        "qr": qr,
        **paid,
        "rating": None
        if o["grade"] is None
        else {"grade": o["grade"], "grade_zh": GRADES[o["grade"]]},
    }
    view: dict[str, Any] = {
        "office": device.office,
        "window": device.window,
        "phase": phase,
        "order": order,
    }
    if until is not None:
        view["until"] = until.isoformat()  # the screen goes idle by itself then
    return view


async def open_qr_url(conn: Conn, device: Device) -> str | None:
    """The code URL of the QR waiting at the screen's window, if any."""
    value = await conn.fetchval(
        "SELECT a.code_url FROM display_windows d"
        " JOIN orders o ON o.id = d.order_id AND o.state IN ('OPEN', 'PAYING')"
        " JOIN payment_attempts a ON a.order_id = o.id"
        " WHERE d.office = $1 AND d.window_no = $2 AND a.state = 'OPEN'"
        " AND a.code_url IS NOT NULL ORDER BY a.id DESC LIMIT 1",
        device.office,
        device.window,
    )
    return str(value) if value is not None else None


_NOT_SHOWN = Forbidden(
    "ORDER_NOT_ON_DISPLAY",
    "only the order on display at this screen's window can be rated",
    "只能评价本窗口正在办理的缴费单",
)


async def rate(
    conn: Conn, device: Device, order_no: str, grade: str, reason: str | None
) -> dict[str, Any]:
    """One rating for the order on display, kept with its office, window and clerk."""
    text = check_rating(grade, reason)
    async with conn.transaction():
        row = await conn.fetchrow(
            "SELECT o.id, o.state, d.clerk_id FROM display_windows d"
            " JOIN orders o ON o.id = d.order_id"
            " WHERE d.office = $1 AND d.window_no = $2 AND o.order_no = $3",
            device.office,
            device.window,
            order_no,
        )
        if row is None:
            raise _NOT_SHOWN
        if row["state"] not in PAID_STATES:
            raise Conflict(
                "ORDER_NOT_PAID", "an order is rated after it is paid", "缴费完成后才能评价"
            )
        try:
            rated_at = await conn.fetchval(
                "INSERT INTO service_ratings"
                " (order_id, office, window_no, clerk_id, device_id, grade, reason)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING rated_at",
                row["id"],
                device.office,
                device.window,
                row["clerk_id"],
                device.id,
                grade,
                text,
            )
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "service_ratings_order_key":
                raise Conflict(
                    "ALREADY_RATED", "this order has been rated", "该缴费单已评价，感谢您的参与"
                ) from exc
            raise
        await announce(conn, device.office, device.window)
    return {"order_no": order_no, "grade": grade, "grade_zh": GRADES[grade], "rated_at": rated_at}
