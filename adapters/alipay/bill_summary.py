"""Read ``…_业务明细(汇总).csv``: one row per store and a 合计 row, checked against each other.

Layout (as the simulator writes it; the column list is protocols-cn.md 2.7)::

    #支付宝业务汇总查询
    #账号：[<PID>0156]
    #起始日期：[2024年05月01日 00:00:00]   终止日期：[2024年05月02日 00:00:00]
    #-----------------------------------------业务汇总列表----------------------------------------
    门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,…,实收净额（元）
    <one row per store; an empty 门店编号 for trades without one>
    合计,,<counts and sums>
    #----------------------------------------业务汇总列表结束-------------------------------------
    #导出时间：[2024年05月02日 09:12:01]

Money columns come back in thousandths of a fen (the fee columns may carry five decimals); the
net column must equal 商家实收 + 服务费 + 分润 on every row, deductions being negative.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from adapters.alipay import bill_format as fmt
from adapters.alipay.bill_lines import LineReader

COUNT_COLUMNS = ("交易订单总笔数", "退款订单总笔数")
MONEY_COLUMNS = tuple(c for c in fmt.SUMMARY_COLUMNS[2:] if c not in COUNT_COLUMNS)


@dataclass
class SummaryTotals:
    account: str
    start: datetime
    # counts as ints, money in thousandths of a fen, by column name
    total: dict[str, int] = field(default_factory=dict)
    total_line: int = 0


def parse_summary(text: str, *, file: str) -> SummaryTotals:
    """Read the summary file; ``BillFormatError`` names the line that does not add up."""
    reader = LineReader(text, file)
    reader.expect(fmt.SUMMARY_TITLE, "title")
    account = reader.account(None)
    start, _ = reader.date_range(None)
    reader.expect_re(fmt.SUMMARY_BEGIN_RE, "summary begin marker")
    reader.header(fmt.SUMMARY_COLUMNS)
    stores = dict.fromkeys(fmt.SUMMARY_COLUMNS[2:], 0)
    total: dict[str, int] | None = None
    total_line = 0
    for number, line in reader.rows(fmt.SUMMARY_END_RE, "summary end marker", "summary"):
        if total is not None:
            raise reader.error(number, "a row after the 合计 row")
        cells = reader.cells(number, line, fmt.SUMMARY_COLUMNS)
        values = _numbers(reader, number, cells)
        net = values["商家实收（元）"] + values["服务费（元）"] + values["分润（元）"]
        if values["实收净额（元）"] != net:
            raise reader.error(number, "实收净额 is not 商家实收 + 服务费 + 分润")
        if cells["门店编号"] == fmt.SUMMARY_TOTAL_LABEL:
            total, total_line = values, number
            continue
        for column, value in values.items():
            stores[column] += value
    if total is None:
        raise reader.error(reader.index, "no 合计 row")
    if total != stores:
        raise reader.error(total_line, "合计 is not the sum of the store rows")
    reader.closing()
    return SummaryTotals(account=account, start=start, total=total, total_line=total_line)


def _numbers(reader: LineReader, number: int, cells: dict[str, str]) -> dict[str, int]:
    values: dict[str, int] = {}
    for column in COUNT_COLUMNS:
        text = cells[column]
        if not text.isascii() or not text.isdigit():
            raise reader.error(number, f"{column} {text!r} is not a count")
        values[column] = int(text)
    for column in MONEY_COLUMNS:
        try:
            values[column] = fmt.signed_millifen(cells[column])
        except ValueError:
            raise reader.error(number, f"{column} {cells[column]!r} is not an amount") from None
    return values
