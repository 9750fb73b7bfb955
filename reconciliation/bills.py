"""Acquirers' daily bills as finance staff see them: normalized records, exported as CSV that
Excel opens correctly (UTF-8 with a byte-order mark, amounts as text with two decimals so that
long transaction numbers and amounts are not reformatted)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from clearing.domain.display import name
from clearing.domain.money import yuan_str
from clearing.domain.times import beijing_time
from clearing.ports import BillRecord

COLUMNS = (
    ("channel", "渠道"),
    ("kind", "类型"),
    ("occurred_at", "交易时间"),
    ("out_trade_no", "商户订单号"),
    ("provider_txn_id", "渠道交易号"),
    ("out_refund_no", "商户退款单号"),
    ("provider_refund_id", "渠道退款单号"),
    ("amount", "金额（元）"),
    ("fee", "手续费（元）"),
)


def fee_yuan(millifen: int) -> str:
    """Thousandths of a fen as yuan with five decimals, the way WeChat bills print fees."""
    sign = "-" if millifen < 0 else ""
    whole, frac = divmod(abs(millifen), 100_000)
    return f"{sign}{whole}.{frac:05d}"


def to_csv(records: Iterable[BillRecord]) -> str:
    out = io.StringIO()
    out.write("\ufeff")  # Excel reads UTF-8 only with the BOM
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow([zh for _, zh in COLUMNS])
    for r in records:
        w.writerow(
            [
                name("channel", r.provider),
                name("bill_kind", r.kind),
                beijing_time(r.occurred_at),
                # a leading tab keeps Excel from turning 28-digit numbers into 4.2E+27
                "\t" + r.out_trade_no,
                "\t" + r.provider_txn_id,
                "\t" + r.out_refund_no if r.out_refund_no else "",
                "\t" + r.provider_refund_id if r.provider_refund_id else "",
                yuan_str(r.amount_fen),
                fee_yuan(r.fee_millifen),
            ]
        )
    return out.getvalue()


def totals(records: Iterable[BillRecord]) -> dict[str, int]:
    """Per kind: count and amount in fen; fees in thousandths of a fen."""
    t: dict[str, int] = {}
    for r in records:
        t[f"{r.kind.lower()}_count"] = t.get(f"{r.kind.lower()}_count", 0) + 1
        t[f"{r.kind.lower()}_fen"] = t.get(f"{r.kind.lower()}_fen", 0) + r.amount_fen
        t["fee_millifen"] = t.get("fee_millifen", 0) + r.fee_millifen
    return t
