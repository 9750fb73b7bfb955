"""Reading a pain.001 as the bank does: safely (no DTD, no entities, no network), by local element
names so that any pain.001.001.xx version reads the same, and strictly about what it books on.

``read_pain001`` raises ``FileRejected`` for a file the bank cannot read at all (the whole file is
refused with FF01); amounts stay exact decimal text until the bank books them in fen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from lxml import etree

PAIN001_NS_PREFIX = "urn:iso:std:iso:20022:tech:xsd:pain.001.001."
FILE_FORMAT = "FF01"

_NUMERIC15 = re.compile(r"[0-9]{1,15}")
_DECIMAL = re.compile(r"[0-9]{1,18}(\.[0-9]{1,17})?")
_AMOUNT = re.compile(r"[0-9]{1,13}(\.[0-9]{1,5})?")
_MAX_BYTES = 20 * 1024 * 1024


class FileRejected(Exception):
    """The file as a whole is refused: ``code`` an ISO reason, ``text`` why (English)."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


@dataclass(frozen=True)
class CreditTransfer:
    end_to_end_id: str
    instr_id: str
    amount: Decimal
    currency: str
    creditor_name: str
    creditor_account: str
    creditor_bank_code: str
    remittance: str


@dataclass(frozen=True)
class PaymentInfo:
    pmt_inf_id: str
    nb_of_txs: str  # as written, "" when absent
    ctrl_sum: str
    debtor_name: str
    debtor_account: str
    execution_date: str
    transfers: tuple[CreditTransfer, ...]


@dataclass(frozen=True)
class Pain001:
    msg_id: str
    message_name: str  # "pain.001.001.09", from the namespace
    created_at: str
    nb_of_txs: str
    ctrl_sum: str
    payments: tuple[PaymentInfo, ...]

    @property
    def transfers(self) -> list[CreditTransfer]:
        return [t for p in self.payments for t in p.transfers]


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_xml(data: bytes) -> etree._Element:
    """The document's root, read safely; a DOCTYPE (and so any entity) is refused outright."""
    if len(data) > _MAX_BYTES:
        raise FileRejected(FILE_FORMAT, "file is larger than 20 MB")
    try:
        tree = etree.fromstring(data, _parser()).getroottree()
    except etree.XMLSyntaxError as exc:
        raise FileRejected(FILE_FORMAT, f"not well-formed XML: {exc.msg}"[:105]) from None
    if tree.docinfo.internalDTD is not None or tree.docinfo.externalDTD is not None:
        raise FileRejected(FILE_FORMAT, "a DOCTYPE is not allowed")
    return tree.getroot()


def sniff_msg_id(data: bytes) -> str | None:
    """GrpHdr/MsgId of a file that may be refused anyway, for the pain.002 to name it."""
    try:
        root = parse_xml(data)
    except FileRejected:
        return None
    found = _text(_path(root, "CstmrCdtTrfInitn", "GrpHdr", "MsgId"))
    return found[:35] or None


def read_pain001(data: bytes) -> Pain001:
    root = parse_xml(data)
    namespace = etree.QName(root).namespace or ""
    if etree.QName(root).localname != "Document" or not namespace.startswith(PAIN001_NS_PREFIX):
        raise FileRejected(FILE_FORMAT, "not a pain.001 Document")
    initiation = _path(root, "CstmrCdtTrfInitn")
    header = _path(initiation, "GrpHdr")
    if initiation is None or header is None:
        raise FileRejected(FILE_FORMAT, "CstmrCdtTrfInitn/GrpHdr missing")
    payments = tuple(_payment(p) for p in _children(initiation, "PmtInf"))
    if not payments:
        raise FileRejected(FILE_FORMAT, "no PmtInf")
    return Pain001(
        msg_id=_required(header, "MsgId", 35),
        message_name=namespace.rsplit(":", 1)[-1],
        created_at=_required(header, "CreDtTm", 40),
        nb_of_txs=_numeric(header, "NbOfTxs", required=True),
        ctrl_sum=_decimal(header, "CtrlSum"),
        payments=payments,
    )


def _payment(element: etree._Element) -> PaymentInfo:
    transfers = tuple(_transfer(t) for t in _children(element, "CdtTrfTxInf"))
    if not transfers:
        raise FileRejected(FILE_FORMAT, "PmtInf without CdtTrfTxInf")
    execution = _path(element, "ReqdExctnDt")
    return PaymentInfo(
        pmt_inf_id=_required(element, "PmtInfId", 35),
        nb_of_txs=_numeric(element, "NbOfTxs"),
        ctrl_sum=_decimal(element, "CtrlSum"),
        debtor_name=_text(_path(element, "Dbtr", "Nm")),
        debtor_account=_account(_path(element, "DbtrAcct")),
        execution_date=_text(_path(execution, "Dt")) or _text(_path(execution, "DtTm"))
        if execution is not None
        else "",
        transfers=transfers,
    )


def _transfer(element: etree._Element) -> CreditTransfer:
    amount_element = _path(element, "Amt", "InstdAmt")
    amount = _text(amount_element)
    if amount_element is None or not _AMOUNT.fullmatch(amount):
        raise FileRejected(FILE_FORMAT, f"InstdAmt missing or malformed: {amount[:40]!r}")
    info = _path(element, "RmtInf")
    remittance = " ".join(_text(u) for u in _children(info, "Ustrd")) if info is not None else ""
    return CreditTransfer(
        end_to_end_id=_required(_path(element, "PmtId"), "EndToEndId", 35),
        instr_id=_text(_path(element, "PmtId", "InstrId")),
        amount=Decimal(amount),
        currency=str(amount_element.get("Ccy", "")),
        creditor_name=_text(_path(element, "Cdtr", "Nm")),
        creditor_account=_account(_path(element, "CdtrAcct")),
        creditor_bank_code=_text(_path(element, "CdtrAgt", "FinInstnId", "ClrSysMmbId", "MmbId")),
        remittance=remittance[:140],
    )


def _account(element: etree._Element | None) -> str:
    """CdtrAcct/DbtrAcct: Id/Othr/Id, or Id/IBAN."""
    return _text(_path(element, "Id", "Othr", "Id")) or _text(_path(element, "Id", "IBAN"))


def _children(element: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in element if isinstance(c.tag, str) and etree.QName(c).localname == name]


def _path(element: etree._Element | None, *names: str) -> etree._Element | None:
    for name in names:
        if element is None:
            return None
        found = _children(element, name)
        element = found[0] if found else None
    return element


def _text(element: etree._Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _required(element: etree._Element | None, name: str, max_length: int) -> str:
    value = _text(_path(element, name))
    if not value or len(value) > max_length:
        raise FileRejected(FILE_FORMAT, f"{name} missing or longer than {max_length}")
    return value


def _numeric(element: etree._Element, name: str, *, required: bool = False) -> str:
    value = _text(_path(element, name))
    if (value or required) and not _NUMERIC15.fullmatch(value):
        raise FileRejected(FILE_FORMAT, f"{name} missing or not a number")
    return value


def _decimal(element: etree._Element, name: str) -> str:
    value = _text(_path(element, name))
    if value and not _DECIMAL.fullmatch(value):
        raise FileRejected(FILE_FORMAT, f"{name} is not a decimal number")
    return value
