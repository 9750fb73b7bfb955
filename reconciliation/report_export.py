"""The daily report as tables, and the tables as an Excel workbook or a CSV file.

One set of tables (``tables``) feeds the XLSX, the CSV and the printable page, so that the three
can never disagree. A table's rows hold plain values; each column says what kind its values
are, and each writer decides how that kind is shown:

- ``fen``: int fen. XLSX: a number in yuan, made exactly from the fen by Decimal (never by float
  arithmetic) and shown ``#,##0.00``; CSV: ``1234.56`` text; page: ``¥1,234.56``.
- ``int``: a count. ``ref``: a long reference kept as text (Excel would turn 28 digits into
  4.2E+27). ``text``: anything else.

Text that starts like a formula is never a formula: the XLSX cell is typed as a string, and the
CSV cell gets a leading apostrophe (references come from outside: bank and channel files).
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from urllib.parse import quote

from openpyxl import Workbook
from openpyxl.cell.cell import Cell as XlCell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from clearing.domain.display import STATIC_NAMES, TABLES, Names, name
from clearing.domain.money import format_yuan, yuan_str
from clearing.domain.ratings import GRADES
from clearing.domain.times import beijing_time
from clearing.service.shift_split import ShiftSum
from reconciliation.reports import DailyReport, Run, auto_match_ratio

Kind = Literal["text", "int", "fen", "ref"]
Cell = str | int | None
YUAN_FORMAT = "#,##0.00"
COUNT_FORMAT = "#,##0"
TITLE = "税费通缴对账日报"


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    kind: Kind = "text"


@dataclass(frozen=True, slots=True)
class Table:
    caption: str
    columns: tuple[Column, ...]
    rows: list[tuple[Cell, ...]]
    total: tuple[Cell, ...] | None = None  # the 合计 row, when a sum means something


_KINDS: dict[str, Kind] = {"": "text", "text": "text", "int": "int", "fen": "fen", "ref": "ref"}


def cols(*specs: str) -> tuple[Column, ...]:
    """Columns from ``"title"`` or ``"title:kind"``."""
    return tuple(Column(t, _KINDS[k]) for t, _, k in (spec.partition(":") for spec in specs))


def yuan(fen: int) -> Decimal:
    """Fen as an exact Decimal of yuan: 123456 → Decimal('1234.56'); refuses float."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"fen must be int, not {type(fen).__name__}")
    return Decimal(fen).scaleb(-2)


def beijing(value: datetime | None) -> str:
    return beijing_time(value)


def percent(ratio: Decimal | None) -> str:
    return f"{(ratio * 100).quantize(Decimal('0.1'))}%" if ratio is not None else "—"


def direction(balance_fen: int) -> str:
    """借 (debit), 贷 (credit) or 平 (nil), as a ledger prints a balance's side."""
    return "借" if balance_fen > 0 else "贷" if balance_fen < 0 else "平"


def stats_text(stats: dict[str, object]) -> str:
    """A run's counts as staff read them: 账单支付笔数 12；已匹配支付笔数 12；…"""
    parts = []
    # in the table's order (a jsonb column keeps its own), keys it does not know after them
    order = {key: i for i, key in enumerate(TABLES["run_stat"])}
    for key, value in sorted(stats.items(), key=lambda kv: order.get(kv[0], len(order))):
        label = name("run_stat", key)
        if value is None or value in ([], {}):
            continue
        if key == "auto_match_ratio" and isinstance(value, int | float):
            parts.append(f"{label} {percent(Decimal(str(value)))}")
        elif isinstance(value, dict):
            # counts by discrepancy type, or a source's own counts ({"matched": 3, "total": 4})
            label = STATIC_NAMES.source(key) if key not in TABLES["run_stat"] else label
            each = "、".join(f"{_stat_part(k)} {_stat_value(v)}" for k, v in value.items())
            parts.append(f"{label}：{each}")
        elif isinstance(value, list):
            # "wechatpay: ConnectionError(...)": the source is named, the exception is for logs
            sources = (STATIC_NAMES.source(str(v).split(":", 1)[0]) for v in value)
            parts.append(f"{label}：{'、'.join(sources)}")
        else:
            parts.append(f"{label} {value}")
    return "；".join(parts)


