"""The printable 日结单 of a closed shift: A4, totals by channel with their 大写, signature lines
for 经办人 and 复核人. Rendered on the server from the frozen shift, every value escaped."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from html import escape
from typing import Any

from clearing.domain.money import capital_amount, format_yuan
from clearing.service.search import CHANNEL_ZH

BEIJING = timezone(timedelta(hours=8))

_HEAD = """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/window/static/shift-sheet.css">
<script src="/window/static/receipt.js" defer></script>
</head>
<body>
"""


def _time(iso: str | None) -> str:
    if not iso:
        return "—"
    return datetime.fromisoformat(iso).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def _row(label: str, count: int, fen: int) -> str:
    return (
        f"<tr><th scope='row'>{escape(label)}</th><td class='num'>{count}</td>"
        f"<td class='num'>{escape(format_yuan(fen))}</td>"
        f"<td class='capital'>{escape(capital_amount(fen))}</td></tr>"
    )


def render(shift: dict[str, Any], *, printed_at: datetime) -> str:
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
        _HEAD.format(title=escape(title))
        + f"""<div class="toolbar no-print">
<button type="button" id="print-receipt" class="primary">打印日结单</button>
<a href="/shifts">返回日结交班</a></div>
<article class="sheet">
<header><h1>窗口收费日结单</h1>
<div class="meta"><span>班次编号 <b>{shift["id"]}</b></span>
<span>大厅 <b>{escape(shift["office"])}</b> 窗口 <b>{escape(shift["window"])}</b></span>
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
<footer>打印时间 {escape(printed_at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S"))}</footer>
</article>
</body></html>
"""
    )
