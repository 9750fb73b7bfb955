"""Beijing wall-clock times, and required text and yuan fields, as the Chinese parties write
them on their wires.

The terminal cloud, the tax bureau and the fund office all send ``yyyyMMddHHmmss`` and
``yyyyMMdd`` in Beijing time with no zone marker; reading them the same way everywhere means a
time that one adapter refuses, no other accepts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any, Final

from clearing.domain.money import MoneyError, parse_yuan

BEIJING: Final = timezone(timedelta(hours=8), "Asia/Shanghai")
TIME_FORMAT: Final = "%Y%m%d%H%M%S"
DATE_FORMAT: Final = "%Y%m%d"

_DIGITS = re.compile(r"[0-9]+")


class WireFormatError(ValueError):
    """A field that is missing or not in the documented shape."""


def format_time(moment: datetime) -> str:
    """``yyyyMMddHHmmss`` in Beijing time, as every time on these wires."""
    if moment.tzinfo is None:
        raise ValueError("moment must be timezone-aware")
    return moment.astimezone(BEIJING).strftime(TIME_FORMAT)


def parse_time(text: str) -> datetime:
    """The inverse of ``format_time``; exactly fourteen digits, a real Beijing time."""
    if len(text) != 14 or not _DIGITS.fullmatch(text):
        raise WireFormatError(f"time {text!r} is not yyyyMMddHHmmss")
    try:
        return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=BEIJING)
    except ValueError:
        raise WireFormatError(f"time {text!r} is not a calendar time") from None


def format_date(day: date) -> str:
    return day.strftime(DATE_FORMAT)


def parse_date(text: str) -> date:
    """``yyyyMMdd``: exactly eight digits, a real calendar date."""
    if len(text) != 8 or not _DIGITS.fullmatch(text):
        raise WireFormatError(f"date {text!r} is not yyyyMMdd")
    try:
        return datetime.strptime(text, DATE_FORMAT).replace(tzinfo=BEIJING).date()
    except ValueError:
        raise WireFormatError(f"date {text!r} is not a calendar date") from None


def skew_s(text: str, now: datetime) -> float | None:
    """Seconds between a signed timestamp and ``now``; None when it is not a time."""
    try:
        return abs((parse_time(text) - now).total_seconds())
    except WireFormatError:
        return None


def text(data: Mapping[str, Any], name: str) -> str:
    """A field that must be non-empty text."""
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise WireFormatError(f"{name} missing or not text")
    return value


def fen(data: Mapping[str, Any], name: str) -> int:
    """A field of yuan text (``"1234.50"``), read exactly as fen."""
    try:
        return parse_yuan(text(data, name))
    except MoneyError as exc:
        raise WireFormatError(f"{name}: {exc}") from None