def _stat_part(key: str) -> str:
    for kind in ("run_stat", "discrepancy_type"):
        if key in TABLES[kind]:
            return TABLES[kind][key]
    return STATIC_NAMES.source(key)


def _stat_value(value: object) -> str:
    if isinstance(value, dict):
        return "（" + "、".join(f"{_stat_part(k)} {v}" for k, v in value.items()) + "）"
    return str(value)


def run_error(run: Run) -> str:
    # the exception text is English and for the logs; staff learn that it failed and where
    return f"对账运行出错，请系统管理员查看第 {run.id} 次运行的日志" if run.error else ""


def result(difference_fen: int) -> str:
    return "一致" if difference_fen == 0 else f"差额 {format_yuan(difference_fen)}"


def _summed(caption: str, columns: tuple[Column, ...], rows: list[tuple[Cell, ...]]) -> Table:
    """A table with its 合计 row: counts and amounts summed, other columns left empty."""
    total: list[Cell] = ["合计"]
    for i, col in enumerate(columns[1:], start=1):
        numeric = col.kind in ("int", "fen")
        total.append(sum(int(r[i] or 0) for r in rows) if numeric else "")
    return Table(caption, columns, rows, tuple(total))


def _channels(report: DailyReport, names: Names) -> Table:
    paid = {c.key: c for c in report.by_channel}
    back = {c.key: c for c in report.refunds_by_channel}
    rows: list[tuple[Cell, ...]] = []
    for key in sorted(paid.keys() | back.keys()):
        p, b = paid.get(key), back.get(key)
        p_fen, b_fen = (p.amount_fen if p else 0), (b.amount_fen if b else 0)
        rows.append(
            (names.of("channel", key), p.count if p else 0, p_fen, b.count if b else 0, b_fen,
             p_fen - b_fen)
        )  # fmt: skip
    columns = cols("支付渠道", "收款笔数:int", "收款金额（元）:fen", "退款笔数:int",
                   "退款金额（元）:fen", "净额（元）:fen")  # fmt: skip
    return _summed("按支付渠道", columns, rows)


def _recon(report: DailyReport, names: Names) -> Table:
    run = report.recon.latest
    rows: list[tuple[Cell, ...]] = [("对账运行", f"#{run.id}" if run else "当日尚未运行对账")]
    if run is not None:
        rows += [
            ("运行状态", name("run_state", run.state)),
            ("开始时间", beijing(run.started_at)),
            ("结束时间", beijing(run.finished_at) or "—"),
            ("发起人", names.actor(run.started_by)),
            ("自动匹配率", percent(auto_match_ratio(run.stats))),
        ]
        rows += [("出错原因", run_error(run))] if run.error else []
    rows.append(("未结差异（笔）", str(report.recon.open_total)))
    return Table("对账状态", cols("项目", "内容"), rows)


def _settlement(report: DailyReport) -> Table:
    s = report.settlement
    booked = sum(x.count for x in s.instructions if x.key == "BOOKED")
    rows: list[tuple[Cell, ...]] = [
        ("清分批次", len(s.batches), s.total_fen),
        *(
            (f"指令：{name('instruction_state', x.key)}", x.count, x.amount_fen)
            for x in s.instructions
        ),
        ("已付出（银行已入账）", booked, s.paid_out_fen),
    ]
    return Table("清分结算", cols("项目", "笔数:int", "金额（元）:fen"), rows)


def _open_caption(report: DailyReport) -> str:
    shown, total = len(report.recon.open), report.recon.open_total
    return f"未结差异（共 {total} 笔{f'，列出前 {shown} 笔' if shown < total else ''}）"


def _day_state(s: ShiftSum) -> str:
    if not s.day_closed:
        return "未轧账"
    diff = s.day_difference_fen or 0
    return "已轧账" if diff == 0 else f"已轧账，差额 {format_yuan(diff)}"


