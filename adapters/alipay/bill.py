"""Read Alipay's daily trade bill (ZIP of GBK CSV files) into ``clearing.ports.BillRecord``s.

Strict where it matters for reconciliation: the frame lines, the exact header, 25 cells a row,
every amount read exactly, the detail totals lines and the summary file checked against the
detail rows. Anything else is a ``BillFormatError`` that names the file and the line.

Normalized records: ``amount_fen`` is always positive (``kind`` says which way the money went);
``fee_millifen`` is what Alipay keeps, positive when charged on a payment and negative when a
refund gives part of it back (the file writes the opposite sign: a deduction is negative there).
A refund row without a request number is a reversal (``alipay.trade.cancel`` refunds with none).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime

from adapters.alipay import bill_format as fmt
from adapters.alipay.bill_lines import BillFormatError, LineReader
from adapters.alipay.bill_summary import SummaryTotals, parse_summary
from adapters.alipay.crypto import BEIJING, TIME_FORMAT
from clearing import bounds
from clearing.ports import BillRecord

__all__ = ["BillFormatError", "Detail", "DetailTotals", "parse_bill_zip", "parse_detail"]

PROVIDER = "alipay"
MAX_ENTRY_BYTES = 64 * 1024 * 1024


@dataclass
class DetailTotals:
    """Sums over the detail rows, signed as in the file, for the cross-checks."""

    trade_count: int = 0
    refund_count: int = 0
    trade_received_fen: int = 0
    refund_received_fen: int = 0
    trade_merchant_discount_fen: int = 0
    refund_merchant_discount_fen: int = 0
    columns_fen: dict[str, int] = field(default_factory=dict)
    fee_millifen: int = 0
    share_millifen: int = 0


@dataclass
class Detail:
    account: str
    start: datetime
    end: datetime
    records: list[BillRecord]
    totals: DetailTotals


def parse_bill_zip(data: bytes, *, day: date, seller_id: str | None = None) -> list[BillRecord]:
    """The records of the ZIP ``bill_download_url`` served, checked against its summary."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data), metadata_encoding="gbk")
    except zipfile.BadZipFile:
        raise BillFormatError("bill.zip", None, "not a ZIP archive") from None
    with archive:
        names = [i.filename for i in archive.infolist() if not i.is_dir()]
        detail_name = _one(names, fmt.DETAIL_SUFFIX, day)
        summary_name = _one(names, fmt.SUMMARY_SUFFIX, day)
        detail_text = _read_text(archive, detail_name)
        summary_text = _read_text(archive, summary_name)
    detail = parse_detail(detail_text, file=detail_name, day=day, seller_id=seller_id)
    summary = parse_summary(summary_text, file=summary_name)
    if summary.account != detail.account:
        raise BillFormatError(summary_name, 2, "account differs from the detail file")
    if summary.start != detail.start:
        raise BillFormatError(summary_name, 3, "date range differs from the detail file")
    _cross_check(detail.totals, summary, summary_name)
    return detail.records


def _one(names: list[str], suffix: str, day: date) -> str:
    # the summary's name also ends in 业务明细…csv, so match the whole suffix
    found = [n for n in names if n.rsplit("/", 1)[-1].endswith(suffix)]
    if len(found) != 1:
        raise BillFormatError("bill.zip", None, f"expected one *{suffix}, found {len(found)}")
    stem = found[0].rsplit("/", 1)[-1][: -len(suffix)]
    if not stem.endswith("_" + day.strftime("%Y%m%d")):
        raise BillFormatError(found[0], None, f"file is not the bill of {day.isoformat()}")
    return found[0]


def _read_text(archive: zipfile.ZipFile, name: str) -> str:
    info = archive.getinfo(name)
    if info.file_size > MAX_ENTRY_BYTES:
        raise BillFormatError(name, None, "file is larger than any day's bill should be")
    try:
        raw = bounds.read_member(archive, name, limit=MAX_ENTRY_BYTES)
    except bounds.TooLarge as exc:
        raise BillFormatError(name, None, str(exc)) from None
    try:
        return raw.decode("gbk")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise BillFormatError(name, line, "not GBK text") from None


def parse_detail(
    text: str, *, file: str, day: date | None = None, seller_id: str | None = None
) -> Detail:
    """Read ``…_业务明细.csv``; checks its frame, its rows and its own totals lines."""
    reader = LineReader(text, file)
    reader.expect(fmt.DETAIL_TITLE, "title")
    account = reader.account(seller_id)
    start, end = reader.date_range(day)
    reader.expect_re(fmt.DETAIL_BEGIN_RE, "detail begin marker")
    reader.header(fmt.DETAIL_COLUMNS)
    records: list[BillRecord] = []
    totals = DetailTotals(columns_fen=dict.fromkeys(fmt.DETAIL_YUAN_COLUMNS, 0))
    seen: set[tuple[str, str, str | None]] = set()
    for number, line in reader.rows(fmt.DETAIL_END_RE, "detail rows end marker", "detail"):
        row = reader.cells(number, line, fmt.DETAIL_COLUMNS)
        try:
            record = _record(row, totals, start, end)
        except ValueError as exc:
            raise reader.error(number, str(exc)) from None
        # one payment row per trade, one refund row per request: a repeat would count twice
        key = (record.provider_txn_id, record.kind, record.out_refund_no)
        if key in seen and record.kind != "REVERSAL":
            raise reader.error(number, "the same payment or refund appears twice")
        seen.add(key)
        records.append(record)
    _check_totals(reader, totals)
    reader.closing()
    return Detail(account=account, start=start, end=end, records=records, totals=totals)


