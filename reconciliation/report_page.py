"""The printable daily report (税费通缴对账日报): HTML rendered on the server from the same tables
as the XLSX and CSV, with the 30-day trend drawn as inline SVG. No script draws anything: the
page prints as served, and every value goes through escape().

The chart's geometry is integer arithmetic on tenths of a pixel, so amounts in fen are never
turned into floats, not even to draw a bar.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from html import escape

from clearing.api.receipt import page_head
from clearing.domain.display import STATIC_NAMES, Names, name
from clearing.domain.money import format_yuan
from reconciliation.report_export import TITLE, Cell, Table, beijing, percent, tables
from reconciliation.reports import DailyReport, Run, TrendDay

# the head is the printed papers' common one (receipt.page_head); this is the report's top
_TOP = """<body>
<nav class="toolbar no-print" aria-label="操作">
  <button type="button" id="print-receipt" class="primary">打印</button>
  <a href="{xlsx}" download>下载 Excel</a>
  <a href="{csv}" download>下载 CSV</a>
  <a href="{prev}">前一日</a><a href="{next}">后一日</a>
  <form method="get" action="/reports/daily">
    <label>业务日期 <input type="date" name="date" value="{day}" required></label>
    <button type="submit">查看</button>
  </form>
  <a href="/finance">返回财务页面</a>
</nav>
<main class="report">
<header>
  <h1>{heading}</h1>
  <p class="meta"><span>业务日期：<b>{day}</b>（北京时间）</span>
    <span>生成时间：{generated}</span></p>
</header>
"""
# one line in HTML: a line break between two Chinese sentences would show as a space
_NOTES = (
    '<p class="notes">口径：收款为当日（北京时间 0–24 时）已清分入账的支付；'
    "退款为当日退回成功的退款；按收费项目、收款单位、网点类型、大厅（网点）和窗口的金额为当日缴费的缴费单明细之和；"
    "余额为当日日终账面余额；日结为当日已交班的班次合计（按交班时间）。各分项合计须与当日收款一致，否则在“合计核对”中列出差额。"
    "服务评价为缴款人当日在客显屏上的“好差评”，差评须专人回访核实。</p>\n"
)
# (section heading, table names) in the order the page prints them
SECTIONS = (
    ("一、收款汇总与合计核对", ("summary", "checks")),
    ("二、按收费项目", ("items",)),
    ("三、按收款单位", ("beneficiaries",)),
    ("四、按支付渠道", ("channels",)),
    ("五、按网点类型、大厅（网点）、窗口", ("office_kinds", "offices", "windows", "shift_split")),
    ("六、清分结算", ("settlement", "batches")),
    ("七、对账情况", ("recon", "discrepancy_counts", "open", "runs")),
    ("八、账户余额", ("balances",)),
    ("九、服务评价（好差评）", ("ratings", "bad_ratings")),
)


def _cell(value: Cell, kind: str, tag: str = "td") -> str:
    if value is None or value == "":
        return f"<{tag}></{tag}>"
    if kind == "fen":
        return f'<{tag} class="num">{escape(format_yuan(int(value)))}</{tag}>'
    if kind == "int" and isinstance(value, int):
        return f'<{tag} class="num">{value:,}</{tag}>'
    css = ' class="mono"' if kind == "ref" else ""
    return f"<{tag}{css}>{escape(str(value))}</{tag}>"


def table_html(
    t: Table, row_class: Callable[[tuple[Cell, ...]], str] | None = None, caption: bool = True
) -> str:
    """One table, amounts as ¥1,234.56; an empty table says so. Without ``caption`` the
    section's heading names it."""
    head = "".join(f'<th scope="col">{escape(c.title)}</th>' for c in t.columns)
    body = []
    for row in t.rows:
        css = row_class(row) if row_class else ""
        cells = "".join(_cell(v, c.kind) for c, v in zip(t.columns, row, strict=True))
        body.append(f'<tr class="{css}">{cells}</tr>' if css else f"<tr>{cells}</tr>")
    if not body:
        body.append(f'<tr><td class="empty" colspan="{len(t.columns)}">无</td></tr>')
    foot = ""
    if t.total is not None and t.rows:
        cells = "".join(_cell(v, c.kind, "th") for c, v in zip(t.columns, t.total, strict=True))
        foot = f"<tfoot><tr>{cells}</tr></tfoot>"
    title = f"<caption>{escape(t.caption)}</caption>" if caption else ""
    return (
        f"<table>{title}<thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody>{foot}</table>\n"
    )


