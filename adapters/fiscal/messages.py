"""The non-tax interface's vocabulary: message numbers, result and error codes, element names,
and the two small helpers both sides use to write and read flat groups of fields (PROTOCOL.md).

Which side means what by a code is decided elsewhere: the client maps codes to refusals in
``client``, the simulator decides which code to send in ``sim_api``.
"""

from __future__ import annotations

import base64
import binascii
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from typing import Final

from adapters.fiscal.frame import ENCODING, FrameError

MSG_QUERY: Final = "5995"  # 缴款码查询 → answered by 5995
MSG_CONFIRM: Final = "5996"  # 缴款确认 → answered by 8001
MSG_LIST: Final = "5998"  # 缴款确认对账（日终清单） → answered by 5998
MSG_REPLY: Final = "8001"  # 通用回执

RESULT_OK: Final = "00000"
RESULT_FAIL: Final = "99999"

# ErrCode next to Result 99999, so that nobody has to read AddWord to know what happened
ERR_MAC: Final = "E1001"  # 报文MAC校验失败
ERR_FORMAT: Final = "E1002"  # 报文格式错误
ERR_REPLAY: Final = "E1003"  # 报文标识重复或报文时间超出允许范围
ERR_NO_NOTICE: Final = "E2001"  # 缴款码不存在
ERR_PAID: Final = "E2002"  # 该缴款书已缴款
ERR_VOID: Final = "E2003"  # 该缴款书已作废
ERR_AMOUNT: Final = "E2004"  # 缴款金额与应缴金额不符
ERR_REFUSED: Final = "E2005"  # 缴款确认被拒绝
ERR_OTHER_PAYMENT: Final = "E2006"  # 该缴款码已由其他交易缴款
ERR_ACCOUNT: Final = "E2007"  # 收款账户不是本地区非税收入汇缴专户
ERR_BUSY: Final = "E9999"  # 系统忙，请稍后重试

PAY_MODE_THIRD_PARTY: Final = "51"  # the sample's PayMode for a third-party (wallet) payment
REC_ACCT_TYPE_COLLECT: Final = "1"  # 非税收入汇缴专户

BILL_ISSUED: Final = "1"
BILL_PENDING: Final = "0"

QUERY_FIELDS: Final = ("PayCode", "AdmDivCode", "BankOutlet")
NOTICE_FIELDS: Final = (
    "Result",
    "ErrCode",
    "AddWord",
    "PayCode",
    "AdmDivCode",
    "NoticeNo",
    "PayerName",
    "AgencyCode",
    "AgencyName",
    "ItemCode",
    "ItemName",
    "Amt",
    "NoticeDate",
    "DueDate",
    "RecAcctName",
    "RecAcct",
    "RecBank",
)
VOUCHER_FIELDS: Final = (
    "PayCode",
    "CfmDate",
    "CfmTime",
    "Amt",
    "BankOutlet",
    "Operator",
    "PayMode",
    "TraNoBus",
    "PayerName",
    "PayerAcct",
    "PayerOpBk",
    "PayerOpBkNo",
    "RecAcctType",
    "RecAcct",
    "Hold1",
    "Hold2",
)
# one per voucher in an 8001 answer to 5996, and one per line of a 5998 list
CONFIRMATION_FIELDS: Final = (
    "VoucherNo",
    "PayCode",
    "Result",
    "ErrCode",
    "AddWord",
    "Amt",
    "TraNoBus",
    "CfmDate",
    "CfmTime",
    "AcceptTime",
    "BillStatus",
    "BillCode",
    "BillNo",
    "CheckCode",
    "IssueDate",
)
LIST_QUERY_FIELDS: Final = ("CheckDate", "PageNo")
LIST_HEAD_FIELDS: Final = (
    "Result",
    "ErrCode",
    "AddWord",
    "CheckDate",
    "TotalCount",
    "PageNo",
    "PageCount",
)


def fields_element(tag: str, fields: Mapping[str, str], names: Iterable[str]) -> ET.Element:
    """``<tag><Name>value</Name>…</tag>`` in the documented order; absent fields are empty."""
    element = ET.Element(tag)
    for name in names:
        ET.SubElement(element, name).text = fields.get(name, "")
    return element


def read_fields(element: ET.Element | None, names: Iterable[str]) -> dict[str, str]:
    """The text of each named child, stripped; ``FrameError`` when the group is missing."""
    if element is None:
        raise FrameError("a required group of fields is missing")
    return {name: (element.findtext(name) or "").strip() for name in names}


def encode_voucher(fields: Mapping[str, str]) -> str:
    """A 5996 voucher: Base64 of its own GBK XML, as the original carries it inside ``MOF``."""
    xml = ET.tostring(fields_element("Voucher", fields, VOUCHER_FIELDS), encoding="unicode")
    return base64.b64encode(xml.encode(ENCODING)).decode("ascii")


def decode_voucher(text: str) -> dict[str, str]:
    """The inverse of ``encode_voucher``; ``FrameError`` for anything else."""
    try:
        xml = base64.b64decode(text.strip(), validate=True).decode(ENCODING)
    except (binascii.Error, UnicodeDecodeError):
        raise FrameError("voucher is not Base64 of GBK text") from None
    if "<!" in xml:
        raise FrameError("DOCTYPE, entities and CDATA are not accepted")
    try:
        element = ET.fromstring(xml)  # noqa: S314  (no DTD can reach the parser, see above)
    except ET.ParseError:
        raise FrameError("voucher is not well-formed XML") from None
    if element.tag != "Voucher":
        raise FrameError("voucher root must be Voucher")
    return read_fields(element, VOUCHER_FIELDS)
