"""Trade transitions in the Alipay simulator, and the notifications each one sends.

Shared by the gateway methods and the ``/sim/`` endpoints (the citizen's phone), so that a trade
changes the same way whoever moves it.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from adapters.alipay.crypto import beijing_text, compact_json
from adapters.alipay.sim_state import (
    TRADE_CLOSED,
    TRADE_SUCCESS,
    WAIT_BUYER_PAY,
    Order,
    Refund,
    SimState,
)
from adapters.simkit.keyfiles import digits
from adapters.simkit.notify import Notice
from clearing.domain.money import yuan_str

log = logging.getLogger(__name__)


def open_trade(state: SimState, order: Order, now: datetime) -> None:
    """The buyer is known (QR scanned, or payment code read): the trade now exists."""
    if order.trade_no is not None:
        return
    order.trade_no = state.new_trade_no(now)
    state.by_trade_no[order.trade_no] = order.out_trade_no
    order.gmt_create = now
    order.status = WAIT_BUYER_PAY
    order.buyer_user_id = "2088" + digits(12)
    order.buyer_logon_id = f"{digits(3)}******{digits(2)}"
    log.info("sim trade opened out_trade_no=%s", order.out_trade_no)


def mark_paid(state: SimState, order: Order, now: datetime, amount_fen: int | None = None) -> None:
    """Money taken from the buyer; notifies TRADE_SUCCESS."""
    open_trade(state, order, now)
    order.status = TRADE_SUCCESS
    order.gmt_payment = now
    order.paid_fen = order.total_fen if amount_fen is None else amount_fen
    order.fee_fen = state.fee_for(order.paid_fen)
    notify(state, order, "payment", now)
    log.info("sim paid out_trade_no=%s paid_fen=%d", order.out_trade_no, order.paid_fen)


def close_trade(state: SimState, order: Order, now: datetime) -> None:
    """An unpaid trade closed (close, cancel or expiry); notifies TRADE_CLOSED."""
    order.status = TRADE_CLOSED
    order.gmt_close = now
    notify(state, order, "close", now)


def refund_trade(
    state: SimState, order: Order, now: datetime, *, amount_fen: int, out_request_no: str | None
) -> Refund:
    """Money back to the buyer; the trade closes once all of it went back."""
    paid = order.paid_fen or 0
    fee_back_so_far = sum(r.fee_back_fen for r in order.refunds)
    if order.refunded_fen() + amount_fen == paid:
        # the last refund returns whatever fee is left, so the fee never goes negative
        fee_back = order.fee_fen - fee_back_so_far
    else:
        fee_back = min(state.fee_for(amount_fen), order.fee_fen - fee_back_so_far)
    reason = "交易撤销" if out_request_no is None else ""
    refund = Refund(out_request_no, amount_fen, reason, now, fee_back)
    order.refunds.append(refund)
    if out_request_no is not None:
        state.refunds[(order.out_trade_no, out_request_no)] = refund
    if order.refunded_fen() == paid:
        order.status = TRADE_CLOSED
        order.gmt_close = now
    notify(state, order, "refund", now, refund)
    return refund


def trade_fields(state: SimState, order: Order, now: datetime) -> dict[str, Any]:
    """The trade as query answers show it."""
    paid = order.paid_fen is not None
    total = order.paid_fen if order.paid_fen is not None else order.total_fen
    data: dict[str, Any] = {
        "trade_no": order.trade_no,
        "out_trade_no": order.out_trade_no,
        "buyer_logon_id": order.buyer_logon_id,
        "trade_status": order.effective_status(now),
        "total_amount": yuan_str(total),
        "receipt_amount": yuan_str(total if paid else 0),
        "buyer_pay_amount": yuan_str(total if paid else 0),
        "point_amount": "0.00",
        "invoice_amount": yuan_str(total if paid else 0),
        "buyer_user_id": order.buyer_user_id,
    }
    if order.gmt_payment is not None:
        data["send_pay_date"] = beijing_text(order.gmt_payment)
        data["fund_bill_list"] = [{"fund_channel": "ALIPAYACCOUNT", "amount": yuan_str(total)}]
    return data


def notify(
    state: SimState, order: Order, event: str, now: datetime, refund: Refund | None = None
) -> None:
    """Queue the notification of one event, if the trade was given a notify_url."""
    if not order.notify_url or order.trade_no is None:
        return
    total = order.paid_fen if order.paid_fen is not None else order.total_fen
    params: dict[str, str] = {
        "notify_type": "trade_status_sync",
        "notify_id": state.new_notify_id(),
        "app_id": state.keys.app_id,
        "charset": "utf-8",
        "version": "1.0",
        "trade_no": order.trade_no,
        "out_trade_no": order.out_trade_no,
        "buyer_id": order.buyer_user_id,
        "buyer_logon_id": order.buyer_logon_id,
        "seller_id": state.keys.seller_id,
        "seller_email": f"gov{state.keys.seller_id[-4:]}@example.cn",
        "trade_status": order.status,
        "total_amount": yuan_str(total),
        "subject": order.subject,
        "gmt_create": beijing_text(order.gmt_create or now),
    }
    if order.body:
        params["body"] = order.body
    if order.gmt_payment is not None:
        paid = yuan_str(total)
        params.update(
            receipt_amount=paid,
            invoice_amount=paid,
            buyer_pay_amount=paid,
            point_amount="0.00",
            gmt_payment=beijing_text(order.gmt_payment),
            fund_bill_list=compact_json([{"amount": paid, "fundChannel": "ALIPAYACCOUNT"}]),
        )
    if refund is not None:
        params["refund_fee"] = yuan_str(order.refunded_fen())
        # gmt_refund carries milliseconds, unlike every other time Alipay writes
        params["gmt_refund"] = beijing_text(refund.at) + f".{refund.at.microsecond // 1000:03d}"
        if refund.out_request_no is not None:
            params["out_biz_no"] = refund.out_request_no
    if order.gmt_close is not None:
        params["gmt_close"] = beijing_text(order.gmt_close)
    notification = Notice(id=params["notify_id"], url=order.notify_url, payload=params, label=event)
    order.notifications.append(notification)
    state.send(notification)
