"""Authorities' daily confirmation lists as finance staff see them: one row per confirmed leg,
exported as CSV that Excel opens correctly (the same conventions as ``reconciliation.bills``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from clearing.domain.display import name
from clearing.domain.money import yuan_str
from clearing.domain.times import beijing_time
from clearing.ports import LegConfirmation

COLUMNS = ("主管部门", "缴款凭证号", "确认凭证号", "确认时间", "金额（元）", "凭证要素")


def to_csv(authority: str, confirmations: Iterable[LegConfirmation]) -> str:
    out = io.StringIO()
    out.write("\ufeff")  # Excel reads UTF-8 only with the BOM
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(COLUMNS)
    for c in confirmations:
        w.writerow(
            [
                name("authority", authority),
                # a leading tab keeps Excel from turning long voucher numbers into 4.2E+19
                "\t" + c.reference,
                "\t" + c.proof_no,
                beijing_time(c.confirmed_at),
                yuan_str(c.amount_fen) if c.amount_fen is not None else "",
                "；".join(f"{name('proof_key', k)}：{v}" for k, v in sorted(c.proof.items())),
            ]
        )
    return out.getvalue()


def totals(confirmations: Iterable[LegConfirmation]) -> dict[str, int]:
    """How many legs the list confirms, and the sum of those that state an amount, in fen."""
    count = amount = 0
    for c in confirmations:
        count += 1
        amount += c.amount_fen or 0
    return {"confirmed_count": count, "confirmed_fen": amount}
