"""Alipay's daily trade bill parser on exact layouts (protocols-cn.md 2.7): worked examples,
every kind of damage named by its line, and exact yuan → fen / thousandths-of-a-fen reading."""

from __future__ import annotations

import zipfile
from datetime import date, datetime
from io import BytesIO

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.alipay.bill import BillFormatError, parse_bill_zip, parse_detail
from adapters.alipay.bill_format import fee_text, signed_fen, signed_millifen
from adapters.alipay.bill_summary import parse_summary
from adapters.alipay.crypto import BEIJING
from adapters.alipay.sim_bill import gbk_zip

DAY = date(2026, 3, 16)
PID = "2088123412341234"
ACCOUNT = PID + "0156"

# the 25 columns exactly as protocols-cn.md 2.7 lists them (note the full-width parentheses)
DETAIL_HEADER = (
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,"
    "终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,"
    "商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,"
    "退款批次号/请求号,服务费（元）,分润（元）,备注"
)
SUMMARY_HEADER = (
    "门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）,"
    "支付宝优惠（元）,商家优惠（元）,卡消费金额（元）,服务费（元）,分润（元）,实收净额（元）"
)
T1, T2, T3 = (f"20260316220014000000000000{i}" for i in (11, 22, 33))


def _row(trade: str, order: str, kind: str, amount: str, fee: str, request_no: str = "") -> str:
    # as Alipay writes them: a tab after the numbers it wants kept as text
    return (
        f"{trade}\t,{order}\t,{kind}\t,契税,2026-03-16 10:55:16,2026-03-16 10:55:23,\t,\t,\t,\t,"
        f"*津水(602***@qq.com)\t,{amount},{amount},0.00,0.00,0.00,0.00,0.00,,0.00\t,0.00,"
        f"{request_no}\t,{fee},0.00,契税"
    )


DETAIL_LINES = [
    "#支付宝业务明细查询",
    f"#账号：[{ACCOUNT}]",
    "#起始日期：[2026年03月16日 00:00:00]   终止日期：[2026年03月17日 00:00:00]",
    "#-----------------------------------------业务明细列表----------------------------------------",
    DETAIL_HEADER,
    _row(T1, "TJ1", "交易", "123.45", "-0.74"),
    _row(T2, "TJ2", "交易", "100.00", "-0.60"),
    _row(T1, "TJ1", "退款", "-3.45", "0.02", "RTJ1"),
    _row(T2, "TJ2", "退款", "-100.00", "0.60"),
    "#-----------------------------------------业务明细列表结束------------------------------------",
    "#交易合计：2笔，商家实收共223.45元，商家优惠共0.00元",
    "#退款合计：2笔，商家实收退款共-103.45元，商家优惠退款共0.00元",
    "#导出时间：[2026年03月17日 05:46:49]",
]
SUMMARY_LINES = [
    "#支付宝业务汇总查询",
    f"#账号：[{ACCOUNT}]",
    "#起始日期：[2026年03月16日 00:00:00]   终止日期：[2026年03月17日 00:00:00]",
    "#-----------------------------------------业务汇总列表----------------------------------------",
    SUMMARY_HEADER,
    ",,2,2,120.00,120.00,0.00,0.00,0.00,-0.72,0.00,119.28",
    "合计,,2,2,120.00,120.00,0.00,0.00,0.00,-0.72,0.00,119.28",
    "#----------------------------------------业务汇总列表结束-------------------------------------",
    "#导出时间：[2026年03月17日 05:46:49]",
]


def _text(lines: list[str]) -> str:
    return "\r\n".join(lines) + "\r\n"


def _zip(detail: list[str] = DETAIL_LINES, summary: list[str] = SUMMARY_LINES) -> bytes:
    stem = f"{ACCOUNT}_{DAY:%Y%m%d}"
    return gbk_zip(
        {
            f"{stem}_业务明细.csv": _text(detail).encode("gbk"),
            f"{stem}_业务明细(汇总).csv": _text(summary).encode("gbk"),
        }
    )


def _error(data: bytes) -> BillFormatError:
    with pytest.raises(BillFormatError) as caught:
        parse_bill_zip(data, day=DAY, seller_id=PID)
    return caught.value


def _replaced(lines: list[str], index: int, line: str | None) -> list[str]:
    changed = list(lines)
    if line is None:
        del changed[index]
    else:
        changed[index] = line
    return changed


def test_worked_example() -> None:
    records = parse_bill_zip(_zip(), day=DAY, seller_id=PID)
    assert [
        (r.kind, r.out_trade_no, r.provider_txn_id, r.amount_fen, r.fee_millifen, r.out_refund_no)
        for r in records
    ] == [
        ("PAYMENT", "TJ1", T1, 12_345, 740_00, None),
        ("PAYMENT", "TJ2", T2, 10_000, 600_00, None),
        ("REFUND", "TJ1", T1, 345, -20_00, "RTJ1"),
        ("REVERSAL", "TJ2", T2, 10_000, -600_00, None),  # a refund with no request number
    ]
    first = records[0]
    assert first.provider == "alipay"
    assert first.occurred_at == datetime(2026, 3, 16, 10, 55, 23, tzinfo=BEIJING)
    assert first.raw["对方账户"] == "*津水(602***@qq.com)"  # trailing tab gone
    assert first.raw["退款批次号/请求号"] == ""