def _shift_split(report: DailyReport, names: Names) -> Table:
    """日结 by office, each kind's offices followed by the kind's 小计, then the 合计."""
    split = report.shifts

    def nums(s: ShiftSum) -> tuple[Cell, ...]:
        return (s.shifts, s.received_count, s.received_fen, s.refunds_count, s.refunds_fen)

    rows: list[tuple[Cell, ...]] = []
    for kind in split.by_kind:
        kind_zh = names.of("office_kind", kind.kind)
        for o in (x for x in split.offices if x.kind == kind.kind):
            rows.append((kind_zh, names.office(o.key), *nums(o), _day_state(o)))
        rows.append((kind_zh, f"小计（{kind_zh}）", *nums(kind), ""))
    total = ("合计", "", *nums(split.total), "") if split.total is not None else None
    columns = cols("类型", "大厅（网点）", "交班次数:int", "收款笔数:int", "收款金额（元）:fen",
                   "退款申请笔数:int", "退款申请金额（元）:fen", "轧账")  # fmt: skip
    return Table("日结（当日已交班）：按网点类型、大厅（网点）", columns, rows, total)


def _ratings(report: DailyReport, names: Names) -> Table:
    columns = cols("大厅", "窗口", "工作人员", *(f"{g}:int" for g in GRADES.values()),
                   "评价总数:int", "差评:int")  # fmt: skip
    rows: list[tuple[Cell, ...]] = [
        (names.office(c.office), names.window_of(c.office, c.window), c.clerk, c.very_satisfied,
         c.satisfied, c.basically_satisfied, c.dissatisfied, c.very_dissatisfied, c.total, c.bad)
        for c in report.ratings
    ]  # fmt: skip
    return _summed("服务评价（好差评）按窗口、工作人员", columns, rows)


def _bad_ratings(report: DailyReport, names: Names) -> Table:
    columns = cols("缴费单号:ref", "大厅", "窗口", "工作人员", "评价", "原因", "评价时间")
    rows: list[tuple[Cell, ...]] = [
        (
            b.order_no,
            names.office(b.office),
            names.window_of(b.office, b.window),
            b.clerk,
            b.grade_zh,
            b.reason or "",
            beijing(b.rated_at),
        )
        for b in report.bad_ratings
    ]
    return Table("差评明细（待回访核实）", columns, rows)


