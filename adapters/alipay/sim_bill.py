"""The simulator's daily trade bill: written from what it actually processed, in Alipay's format
(``bill_format``), zipped with GBK names, behind a short-lived download link."""

from __future__ import annotations

import csv
import io
import time
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from aiohttp import web

from adapters.alipay import bill_format as fmt
from adapters.alipay.crypto import BEIJING, beijing_text
from adapters.alipay.sim_state import STATE, Order, SimState
from clearing.domain.money import yuan_str

DOWNLOAD_PATH = "/downloadBillFile.resource"
NEWLINE = "\r\n"
_UTF8_NAMES = 0x800


@dataclass
class _Row:
    finished: datetime
    kind: str
    order: Order
    amount_fen: int  # signed as written: refunds are negative
    fee_fen: int  # signed as written: a fee charged is negative
    request_no: str


class _GbkNamedInfo(zipfile.ZipInfo):
    """Alipay's archives carry GBK file names without the UTF-8 flag; Python would write UTF-8."""

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:  # noqa: N802 (zipfile's own name)
        return self.filename.encode("gbk"), self.flag_bits & ~_UTF8_NAMES


def bill_link(state: SimState, day: date) -> str:
    """A download URL for the bill of ``day``, shaped like Alipay's and valid for 30 s."""
    token = state.bill_links.issue(day, datetime.now(BEIJING))
    account = state.keys.seller_id + fmt.ACCOUNT_SUFFIX
    ymd = day.strftime("%Y%m%d")
    query = urlencode(
        {
            "bizType": "trade",
            "userId": account,
            "fileType": "csv.zip",
            "bizDates": ymd,
            "downloadFileName": f"{account}_{ymd}.csv.zip",
            "fileId": f"/trade/{account}/{ymd}.csv.zip",
            "timestamp": str(int(time.time() * 1000)),
            "token": token,
        }
    )
    return f"{state.public_base_url}{DOWNLOAD_PATH}?{query}"


async def download(request: web.Request) -> web.Response:
    state = request.app[STATE]
    day = state.bill_links.get(request.query.get("token", ""), datetime.now(BEIJING))
    if day is None:
        return web.Response(status=403, text="下载链接已失效", content_type="text/plain")
    return web.Response(body=bill_zip(state, day), content_type="application/zip")


def bill_zip(state: SimState, day: date) -> bytes:
    """The ZIP for ``day``: the detail file and its summary, both GBK."""
    now = datetime.now(BEIJING)
    account = state.keys.seller_id + fmt.ACCOUNT_SUFFIX
    rows = _rows(state, day)
    stem = f"{account}_{day.strftime('%Y%m%d')}"
    files = {
        stem + fmt.DETAIL_SUFFIX: detail_text(account, day, rows, now),
        stem + fmt.SUMMARY_SUFFIX: summary_text(account, day, rows, now),
    }
    return gbk_zip({name: text.encode("gbk", errors="replace") for name, text in files.items()})


def add_bill_routes(app: web.Application) -> None:
    app.router.add_get(DOWNLOAD_PATH, download)


def gbk_zip(files: dict[str, bytes]) -> bytes:
    """A ZIP whose entry names are GBK bytes, as Alipay's are."""
    now = datetime.now(BEIJING)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = _GbkNamedInfo(name, date_time=now.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def _rows(state: SimState, day: date) -> list[_Row]:
    start = datetime(day.year, day.month, day.day, tzinfo=BEIJING)
    end = start + timedelta(days=1)
    rows: list[_Row] = []
    for order in state.orders.values():
        paid = order.gmt_payment
        if paid is not None and order.paid_fen is not None and start <= paid < end:
            rows.append(_Row(paid, fmt.KIND_TRADE, order, order.paid_fen, -order.fee_fen, ""))
        for refund in order.refunds:
            if start <= refund.at < end:
                request_no = refund.out_request_no or ""
                amount, fee = -refund.refund_fen, refund.fee_back_fen
                rows.append(_Row(refund.at, fmt.KIND_REFUND, order, amount, fee, request_no))
    rows.sort(key=lambda row: row.finished)
    return rows


def _head(title: str, account: str, day: date) -> list[str]:
    start = datetime(day.year, day.month, day.day)  # noqa: DTZ001 (a wall-clock label)
    span = (
        start.strftime(fmt.RANGE_TIME_FORMAT),
        (start + timedelta(days=1)).strftime(fmt.RANGE_TIME_FORMAT),
    )
    return [title, f"#账号：[{account}]", f"#起始日期：[{span[0]}]   终止日期：[{span[1]}]"]


def _csv_line(cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(cells)
    return buffer.getvalue()


def detail_text(account: str, day: date, rows: list[_Row], now: datetime) -> str:
    """``…_业务明细.csv``: frame, header, one row per payment or refund, the totals lines."""
    lines = _head(fmt.DETAIL_TITLE, account, day)
    lines += [fmt.DETAIL_BEGIN, ",".join(fmt.DETAIL_COLUMNS)]
    for row in rows:
        order, amount = row.order, yuan_str(row.amount_fen)
        # the trailing tabs are Alipay's: they keep long numbers as text in spreadsheets
        cells = [
            f"{order.trade_no}\t",
            f"{order.out_trade_no}\t",
            f"{row.kind}\t",
            order.subject,
            beijing_text(order.gmt_create or row.finished),
            beijing_text(row.finished),
            *["\t"] * 4,
            f"{order.buyer_logon_id}\t",
            amount,
            amount,
            *["0.00"] * 5,
            "",
            "0.00\t",
            "0.00",
            f"{row.request_no}\t",
            yuan_str(row.fee_fen),
            "0.00",
            order.subject,
        ]
        lines.append(_csv_line(cells))
    trades = [r for r in rows if r.kind == fmt.KIND_TRADE]
    refunds = [r for r in rows if r.kind == fmt.KIND_REFUND]
    trade_sum = yuan_str(sum(r.amount_fen for r in trades))
    refund_sum = yuan_str(sum(r.amount_fen for r in refunds))
    lines += [
        fmt.DETAIL_END,
        f"#交易合计：{len(trades)}笔，商家实收共{trade_sum}元，商家优惠共0.00元",
        f"#退款合计：{len(refunds)}笔，商家实收退款共{refund_sum}元，商家优惠退款共0.00元",
        f"#导出时间：[{now.strftime(fmt.RANGE_TIME_FORMAT)}]",
    ]
    return NEWLINE.join(lines) + NEWLINE


def summary_text(account: str, day: date, rows: list[_Row], now: datetime) -> str:
    """``…_业务明细(汇总).csv``: one row for the trades without a store, and 合计."""
    trades = sum(1 for r in rows if r.kind == fmt.KIND_TRADE)
    amount = sum(r.amount_fen for r in rows)
    fee = sum(r.fee_fen for r in rows)
    figures = [
        str(trades),
        str(len(rows) - trades),
        yuan_str(amount),
        yuan_str(amount),
        "0.00",
        "0.00",
        "0.00",
        yuan_str(fee),
        "0.00",
        yuan_str(amount + fee),
    ]
    lines = _head(fmt.SUMMARY_TITLE, account, day)
    lines += [fmt.SUMMARY_BEGIN, ",".join(fmt.SUMMARY_COLUMNS)]
    if rows:
        lines.append(_csv_line(["", "", *figures]))
    lines.append(_csv_line([fmt.SUMMARY_TOTAL_LABEL, "", *figures]))
    lines += [fmt.SUMMARY_END, f"#导出时间：[{now.strftime(fmt.RANGE_TIME_FORMAT)}]"]
    return NEWLINE.join(lines) + NEWLINE
