"""The terminal cloud's vocabulary: answer codes, sale states, times, card masks (PROTOCOL.md).

Shared by the client and the notification parser so that a sale reads the same whichever way it
arrives. The simulator keeps its own copies of what it sends: it speaks the protocol, it does not
import our reading of it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from adapters import wiretime

PROVIDER: Final = "pos"

OK: Final = "00"
# answers that say "no answer yet" rather than "no": 91 issuer or switch down, 96 system fault
RETRY_LATER_CODES: Final = frozenset({"91", "96"})
NOT_FOUND_CODE: Final = "25"  # ISO 8583 "unable to locate record"
INVALID_TXN_CODE: Final = "12"  # ISO 8583 "invalid transaction": not allowed in this state

# the cloud's sale states and the one vocabulary clearing.ports.Acquirer asks for
NORMALIZED_STATE: Final[Mapping[str, str]] = {
    "WAITING": "NOTPAY",  # on the terminal's screen, no card yet
    "PROCESSING": "USERPAYING",  # card read, PIN being entered
    "APPROVED": "SUCCESS",
    "DECLINED": "PAYERROR",
    "CANCELLED": "CLOSED",
    "REVERSED": "REVOKED",
    "VOIDED": "REFUND",
    "REFUNDED": "REFUND",
}
# a declined card's answer (ISO 8583 field 39) as the window says it; the cloud's own resp_msg is
# the fallback for a code not listed here
DECLINE_ZH: Final[Mapping[str, str]] = {
    "05": "发卡行拒绝交易",
    "14": "无效卡号",
    "51": "余额不足",
    "54": "卡片已过期",
    "55": "密码错误",
    "61": "超出金额限制",
    "75": "密码错误次数超限",
}
REFUND_STATE: Final[Mapping[str, str]] = {
    "SUCCESS": "SUCCESS",
    "PROCESSING": "PROCESSING",
    "FAILED": "ABNORMAL",
}

# the shared Beijing formats (wiretime) under the names the client and the simulator import
BEIJING = wiretime.BEIJING
WireFormatError = wiretime.WireFormatError
format_time, parse_time = wiretime.format_time, wiretime.parse_time

_DIGITS = re.compile(r"[0-9]+")
_MASKED_PAN = re.compile(r"[0-9]{6}\*{3,9}[0-9]{4}")
_TERMINAL_ID = re.compile(r"[0-9A-Za-z]{8}")


def mask_pan(card_no: str) -> str:
    """First six and last four digits, stars between: the only form a card number may be kept in.

    An already masked number is returned as is; anything else that is not 13-19 digits is
    replaced by stars entirely rather than risk keeping part of a malformed number.
    """
    text = card_no.strip()
    if _MASKED_PAN.fullmatch(text):
        return text
    if not (_DIGITS.fullmatch(text) and 13 <= len(text) <= 19):
        return "*" * 10
    return text[:6] + "*" * (len(text) - 10) + text[-4:]


def txn_id(*, rrn: str, terminal_id: str, batch_no: str, trace_no: str) -> str:
    """Our key for one card transaction. An RRN (field 37) alone repeats across days and
    acquirers; with the terminal, batch and trace (field 11) it cannot."""
    return f"{rrn}-{terminal_id}-{batch_no}-{trace_no}"


@dataclass(frozen=True)
class Sale:
    """A sale as the cloud reports it in answers and in notifications."""

    merchant_id: str
    terminal_id: str
    out_trade_no: str
    state: str
    amount_fen: int
    refunded_fen: int
    batch_state: str
    resp_code: str
    resp_msg: str
    batch_no: str
    trace_no: str
    rrn: str
    auth_code: str
    card_no: str  # always masked
    card_type: str
    entry_mode: str
    txn_time: datetime | None

    @property
    def normalized_state(self) -> str:
        return NORMALIZED_STATE[self.state]

    @property
    def decline_zh(self) -> str | None:
        """Why the card was declined, in Chinese; None unless the sale was declined."""
        if self.state != "DECLINED":
            return None
        return DECLINE_ZH.get(self.resp_code) or self.resp_msg or "银行卡交易被拒绝"

    @property
    def has_card_result(self) -> bool:
        return bool(self.rrn and self.batch_no and self.trace_no)

    @property
    def provider_txn_id(self) -> str | None:
        if not self.has_card_result:
            return None
        return txn_id(
            rrn=self.rrn,
            terminal_id=self.terminal_id,
            batch_no=self.batch_no,
            trace_no=self.trace_no,
        )

    def details(self) -> dict[str, Any]:
        """The card facts worth keeping with the payment (the 不动产 fee record keeps these)."""
        return {
            "merchant_id": self.merchant_id,
            "terminal_id": self.terminal_id,
            "batch_no": self.batch_no,
            "trace_no": self.trace_no,
            "rrn": self.rrn,
            "auth_code": self.auth_code,
            "card_no_masked": self.card_no,
            "card_type": self.card_type,
            "entry_mode": self.entry_mode,
            "resp_code": self.resp_code,
            "amount_fen": self.amount_fen,
            "txn_time": format_time(self.txn_time) if self.txn_time else "",
        }


def parse_sale(data: Mapping[str, Any]) -> Sale:
    """Read a sale object; ``WireFormatError`` names the first field that is wrong."""
    state = _text(data, "state")
    if state not in NORMALIZED_STATE:
        raise WireFormatError(f"unknown sale state {state!r}")
    terminal_id = _text(data, "terminal_id")
    if not _TERMINAL_ID.fullmatch(terminal_id):
        raise WireFormatError("terminal_id is not 8 characters")
    txn_time_text = _text(data, "txn_time", required=False)
    batch_no = _digits(data, "batch_no", 6)
    trace_no = _digits(data, "trace_no", 6)
    rrn = _text(data, "rrn", required=False)
    if rrn and (len(rrn) != 12 or not rrn.isalnum() or not rrn.isascii()):
        raise WireFormatError("rrn is not 12 characters")
    if state == "APPROVED" and not (rrn and batch_no and trace_no and txn_time_text):
        raise WireFormatError("an approved sale lacks rrn, batch_no, trace_no or txn_time")
    return Sale(
        merchant_id=_text(data, "merchant_id"),
        terminal_id=terminal_id,
        out_trade_no=_text(data, "out_trade_no"),
        state=state,
        amount_fen=_fen(data, "amount"),
        refunded_fen=_fen(data, "refunded_amount", required=False),
        batch_state=_text(data, "batch_state", required=False),
        resp_code=_text(data, "resp_code", required=False),
        resp_msg=_text(data, "resp_msg", required=False),
        batch_no=batch_no,
        trace_no=trace_no,
        rrn=rrn,
        auth_code=_text(data, "auth_code", required=False),
        # the cloud sends masked numbers; should a full one ever arrive, it is never kept
        card_no=mask_pan(_text(data, "card_no", required=False)) if data.get("card_no") else "",
        card_type=_text(data, "card_type", required=False),
        entry_mode=_text(data, "entry_mode", required=False),
        txn_time=parse_time(txn_time_text) if txn_time_text else None,
    )


def masked_raw(data: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a wire object fit to store and log: the card number masked, whatever came."""
    copy = dict(data)
    if isinstance(copy.get("card_no"), str) and copy["card_no"]:
        copy["card_no"] = mask_pan(copy["card_no"])
    return copy


def _text(data: Mapping[str, Any], name: str, *, required: bool = True) -> str:
    value = data.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise WireFormatError(f"{name} is missing or not a string")
    return value


def _digits(data: Mapping[str, Any], name: str, width: int) -> str:
    value = _text(data, name, required=False)
    if value and (len(value) != width or not _DIGITS.fullmatch(value)):
        raise WireFormatError(f"{name} is not {width} digits")
    return value


def _fen(data: Mapping[str, Any], name: str, *, required: bool = True) -> int:
    value = data.get(name)
    if value is None and not required:
        return 0
    # bool is an int to Python; JSON true is never an amount
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise WireFormatError(f"{name} is not a non-negative integer of fen")
    return value