def tables(report: DailyReport, runs: list[Run], names: Names = STATIC_NAMES) -> dict[str, Table]:
    """Every table of the report, by a short name (SHEETS says where each one goes). Codes are
    shown by their ``names`` (``clearing.service.names.load``): no code column anywhere."""
    r, t, of = report, Table, names.of
    # fmt: off
    return {
        "summary": t("收款汇总", cols("项目", "笔数:int", "金额（元）:fen"), [
            ("收款（已清分）", r.received.count, r.received.amount_fen),
            ("退款（已退回）", r.refunded.count, r.refunded.amount_fen),
            ("净收款", None, r.net_fen),
            ("挂账（未清分，待退回）", r.suspense.count, r.suspense.amount_fen)]),
        "checks": t("合计核对（各分项合计与当日收款）",
            cols("核对口径", "分项合计（元）:fen", "当日收款（元）:fen", "差额（元）:fen", "结果"),
            [(c.dimension, c.total_fen, c.expected_fen, c.difference_fen,
              result(c.difference_fen)) for c in r.checks]),
        "items": _summed("按收费项目", cols("收费项目", "明细笔数:int", "金额（元）:fen"),
            [(x.name, x.count, x.amount_fen) for x in r.by_item]),
        "beneficiaries": _summed("按收款单位", cols("收款单位", "明细笔数:int", "金额（元）:fen"),
            [(x.name, x.count, x.amount_fen) for x in r.by_beneficiary]),
        "channels": _channels(r, names),
        "offices": _summed("按大厅（网点）",
            cols("大厅（网点）", "类型", "缴费单数:int", "金额（元）:fen"),
            [(of("office", x.key), of("office_kind", r.office_kinds.get(x.key, "hall")),
              x.count, x.amount_fen) for x in r.by_office]),
        "office_kinds": _summed("按网点类型（登记大厅、银行网点等）",
            cols("类型", "缴费单数:int", "金额（元）:fen"),
            [(x.name, x.count, x.amount_fen) for x in r.by_office_kind]),
        "shift_split": _shift_split(r, names),
        "windows": _summed("按窗口", cols("大厅", "窗口", "缴费单数:int", "金额（元）:fen"),
            [(of("office", x.key), names.window_of(x.key, x.name), x.count, x.amount_fen)
             for x in r.by_window]),
        "recon": _recon(r, names),
        "ratings": _ratings(r, names),
        "bad_ratings": _bad_ratings(r, names),
        "settlement": _settlement(r),
        "batches": t("清分批次",
            cols("批次号:ref", "银行", "状态", "截止时间", "指令数:int", "明细笔数:int",
                 "金额（元）:fen"),
            [(b.msg_id, of("bank", b.bank), name("batch_state", b.state), beijing(b.cutoff_at),
              b.instruction_count, b.line_count, b.total_fen) for b in r.settlement.batches]),
        "balances": t("账户余额（日终）", cols("科目名称", "方向", "余额（元）:fen"),
            [(b.name, direction(b.balance_fen), abs(b.balance_fen)) for b in r.balances]),
        "discrepancy_counts": t("差异统计（按类型、状态）", cols("差异类型", "状态", "笔数:int"),
            [(name("discrepancy_type", c.type), name("discrepancy_state", c.state), c.count)
             for c in r.recon.counts]),
        "open": t(_open_caption(r),
            cols("编号:int", "类型", "状态", "来源", "对方单号:ref", "我方单号:ref",
                 "我方金额（元）:fen", "对方金额（元）:fen", "发现时间"),
            [(d.id, name("discrepancy_type", d.type), name("discrepancy_state", d.state),
              names.source(d.source), d.reference, d.our_ref, d.amount_fen, d.their_amount_fen,
              beijing(d.created_at)) for d in r.recon.open]),
        "runs": t("运行记录",
            cols("编号:int", "状态", "发起人", "开始时间", "结束时间", "用时（秒）:int", "统计",
                 "出错原因"),
            [(x.id, name("run_state", x.state), names.actor(x.started_by), beijing(x.started_at),
              beijing(x.finished_at), x.duration_s, stats_text(x.stats), run_error(x))
             for x in runs]),
    }
    # fmt: on


# sheet name → its tables; a sheet of one table has its header frozen, one of several a title
SHEETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("汇总", ("summary", "checks", "recon", "settlement", "batches", "balances")),
    ("按收费项目", ("items",)),
    ("按收款单位", ("beneficiaries",)),
    ("按渠道", ("channels",)),
    ("按大厅窗口", ("office_kinds", "offices", "windows", "shift_split")),
    ("对账差异", ("discrepancy_counts", "open")),
    ("运行记录", ("runs",)),
    ("服务评价", ("ratings", "bad_ratings")),
)


