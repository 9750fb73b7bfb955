"""The WeChat Pay trade bill (交易账单, ``bill_type=ALL``) read into ``BillRecord`` s, strictly
(protocols-cn.md 1.8).

The file has four parts: a detail header, detail rows, a summary header and one summary row.
Values in the rows carry a leading backtick; nothing is quoted. Columns are found by their header
names (older merchants have 总金额 / 企业红包金额 where newer ones have 应结订单金额 / 代金券金额),
and the summary row must agree with the details to the fen (to the thousandth of a fen for fees)
— a bill that does not add up is refused, never half-used. Every error names its line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from adapters import wiretime
from adapters.wechatpay.transport import PROVIDER
from clearing.domain.money import MoneyError, parse_yuan
from clearing.ports import BillRecord

BEIJING = wiretime.BEIJING
KINDS = {"SUCCESS": "PAYMENT", "REFUND": "REFUND", "REVOKED": "REVERSAL"}

# the first name is today's; the others are what older bills call the same column
_AMOUNT = ("应结订单金额", "总金额")
_COUPON_REFUND = ("充值券退款金额", "企业红包退款金额")
_REQUIRED = ("交易时间", "商户号", "微信订单号", "商户订单号", "交易状态", "货币种类")
_REQUIRED_REFUND = ("微信退款单号", "商户退款单号", "退款金额", "手续费")
# summary column → the detail column it totals
_TOTALS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("应结订单总金额", "总交易额"), _AMOUNT),
    (("退款总金额", "总退款金额"), ("退款金额",)),
    (("充值券退款总金额", "总企业红包退款金额"), _COUPON_REFUND),
    (("订单总金额",), ("订单金额",)),
    (("申请退款总金额",), ("申请退款金额",)),
)
# detail columns whose sums the summary row repeats; fees are summed separately, in millifen
_SUMMED = frozenset(name for _, details in _TOTALS for name in details)
_SUMMARY_FIRST = "总交易单数"
_FEE = re.compile(r"(-?)([0-9]{1,13})(?:\.([0-9]{1,5}))?")
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
_NONE = ("", "0")


class BillFormatError(ValueError):
    """The file is not a well-formed ALL trade bill; ``line`` is 1-based."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"bill line {line}: {reason}")
        self.line = line
        self.reason = reason


def parse_fee_millifen(text: str) -> int:
    """``"0.74070"`` yuan → 74070 thousandths of a fen, exactly; refunds carry a minus sign."""
    match = _FEE.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a fee with at most five decimals")
    sign, whole, decimals = match.groups()
    value = int(whole) * 100_000 + int((decimals or "").ljust(5, "0"))
    return -value if sign else value


def parse_signed_fen(text: str) -> int:
    """Two-decimal yuan, possibly negative, to fen (no float on the way)."""
    if text.startswith("-"):
        return -parse_yuan(text[1:])
    return parse_yuan(text)


@dataclass
class _Table:
    header: list[str]
    index: dict[str, int]

    def column(self, names: Sequence[str]) -> str | None:
        return next((name for name in names if name in self.index), None)


def parse_trade_bill(text: str, *, mchid: str | None = None) -> list[BillRecord]:
    """Every detail row as a ``BillRecord``; ``BillFormatError`` on anything out of shape.

    ``mchid``, when given, must be the 商户号 on every row: a bill for another merchant is an
    error, not an empty day."""
    lines = text.removeprefix("\ufeff").split("\n")
    lines = [line.removesuffix("\r") for line in lines]
    while lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise BillFormatError(1, "the file is empty")
    table = _detail_header(lines[0])
    records: list[BillRecord] = []
    sums: dict[str, int] = {}
    number = 2
    while number <= len(lines) and not lines[number - 1].startswith(_SUMMARY_FIRST):
        row = _values(lines[number - 1], number, table.header)
        records.append(_record(row, number, table, mchid))
        for name in row:
            if name in _SUMMED:
                sums[name] = sums.get(name, 0) + _amount(row, name, number)
        number += 1
    if number > len(lines):
        raise BillFormatError(number, "the file ends before the summary (truncated?)")
    summary_header = _header(lines[number - 1], number)
    if number + 1 > len(lines):
        raise BillFormatError(number + 1, "the summary row is missing (truncated?)")
    if number + 1 < len(lines):
        raise BillFormatError(number + 2, "unexpected line after the summary row")
    summary = _values(lines[number], number + 1, summary_header)
    _check_summary(summary, number + 1, table, records, sums)
    return records


def _header(line: str, number: int) -> list[str]:
    names = line.split(",")
    if any(not name or name.startswith("`") for name in names):
        raise BillFormatError(number, "a header needs plain, non-empty column names")
    if len(set(names)) != len(names):
        raise BillFormatError(number, "a column name is repeated")
    return names


