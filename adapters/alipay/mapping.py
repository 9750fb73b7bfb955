"""Alipay answers → the core's normalized types (pure; ``MalformedAnswer`` when unreadable).

Trade states (protocols-cn.md 2.5): WAIT_BUYER_PAY is USERPAYING in the Acquirer vocabulary (the
citizen has scanned, or the payment code is waiting for a password, and is deciding on the
phone); TRADE_SUCCESS and TRADE_FINISHED are both paid; TRADE_CLOSED is CLOSED when nothing was
ever paid and REFUND when it was (Alipay closes a trade once it is refunded in full, by refund
or by cancel), so that ``TradeStatus.paid`` still tells the truth about the money.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from adapters.alipay.crypto import parse_beijing
from clearing.domain.money import MoneyError, parse_yuan
from clearing.ports import RefundOutcome, TradeStatus

NOT_FOUND: Final = "NOT_FOUND"
USERPAYING: Final = "USERPAYING"
_PAID_STATES: Final = {"TRADE_SUCCESS": "SUCCESS", "TRADE_FINISHED": "SUCCESS"}


class MalformedAnswer(Exception):
    """A signed answer we cannot read; surfaces as AcquirerUnavailable."""


def trade_status(out_trade_no: str, data: Mapping[str, Any]) -> TradeStatus:
    """An ``alipay.trade.query`` answer (code 10000)."""
    _same_trade(out_trade_no, data)
    status = text(data, "trade_status")
    trade_no = text(data, "trade_no")
    ever_paid = bool(data.get("send_pay_date"))
    if status in _PAID_STATES:
        state = _PAID_STATES[status]
    elif status == "WAIT_BUYER_PAY":
        state = USERPAYING
    elif status == "TRADE_CLOSED":
        state = "REFUND" if ever_paid else "CLOSED"
    else:
        raise MalformedAnswer(f"unknown trade_status {status!r}")
    paid_at = beijing(data, "send_pay_date") if ever_paid else None
    return TradeStatus(
        out_trade_no=out_trade_no,
        state=state,
        provider_txn_id=trade_no,
        amount_fen=fen(data, "total_amount"),
        paid_at=paid_at,
        raw=data,
        details=payment_details(data),
    )


def paid_by_code(out_trade_no: str, data: Mapping[str, Any]) -> TradeStatus:
    """An ``alipay.trade.pay`` answer with code 10000: paid."""
    _same_trade(out_trade_no, data)
    return TradeStatus(
        out_trade_no=out_trade_no,
        state="SUCCESS",
        provider_txn_id=text(data, "trade_no"),
        amount_fen=fen(data, "total_amount"),
        paid_at=beijing(data, "gmt_payment"),
        raw=data,
        details=payment_details(data),
    )


def waiting_for_code(out_trade_no: str, data: Mapping[str, Any]) -> TradeStatus:
    """An ``alipay.trade.pay`` answer with code 10003: the citizen must confirm on the phone."""
    trade_no = data.get("trade_no")
    return TradeStatus(
        out_trade_no=out_trade_no,
        state=USERPAYING,
        provider_txn_id=trade_no if isinstance(trade_no, str) and trade_no else None,
        amount_fen=fen(data, "total_amount") if data.get("total_amount") else None,
        raw=data,
    )


def refund_outcome(out_refund_no: str, data: Mapping[str, Any]) -> RefundOutcome:
    """An ``alipay.trade.fastpay.refund.query`` answer that found the refund.

    An empty ``refund_status`` means success (older answers carry none); anything other than
    REFUND_SUCCESS is still in flight.
    """
    if data.get("out_request_no", out_refund_no) != out_refund_no:
        raise MalformedAnswer("out_request_no differs")
    status = data.get("refund_status") or "REFUND_SUCCESS"
    return RefundOutcome(
        out_refund_no=out_refund_no,
        state="SUCCESS" if status == "REFUND_SUCCESS" else "PROCESSING",
        provider_refund_id=None,
        raw=data,
    )


def payment_details(data: Mapping[str, Any]) -> dict[str, str]:
    """Facts worth keeping on the payment: the buyer's account as Alipay masks it and the
    funding channels (``fund_bill_list`` is a list in answers, a JSON string in notifications)."""
    details: dict[str, str] = {}
    logon = data.get("buyer_logon_id")
    if isinstance(logon, str) and logon:
        details["buyer_logon_id"] = logon
    bills = data.get("fund_bill_list")
    if isinstance(bills, str):
        try:
            bills = json.loads(bills)
        except json.JSONDecodeError:
            bills = None
    if isinstance(bills, list):
        channels = [
            str(b.get("fund_channel") or b.get("fundChannel"))
            for b in bills
            if isinstance(b, dict) and (b.get("fund_channel") or b.get("fundChannel"))
        ]
        if channels:
            details["fund_channel"] = ",".join(channels)
    return details


def _same_trade(out_trade_no: str, data: Mapping[str, Any]) -> None:
    if data.get("out_trade_no") != out_trade_no:
        raise MalformedAnswer("out_trade_no missing or different")


def text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise MalformedAnswer(f"{name} missing")
    return value


def fen(data: Mapping[str, Any], name: str) -> int:
    try:
        return parse_yuan(text(data, name))
    except MoneyError:
        raise MalformedAnswer(f"{name} is not a yuan amount") from None


def beijing(data: Mapping[str, Any], name: str) -> datetime:
    try:
        return parse_beijing(text(data, name))
    except ValueError:
        raise MalformedAnswer(f"{name} is not yyyy-MM-dd HH:mm:ss") from None
