"""The daily report's exports without a database: yuan from fen exactly, number formats, frozen
headers, formula-looking text kept as text, the CSV as Excel reads it, and the trend chart."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from clearing.domain.display import Names
from clearing.domain.money import MAX_FEN, yuan_str
from reconciliation import report_export as x
from reconciliation.report_page import axis, nice_step, trend_svg
from reconciliation.reports import (
    Batch,
    Check,
    DailyReport,
    DiscrepancyCount,
    OpenDiscrepancy,
    Recon,
    Row,
    Run,
    Settlement,
    Total,
    TrendDay,
    auto_match_ratio,
)
from tests.staff_text import REPORT_SHEETS

DAY = date(2026, 3, 15)
AT = datetime(2026, 3, 15, 18, 30, tzinfo=UTC)  # 02:30 on the 16th in Beijing


def _report() -> DailyReport:
    items = [Row("DEED_TAX", "契税", 1, 350_000_00), Row("REG_FEE", "不动产登记费", 2, 170_01)]
    run = Run(7, "DONE", "system:timer", AT, AT + timedelta(seconds=65), 65, {"matched": 9}, None)
    return DailyReport(
        day=DAY,
        received=Total(2, 350_170_01),
        refunded=Total(1, 80_00),
        net_fen=350_090_01,
        suspense=Total(1, 1),
        by_item=items,
        by_beneficiary=[
            Row("TREASURY", "国家金库", 1, 350_000_00),
            Row("FISCAL", "财政", 2, 170_01),
        ],
        by_channel=[Row("wechatpay", "微信支付", 2, 350_170_01)],
        refunds_by_channel=[Row("alipay", "支付宝", 1, 80_00)],
        by_office=[Row("HALL1", "HALL1", 2, 350_170_01)],
        by_window=[Row("HALL1", "W01", 2, 350_170_01)],
        checks=[
            Check("按收费项目", 350_170_01, 350_170_01, 0, True),
            Check("按窗口", 1, 2, -1, False),
        ],
        settlement=Settlement(
            [Batch("TJSFBK20260315001", "SFBK", 1, "CLOSED", AT, 2, 3, 350_170_01)],
            [Row("BOOKED", "BOOKED", 2, 350_170_01)],
            350_170_01,
            350_170_01,
        ),
        recon=Recon(
            run,
            [DiscrepancyCount("LONG", "OPEN", 1)],
            [
                OpenDiscrepancy(
                    11, "LONG", "OPEN", "wechatpay", "=HYPERLINK(1)", None, None, 5_00, AT
                )
            ],
            1,
        ),
        balances=[],
    )


@given(st.integers(min_value=-MAX_FEN, max_value=MAX_FEN))
def test_yuan_is_exactly_the_fen(fen: int) -> None:
    y = x.yuan(fen)
    assert y == Decimal(yuan_str(fen))
    assert y * 100 == fen and y.as_tuple().exponent == -2


def test_yuan_refuses_float_and_bool() -> None:
    with pytest.raises(TypeError):
        x.yuan(12.34)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        x.yuan(True)


def test_small_helpers() -> None:
    assert x.cols("金额（元）:fen", "名称")[0] == x.Column("金额（元）", "fen")
    assert x.cols("金额（元）:fen", "名称")[1].kind == "text"
    assert x.display_width("合计A") == 5
    assert x.direction(-1) == "贷" and x.direction(1) == "借" and x.direction(0) == "平"
    assert x.result(0) == "一致" and x.result(-123) == "差额 -¥1.23"
    assert x.percent(Decimal("0.98765")) == "98.8%" and x.percent(None) == "—"


def test_workbook_holds_yuan_numbers_with_the_format() -> None:
    book = load_workbook(io.BytesIO(x.to_xlsx(_report(), [], AT)))
    assert book.sheetnames == REPORT_SHEETS
    items = book["按收费项目"]
    # the fee item by its name only: staff never read its code
    assert [c.value for c in items[1]] == ["收费项目", "明细笔数", "金额（元）"]
    assert items.freeze_panes == "A2"
    assert items["C2"].value == 350000 and items["C2"].number_format == x.YUAN_FORMAT
    assert Decimal(str(items["C3"].value)) == Decimal("170.01")
    assert [c.value for c in items[4]] == ["合计", 3, 350170.01]
    assert items["B4"].number_format == x.COUNT_FORMAT
    assert items.column_dimensions["A"].width >= x.display_width("不动产登记费")
    # text that looks like a formula stays text
    diffs = book["对账差异"]
    cells = {c.value for row in diffs.iter_rows() for c in row}
    assert "=HYPERLINK(1)" in cells
    assert all(c.data_type != "f" for row in diffs.iter_rows() for c in row)


def test_csv_is_excel_ready() -> None:
    text = x.to_csv(_report(), [], AT)
    assert text.startswith("\ufeff税费通缴对账日报,2026-03-15,生成时间,2026-03-16 02:30:00\r\n")
    assert "\n" not in text.replace("\r\n", "")
    assert "\r\n按收费项目\r\n收费项目,明细笔数,金额（元）\r\n契税,1,350000.00\r\n" in text
    assert "合计,3,350170.01\r\n" in text
    assert "按窗口,0.01,0.02,-0.01,差额 -¥0.01" in text
    # an outside reference: a tab against Excel's number guessing, an apostrophe against formulas
    assert ",\t'=HYPERLINK(1),," in text


def test_attachment_names_the_day_in_both_forms() -> None:
    header = x.content_disposition(DAY, "xlsx")
    assert 'filename="recon-daily-report_2026-03-15.xlsx"' in header
    encoded = re.search(r"filename\*=UTF-8''(\S+)", header)
    assert encoded is not None and unquote(encoded.group(1)) == "对账日报_2026-03-15.xlsx"
    assert header.isascii()


def test_chart_scales_are_round() -> None:
    assert [nice_step(v) for v in (0, 1, 4, 5, 9, 21, 399, 401, 999_999)] == [
        1, 1, 1, 2, 5, 10, 100, 200, 500_000,
    ]  # fmt: skip
    assert axis(0) == (1, 1) and axis(7) == (2, 8) and axis(350_170) == (100_000, 400_000)


def test_chart_draws_bars_and_a_broken_line() -> None:
    days = [
        TrendDay(DAY - timedelta(days=2 - i), i, fen, "DONE" if n is not None else None, n, None)
        for i, (fen, n) in enumerate([(100_00, 3), (0, None), (350_170_01, 1)])
    ]
    svg = trend_svg(days)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<rect") == 3 + 1  # a bar per day and the legend's
    assert "<polyline" not in svg  # no two consecutive days with a run: no segment to draw
    assert "收款金额（万元）" in svg and "未结差异（笔）" in svg and "业务日期" in svg
    assert "2026-03-15 收款 ¥350,170.01（2 笔）" in svg
    # no float ever reaches the drawing: every coordinate has at most one decimal
    assert not re.search(r"\d\.\d\d", re.sub(r"¥[\d,.]+", "", svg))


def test_auto_match_ratio_reads_what_the_run_says() -> None:
    engine = {"payments_matched": 95, "bill_payment_lines": 100, "auto_match_ratio": 0.95}
    assert auto_match_ratio(engine) == Decimal("0.95")
    assert auto_match_ratio({**engine, "auto_match_ratio": None}) == Decimal("0.95")
    assert auto_match_ratio({"auto_match_ratio": None, "bill_payment_lines": 0}) is None
    nested = {"wechatpay": {"matched": 3, "total": 4}, "alipay": {"matched": 1, "total": 1}}
    assert auto_match_ratio(nested) == Decimal("0.8")
    assert auto_match_ratio({"auto_match_ratio": True, "fetch_errors": []}) is None
    assert auto_match_ratio({}) is None


def test_run_statistics_read_as_words() -> None:
    """The runs table showed the engine's statistics as raw JSON; now each count is named."""
    stats = {
        "bill_payment_lines": 12, "payments_matched": 11, "auto_match_ratio": 0.9167,
        "findings_by_type": {"TIMING": 1}, "fetch_errors": ["pos: ConnectError('refused')"],
        "wechatpay": {"matched": 3, "total": 4},
    }  # fmt: skip
    text = x.stats_text(stats)
    assert text == (
        "账单支付笔数 12；已匹配支付笔数 11；自动匹配率 91.7%；差异按类型：跨日在途 1；"
        "未能获取：银行卡；微信支付：已匹配 3、合计 4"
    )


