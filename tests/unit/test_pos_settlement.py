"""The POS settlement file parser on the exact layout of adapters/pos/PROTOCOL.md (pure, no I/O
beyond reading that document)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.pos.settlement import (
    DETAIL,
    HEADER,
    TRAILER,
    SettlementFileError,
    bill_records,
    format_fee,
    parse_fee_millifen,
    parse_settlement_file,
    parse_signed_yuan,
    record_length,
)

PROTOCOL = Path(__file__).resolve().parents[2] / "adapters" / "pos" / "PROTOCOL.md"
BEIJING = timezone(timedelta(hours=8))


def example_lines() -> list[str]:
    """The example file exactly as the protocol note prints it."""
    found = re.search(r"```settlement-example\n(.*?)\n```", PROTOCOL.read_text("utf-8"), re.S)
    assert found is not None, "PROTOCOL.md lost its settlement example"
    return found.group(1).split("\n")


def as_file(lines: list[str]) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def put(line: str, layout: tuple[tuple[str, int], ...], name: str, value: str) -> str:
    """``line`` with field ``name`` replaced by ``value`` (padded like the writer pads)."""
    at = 0
    for field, width in layout:
        if field == name:
            padded = value.rjust(width) if field in ("fee", "fee_total", "net_amount") else value
            return line[:at] + padded.ljust(width)[:width] + line[at + width :]
        at += width + 1
    raise KeyError(name)


def refused(lines: list[str] | bytes) -> SettlementFileError:
    data = lines if isinstance(lines, bytes) else as_file(lines)
    with pytest.raises(SettlementFileError) as caught:
        parse_settlement_file(data)
    return caught.value


def test_the_documented_example_reads_exactly() -> None:
    lines = example_lines()
    assert [len(line) for line in lines] == [55, *[265] * 6, 143]
    assert (record_length(HEADER), record_length(DETAIL), record_length(TRAILER)) == (55, 265, 143)
    parsed = parse_settlement_file(as_file(lines))
    assert (parsed.merchant_id, parsed.settle_date) == ("898310093990001", date(2025, 3, 14))
    assert parsed.created_at == datetime(2025, 3, 14, 23, 5, 12, tzinfo=BEIJING)
    assert (parsed.fee_total_millifen, parsed.net_fen) == (2660, 700)
    rows = [
        (r.kind, r.out_trade_no, r.provider_txn_id, r.amount_fen, r.fee_millifen,
         r.out_refund_no, r.provider_refund_id)
        for r in bill_records(parsed)
    ]  # fmt: skip
    assert rows == [
        ("PAYMENT", "TJ2025031400000001", "093015000001-T0000001-000001-000001", 12345, 46911, None, None),
        ("PAYMENT", "TJ2025031400000002", "093512000002-T0000001-000001-000002", 500, 1900, None, None),
        ("REVERSAL", "TJ2025031400000002", "093512000002-T0000001-000001-000002", 500, -1900, None, None),
        ("REFUND", "TJ2025031400000001", "093015000001-T0000001-000001-000001", 12345, -46911,
         "RF000000000001", "100244000003-T0000001-000001-000003"),
        ("PAYMENT", "TJ2025031400000003", "112005000004-T0000002-000007-000031", 1000, 3800, None, None),
        ("REFUND", "TJ2025031300000009", "163012000871-T0000002-000006-000012", 300, -1140,
         "RF000000000002", "154109000005-T0000002-000007-000032"),
    ]  # fmt: skip
    first = bill_records(parsed)[0]
    assert first.occurred_at == datetime(2025, 3, 14, 9, 30, 15, tzinfo=BEIJING)
    assert first.raw["card_no"] == "622202*********0128"
    assert first.raw["auth_code"] == "575939" and first.raw["txn_type"] == "SALE"
    assert first.provider == "pos"


def test_lf_line_ends_and_an_empty_day_are_accepted() -> None:
    lines = example_lines()
    assert len(parse_settlement_file("\n".join(lines).encode() + b"\n").details) == 6
    header = put(lines[0], HEADER, "detail_count", "00000000")
    zero = "0" * 8, "0" * 15
    trailer = "T " + " ".join([zero[0], *[f"{zero[0]} {zero[1]}"] * 4])
    trailer += " " + "0.00000".rjust(15) + " " + "0.00".rjust(16)
    empty = parse_settlement_file(as_file([header, trailer]))
    assert empty.details == () and bill_records(empty) == []


@pytest.mark.parametrize(
    ("mutate", "line_no", "reason"),
    [
        (lambda ls: ls[:-1], 8, "no trailer"),
        (lambda ls: [*ls[:3], ls[3][:-1], *ls[4:]], 4, "264 long, not 265"),
        (lambda ls: [*ls[:2], ls[2][:26] + "_" + ls[2][27:], *ls[3:]], 3, "no separator"),
        (lambda ls: [*ls[:1], put(ls[1], DETAIL, "amount", "00000001234x"), *ls[2:]], 2, "amount is not 12 digits"),
        (lambda ls: [*ls[:1], put(ls[1], DETAIL, "txn_type", "SELL"), *ls[2:]], 2, "unknown txn_type"),
        (lambda ls: [*ls[:1], put(ls[1], DETAIL, "card_no", "6222021234567890128"), *ls[2:]], 2, "card_no is not a masked"),
        (lambda ls: [*ls[:1], put(ls[1], DETAIL, "merchant_id", "898310093990002"), *ls[2:]], 2, "merchant_id differs"),
        (lambda ls: [*ls[:1], put(ls[1], DETAIL, "settle_date", "20250313"), *ls[2:]], 2, "settle_date differs"),
        (lambda ls: [*ls[:1], put(ls[1], DETAIL, "fee", "0.4691"), *ls[2:]], 2, "five decimals"),
        (lambda ls: [*ls[:1], put(ls[1], DETAIL, "fee", "-0.46911"), *ls[2:]], 2, "negative fee"),
        (lambda ls: [*ls[:1], put(ls[1], DETAIL, "txn_time", "20250231093015"), *ls[2:]], 2, "calendar"),
        (lambda ls: [*ls[:1], put(ls[1], DETAIL, "orig_rrn", "093015000001"), *ls[2:]], 2, "names an original"),
        (lambda ls: [*ls[:4], put(ls[4], DETAIL, "out_refund_no", ""), *ls[5:]], 5, "lacks its out_refund_no"),
        (lambda ls: [*ls[:3], put(ls[3], DETAIL, "orig_trace_no", ""), *ls[4:]], 4, "lacks its original"),
        (lambda ls: [*ls[:3], put(ls[3], DETAIL, "fee", "0.01900"), *ls[4:]], 4, "charges a fee"),
        (lambda ls: [*ls[:2], ls[1], *ls[2:]], 3, "appears twice"),
        (lambda ls: [put(ls[0], HEADER, "version", "0200"), *ls[1:]], 1, "version"),
        (lambda ls: [put(ls[0], HEADER, "detail_count", "00000005"), *ls[1:]], 1, "detail_count says 5"),
        (lambda ls: [*ls[:-1], put(ls[-1], TRAILER, "detail_count", "00000007")], 8, "detail_count says 7"),
        (lambda ls: [*ls[:-1], put(ls[-1], TRAILER, "sale_count", "00000002")], 8, "sale_count says 2"),
        (lambda ls: [*ls[:-1], put(ls[-1], TRAILER, "refund_amount", "000000000000301")], 8, "refund_amount says 301"),
        (lambda ls: [*ls[:-1], put(ls[-1], TRAILER, "fee_total", "0.02661")], 8, "fee_total says 0.02661"),
        (lambda ls: [*ls[:-1], put(ls[-1], TRAILER, "net_amount", "-7.00")], 8, "net_amount says -7.00"),
        (lambda ls: [ls[0].replace("H", "X", 1), *ls[1:]], 1, "expected a H record"),
        (lambda ls: [*ls[:2], put(ls[2], DETAIL, "record_type", "T"), *ls[3:]], 3, "expected a D record"),
    ],
)  # fmt: skip
def test_malformed_files_are_refused_naming_the_line(
    mutate: Callable[[list[str]], list[str]], line_no: int, reason: str
) -> None:
    error = refused(mutate(example_lines()))
    assert error.line_no == line_no, error
    assert reason in error.reason, error
    assert f"line {line_no}" in str(error)


def test_truncated_and_foreign_bytes_are_refused() -> None:
    data = as_file(example_lines())
    cut = refused(data[:-40])
    assert (cut.line_no, "truncated" in cut.reason) == (8, True)
    foreign = data.replace(b"TJ2025031400000003", "TJ２０25031400000003".encode()[:18])
    assert refused(foreign).line_no == 6
    assert refused(b"").reason == "empty file"
    assert (refused(data + b"\r\n").line_no, refused(data + b"\r\n").reason) == (9, "empty line")


@pytest.mark.parametrize(
    ("text", "millifen"),
    [("0.00000", 0), ("0.00001", 1), ("0.46911", 46911), ("-0.46911", -46911),
     ("12.34567", 1234567), ("123456789.99999", 12345678999999)],
)  # fmt: skip
def test_fee_text_becomes_thousandths_of_a_fen_exactly(text: str, millifen: int) -> None:
    assert parse_fee_millifen(text) == millifen
    assert format_fee(millifen) == text


@pytest.mark.parametrize(
    "text", ["", "0.4691", "0.469110", "1e3", "+0.00001", " 0.00001", "-", ".00001", "１.00000"]
)
def test_fee_text_in_any_other_form_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_fee_millifen(text)


@given(st.integers(min_value=-(10**14) + 1, max_value=10**14 - 1))
def test_fee_round_trip(millifen: int) -> None:
    assert parse_fee_millifen(format_fee(millifen)) == millifen


def test_signed_yuan() -> None:
    assert parse_signed_yuan("-7.00") == -700 and parse_signed_yuan("13845.01") == 1384501
    for bad in ("7", "7.0", "-7.000", "--7.00"):
        with pytest.raises(ValueError):
            parse_signed_yuan(bad)
