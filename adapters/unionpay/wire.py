"""The UnionPay ACP 5.1.0 wire, shared by the client and the simulator (protocols-cn.md 3.1).

Requests are ordinary UTF-8 forms (``application/x-www-form-urlencoded``). Answers come back as a
bare ``k=v&k=v`` text that is *not* percent-encoded: values may hold ``=``, ``+``, ``/`` and line
breaks (the PEM in ``signPubKeyCert``), and a value that must hold ``&`` is wrapped in ``{…}``.
Times are Beijing wall-clock ``YYYYMMDDhhmmss``; amounts are fen as decimal digits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from urllib.parse import parse_qsl, urlencode

from adapters import wiretime

VERSION = "5.1.0"
ENCODING = "UTF-8"
SIGN_METHOD_RSA = "01"
CURRENCY_CNY = "156"
BIZ_TYPE = "000000"
# B2C gateway and 手机网页支付 (WAP) front transactions
BIZ_TYPE_GATEWAY = "000201"
ACCESS_MERCHANT = "0"
CHANNEL_INTERNET = "07"
CHANNEL_MOBILE = "08"

BEIJING = wiretime.BEIJING
# UnionPay closes a clearing day at 23:00 Beijing time; later transactions settle the next day
CUTOFF = time(23, 0)

# ACP allows 8-40 characters; the ZM clearing file has only 32 for the order id, so we keep to 32
ORDER_ID = re.compile(r"[0-9A-Za-z]{8,32}")
_FEN = re.compile(r"[0-9]{1,12}")
_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_TXN_TIME = re.compile(r"[0-9]{14}")
_RESERVED_UNSAFE = re.compile(r"[&{}\[\]]")
_MAX_FIELDS = 200

# respCode values (ACP appendix, "应答码")
OK = "00"
UNKNOWN = frozenset({"03", "04", "05"})  # in process: ask again on the query schedule
BUSY = frozenset({"02", "06"})  # system closed or busy: try later
NOT_FOUND = "34"
DUPLICATE = "12"
NO_FILE = "98"


def encode_form(fields: Mapping[str, str]) -> bytes:
    """A request body; the signature is over the decoded values, so any correct encoding works."""
    return urlencode(list(fields.items()), encoding="utf-8").encode("ascii")


def decode_form(body: bytes) -> dict[str, str]:
    """A form body (notifications, and requests at the simulator); ``ValueError`` if malformed."""
    try:
        text = body.decode("ascii")
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=_MAX_FIELDS,
        )
    except UnicodeDecodeError:
        raise ValueError("form is not percent-encoded UTF-8") from None
    return _unique(pairs)


def encode_answer(fields: Mapping[str, str]) -> bytes:
    """An answer as UnionPay writes it: no percent-encoding, braces around a value with ``&``."""
    parts = []
    for key, value in fields.items():
        if not _KEY.fullmatch(key):
            raise ValueError(f"bad field name {key!r}")
        if "&" in value and not (value.startswith("{") and value.endswith("}")):
            raise ValueError(f"{key} holds '&' outside braces")
        parts.append(f"{key}={value}")
    return "&".join(parts).encode("utf-8")


def decode_answer(body: bytes) -> dict[str, str]:
    """Split an answer on ``&`` outside braces; the first ``=`` ends each name."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("answer is not UTF-8") from None
    pairs: list[tuple[str, str]] = []
    depth = 0
    start = 0
    for index, char in enumerate(text):
        if char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth < 0:
                raise ValueError("unbalanced braces in answer")
        elif char == "&" and depth == 0:
            pairs.append(_pair(text[start:index]))
            start = index + 1
    if depth != 0:
        raise ValueError("unbalanced braces in answer")
    if text:
        pairs.append(_pair(text[start:]))
    if len(pairs) > _MAX_FIELDS:
        raise ValueError("too many fields")
    return _unique(pairs)


def _pair(part: str) -> tuple[str, str]:
    key, sep, value = part.partition("=")
    if not sep or not _KEY.fullmatch(key):
        raise ValueError(f"malformed field {part[:20]!r}")
    return key, value