def _check_row(row: tuple[Cell, ...]) -> str:
    # the difference column: a split that does not add up to the day is marked for the eye
    return "bad" if row[3] else "ok"


# --- the trend chart -----------------------------------------------------------------------

W, H = 720, 300
LEFT, RIGHT, TOP, BOTTOM = 84, 60, 34, 52
PLOT_W, PLOT_H = W - LEFT - RIGHT, H - TOP - BOTTOM
BAR_FILL, LINE_STROKE, GRID = "#4a78b5", "#c0392b", "#d9dee5"


def nice_step(top: int, ticks: int = 4) -> int:
    """The smallest 1, 2 or 5 × 10^k at least top / ticks (at least 1)."""
    raw = max(1, -(-top // ticks))
    magnitude = 10 ** (len(str(raw)) - 1)
    step: int = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return step


def axis(top: int) -> tuple[int, int]:
    """(step, axis maximum) for values up to ``top``: a few round ticks, never a zero range."""
    step = nice_step(top)
    return step, step * max(1, -(-top // step))


def _px(tenths: int) -> str:
    return f"{tenths // 10}.{tenths % 10}"


def _text(x: int, y: int, text: str, anchor: str = "middle", rotate: int = 0) -> str:
    turn = f' transform="rotate({rotate} {_px(x)} {_px(y)})"' if rotate else ""
    return (
        f'<text x="{_px(x)}" y="{_px(y)}" text-anchor="{anchor}" font-size="11"{turn}>'
        f"{escape(text)}</text>"
    )


def _hline(x1: int, x2: int, y: int, stroke: str, width: int = 1) -> str:
    return (
        f'<line x1="{_px(x1)}" y1="{_px(y)}" x2="{_px(x2)}" y2="{_px(y)}" stroke="{stroke}" '
        f'stroke-width="{width}"/>'
    )


def trend_svg(days: list[TrendDay]) -> str:
    """Bars: money received per day (left axis, yuan); line: open discrepancies at the end of
    the day's reconciliation (right axis), broken where a day had no run. Coordinates are in
    tenths of a pixel until printed."""
    n = max(len(days), 1)
    # whole-yuan ticks, labelled in 万元 once a step reaches ten thousand yuan
    step_yuan, top_yuan = axis(-(-max((d.received_fen for d in days), default=0) // 100))
    step_fen, top_fen, wan = step_yuan * 100, top_yuan * 100, step_yuan >= 10_000
    step_open, top_open = axis(max((d.open_discrepancies or 0 for d in days), default=0))
    x0, y0, pw, ph = LEFT * 10, (TOP + PLOT_H) * 10, PLOT_W * 10, PLOT_H * 10
    slot, mid = pw // n, y0 - ph // 2
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" '
        f'height="{H}" role="img" aria-labelledby="trend-title trend-desc" class="trend">',
        f'<title id="trend-title">近 {len(days)} 日收款金额与未结差异</title>',
        '<desc id="trend-desc">柱形为每日收款金额，折线为当日对账结束时的未结差异笔数。</desc>',
    ]
    for fen in range(0, top_fen + 1, step_fen):
        y = y0 - ph * fen // top_fen
        label = f"{fen // 100 // 10_000:,}" if wan else f"{fen // 100:,}"
        out += [_hline(x0, x0 + pw, y, GRID), _text(x0 - 60, y + 35, label, "end")]
    for count in range(0, top_open + 1, step_open):
        out.append(_text(x0 + pw + 60, y0 - ph * count // top_open + 35, str(count), "start"))
    every = -(-n // 8)  # at most eight date labels
    lines: list[list[str]] = [[]]
    for i, d in enumerate(days):
        cx, h = x0 + slot * i + slot // 2, ph * d.received_fen // top_fen
        tip = f"{d.day.isoformat()} 收款 {format_yuan(d.received_fen)}（{d.received_count} 笔）"
        out.append(
            f'<rect x="{_px(cx - slot * 3 // 10)}" y="{_px(y0 - h)}" width="{_px(slot * 6 // 10)}"'
            f' height="{_px(h)}" fill="{BAR_FILL}"><title>{escape(tip)}</title></rect>'
        )
        if d.open_discrepancies is None:
            lines.append([])
        else:
            y = y0 - ph * d.open_discrepancies // top_open
            lines[-1].append(f"{_px(cx)},{_px(y)}")
            tip = f"{d.day.isoformat()} 未结差异 {d.open_discrepancies} 笔"
            out.append(
                f'<circle cx="{_px(cx)}" cy="{_px(y)}" r="2.5" fill="{LINE_STROKE}">'
                f"<title>{escape(tip)}</title></circle>"
            )
        if (n - 1 - i) % every == 0:  # counted back from the last day, which always has one
            out.append(_text(cx, y0 + 160, d.day.strftime("%m-%d")))
    out += [
        f'<polyline points="{" ".join(p)}" fill="none" stroke="{LINE_STROKE}" stroke-width="2"/>'
        for p in lines
        if len(p) > 1
    ]
    out += [
        _hline(x0, x0 + pw, y0, "#333"),
        _text(x0 - 700, mid, "收款金额（万元）" if wan else "收款金额（元）", rotate=-90),
        _text(x0 + pw + 480, mid, "未结差异（笔）", rotate=90),
        _text(x0 + pw // 2, y0 + 400, "业务日期"),
        # the legend, above the plot
        f'<rect x="{_px(x0)}" y="9.0" width="12" height="10" fill="{BAR_FILL}"/>',
        _text(x0 + 160, 185, "收款金额", "start"),
        _hline(x0 + 1100, x0 + 1240, 140, LINE_STROKE, 2),
        _text(x0 + 1300, 185, "未结差异", "start"),
        "</svg>",
    ]
    return "\n".join(out)


def _trend_table(days: list[TrendDay]) -> str:
    rows = "".join(
        f'<tr><td>{d.day.isoformat()}</td><td class="num">{d.received_count:,}</td>'
        f'<td class="num">{escape(format_yuan(d.received_fen))}</td>'
        f"<td>{escape(name('run_state', d.run_state) or '未运行')}</td>"
        f'<td class="num">{"" if d.open_discrepancies is None else d.open_discrepancies}</td>'
        f'<td class="num">{escape(percent(d.auto_match_ratio))}</td></tr>'
        for d in days
    )
    return (
        '<table class="trend-table"><caption>逐日明细</caption><thead><tr>'
        '<th scope="col">业务日期</th><th scope="col">收款笔数</th><th scope="col">收款金额</th>'
        '<th scope="col">对账</th><th scope="col">未结差异</th><th scope="col">自动匹配率</th>'
        f"</tr></thead><tbody>{rows}</tbody></table>\n"
    )


def _link(path: str, day: date) -> str:
    return escape(f"{path}?date={day.isoformat()}")


def render(
    report: DailyReport,
    runs: list[Run],
    trend: list[TrendDay],
    *,
    generated_at: datetime,
    names: Names = STATIC_NAMES,
) -> str:
    """The whole page for ``report.day``, every code shown by its name from ``names``."""
    day = report.day
    parts = [
        page_head(f"{TITLE} {day.isoformat()}", "report.css"),
        _TOP.format(
            heading=escape(TITLE),
            day=escape(day.isoformat()),
            generated=escape(beijing(generated_at)),
            xlsx=_link("/reports/daily.xlsx", day),
            csv=_link("/reports/daily.csv", day),
            prev=_link("/reports/daily", day - timedelta(days=1)),
            next=_link("/reports/daily", day + timedelta(days=1)),
        ),
        _NOTES,
    ]
    by_name = tables(report, runs, names)
    for heading, section in SECTIONS:
        parts.append(f"<section><h2>{escape(heading)}</h2>\n")
        for table in section:
            mark = _check_row if table == "checks" else None
            parts.append(table_html(by_name[table], mark, caption=len(section) > 1))
        parts.append("</section>\n")
    parts += [
        f'<section class="trend-section"><h2>十、近 {len(trend)} 日趋势</h2>\n',
        f'<figure class="chart">{trend_svg(trend)}</figure>\n',
        _trend_table(trend),
        "</section>\n</main>\n</body>\n</html>\n",
    ]
    return "".join(parts)