def test_python_written_zip_with_utf8_names_reads_too() -> None:
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{ACCOUNT}_20260316_业务明细.csv", _text(DETAIL_LINES).encode("gbk"))
        archive.writestr(
            f"{ACCOUNT}_20260316_业务明细(汇总).csv", _text(SUMMARY_LINES).encode("gbk")
        )
    assert len(parse_bill_zip(buffer.getvalue(), day=DAY)) == 4


def test_empty_day() -> None:
    detail = [
        *DETAIL_LINES[:5],
        DETAIL_LINES[9],
        "#交易合计：0笔，商家实收共0.00元，商家优惠共0.00元",
        "#退款合计：0笔，商家实收退款共0.00元，商家优惠退款共0.00元",
        DETAIL_LINES[12],
    ]
    summary = [*SUMMARY_LINES[:5], "合计,,0,0,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00"]
    summary += SUMMARY_LINES[7:]
    assert parse_bill_zip(_zip(detail, summary), day=DAY) == []


# (index of the replaced line, the line put there, line number named, words of the reason)
DAMAGED_DETAIL = [
    (0, "#微信支付账单", 1, "title"),
    (1, "#账号：[20889999999999990156]", 2, "another account"),
    (
        2,
        "#起始日期：[2026年03月15日 00:00:00]   终止日期：[2026年03月16日 00:00:00]",
        3,
        "not for",
    ),
    (
        2,
        "#起始日期：[2026年03月16日 00:00:00]   终止日期：[2026年03月18日 00:00:00]",
        3,
        "whole day",
    ),
    (4, DETAIL_HEADER.replace("订单金额（元）", "订单金额(元)"), 5, "header"),
    (5, _row(T1, "TJ1", "交易", "123.45", "-0.74").rsplit(",", 1)[0], 6, "24 cells"),
    (5, _row(T1, "TJ1", "交易", "123.456", "-0.74"), 6, "订单金额"),
    (5, _row(T1, "TJ1", "交易", "-123.45", "-0.74"), 6, "positive"),
    (5, _row(T1, "TJ1", "交易", "123.45", "-0.74", "R9"), 6, "退款批次号"),
    (5, _row(T1, "TJ1", "冻结", "123.45", "-0.74"), 6, "业务类型"),
    (5, _row(T1, "", "交易", "123.45", "-0.74"), 6, "商户订单号"),
    (5, _row(T1, "TJ1", "交易", "123.45", "-0.000001"), 6, "服务费"),
    (
        5,
        _row(T1, "TJ1", "交易", "123.45", "-0.74").replace("10:55:23", "25:00:00"),
        6,
        "完成时间",
    ),
    (
        5,
        _row(T1, "TJ1", "交易", "123.45", "-0.74").replace(
            "2026-03-16 10:55:23", "2026-03-17 00:00:01"
        ),
        6,
        "outside",
    ),
    (6, "#备注", 7, "comment"),
    (6, _row(T1, "TJ1", "交易", "123.45", "-0.74"), 7, "twice"),
    (10, "#交易合计：2笔，商家实收共223.46元，商家优惠共0.00元", 11, "交易合计"),
    (11, "#退款合计：1笔，商家实收退款共-103.45元，商家优惠退款共0.00元", 12, "退款合计"),
    (12, "#导出时间：2026年03月17日", 13, "export time"),
]
DAMAGED_SUMMARY = [
    (5, ",,2,2,120.00,120.00,0.00,0.00,0.00,-0.72,0.00,119.27", 6, "实收净额"),
    (5, ",,2,x,120.00,120.00,0.00,0.00,0.00,-0.72,0.00,119.28", 6, "not a count"),
    (6, "合计,,2,2,120.01,120.01,0.00,0.00,0.00,-0.72,0.00,119.29", 7, "sum of the store rows"),
    (5, ",,3,2,120.00,120.00,0.00,0.00,0.00,-0.72,0.00,119.28", 7, "sum of the store rows"),
]


@pytest.mark.parametrize(
    ("part", "index", "line", "at", "words"),
    [*(("detail", *c) for c in DAMAGED_DETAIL), *(("summary", *c) for c in DAMAGED_SUMMARY)],
)
def test_a_damaged_file_is_refused_naming_the_line(
    part: str, index: int, line: str, at: int, words: str
) -> None:
    lines, name = {
        "detail": (DETAIL_LINES, "_业务明细.csv"),
        "summary": (SUMMARY_LINES, "_业务明细(汇总).csv"),
    }[part]
    error = _error(_zip(**{part: _replaced(lines, index, line)}))
    assert error.file.endswith(name)
    assert (error.line, words in error.reason) == (at, True), error