def _unique(pairs: list[tuple[str, str]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, value in pairs:
        if not _KEY.fullmatch(key):
            raise ValueError(f"bad field name {key[:20]!r}")
        if key in found:
            raise ValueError(f"field {key} repeated")
        found[key] = value
    return found


def fen_text(fen: int) -> str:
    """``txnAmt``: int fen as plain digits."""
    if not isinstance(fen, int) or isinstance(fen, bool):
        raise TypeError("amounts are int fen")
    if fen < 0 or fen >= 10**12:
        raise ValueError("amount out of range")
    return str(fen)


def parse_fen(text: str) -> int:
    """Digits to int fen; ``ValueError`` for anything else (signs, decimals, spaces)."""
    if not _FEN.fullmatch(text):
        raise ValueError("amount is not fen digits")
    return int(text)


def txn_time(moment: datetime) -> str:
    """``txnTime``: Beijing wall clock to the second."""
    if moment.tzinfo is None:
        raise ValueError("moment must be timezone-aware")
    return moment.astimezone(BEIJING).strftime("%Y%m%d%H%M%S")


def parse_txn_time(text: str) -> datetime:
    if not _TXN_TIME.fullmatch(text):
        raise ValueError("txnTime is not YYYYMMDDhhmmss")
    return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=BEIJING)


def settle_day(moment: datetime) -> date:
    """The clearing day a transaction at ``moment`` belongs to."""
    local = moment.astimezone(BEIJING)
    return local.date() + timedelta(days=1) if local.time() >= CUTOFF else local.date()


def mmdd(day: date) -> str:
    """``settleDate`` as sent on the wire: month and day, no year."""
    return day.strftime("%m%d")


def resolve_mmdd(text: str, near: date) -> date:
    """The date with month-day ``text`` closest to ``near`` (the wire leaves the year out)."""
    if not re.fullmatch(r"[0-9]{4}", text):
        raise ValueError("not MMDD")
    month, day = int(text[:2]), int(text[2:])
    candidates = []
    for year in (near.year - 1, near.year, near.year + 1):
        try:
            candidates.append(date(year, month, day))
        except ValueError:
            continue  # 29 February in a common year
    if not candidates:
        raise ValueError("not a calendar day")
    return min(candidates, key=lambda d: abs(d - near))


def resolve_mmddhhmmss(text: str, near: datetime) -> datetime:
    """``traceTime`` (MMDDhhmmss, Beijing) as an aware datetime, the year taken from ``near``."""
    if not re.fullmatch(r"[0-9]{10}", text):
        raise ValueError("not MMDDhhmmss")
    day = resolve_mmdd(text[:4], near.astimezone(BEIJING).date())
    try:
        clock = time(int(text[4:6]), int(text[6:8]), int(text[8:10]))
    except ValueError:
        raise ValueError("not a time of day") from None
    return datetime.combine(day, clock, tzinfo=BEIJING)


def check_order_id(value: str, *, room: int = 0) -> str:
    """An ``orderId`` we may send: 8-32 letters and digits, ``room`` fewer when a suffix will be
    added to it (a reversal's order id is the payment's plus two letters)."""
    if not ORDER_ID.fullmatch(value) or len(value) > 32 - room:
        raise ValueError(f"a UnionPay orderId here is 8-{32 - room} letters and digits")
    return value


def positive_fen(fen: int) -> str:
    """``txnAmt`` of a payment or refund: at least one fen."""
    text = fen_text(fen)
    if fen <= 0:
        raise ValueError("amount must be positive")
    return text


def reserved(attach: str) -> dict[str, str]:
    """``reqReserved`` for ``attach``; UnionPay echoes it in answers, which cannot carry these
    characters outside braces."""
    if _RESERVED_UNSAFE.search(attach):
        raise ValueError("attach must not contain & { } [ ]")
    return {"reqReserved": attach} if attach else {}