def display_width(text: str) -> int:
    """Columns a text takes in a spreadsheet: a CJK or full-width character takes two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _shown(value: Cell, kind: Kind) -> str:
    if value is None:
        return ""
    if kind == "fen":
        return f"{yuan(int(value)):,.2f}"
    return f"{value:,}" if kind == "int" and isinstance(value, int) else str(value)


def _defused(text: str) -> str:
    # a leading = + - @ makes Excel (and LibreOffice) evaluate the cell as a formula
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


_BOLD = Font(bold=True)
_HEAD_FILL = PatternFill("solid", fgColor="E8EDF3")
_HEAD_BORDER = Border(bottom=Side(style="thin", color="8899AA"))


def _write_table(ws: Worksheet, t: Table, at: int, widths: dict[int, int], caption: bool) -> int:
    """Write ``t`` from row ``at``; returns the first row after it."""
    if caption:
        ws.cell(row=at, column=1, value=t.caption).font = _BOLD
        at += 1
    for i, col in enumerate(t.columns, start=1):
        head = ws.cell(row=at, column=i, value=col.title)
        head.font, head.fill, head.border = _BOLD, _HEAD_FILL, _HEAD_BORDER
        head.alignment = Alignment(horizontal="center")
        widths[i] = max(widths.get(i, 0), display_width(col.title))
    for n, row in enumerate([*t.rows, *([t.total] if t.total else [])], start=at + 1):
        for i, (col, value) in enumerate(zip(t.columns, row, strict=True), start=1):
            cell = ws.cell(row=n, column=i)
            assert isinstance(cell, XlCell)  # a fresh sheet has no merged cells
            if value is None:
                continue
            if col.kind == "fen":
                cell.value, cell.number_format = yuan(int(value)), YUAN_FORMAT
            elif col.kind == "int" and isinstance(value, int):
                cell.value, cell.number_format = value, COUNT_FORMAT
            else:
                # typed as a string after assignment: openpyxl reads a leading = as a formula
                cell.value, cell.data_type, cell.number_format = str(value), "s", "@"
            if t.total is not None and row is t.total:
                cell.font = _BOLD
            widths[i] = max(widths.get(i, 0), display_width(_shown(value, col.kind)))
    return at + 1 + len(t.rows) + (1 if t.total else 0)


def to_xlsx(
    report: DailyReport, runs: list[Run], generated_at: datetime, names: Names = STATIC_NAMES
) -> bytes:
    """The workbook: one sheet per entry of SHEETS, amounts as numbers in yuan."""
    by_name = tables(report, runs, names)
    wb = Workbook()
    wb.remove(wb.worksheets[0])  # the default empty sheet
    for title, sheet in SHEETS:
        ws = wb.create_sheet(title)
        widths: dict[int, int] = {}
        at = 1
        if len(sheet) > 1:
            heading = f"{TITLE}　{report.day.isoformat()}　生成时间 {beijing(generated_at)}"
            ws.cell(row=1, column=1, value=heading).font = Font(bold=True, size=13)
            at = 3
        for table in sheet:
            at = _write_table(ws, by_name[table], at, widths, caption=len(sheet) > 1) + 1
        ws.freeze_panes = "A2"
        for i, width in widths.items():
            ws.column_dimensions[get_column_letter(i)].width = min(width + 2, 60)
    wb.properties.title = f"{TITLE} {report.day.isoformat()}"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _csv_cells(t: Table, row: Iterable[Cell]) -> list[str]:
    out = []
    for col, value in zip(t.columns, row, strict=True):
        if value is None:
            out.append("")
        elif col.kind == "fen":
            out.append(yuan_str(int(value)))
        elif col.kind == "ref":
            # a leading tab keeps Excel from turning long numbers into 4.2E+27 (as bills.py)
            out.append("\t" + _defused(str(value)))
        else:
            out.append(_defused(str(value)))
    return out


def to_csv(
    report: DailyReport, runs: list[Run], generated_at: datetime, names: Names = STATIC_NAMES
) -> str:
    """Every table one after another (caption, header, rows, total, a blank line), as Excel
    reads CSV: UTF-8 with a byte-order mark, CRLF line ends."""
    out = io.StringIO()
    out.write("\ufeff")  # Excel reads UTF-8 only with the BOM
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow([TITLE, report.day.isoformat(), "生成时间", beijing(generated_at)])
    w.writerow([])
    by_name = tables(report, runs, names)
    for _, sheet in SHEETS:
        for t in (by_name[n] for n in sheet):
            w.writerow([t.caption])
            w.writerow([c.title for c in t.columns])
            w.writerows(_csv_cells(t, row) for row in t.rows)
            if t.total:
                w.writerow(_csv_cells(t, t.total))
            w.writerow([])
    return out.getvalue()


def content_disposition(day: date, ext: str) -> str:
    """An attachment named 对账日报_YYYY-MM-DD.ext, with an ASCII name for older clients."""
    name = f"对账日报_{day.isoformat()}.{ext}"
    return (
        f'attachment; filename="recon-daily-report_{day.isoformat()}.{ext}";'
        f" filename*=UTF-8''{quote(name)}"
    )
