"""Orders at the window: states, limits, payer identity. Pure: no I/O, no clock of its own."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from clearing.domain.display import name
from clearing.errors import InvalidRequest


class OrderState(StrEnum):
    OPEN = "OPEN"
    PAYING = "PAYING"
    CLEARED = "CLEARED"
    SETTLED = "SETTLED"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"
    EXCEPTION = "EXCEPTION"
    REFUNDING = "REFUNDING"
    REFUNDED = "REFUNDED"


# states in which a payment may still arrive and be split
PAYABLE = frozenset({OrderState.OPEN, OrderState.PAYING})

# the names staff read, from the one table of display names
STATE_ZH = {state: name("order_state", state) for state in OrderState}


@dataclass(frozen=True)
class Limits:
    max_lines: int
    max_line_fen: int
    max_order_fen: int


def check_lines(amounts: Sequence[int], limits: Limits) -> int:
    """Validate line amounts against the limits; return the order total in fen."""
    if not amounts:
        raise InvalidRequest(
            "ORDER_NO_LINES", "an order needs at least one line", "缴费单至少需要一项"
        )
    if len(amounts) > limits.max_lines:
        raise InvalidRequest(
            "LIMIT_LINES_PER_ORDER",
            f"an order may have at most {limits.max_lines} lines",
            f"一张缴费单最多 {limits.max_lines} 项",
            limit=limits.max_lines,
        )
    for i, amount in enumerate(amounts, start=1):
        if type(amount) is not int or amount <= 0:
            raise InvalidRequest(
                "AMOUNT_NOT_POSITIVE",
                f"line {i}: amount must be a positive whole number of fen",
                f"第 {i} 项金额必须大于零",
                line=i,
            )
        if amount > limits.max_line_fen:
            raise InvalidRequest(
                "LIMIT_AMOUNT_PER_LINE",
                f"line {i}: amount exceeds the per-line limit of {limits.max_line_fen} fen",
                f"第 {i} 项金额超过单项限额",
                line=i,
                limit_fen=limits.max_line_fen,
            )
    total = sum(amounts)
    if total > limits.max_order_fen:
        raise InvalidRequest(
            "LIMIT_AMOUNT_PER_ORDER",
            f"order total exceeds the limit of {limits.max_order_fen} fen",
            "缴费单合计金额超过限额",
            limit_fen=limits.max_order_fen,
        )
    return total


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_RESIDENT_ID = re.compile(r"^\d{17}[\dX]$")
_USCC = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def _resident_id_ok(s: str) -> bool:
    total = sum(int(c) * w for c, w in zip(s[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == s[17]


def _uscc_ok(s: str) -> bool:
    # GB 32100-2015: the 18th character is a check over the first 17 (mod 31)
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(s[:17], _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31] == s[17]


def normalize_payer_id(raw: str) -> str:
    """A resident ID number (GB 11643) or a unified social credit code (GB 32100), checked."""
    s = raw.strip().upper()
    if _RESIDENT_ID.match(s) and _resident_id_ok(s):
        return s
    if _USCC.match(s) and _uscc_ok(s):
        return s
    raise InvalidRequest(
        "INVALID_PAYER_ID",
        "payer ID must be an 18-character resident ID or unified social credit code "
        "with a valid check digit",
        "缴款人证件号码无效（18位身份证号或统一社会信用代码，校验位不符）",
    )


def mask_payer_id(payer_id: str) -> str:
    return payer_id[:3] + "*" * (len(payer_id) - 7) + payer_id[-4:]


def new_order_no(now: datetime, token: str | None = None) -> str:
    """``TJ`` + local date + 12 random characters: unique, unguessable, fits every acquirer."""
    rand = token if token is not None else secrets.token_hex(6).upper()
    return f"TJ{now:%Y%m%d}{rand}"


def attempt_no(order_no: str, seq: int) -> str:
    return f"{order_no}P{seq:02d}"