def _detail_header(line: str) -> _Table:
    header = _header(line, 1)
    index = {name: i for i, name in enumerate(header)}
    table = _Table(header, index)
    missing = [name for name in (*_REQUIRED, *_REQUIRED_REFUND) if name not in index]
    if table.column(_AMOUNT) is None:
        missing.append(_AMOUNT[0])
    if missing:
        raise BillFormatError(1, f"not an ALL trade bill: no column {', '.join(missing)}")
    return table


def _values(line: str, number: int, header: Sequence[str]) -> dict[str, str]:
    cells = line.split(",")
    if len(cells) != len(header):
        raise BillFormatError(number, f"{len(cells)} values for {len(header)} columns")
    row: dict[str, str] = {}
    for name, cell in zip(header, cells, strict=True):
        # the backtick keeps spreadsheets from turning ids into numbers; its absence means the
        # line was not written by WeChat Pay (or was edited)
        if not cell.startswith("`"):
            raise BillFormatError(number, f"{name}: value lacks the leading backtick")
        row[name] = cell[1:]
    return row


def _amount(row: Mapping[str, str], name: str, number: int) -> int:
    try:
        return parse_signed_fen(row[name])
    except MoneyError:
        raise BillFormatError(number, f"{name}: {row[name]!r} is not a yuan amount") from None


def _record(row: Mapping[str, str], number: int, table: _Table, mchid: str | None) -> BillRecord:
    status = row["交易状态"]
    kind = KINDS.get(status)
    if kind is None:
        raise BillFormatError(number, f"交易状态: unknown state {status!r}")
    if mchid is not None and row["商户号"] != mchid:
        raise BillFormatError(number, "商户号: the row belongs to another merchant")
    if row["货币种类"] != "CNY":
        raise BillFormatError(number, f"货币种类: {row['货币种类']!r} is not CNY")
    if not _TIME.fullmatch(row["交易时间"]):
        raise BillFormatError(number, "交易时间: not yyyy-MM-dd HH:mm:ss")
    try:
        occurred_at = datetime.strptime(row["交易时间"], "%Y-%m-%d %H:%M:%S").replace(
            tzinfo=BEIJING
        )
    except ValueError:
        raise BillFormatError(number, "交易时间: no such date or time") from None
    for name in ("微信订单号", "商户订单号"):
        if not row[name]:
            raise BillFormatError(number, f"{name}: empty")
    try:
        fee = parse_fee_millifen(row["手续费"])
    except ValueError:
        raise BillFormatError(number, f"手续费: {row['手续费']!r} is not a fee") from None
    refund_id = None if row["微信退款单号"] in _NONE else row["微信退款单号"]
    out_refund_no = None if row["商户退款单号"] in _NONE else row["商户退款单号"]
    if kind == "PAYMENT":
        # 订单金额 is what the order charged (the core's amount_fen); older bills lack it
        column = table.column(("订单金额", *_AMOUNT))
        assert column is not None, "the header check guarantees an amount column"
        amount = _amount(row, column, number)
    else:
        amount = _amount(row, "退款金额", number)
        if kind == "REFUND" and (refund_id is None or out_refund_no is None):
            raise BillFormatError(number, "a REFUND row needs 微信退款单号 and 商户退款单号")
    if amount < 0:
        raise BillFormatError(number, f"the {status} amount is negative")
    return BillRecord(
        provider=PROVIDER,
        kind=kind,
        occurred_at=occurred_at,
        out_trade_no=row["商户订单号"],
        provider_txn_id=row["微信订单号"],
        amount_fen=amount,
        fee_millifen=fee,
        out_refund_no=out_refund_no,
        provider_refund_id=refund_id,
        raw=dict(row),
    )


def _check_summary(
    summary: Mapping[str, str],
    number: int,
    table: _Table,
    records: Sequence[BillRecord],
    sums: Mapping[str, int],
) -> None:
    if _SUMMARY_FIRST not in summary or "手续费总金额" not in summary:
        raise BillFormatError(number - 1, "the summary lacks 总交易单数 or 手续费总金额")
    count = summary[_SUMMARY_FIRST]
    if not count.isdigit() or int(count) != len(records):
        raise BillFormatError(number, f"总交易单数 is {count!r} but {len(records)} rows precede")
    try:
        fees = parse_fee_millifen(summary["手续费总金额"])
    except ValueError:
        raise BillFormatError(number, "手续费总金额 is not a fee") from None
    if fees != sum(r.fee_millifen for r in records):
        raise BillFormatError(number, "手续费总金额 differs from the sum of 手续费")
    for totals, details in _TOTALS:
        total_name = next((name for name in totals if name in summary), None)
        detail_name = table.column(details)
        if total_name is None or detail_name is None:
            continue
        if _amount(summary, total_name, number) != sums.get(detail_name, 0):
            raise BillFormatError(number, f"{total_name} differs from the sum of {detail_name}")
