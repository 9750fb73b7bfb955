"""The printable 日结单 of a closed shift (A4, totals by channel with their 大写, signature lines
for 经办人 and 复核人) and the office's 轧账单. Rendered on the server from what was stored at the
close, every value escaped."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from clearing.api.receipt import page_head
from clearing.domain.display import STATIC_NAMES, Names
from clearing.domain.money import capital_amount, format_yuan
from clearing.domain.times import beijing_time
from clearing.service.search import CHANNEL_ZH


def _head(title: str) -> str:
    return page_head(title, "shift-sheet.css") + "<body>\n"


def _time(iso: str | None) -> str:
    return beijing_time(iso, empty="—")


def _row(label: str, count: int, fen: int) -> str:
    return (
        f"<tr><th scope='row'>{escape(label)}</th><td class='num'>{count}</td>"
        f"<td class='num'>{escape(format_yuan(fen))}</td>"
        f"<td class='capital'>{escape(capital_amount(fen))}</td></tr>"
    )


def render(shift: dict[str, Any], *, printed_at: datetime, names: Names = STATIC_NAMES) -> str:
    """The office and window by their ``names`` (a hall's or a bank outlet's own), not codes."""
    channels = (
        "".join(
            _row(CHANNEL_ZH.get(c["channel"], "其他渠道"), c["count"], c["amount_fen"])
            for c in shift["by_channel"]
        )
        or "<tr><td colspan='4' class='center'>本班次无收款</td></tr>"
    )
    refunds = "".join(
        _row(CHANNEL_ZH.get(c["channel"], "其他渠道"), c["count"], c["amount_fen"])
        for c in shift["refunds_by_channel"]
    )
    refund_table = (
        "<h2>退款申请（按原支付渠道）</h2><table><colgroup><col class='k'><col class='n'>"
        "<col class='a'><col class='c'></colgroup><thead><tr><th>支付渠道</th><th>笔数</th>"
        f"<th>金额</th><th>大写</th></tr></thead><tbody>{refunds}</tbody></table>"
        if refunds
        else ""
    )
    title = f"日结单 {shift['window']} {_time(shift['closed_at'])[:10]}"
    return (
        _head(title)
        + f"""<div class="toolbar no-print">
<button type="button" id="print-receipt" class="primary">打印日结单</button>
<a href="/shifts">返回日结交班</a></div>
<article class="sheet">
<header><h1>窗口收费日结单</h1>
<div class="meta"><span>班次编号 <b>{shift["id"]}</b></span>
<span>大厅（网点） <b>{escape(names.office(shift["office"]))}</b>
窗口 <b>{escape(names.window_of(shift["office"], shift["window"]))}</b></span>
<span>经办人 <b>{escape(shift["clerk"])}</b></span></div>
<div class="meta"><span>接班 {escape(_time(shift["opened_at"]))}</span>
<span>交班 {escape(_time(shift["closed_at"]))}</span></div></header>
<h2>业务汇总</h2>
<table><colgroup><col class="k"><col class="n"><col class="a"><col class="c"></colgroup>
<thead><tr><th>项目</th><th>笔数</th><th>金额</th><th>大写</th></tr></thead><tbody>
{_row("开具缴费单", shift["orders_count"], shift["orders_fen"])}
{_row("撤销缴费单", shift["cancelled_count"], shift["cancelled_fen"])}
{_row("退款申请", shift["refunds_count"], shift["refunds_fen"])}
</tbody></table>
<h2>收款（按支付渠道）</h2>
<table><colgroup><col class="k"><col class="n"><col class="a"><col class="c"></colgroup>
<thead><tr><th>支付渠道</th><th>笔数</th><th>金额</th><th>大写</th></tr></thead>
<tbody>{channels}</tbody>
<tfoot>{_row("收款合计", shift["received_count"], shift["received_fen"])}</tfoot></table>
{refund_table}
<p class="note">本日结单数据于交班时封存，不随之后的业务变化；交班后的业务计入下一班次。</p>
<div class="signatures"><span>经办人（签字）：</span><span>复核人（签字）：</span>
<span>日期：</span></div>
<footer>打印时间 {escape(beijing_time(printed_at))}</footer>
</article>
</body></html>
"""
    )


def _day_row(c: dict[str, Any]) -> str:
    diff = int(c["difference_fen"])
    return (
        f"<tr><th scope='row'>{escape(CHANNEL_ZH.get(c['channel'], '其他渠道'))}</th>"
        f"<td class='num'>{c['shifts_count']}</td>"
        f"<td class='num'>{escape(format_yuan(c['shifts_fen']))}</td>"
        f"<td class='num'>{c['ledger_count']}</td>"
        f"<td class='num'>{escape(format_yuan(c['ledger_fen']))}</td>"
        f"<td class='num{' bad' if diff else ''}'>{escape(format_yuan(diff))}</td></tr>"
    )


def render_day(day: dict[str, Any], *, printed_at: datetime, names: Names = STATIC_NAMES) -> str:
    """The 轧账单 of a closed office day: both sides by channel, the difference and its note."""
    closed = day["closed"]
    rows = "".join(_day_row(c) for c in closed["by_channel"]) or (
        "<tr><td colspan='6' class='center'>当日无收款</td></tr>"
    )
    diff = int(closed["difference_fen"])
    verdict = (
        f"<p class='verdict bad'>轧账不平：差额 {escape(format_yuan(diff))}。"
        f"说明：{escape(closed['note'] or '')}</p>"
        if diff
        else "<p class='verdict'>账实相符：交班合计与账务记录一致。</p>"
    )
    return (
        _head(f"轧账单 {names.office(day['office'])} {day['date']}")
        + f"""<div class="toolbar no-print">
<button type="button" id="print-receipt" class="primary">打印轧账单</button>
<a href="/shifts">返回日结交班</a></div>
<article class="sheet">
<header><h1>大厅收费轧账单</h1>
<div class="meta"><span>大厅（网点） <b>{escape(names.office(day["office"]))}</b></span>
<span>业务日期 <b>{escape(day["date"])}</b></span>
<span>交班 <b>{closed["shifts_count"]}</b> 个班次</span></div>
<div class="meta"><span>轧账人 <b>{escape(closed["closed_by"])}</b></span>
<span>轧账时间 {escape(_time(closed["closed_at"]))}</span></div></header>
<h2>交班合计与账务核对（按支付渠道）</h2>
<table><colgroup><col class="k"><col class="n"><col class="a"><col class="n"><col class="a">
<col class="a"></colgroup>
<thead><tr><th>支付渠道</th><th>交班笔数</th><th>交班金额</th><th>账务笔数</th><th>账务金额</th>
<th>差额</th></tr></thead><tbody>{rows}</tbody></table>
<table class="totals-table"><colgroup><col class="k"><col class="a"><col class="c"></colgroup>
<tbody>
<tr><th scope="row">交班合计</th><td class="num">{escape(format_yuan(closed["shifts_fen"]))}</td>
<td class="capital">{escape(capital_amount(closed["shifts_fen"]))}</td></tr>
<tr><th scope="row">账务记录</th><td class="num">{escape(format_yuan(closed["ledger_fen"]))}</td>
<td class="capital">{escape(capital_amount(closed["ledger_fen"]))}</td></tr>
</tbody></table>
{verdict}
<p class="note">本轧账单数据于轧账时封存，不随之后的业务变化。</p>
<div class="signatures"><span>值班主任（签字）：</span><span>复核人（签字）：</span>
<span>日期：</span></div>
<footer>打印时间 {escape(beijing_time(printed_at))}</footer>
</article>
</body></html>
"""
    )
