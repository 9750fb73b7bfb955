"""The acquirer's POS settlement file (清算明细文件) for one settle date: layout and strict parser.

The exact layout is in PROTOCOL.md ("Settlement file"): ASCII, one record per line, fixed-width
fields separated by one space, a header ``H``, detail records ``D`` and a trailer ``T`` whose
counts and sums must equal the details. Anything else is refused with the line number, because a
bill we misread silently is worse than no bill: reconciliation would report money that moved as
missing, or the other way round.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from adapters.pos.wire import PROVIDER, txn_id
from adapters.wiretime import WireFormatError, parse_time
from clearing.domain.money import MoneyError, parse_yuan, yuan_str
from clearing.ports import BillRecord

VERSION: Final = "0100"
SALE, VOID, REFUND, REVERSAL = "SALE", "VOID", "RFND", "REVS"
KIND: Final[Mapping[str, str]] = {
    SALE: "PAYMENT",
    VOID: "REFUND",
    REFUND: "REFUND",
    REVERSAL: "REVERSAL",
}

# (name, width); every record is its fields joined by one space
HEADER: Final = (
    ("record_type", 1),
    ("merchant_id", 15),
    ("settle_date", 8),
    ("created_at", 14),
    ("detail_count", 8),
    ("version", 4),
)
DETAIL: Final = (
    ("record_type", 1),
    ("merchant_id", 15),
    ("terminal_id", 8),
    ("batch_no", 6),
    ("trace_no", 6),
    ("txn_time", 14),
    ("txn_type", 4),
    ("card_no", 19),
    ("card_type", 1),
    ("amount", 12),
    ("fee", 15),
    ("rrn", 12),
    ("auth_code", 6),
    ("orig_batch_no", 6),
    ("orig_trace_no", 6),
    ("orig_rrn", 12),
    ("out_trade_no", 32),
    ("out_refund_no", 64),
    # last, so that no record ends in padding that an editor or a transfer might strip
    ("settle_date", 8),
)
TRAILER: Final = (
    ("record_type", 1),
    ("detail_count", 8),
    ("sale_count", 8),
    ("sale_amount", 15),
    ("void_count", 8),
    ("void_amount", 15),
    ("refund_count", 8),
    ("refund_amount", 15),
    ("reversal_count", 8),
    ("reversal_amount", 15),
    ("fee_total", 15),
    ("net_amount", 16),
)
# right-aligned numbers; every other field is left-aligned text padded with spaces
RIGHT_ALIGNED: Final = frozenset({"fee", "fee_total", "net_amount"})

_FEE = re.compile(r"-?[0-9]{1,9}\.[0-9]{5}")
_NET = re.compile(r"-?[0-9]{1,12}\.[0-9]{2}")
_DIGITS = re.compile(r"[0-9]+")
_MASKED = re.compile(r"[0-9]{6}\*{3,9}[0-9]{4}")
_ALNUM = re.compile(r"[0-9A-Za-z]+")
_TYPE_COUNTS = ((SALE, "sale"), (VOID, "void"), (REFUND, "refund"), (REVERSAL, "reversal"))


class SettlementFileError(ValueError):
    """The file is not a settlement file as documented; ``line_no`` is 1-based (0: whole file)."""

    def __init__(self, line_no: int, reason: str) -> None:
        self.line_no = line_no
        self.reason = reason
        where = f"line {line_no}" if line_no else "file"
        super().__init__(f"settlement file {where}: {reason}")


def parse_fee_millifen(text: str) -> int:
    """``"-0.46911"`` yuan → ``-46911`` thousandths of a fen, digit by digit, never through float.

    Exactly five decimals: 1 yuan = 100 fen = 100 000 thousandths of a fen.
    """
    if not _FEE.fullmatch(text):
        raise ValueError(f"fee {text!r} is not yuan with five decimals")
    negative = text.startswith("-")
    whole, _, decimals = text.lstrip("-").partition(".")
    value = int(whole) * 100_000 + int(decimals)
    return -value if negative else value


def format_fee(millifen: int) -> str:
    """The inverse of ``parse_fee_millifen``."""
    whole, decimals = divmod(abs(millifen), 100_000)
    return f"{'-' if millifen < 0 else ''}{whole}.{decimals:05d}"


def parse_signed_yuan(text: str) -> int:
    """``"-123.45"`` → ``-12345`` fen; exactly two decimals."""
    if not _NET.fullmatch(text):
        raise ValueError(f"amount {text!r} is not yuan with two decimals")
    fen = parse_yuan(text.lstrip("-"))
    return -fen if text.startswith("-") else fen


def format_record(layout: tuple[tuple[str, int], ...], values: Mapping[str, str]) -> str:
    """One record line without its line end; ``ValueError`` if a value does not fit."""
    parts = []
    for name, width in layout:
        value = values.get(name, "")
        if len(value) > width or not value.isascii():
            raise ValueError(f"{name} {value!r} does not fit {width} ASCII characters")
        parts.append(value.rjust(width) if name in RIGHT_ALIGNED else value.ljust(width))
    return " ".join(parts)


def record_length(layout: tuple[tuple[str, int], ...]) -> int:
    return sum(width for _, width in layout) + len(layout) - 1


@dataclass(frozen=True)
class Detail:
    line_no: int
    fields: Mapping[str, str]

    @property
    def txn_type(self) -> str:
        return self.fields["txn_type"]

    @property
    def amount_fen(self) -> int:
        return int(self.fields["amount"])

    @property
    def fee_millifen(self) -> int:
        return parse_fee_millifen(self.fields["fee"])


@dataclass(frozen=True)
class SettlementFile:
    merchant_id: str
    settle_date: date
    created_at: datetime
    details: tuple[Detail, ...]
    fee_total_millifen: int
    net_fen: int


def parse_settlement_file(data: bytes) -> SettlementFile:
    """Read and check a whole file; ``SettlementFileError`` names the first line that is wrong."""
    lines = list(_lines(data))
    if not lines:
        raise SettlementFileError(0, "empty file")
    header = _split(1, lines[0], HEADER, "H")
    merchant_id, settle_text = header["merchant_id"], header["settle_date"]
    if not (_DIGITS.fullmatch(merchant_id) and len(merchant_id) == 15):
        raise SettlementFileError(1, "merchant_id is not 15 digits")
    if header["version"] != VERSION:
        raise SettlementFileError(1, f"version {header['version']!r} is not {VERSION}")
    settle_date = _date(1, settle_text)
    created_at = _time(1, header["created_at"])
    if len(lines) < 2 or not lines[-1].startswith("T"):
        raise SettlementFileError(len(lines) + 1, "no trailer record (file truncated?)")
    details: list[Detail] = []
    seen: set[tuple[str, str, str, str]] = set()
    for line_no, line in enumerate(lines[1:-1], start=2):
        fields = _split(line_no, line, DETAIL, "D")
        _check_detail(line_no, fields, merchant_id, settle_text)
        key = (fields["terminal_id"], fields["batch_no"], fields["trace_no"], fields["txn_type"])
        if key in seen:
            raise SettlementFileError(line_no, "the same transaction appears twice")
        seen.add(key)
        details.append(Detail(line_no, fields))
    trailer_no = len(lines)
    trailer = _split(trailer_no, lines[-1], TRAILER, "T")
    fee_total, net = _check_trailer(trailer_no, trailer, details)
    stated = _count(1, header, "detail_count")
    _need(1, stated == len(details), f"detail_count says {stated}, found {len(details)}")
    return SettlementFile(merchant_id, settle_date, created_at, tuple(details), fee_total, net)


def bill_records(parsed: SettlementFile) -> list[BillRecord]:
    """Detail records as normalized bill lines; refunds and reversals name the sale they undo."""
    return [_bill_record(detail) for detail in parsed.details]


def _bill_record(detail: Detail) -> BillRecord:
    f = detail.fields
    own = txn_id(
        rrn=f["rrn"], terminal_id=f["terminal_id"], batch_no=f["batch_no"], trace_no=f["trace_no"]
    )
    original = txn_id(
        rrn=f["orig_rrn"],
        terminal_id=f["terminal_id"],
        batch_no=f["orig_batch_no"],
        trace_no=f["orig_trace_no"],
    )
    is_sale = detail.txn_type == SALE
    is_refund = detail.txn_type in (VOID, REFUND)
    return BillRecord(
        provider=PROVIDER,
        kind=KIND[detail.txn_type],
        occurred_at=parse_time(f["txn_time"]),
        out_trade_no=f["out_trade_no"],
        provider_txn_id=own if is_sale else original,
        amount_fen=detail.amount_fen,
        fee_millifen=detail.fee_millifen,
        out_refund_no=f["out_refund_no"] if is_refund else None,
        provider_refund_id=own if is_refund else None,
        raw=dict(f),
    )


def _lines(data: bytes) -> Iterator[str]:
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as exc:
        raise SettlementFileError(data.count(b"\n", 0, exc.start) + 1, "not ASCII") from None
    if not text:
        return
    # a file cut off in transfer ends mid-line; a complete one ends with its line end
    if not text.endswith("\n"):
        raise SettlementFileError(text.count("\n") + 1, "no line end (file truncated?)")
    for line_no, line in enumerate(text[:-1].split("\n"), start=1):
        record = line.removesuffix("\r")
        if not record:
            raise SettlementFileError(line_no, "empty line")
        yield record


def _split(
    line_no: int, line: str, layout: tuple[tuple[str, int], ...], kind: str
) -> dict[str, str]:
    if not line.startswith(kind):
        raise SettlementFileError(line_no, f"expected a {kind} record, found {line[:1]!r}")
    expected = record_length(layout)
    if len(line) != expected:
        raise SettlementFileError(line_no, f"{kind} record is {len(line)} long, not {expected}")
    fields: dict[str, str] = {}
    at = 0
    for index, (name, width) in enumerate(layout):
        if index and line[at - 1] != " ":
            raise SettlementFileError(line_no, f"no separator before {name}")
        fields[name] = line[at : at + width].strip()
        at += width + 1
    return fields


def _need(line_no: int, ok: bool, reason: str) -> None:
    if not ok:
        raise SettlementFileError(line_no, reason)


def _check_detail(line_no: int, f: Mapping[str, str], merchant_id: str, settle_date: str) -> None:
    _need(line_no, f["merchant_id"] == merchant_id, "merchant_id differs from the header")
    _need(line_no, f["settle_date"] == settle_date, "settle_date differs from the header")
    _need(line_no, _fixed_alnum(f["terminal_id"], 8), "terminal_id is not 8 characters")
    for name, width in (("batch_no", 6), ("trace_no", 6), ("amount", 12)):
        _need(line_no, _fixed_digits(f[name], width), f"{name} is not {width} digits")
    _need(line_no, int(f["amount"]) > 0, "amount is zero")
    txn_type = f["txn_type"]
    _need(line_no, txn_type in KIND, f"unknown txn_type {txn_type!r}")
    _need(line_no, bool(_MASKED.fullmatch(f["card_no"])), "card_no is not a masked card number")
    _need(line_no, f["card_type"] in ("D", "C"), "card_type is not D or C")
    _need(line_no, _fixed_alnum(f["rrn"], 12), "rrn is not 12 characters")
    auth_code = f["auth_code"]
    _need(line_no, not auth_code or _ALNUM.fullmatch(auth_code) is not None, "bad auth_code")
    _need(line_no, _ALNUM.fullmatch(f["out_trade_no"]) is not None, "bad out_trade_no")
    try:
        fee = parse_fee_millifen(f["fee"])
        parse_time(f["txn_time"])
    except (ValueError, WireFormatError) as exc:
        raise SettlementFileError(line_no, str(exc)) from None
    original = (f["orig_batch_no"], f["orig_trace_no"], f["orig_rrn"])
    if txn_type == SALE:
        _need(line_no, original == ("", "", ""), "a sale names an original transaction")
        _need(line_no, not f["out_refund_no"], "a sale carries an out_refund_no")
        _need(line_no, fee >= 0, "a sale has a negative fee")
        return
    has_original = (
        _fixed_digits(original[0], 6)
        and _fixed_digits(original[1], 6)
        and _fixed_alnum(original[2], 12)
    )
    _need(line_no, has_original, f"a {txn_type} record lacks its original transaction")
    _need(line_no, fee <= 0, f"a {txn_type} record charges a fee instead of returning it")
    if txn_type == REVERSAL:
        _need(line_no, not f["out_refund_no"], "a reversal carries an out_refund_no")
    else:
        _need(line_no, bool(f["out_refund_no"]), f"a {txn_type} record lacks its out_refund_no")


def _check_trailer(line_no: int, t: Mapping[str, str], details: list[Detail]) -> tuple[int, int]:
    stated = _count(line_no, t, "detail_count")
    _need(line_no, stated == len(details), f"detail_count says {stated}, found {len(details)}")
    net = 0
    for txn_type, prefix in _TYPE_COUNTS:
        rows = [d for d in details if d.txn_type == txn_type]
        total = sum(d.amount_fen for d in rows)
        count = _count(line_no, t, f"{prefix}_count")
        _need(line_no, count == len(rows), f"{prefix}_count says {count}, found {len(rows)}")
        amount = _count(line_no, t, f"{prefix}_amount")
        _need(line_no, amount == total, f"{prefix}_amount says {amount}, details sum to {total}")
        net += total if txn_type == SALE else -total
    try:
        fee_total = parse_fee_millifen(t["fee_total"])
        stated_net = parse_signed_yuan(t["net_amount"])
    except (ValueError, MoneyError) as exc:
        raise SettlementFileError(line_no, str(exc)) from None
    fees = sum(d.fee_millifen for d in details)
    _need(
        line_no,
        fee_total == fees,
        f"fee_total says {t['fee_total']}, details sum to {format_fee(fees)}",
    )
    _need(
        line_no,
        stated_net == net,
        f"net_amount says {t['net_amount']}, details give {yuan_str(net)}",
    )
    return fee_total, net


def _count(line_no: int, fields: Mapping[str, str], name: str) -> int:
    value = fields[name]
    if not _DIGITS.fullmatch(value):
        raise SettlementFileError(line_no, f"{name} is not a number")
    return int(value)


def _fixed_digits(value: str, width: int) -> bool:
    return len(value) == width and bool(_DIGITS.fullmatch(value))


def _fixed_alnum(value: str, width: int) -> bool:
    return len(value) == width and bool(_ALNUM.fullmatch(value))


def _date(line_no: int, text: str) -> date:
    if not _fixed_digits(text, 8):
        raise SettlementFileError(line_no, "settle_date is not yyyyMMdd")
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise SettlementFileError(line_no, "settle_date is not a calendar date") from None


def _time(line_no: int, text: str) -> datetime:
    try:
        return parse_time(text)
    except WireFormatError as exc:
        raise SettlementFileError(line_no, str(exc)) from None
