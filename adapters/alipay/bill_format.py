"""The layout of Alipay's daily trade bill (protocols-cn.md 2.7) and exact number reading.

``alipay.data.dataservice.bill.downloadurl.query`` with ``bill_type=trade`` points at a ZIP of
two GBK CSV files, ``<account>_<yyyyMMdd>_业务明细.csv`` and
``<account>_<yyyyMMdd>_业务明细(汇总).csv``, where ``<account>`` is the merchant PID followed by
``0156``. Lines starting with ``#`` frame the data; values may carry a trailing tab (Alipay adds
it so spreadsheets keep long numbers as text).
Both the parser and the simulator's writer take the layout from here.
"""

from __future__ import annotations

import re
from typing import Final

from clearing.domain.money import MoneyError, parse_yuan

DETAIL_SUFFIX: Final = "_业务明细.csv"
SUMMARY_SUFFIX: Final = "_业务明细(汇总).csv"
ACCOUNT_SUFFIX: Final = "0156"

DETAIL_TITLE: Final = "#支付宝业务明细查询"
SUMMARY_TITLE: Final = "#支付宝业务汇总查询"
DETAIL_BEGIN: Final = "#" + "-" * 41 + "业务明细列表" + "-" * 40
DETAIL_END: Final = "#" + "-" * 41 + "业务明细列表结束" + "-" * 36
SUMMARY_BEGIN: Final = "#" + "-" * 41 + "业务汇总列表" + "-" * 40
SUMMARY_END: Final = "#" + "-" * 40 + "业务汇总列表结束" + "-" * 37
# marker lines are recognised by their words; the number of dashes has varied between files
DETAIL_BEGIN_RE: Final = re.compile(r"#-+业务明细列表-+")
DETAIL_END_RE: Final = re.compile(r"#-+业务明细列表结束-+")
SUMMARY_BEGIN_RE: Final = re.compile(r"#-+业务汇总列表-+")
SUMMARY_END_RE: Final = re.compile(r"#-+业务汇总列表结束-+")

ACCOUNT_RE: Final = re.compile(r"#账号：\[([0-9]{16,24})\]")
RANGE_RE: Final = re.compile(r"#起始日期：\[([^\]]+)\]\s+终止日期：\[([^\]]+)\]")
RANGE_TIME_FORMAT: Final = "%Y年%m月%d日 %H:%M:%S"
EXPORTED_RE: Final = re.compile(r"#导出时间：\[[^\]]+\]")
TRADE_TOTAL_RE: Final = re.compile(
    r"#交易合计：([0-9]+)笔，商家实收共(-?[0-9]+\.[0-9]{2})元，商家优惠共(-?[0-9]+\.[0-9]{2})元"
)
REFUND_TOTAL_RE: Final = re.compile(
    r"#退款合计：([0-9]+)笔，商家实收退款共(-?[0-9]+\.[0-9]{2})元，"
    r"商家优惠退款共(-?[0-9]+\.[0-9]{2})元"
)

KIND_TRADE: Final = "交易"
KIND_REFUND: Final = "退款"
SUMMARY_TOTAL_LABEL: Final = "合计"

DETAIL_COLUMNS: Final = (
    "支付宝交易号",
    "商户订单号",
    "业务类型",
    "商品名称",
    "创建时间",
    "完成时间",
    "门店编号",
    "门店名称",
    "操作员",
    "终端号",
    "对方账户",
    "订单金额（元）",
    "商家实收（元）",
    "支付宝红包（元）",
    "集分宝（元）",
    "支付宝优惠（元）",
    "商家优惠（元）",
    "券核销金额（元）",
    "券名称",
    "商家红包消费金额（元）",
    "卡消费金额（元）",
    "退款批次号/请求号",
    "服务费（元）",
    "分润（元）",
    "备注",
)
SUMMARY_COLUMNS: Final = (
    "门店编号",
    "门店名称",
    "交易订单总笔数",
    "退款订单总笔数",
    "订单金额（元）",
    "商家实收（元）",
    "支付宝优惠（元）",
    "商家优惠（元）",
    "卡消费金额（元）",
    "服务费（元）",
    "分润（元）",
    "实收净额（元）",
)
# the fee columns may hold five decimals; every other yuan column of the detail holds two
FEE_COLUMNS: Final = ("服务费（元）", "分润（元）")
DETAIL_YUAN_COLUMNS: Final = tuple(
    name for name in DETAIL_COLUMNS if name.endswith("（元）") and name not in FEE_COLUMNS
)
MILLIFEN_PER_FEN: Final = 1000
MILLIFEN_PER_YUAN: Final = 100 * MILLIFEN_PER_FEN

_FEE_RE: Final = re.compile(r"(-?)([0-9]{1,13})(?:\.([0-9]{1,5}))?")


def signed_fen(text: str) -> int:
    """``"-35.80"`` → ``-3580``: a bill amount, exact, sign allowed. ``ValueError`` otherwise."""
    stripped = text.strip()
    negative = stripped.startswith("-")
    try:
        fen = parse_yuan(stripped[1:] if negative else stripped)
    except MoneyError as exc:
        raise ValueError(f"{text!r} is not an amount in yuan: {exc}") from None
    return -fen if negative else fen


def signed_millifen(text: str) -> int:
    """A fee column in yuan with up to five decimals → thousandths of a fen, exactly.

    ``"-0.00345"`` → ``-345``; ``"1.5"`` → ``150000``. Digits are read as digits: no float, and
    no Decimal context that could round a sixth decimal away quietly (six decimals are refused).
    """
    match = _FEE_RE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a fee in yuan with at most five decimals")
    sign, whole, decimals = match.group(1), match.group(2), match.group(3) or ""
    value = int(whole) * MILLIFEN_PER_YUAN + int(decimals.ljust(5, "0"))
    return -value if sign else value


def fee_text(millifen: int) -> str:
    """Whole fen back to bill text, as Alipay writes fees: ``-59000`` → ``"-0.59"``."""
    if millifen % MILLIFEN_PER_FEN:
        raise ValueError("bill fees are written in whole fen")
    fen = millifen // MILLIFEN_PER_FEN
    whole, cents = divmod(abs(fen), 100)
    return f"{'-' if fen < 0 else ''}{whole}.{cents:02d}"


def clean(value: str) -> str:
    """A cell as Alipay meant it: the trailing tab and surrounding spaces removed."""
    return value.strip(" \t\r\n")


def frame_line(line: str) -> str:
    """A ``#`` line without the empty cells some exports append (``#导出时间：[…],,,,``)."""
    return clean(line).rstrip(",").rstrip()
