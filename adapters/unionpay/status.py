"""Pure mapping from UnionPay query answers to the core's vocabulary (clearing.ports).

A query answers ``respCode 00`` when it found the transaction and puts the transaction's own
result in ``origRespCode``: 00 success, 03/04/05 still in process, anything else failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from adapters.unionpay import wire
from clearing.ports import RefundOutcome, TradeStatus

NOT_FOUND = "NOT_FOUND"
CONSUME = "01"
VOID = "31"
REFUND = "04"

# unknown outcomes are queried 1, 2, 4, 8, 16 and 32 s after the call (protocols-cn.md 3.1)
QUERY_SCHEDULE_S: tuple[float, ...] = (1, 2, 4, 8, 16, 32)

_NOT_KEPT = frozenset({"signature", "signPubKeyCert"})
_DETAILS = ("accNo", "payCardType", "payType", "traceNo", "traceTime", "settleDate")


class Malformed(Exception):
    """A verified answer that does not say what we need."""


def mask_card(number: str) -> str:
    """First six and last four digits; UnionPay masks ``accNo`` already, unless a merchant was
    set up to receive full numbers, which we must never keep."""
    if not number or "*" in number:
        return number
    if len(number) < 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def kept(fields: Mapping[str, str]) -> dict[str, str]:
    """The fields worth keeping as ``raw``: no signature or certificate, the card masked."""
    out = {k: v for k, v in fields.items() if k not in _NOT_KEPT}
    if "accNo" in out:
        out["accNo"] = mask_card(out["accNo"])
    return out


def details(fields: Mapping[str, str]) -> dict[str, str]:
    """Channel facts worth keeping on the payment: the masked card, trace and clearing day."""
    return {k: v for k, v in kept(fields).items() if k in _DETAILS and v}


def _text(fields: Mapping[str, str], name: str) -> str:
    value = fields.get(name, "")
    if not value:
        raise Malformed(f"{name} missing")
    return value


def _fen(fields: Mapping[str, str], name: str) -> int:
    try:
        return wire.parse_fen(_text(fields, name))
    except ValueError:
        raise Malformed(f"{name} is not fen digits") from None


def completed_at(fields: Mapping[str, str], now: datetime) -> datetime:
    """``traceTime`` (MMDDhhmmss) with its year restored; ``txnTime`` if no trace time came."""
    trace = fields.get("traceTime", "")
    try:
        if trace:
            return wire.resolve_mmddhhmmss(trace, now)
        return wire.parse_txn_time(_text(fields, "txnTime"))
    except ValueError:
        raise Malformed("traceTime/txnTime unreadable") from None


def original_state(orig_resp_code: str) -> str:
    """The core's word for a consumption whose own result is ``orig_resp_code``."""
    if orig_resp_code == wire.OK:
        return "SUCCESS"
    if orig_resp_code in wire.UNKNOWN:
        return "USERPAYING"
    return "PAYERROR"


def trade_status(out_trade_no: str, fields: Mapping[str, str], now: datetime) -> TradeStatus:
    """A found consumption, as a query answered it."""
    if fields.get("orderId") != out_trade_no:
        raise Malformed("orderId does not echo the query")
    if fields.get("txnType") != CONSUME:
        raise Malformed("the order id names a transaction that is not a consumption")
    state = original_state(_text(fields, "origRespCode"))
    paid = state == "SUCCESS"
    return TradeStatus(
        out_trade_no=out_trade_no,
        state=state,
        provider_txn_id=_text(fields, "queryId") if paid else fields.get("queryId") or None,
        amount_fen=_fen(fields, "txnAmt"),
        paid_at=completed_at(fields, now) if paid else None,
        raw=kept(fields),
        details=details(fields) if paid else {},
    )


def refund_outcome(out_refund_no: str, fields: Mapping[str, str]) -> RefundOutcome:
    """A found refund (or void), as a query answered it."""
    if fields.get("orderId") != out_refund_no:
        raise Malformed("orderId does not echo the query")
    if fields.get("txnType") not in (REFUND, VOID):
        raise Malformed("the order id names a transaction that is not a refund")
    code = _text(fields, "origRespCode")
    if code == wire.OK:
        state = "SUCCESS"
    elif code in wire.UNKNOWN:
        state = "PROCESSING"
    else:
        # a failed refund is final at UnionPay; giving the money back needs a new order id
        state = "CLOSED"
    return RefundOutcome(
        out_refund_no=out_refund_no,
        state=state,
        provider_refund_id=fields.get("queryId") or None,
        raw=kept(fields),
    )


def same_clearing_day(fields: Mapping[str, str], now: datetime) -> bool:
    """Whether a found transaction settles today, so that it can still be voided."""
    return fields.get("settleDate", "") == wire.mmdd(wire.settle_day(now))
