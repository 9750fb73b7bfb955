"""WeChat Pay JSON ↔ the core's records, pure (protocols-cn.md 1.5, 1.7).

WeChat's own state words already are the core's vocabulary (``clearing.ports.Acquirer``), so
states pass through — except ACCEPT ("已接收，等待扣款", seen on payment codes), which is reported
as USERPAYING: not final, ask again. Anything outside the known sets is refused rather than
guessed at.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from clearing.ports import RefundOutcome, TradeStatus

TRADE_STATES = frozenset(
    {"NOTPAY", "USERPAYING", "SUCCESS", "REFUND", "CLOSED", "REVOKED", "PAYERROR"}
)
REFUND_STATES = frozenset({"PROCESSING", "SUCCESS", "CLOSED", "ABNORMAL"})
_ALIASES = {"ACCEPT": "USERPAYING"}


class MalformedError(ValueError):
    """A signed answer whose content does not make sense; nothing in it may be acted on."""


def trade_status(out_trade_no: str, data: Mapping[str, Any]) -> TradeStatus:
    """A query (or code-payment) answer as a ``TradeStatus``."""
    state = data.get("trade_state")
    state = _ALIASES.get(state, state) if isinstance(state, str) else state
    if state not in TRADE_STATES or data.get("out_trade_no") != out_trade_no:
        raise MalformedError("trade_state or out_trade_no missing or unknown")
    amount_fen: int | None = None
    amount = data.get("amount")
    if isinstance(amount, dict) and "total" in amount:
        amount_fen = fen(amount["total"], "amount.total")
    paid_at: datetime | None = None
    if data.get("success_time") is not None:
        paid_at = rfc3339(data["success_time"], "success_time")
    txn_id = data.get("transaction_id")
    details = {
        name: data[name]
        for name in ("trade_type", "bank_type")
        if isinstance(data.get(name), str) and data[name]
    }
    return TradeStatus(
        out_trade_no=out_trade_no,
        state=str(state),
        provider_txn_id=txn_id if isinstance(txn_id, str) and txn_id else None,
        amount_fen=amount_fen,
        paid_at=paid_at,
        raw=data,
        details=details,
    )


def refund_outcome(out_refund_no: str, data: Mapping[str, Any]) -> RefundOutcome:
    """A refund answer, refund query or decrypted refund notification as a ``RefundOutcome``.

    Answers name the state ``status``, notifications ``refund_status``."""
    state = data.get("status", data.get("refund_status"))
    if state not in REFUND_STATES or data.get("out_refund_no") != out_refund_no:
        raise MalformedError("refund status or out_refund_no missing or unknown")
    refund_id = data.get("refund_id")
    return RefundOutcome(
        out_refund_no=out_refund_no,
        state=str(state),
        provider_refund_id=refund_id if isinstance(refund_id, str) and refund_id else None,
        raw=data,
    )


def fen(value: Any, name: str) -> int:
    """A JSON amount: a non-negative integer of fen, never a float or a boolean."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise MalformedError(f"{name} is not int fen")
    return value


def rfc3339(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise MalformedError(f"{name} is not a string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise MalformedError(f"{name} is not an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise MalformedError(f"{name} has no UTC offset")
    return moment
