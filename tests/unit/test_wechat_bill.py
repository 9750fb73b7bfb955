"""The WeChat Pay ALL trade bill parser on exact layouts (protocols-cn.md 1.8), no network."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.wechatpay.bill import BillFormatError, parse_fee_millifen, parse_trade_bill

BEIJING = timezone(timedelta(hours=8))
MCHID = "1900012345"

HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
    "交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,"
    "充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,"
    "费率备注"
)
SUMMARY_HEADER = (
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
)
PAID = (
    "`2025-03-04 09:15:02,`wx2421b1c4370ec43b,`1900012345,`0,`,`4200002345202503041234567890,"
    "`TJ20250304A1,`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`NATIVE,`SUCCESS,`OTHERS,`CNY,`123.45,`0.00,"
    "`0,`0,`0.00,`0.00,`,`,`不动产登记费,`window=3,`0.74070,`0.60%,`123.45,`0.00,`"
)
ONE_FEN = (
    "`2025-03-04 10:00:00,`wx2421b1c4370ec43b,`1900012345,`0,`,`4200002345202503041234567891,"
    "`TJ20250304A2,`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`MICROPAY,`SUCCESS,`OTHERS,`CNY,`0.01,`0.00,"
    "`0,`0,`0.00,`0.00,`,`,`契税,`,`0.00006,`0.60%,`0.01,`0.00,`"
)
REFUND = (
    "`2025-03-04 11:20:00,`wx2421b1c4370ec43b,`1900012345,`0,`,`4200002345202503041234567890,"
    "`TJ20250304A1,`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`NATIVE,`REFUND,`OTHERS,`CNY,`0.00,`0.00,"
    "`50300001232025030412345678901,`RTJ20250304A1,`4.00,`0.00,`ORIGINAL,`PROCESSING,"
    "`不动产登记费,`window=3,`-0.02400,`0.60%,`0.00,`4.00,`"
)
REVOKED = (
    "`2025-03-04 12:00:00,`wx2421b1c4370ec43b,`1900012345,`0,`,`4200002345202503041234567891,"
    "`TJ20250304A2,`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`MICROPAY,`REVOKED,`OTHERS,`CNY,`0.00,`0.00,"
    "`50300001232025030412345678902,`0,`0.01,`0.00,`ORIGINAL,`SUCCESS,`契税,`,`-0.00006,`0.60%,"
    "`0.00,`0.01,`"
)
SUMMARY = "`4,`123.46,`4.01,`0.00,`0.71670,`123.46,`4.01"


def bill(*rows: str, summary: str = SUMMARY, header: str = HEADER, end: str = "\n") -> str:
    return end.join([header, *rows, SUMMARY_HEADER, summary]) + end


FULL = bill(PAID, ONE_FEN, REFUND, REVOKED)


def test_all_layout_becomes_records() -> None:
    payment, one_fen, refund, reversal = parse_trade_bill(FULL, mchid=MCHID)
    assert (payment.kind, payment.amount_fen, payment.fee_millifen) == ("PAYMENT", 12_345, 74_070)
    assert payment.occurred_at == datetime(2025, 3, 4, 9, 15, 2, tzinfo=BEIJING)
    assert payment.provider == "wechatpay" and payment.out_trade_no == "TJ20250304A1"
    assert payment.provider_txn_id == "4200002345202503041234567890"
    assert payment.out_refund_no is None and payment.provider_refund_id is None
    assert payment.raw["商品名称"] == "不动产登记费" and payment.raw["费率"] == "0.60%"
    assert (one_fen.amount_fen, one_fen.fee_millifen) == (1, 6)
    assert (refund.kind, refund.amount_fen, refund.fee_millifen) == ("REFUND", 400, -2_400)
    assert refund.out_refund_no == "RTJ20250304A1"
    assert refund.provider_refund_id == "50300001232025030412345678901"
    assert refund.raw["退款状态"] == "PROCESSING"
    assert (reversal.kind, reversal.amount_fen, reversal.fee_millifen) == ("REVERSAL", 1, -6)
    assert reversal.out_refund_no is None
    assert reversal.provider_refund_id == "50300001232025030412345678902"


def test_windows_line_ends_a_bom_and_no_final_newline_are_the_same_bill() -> None:
    expected = parse_trade_bill(FULL)
    assert parse_trade_bill("\ufeff" + bill(PAID, ONE_FEN, REFUND, REVOKED, end="\r\n")) == expected
    assert parse_trade_bill(FULL.rstrip("\n")) == expected


def test_a_day_with_only_a_summary_is_empty() -> None:
    assert parse_trade_bill(bill(summary="`0,`0.00,`0.00,`0.00,`0.00000,`0.00,`0.00")) == []


def test_legacy_column_names_are_read_by_name() -> None:
    legacy_header = (
        "交易时间,公众账号ID,商户号,子商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
        "交易状态,付款银行,货币种类,总金额,企业红包金额,微信退款单号,商户退款单号,退款金额,"
        "企业红包退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率"
    )
    row = (
        "`2019-11-04 18:52:59,`wxdf99,`1900012345,`0,`,`4200000422201911044383886395,`OLD1,"
        "`o1gsw,`NATIVE,`SUCCESS,`CFT,`CNY,`0.10,`0.00,`0,`0,`0.00,`0.00,`,`,`学费,`,"
        "`0.00060,`0.60%"
    )
    text = "\n".join(
        [
            legacy_header,
            row,
            "总交易单数,总交易额,总退款金额,总企业红包退款金额,手续费总金额",
            "`1,`0.10,`0.00,`0.00,`0.00060",
        ]
    )
    [record] = parse_trade_bill(text)
    assert (record.kind, record.amount_fen, record.fee_millifen) == ("PAYMENT", 10, 60)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("", 1, "empty"),
        (bill(PAID.replace("`0.74070", "0.74070")), 2, "backtick"),
        (bill(PAID + ",`extra"), 2, "28 values for 27 columns"),
        (bill(PAID, ONE_FEN.replace("`SUCCESS", "`PAYING")), 3, "unknown state"),
        (bill(PAID.replace("`1900012345", "`1900099999")), 2, "another merchant"),
        (bill(PAID.replace("`CNY", "`USD")), 2, "not CNY"),
        (bill(PAID.replace("09:15:02", "9:15:02")), 2, "交易时间"),
        (bill(PAID.replace("2025-03-04", "2025-02-30")), 2, "no such date"),
        (bill(PAID.replace("`0.74070", "`0.740701")), 2, "手续费"),
        (bill(PAID.replace("`123.45,`0.00,`0,", "`123.456,`0.00,`0,")), 2, "应结订单金额"),
        (bill(REFUND.replace("`RTJ20250304A1", "`0")), 2, "商户退款单号"),
        (
            bill(PAID, ONE_FEN, REFUND, REVOKED, summary=SUMMARY.replace("`4,", "`5,")),
            7,
            "总交易单数",
        ),
        (
            bill(PAID, ONE_FEN, REFUND, REVOKED, summary=SUMMARY.replace("`0.71670", "`0.71671")),
            7,
            "手续费总金额",
        ),
        (
            bill(
                PAID,
                ONE_FEN,
                REFUND,
                REVOKED,
                summary=SUMMARY.replace("`123.46,`4.01,", "`123.47,`4.01,"),
            ),
            7,
            "应结订单总金额",
        ),
        (
            bill(PAID, ONE_FEN, REFUND, REVOKED, summary=SUMMARY.replace(",`4.01", ",`4.00", 1)),
            7,
            "退款总金额",
        ),
        (
            bill(PAID, ONE_FEN, REFUND, REVOKED, summary=SUMMARY[: SUMMARY.rindex(",")]),
            7,
            "6 values",
        ),
        ("\n".join([HEADER, PAID, ONE_FEN]), 4, "truncated"),
        ("\n".join([HEADER, PAID, SUMMARY_HEADER]), 4, "summary row is missing"),
        (FULL + SUMMARY + "\n", 8, "after the summary"),
        (bill(PAID).replace(HEADER, HEADER.replace("手续费,", "")), 1, "no column 手续费"),
        (bill(PAID).replace(HEADER, HEADER.replace("商户订单号", "交易时间")), 1, "repeated"),
    ],
)
def test_malformed_bills_name_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(BillFormatError) as caught:
        parse_trade_bill(text, mchid=MCHID)
    assert caught.value.line == line, caught.value
    assert words in str(caught.value)
    assert str(caught.value).startswith(f"bill line {line}: ")


@pytest.mark.parametrize(
    ("text", "millifen"),
    [
        ("0.00000", 0),
        ("0.74070", 74_070),
        ("0.00001", 1),
        ("-0.00006", -6),
        ("12.3", 1_230_000),
        ("7", 700_000),
        ("1299.02000", 129_902_000),
    ],
)
def test_fee_column_is_read_exactly(text: str, millifen: int) -> None:
    assert parse_fee_millifen(text) == millifen


@pytest.mark.parametrize("text", ["", "0.000001", "1e5", "0.1.2", " 1.00", "+1.00", ".5", "1,00"])
def test_fee_column_refuses_what_is_not_five_decimals(text: str) -> None:
    with pytest.raises(ValueError):
        parse_fee_millifen(text)


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_fee_text_round_trips_without_float(millifen: int) -> None:
    whole, frac = divmod(abs(millifen), 100_000)
    text = f"{'-' if millifen < 0 else ''}{whole}.{frac:05d}"
    assert parse_fee_millifen(text) == millifen
