"""What the service accepts from outside at all, checked once for every route.

PostgreSQL cannot store a NUL character in text or jsonb, and UTF-8 cannot encode a lone
surrogate (what a JSON ``\\ud800`` escape or a header byte that is not UTF-8 becomes in Python);
either one reaching the database is a 500 after part of the work is done. Other control
characters have no business in a case number, a name or a note, and in a log line they forge
entries. So every string a request brings — path, query names and values, header values, and
every key and string of a JSON body — is checked before any handler runs, with one stable answer:
400 ``UNSUPPORTED_CHARACTER``. Tab, line feed and carriage return stay allowed (free text).

Dates and counts in the query are parsed here too, bounded so that the arithmetic behind a
report (a day before, 366 days back) can never leave Python's calendar or the database's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Annotated, Any

from pydantic import Field

from clearing.errors import InvalidRequest, MalformedRequest

# the calendar the service works in: business dates, report days, fee schedules
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)
Day = Annotated[date, Field(ge=FIRST_DAY, le=LAST_DAY)]
"""A date inside the service's calendar, for request models."""

# an amount far past any real one that still sums in a bigint column (20 legs, 10^15 fen each)
MAX_FEN = 10**15
SignedFen = Annotated[int, Field(strict=True, ge=-MAX_FEN, le=MAX_FEN)]
"""Fen, signed, as an adjustment's leg carries them."""
LineNo = Annotated[int, Field(strict=True, ge=1, le=10_000)]
"""A line number of an order."""

# the largest id a path may carry (bigint columns; 18 digits always fit)
MAX_ID = 999_999_999_999_999_999
ID_PATTERN = "[0-9]{1,18}"

# C0 controls but tab, LF and CR; DEL; lone surrogates
_REFUSED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def refused_character(text: str) -> str | None:
    """``U+XXXX`` of the first character we refuse in ``text``, or None when all is well."""
    m = _REFUSED.search(text)
    return None if m is None else f"U+{ord(m.group()):04X}"


def _refuse(where: str, char: str) -> MalformedRequest:
    return MalformedRequest(
        "UNSUPPORTED_CHARACTER",
        f"{where} holds the character {char}, which is not accepted"
        " (control characters, NUL and text that is not UTF-8 are refused)",
        "输入内容含有无法处理的控制字符或乱码，请删除后重试",
        field=where,
    )


def check_text(where: str, text: str) -> None:
    char = refused_character(text)
    if char is not None:
        raise _refuse(where, char)


def _strings(value: Any, loc: str) -> Iterator[tuple[str, str]]:
    """Every key and string in a parsed JSON value, with where it is (``lines.0.reference``)."""
    if isinstance(value, str):
        yield loc, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield f"{loc}.{k}" if loc else "key", k
            yield from _strings(v, f"{loc}.{k}" if loc else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{loc}.{i}" if loc else str(i))


def check_json(value: Any) -> None:
    """Refuse a parsed JSON body holding a string we would not store."""
    for loc, text in _strings(value, ""):
        char = refused_character(text)
        if char is not None:
            raise _refuse(f"body {loc}" if loc else "body", char)


def check_request(
    path_params: Mapping[str, str], query: Mapping[str, str], headers: Mapping[str, str]
) -> None:
    """Refuse a request whose path, query or headers hold a character we would not store."""
    for name, value in path_params.items():
        check_text(f"path {name}", value)
    for name, value in query.items():
        check_text("query parameter name", name)
        check_text(f"query {name}", value)
    for name, value in headers.items():
        check_text(f"header {name}", value)


def query_date(query: Mapping[str, str], name: str) -> date | None:
    """``?name=YYYY-MM-DD`` inside the service's calendar; None when absent or empty."""
    raw = query.get(name)
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw) if len(raw) == 10 else None
    except ValueError:
        day = None
    if day is None or not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidRequest(
            "INVALID_DATE",
            f"{name} must be a date YYYY-MM-DD from {FIRST_DAY} to {LAST_DAY}",
            f"日期格式应为 YYYY-MM-DD，且在 {FIRST_DAY} 至 {LAST_DAY} 之间",
            field=name,
        )
    return day


def query_int(
    query: Mapping[str, str], name: str, *, default: int, lo: int, hi: int, code: str, zh: str
) -> int:
    """``?name=`` as a whole number from ``lo`` to ``hi`` (ASCII digits; never thousands of
    them, which ``int()`` refuses with a ValueError of its own)."""
    raw = query.get(name) or str(default)
    digits = raw.isascii() and raw.isdigit() and len(raw) <= len(str(hi))
    value = int(raw) if digits else None
    if value is None or not lo <= value <= hi:
        message = f"{name} must be a whole number from {lo} to {hi}"
        raise InvalidRequest(code, message, zh, field=name)
    return value