def _rated() -> DailyReport:
    from dataclasses import replace

    from reconciliation.ratings import BadRating, RatingCount

    return replace(
        _report(),
        ratings=[
            RatingCount("HALL1", "W01", "王芳（wangf）", 3, 1, 0, 1, 0),
            RatingCount("HALL1", "W02", "李明（lim）", 0, 2, 1, 0, 2),
        ],
        bad_ratings=[
            BadRating("TJ20260315AAAA", "HALL1", "W01", "王芳（wangf）", "dissatisfied", "不满意",
                      "=等候太久", AT),
        ],
    )  # fmt: skip


HALLS = Names({"office": {"HALL1": "第一大厅"}})


def test_ratings_sheet_counts_each_grade_per_window_and_clerk() -> None:
    book = load_workbook(io.BytesIO(x.to_xlsx(_rated(), [], AT, HALLS)))
    rows = [[c.value for c in row] for row in book["服务评价"].iter_rows()]
    head = rows.index(["大厅", "窗口", "工作人员", "非常满意", "满意", "基本满意", "不满意",
                       "非常不满意", "评价总数", "差评"])  # fmt: skip
    # the hall and the window by their names
    assert rows[head + 1] == ["第一大厅", "1号窗口", "王芳（wangf）", 3, 1, 0, 1, 0, 5, 1]
    assert rows[head + 2] == ["第一大厅", "2号窗口", "李明（lim）", 0, 2, 1, 0, 2, 5, 2]
    assert rows[head + 3] == ["合计", None, None, 3, 3, 1, 1, 2, 10, 3]
    bad = [r for r in rows if r[0] == "TJ20260315AAAA"]
    assert bad == [["TJ20260315AAAA", "第一大厅", "1号窗口", "王芳（wangf）", "不满意", "=等候太久",
                    "2026-03-16 02:30:00", None, None, None]]  # fmt: skip
    text = x.to_csv(_rated(), [], AT, HALLS)
    assert "第一大厅,2号窗口,李明（lim）,0,2,1,0,2,5,2\r\n" in text
    # the citizen's words never run as a formula
    assert ",不满意,'=等候太久," in text


def test_the_page_lists_the_ratings() -> None:
    from reconciliation.report_page import render

    page = render(_rated(), [], [], generated_at=AT)
    assert "九、服务评价（好差评）" in page and "十、近 0 日趋势" in page
    assert "差评明细（待回访核实）" in page and "李明（lim）" in page
