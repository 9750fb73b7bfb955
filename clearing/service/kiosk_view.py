"""What a kiosk's screen shows: the order the citizen found, masked, and its receipt once paid.

The payer's name is masked (张*) and the ID is the stored mask (first three and last four
characters): a kiosk stands in a public hall, and the next person in the queue reads over the
shoulder. ``phase``: idle (nothing found), pay (waiting for the money), paid (the receipt),
closed (cancelled, expired or in exception meanwhile: nothing to pay).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from clearing.db import Conn
from clearing.domain.money import capital_amount, format_yuan
from clearing.domain.orders import STATE_ZH, OrderState
from clearing.domain.ratings import mask_name
from clearing.security import PiiCipher
from clearing.service import orders as order_service
from clearing.service import receipt_prints
from clearing.service.kiosks import HOLD, Kiosk
from clearing.service.screen import (
    PAID_STATES,
    UNPAID_STATES,
    line_views,
    paid_view,
    qr_view,
)

_HELD = """
SELECT o.id, o.order_no, o.case_no, o.payer_name_enc, o.payer_id_masked, o.total_fen, o.state,
       o.expires_at
  FROM kiosks k JOIN orders o ON o.id = k.order_id
 WHERE k.id = $1 AND k.revoked_at IS NULL AND k.order_opened_at > $2
"""


def idle(kiosk: Kiosk) -> dict[str, Any]:
    return {"kiosk": kiosk.name, "office": kiosk.office, "phase": "idle", "order": None}


async def view(conn: Conn, kiosk: Kiosk, cipher: PiiCipher, now: datetime) -> dict[str, Any]:
    o = await conn.fetchrow(_HELD, kiosk.id, now - HOLD)
    if o is None:
        return idle(kiosk)
    state = o["state"]
    if state in UNPAID_STATES:
        phase = "pay"
    elif state in PAID_STATES:
        phase = "paid"
    else:
        phase = "closed"
    qr = await qr_view(conn, o["id"], "/api/v1/kiosk/current/qr.svg") if phase == "pay" else None
    paid = await paid_view(conn, o["id"] if phase == "paid" else None)
    order = {
        "order_no": o["order_no"],
        "case_no": o["case_no"],
        "payer_masked": mask_name(cipher.decrypt(o["payer_name_enc"], "orders.payer_name")),
        "payer_id_masked": o["payer_id_masked"],
        "lines": await line_views(conn, o["id"]),
        "total_fen": o["total_fen"],
        "total_display": format_yuan(o["total_fen"]),
        "total_capital": capital_amount(o["total_fen"]),
        "state": state,
        "state_zh": STATE_ZH[OrderState(state)],
        "expires_at": o["expires_at"].isoformat(),
        "qr": qr,
        **paid,
    }
    return {"kiosk": kiosk.name, "office": kiosk.office, "phase": phase, "order": order}


async def receipt(
    conn: Conn, kiosk: Kiosk, order_no: str, *, mac: receipt_prints.Mac, request_id: str | None
) -> receipt_prints.Print | None:
    """The receipt of the paid order on the kiosk: its original print (the kiosk makes it when
    nobody printed one yet), or None while the order is not paid."""
    view = await order_service.unscoped_view(conn, order_no)
    if view is None or view["state"] not in PAID_STATES:
        return None
    return await receipt_prints.original_at_kiosk(
        conn, kiosk.id, view, mac=mac, request_id=request_id
    )
