"""For each beneficiary, the order lines behind the money it receives in a settlement batch.

The transfer itself carries one amount and one EndToEndId; the beneficiary's finance staff
need to see which cases, items and vouchers it pays for. One CSV per beneficiary (keyed by its
code), one row per order line, then a total row that equals the sum of its transfers.

Written the way ``reconciliation/bills.py`` writes CSV for finance staff, so both open in Excel
alike: UTF-8 with a byte-order mark (Excel reads UTF-8 only with it), CRLF, amounts as yuan text
with two decimals from integer fen, and long identifiers behind a leading tab so Excel keeps them
as text instead of turning them into 4.2E+27. (bills.py's ``to_csv`` is typed to its bill records
and shares no row writer we could call; ``yuan_str`` is shared from clearing.domain.money.)
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from clearing.domain.money import yuan_str
from clearing.settlement.model import Instruction, SettlementBatch

HEADER = (
    "业务参考号",  # EndToEndId of the transfer that carries the line
    "订单号",
    "案件号",
    "行号",
    "项目代码",
    "项目名称",
    "凭证号/缴款码",  # tax voucher, non-tax payment code or fund notice
    "金额（元）",
)
TOTAL_LABEL = "合计"


def _as_text(value: str) -> str:
    # the same guard as bills.py: a tab keeps Excel from reformatting long digit strings
    return "\t" + value


def _csv(instructions: Sequence[Instruction]) -> bytes:
    out = io.StringIO()
    out.write("\ufeff")
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(HEADER)
    lines = 0
    for ins in instructions:
        for d in ins.details:
            lines += 1
            w.writerow(
                [
                    _as_text(ins.end_to_end_id),
                    _as_text(d.order_no),
                    _as_text(d.case_no),
                    str(d.line_no),
                    d.item_code,
                    d.item_name,
                    _as_text(d.reference) if d.reference else "",
                    yuan_str(d.amount_fen),
                ]
            )
    total = sum(i.amount_fen for i in instructions)
    w.writerow([TOTAL_LABEL, f"{lines}笔", "", "", "", "", "", yuan_str(total)])
    return out.getvalue().encode("utf-8")


def render(batch: SettlementBatch) -> dict[str, bytes]:
    """``{beneficiary_code: CSV bytes}`` in the order beneficiaries first appear in the batch."""
    grouped: dict[str, list[Instruction]] = {}
    for ins in batch.instructions:
        grouped.setdefault(ins.beneficiary_code, []).append(ins)
    return {code: _csv(instructions) for code, instructions in grouped.items()}