def _record(
    row: dict[str, str], totals: DetailTotals, start: datetime, end: datetime
) -> BillRecord:
    kind_word = row["业务类型"]
    if kind_word not in (fmt.KIND_TRADE, fmt.KIND_REFUND):
        raise ValueError(f"业务类型 {kind_word!r} is neither 交易 nor 退款")
    if not row["支付宝交易号"] or not row["商户订单号"]:
        raise ValueError("支付宝交易号 or 商户订单号 is empty")
    amounts = {name: _fen(row[name], name) for name in fmt.DETAIL_YUAN_COLUMNS}
    fee = _millifen(row["服务费（元）"], "服务费（元）")
    share = _millifen(row["分润（元）"], "分润（元）")
    finished = _time(row["完成时间"], "完成时间")
    _time(row["创建时间"], "创建时间")
    if not start <= finished < end:
        raise ValueError("完成时间 is outside the bill's date range")
    order_fen, received_fen = amounts["订单金额（元）"], amounts["商家实收（元）"]
    request_no = row["退款批次号/请求号"]
    if kind_word == fmt.KIND_TRADE:
        if order_fen <= 0 or received_fen < 0:
            raise ValueError("a 交易 row must have a positive 订单金额")
        if request_no:
            raise ValueError("a 交易 row carries a 退款批次号/请求号")
        kind = "PAYMENT"
        totals.trade_count += 1
        totals.trade_received_fen += received_fen
        totals.trade_merchant_discount_fen += amounts["商家优惠（元）"]
    else:
        if order_fen >= 0 or received_fen > 0:
            raise ValueError("a 退款 row must have a negative 订单金额")
        kind = "REFUND" if request_no else "REVERSAL"
        totals.refund_count += 1
        totals.refund_received_fen += received_fen
        totals.refund_merchant_discount_fen += amounts["商家优惠（元）"]
    for name, value in amounts.items():
        totals.columns_fen[name] += value
    totals.fee_millifen += fee
    totals.share_millifen += share
    return BillRecord(
        provider=PROVIDER,
        kind=kind,
        occurred_at=finished,
        out_trade_no=row["商户订单号"],
        provider_txn_id=row["支付宝交易号"],
        amount_fen=abs(order_fen),
        # the file writes what the merchant gets: a charged fee is negative there
        fee_millifen=-fee,
        out_refund_no=request_no or None,
        raw=row,
    )


def _check_totals(reader: LineReader, totals: DetailTotals) -> None:
    expected = (
        ("交易合计", fmt.TRADE_TOTAL_RE, totals.trade_count, totals.trade_received_fen,
         totals.trade_merchant_discount_fen),
        ("退款合计", fmt.REFUND_TOTAL_RE, totals.refund_count, totals.refund_received_fen,
         totals.refund_merchant_discount_fen),
    )  # fmt: skip
    for label, pattern, count, received, discount in expected:
        number, match = reader.expect_re(pattern, f"{label} line")
        try:
            written = (int(match[1]), _fen(match[2], label), _fen(match[3], label))
        except ValueError as exc:
            raise reader.error(number, str(exc)) from None
        if written != (count, received, discount):
            rows = "交易" if label == "交易合计" else "退款"
            raise reader.error(number, f"{label} does not match the {rows} rows")


def _cross_check(totals: DetailTotals, summary: SummaryTotals, file: str) -> None:
    expected = {
        "交易订单总笔数": totals.trade_count,
        "退款订单总笔数": totals.refund_count,
        "订单金额（元）": totals.columns_fen["订单金额（元）"] * fmt.MILLIFEN_PER_FEN,
        "商家实收（元）": totals.columns_fen["商家实收（元）"] * fmt.MILLIFEN_PER_FEN,
        "支付宝优惠（元）": totals.columns_fen["支付宝优惠（元）"] * fmt.MILLIFEN_PER_FEN,
        "商家优惠（元）": totals.columns_fen["商家优惠（元）"] * fmt.MILLIFEN_PER_FEN,
        "卡消费金额（元）": totals.columns_fen["卡消费金额（元）"] * fmt.MILLIFEN_PER_FEN,
        "服务费（元）": totals.fee_millifen,
        "分润（元）": totals.share_millifen,
    }
    for column, value in expected.items():
        if summary.total[column] != value:
            raise BillFormatError(file, summary.total_line, f"{column} differs from the detail")


def _fen(text: str, column: str) -> int:
    try:
        return fmt.signed_fen(text)
    except ValueError:
        raise ValueError(f"{column} {text!r} is not a yuan amount") from None


def _millifen(text: str, column: str) -> int:
    try:
        return fmt.signed_millifen(text)
    except ValueError:
        raise ValueError(f"{column} {text!r} is not a yuan amount") from None


def _time(text: str, column: str) -> datetime:
    try:
        return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=BEIJING)
    except ValueError:
        raise ValueError(f"{column} {text!r} is not yyyy-MM-dd HH:mm:ss") from None