def test_truncated_detail_says_what_is_missing() -> None:
    for keep, missing in ((7, "end marker"), (10, "交易合计"), (12, "export time")):
        error = _error(_zip(detail=DETAIL_LINES[:keep]))
        assert error.line == keep and missing in error.reason, error
    error = _error(_zip(detail=[*DETAIL_LINES, "2026,stray"]))
    assert (error.line, error.reason) == (14, "unexpected text after the totals")


def test_summary_must_agree_with_the_detail() -> None:
    both = [
        ",,2,2,120.00,120.00,0.00,0.00,0.00,-0.73,0.00,119.27",
        "合计,,2,2,120.00,120.00,0.00,0.00,0.00,-0.73,0.00,119.27",
    ]
    summary = SUMMARY_LINES[:5] + both + SUMMARY_LINES[7:]
    error = _error(_zip(summary=summary))
    assert (error.line, error.reason) == (7, "服务费（元） differs from the detail")
    other = [line.replace(ACCOUNT, "20880000000000000156") for line in SUMMARY_LINES]
    assert "account differs" in _error(_zip(summary=other)).reason
    earlier = [
        line.replace("03月16日", "03月15日").replace("03月17日", "03月16日")
        for line in SUMMARY_LINES
    ]
    assert "date range differs" in _error(_zip(summary=earlier)).reason
    assert "no 合计 row" in _error(_zip(summary=_replaced(SUMMARY_LINES, 6, None))).reason


def test_archive_level_damage() -> None:
    assert "not a ZIP" in _error(b"PK\x03\x04 broken").reason
    detail_only = gbk_zip({f"{ACCOUNT}_20260316_业务明细.csv": _text(DETAIL_LINES).encode("gbk")})
    assert "found 0" in _error(detail_only).reason
    wrong_day = _zip()
    with pytest.raises(BillFormatError) as caught:
        parse_bill_zip(wrong_day, day=date(2026, 3, 17))
    assert "not the bill of 2026-03-17" in caught.value.reason
    not_gbk = gbk_zip(
        {
            f"{ACCOUNT}_20260316_业务明细.csv": _text(DETAIL_LINES[:5]).encode("gbk") + b"\xff\xff",
            f"{ACCOUNT}_20260316_业务明细(汇总).csv": _text(SUMMARY_LINES).encode("gbk"),
        }
    )
    error = _error(not_gbk)
    assert (error.line, error.reason) == (6, "not GBK text")


def test_parsers_alone() -> None:
    detail = parse_detail(_text(DETAIL_LINES), file="d.csv", day=DAY, seller_id=PID)
    assert (detail.account, detail.totals.fee_millifen) == (ACCOUNT, -72_000)
    summary = parse_summary(_text(SUMMARY_LINES), file="s.csv")
    assert summary.total["实收净额（元）"] == 119_28_000
    assert summary.total_line == 7


# --- exact numbers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "millifen"),
    [
        ("-0.59", -59_000),
        ("0.00345", 345),
        ("-0.00001", -1),
        ("1", 100_000),
        ("1.5", 150_000),
        (" 12.34567\t", 1_234_567),
        ("-0.00", 0),
        ("9999999999999.99999", 999_999_999_999_999_999),
    ],
)
def test_fee_to_thousandths_of_a_fen(text: str, millifen: int) -> None:
    assert signed_millifen(text) == millifen


@pytest.mark.parametrize(
    "text", ["", "-", "0.000001", "1e3", "1,000.00", "--1", "+1", "１.00", ".5", "1.", "NaN"]
)
def test_fee_refuses_what_is_not_exact(text: str) -> None:
    with pytest.raises(ValueError):
        signed_millifen(text)


def test_signed_fen() -> None:
    assert (signed_fen("-35.80"), signed_fen("0.01"), signed_fen("-0.00")) == (-3580, 1, 0)
    for bad in ("1.234", "", "-", "abc", "1,00"):
        with pytest.raises(ValueError):
            signed_fen(bad)


@given(st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1))
def test_fee_text_round_trips(fen: int) -> None:
    assert signed_millifen(fee_text(fen * 1000)) == fen * 1000


@given(st.integers(min_value=-(10**18) + 1, max_value=10**18 - 1))
def test_five_decimals_read_exactly(millifen: int) -> None:
    whole, frac = divmod(abs(millifen), 100_000)
    text = f"{'-' if millifen < 0 else ''}{whole}.{frac:05d}"
    assert signed_millifen(text) == millifen


def test_a_zip_bomb_is_refused_on_its_ratio() -> None:
    stem = f"{ACCOUNT}_{DAY:%Y%m%d}"
    bomb = gbk_zip(
        {
            f"{stem}_业务明细.csv": _text(DETAIL_LINES).encode("gbk") + b" " * (32 * 1024 * 1024),
            f"{stem}_业务明细(汇总).csv": _text(SUMMARY_LINES).encode("gbk"),
        }
    )
    assert len(bomb) < 200_000
    assert "more than" in _error(bomb).reason
