"""A settlement batch as ISO 20022 pain.001.001.09 (CustomerCreditTransferInitiationV09).

Layout, one file per batch::

    GrpHdr   MsgId, CreDtTm (with offset), NbOfTxs, CtrlSum, InitgPty/Nm
    PmtInf   one: PmtInfId = batch id, TRF, BtchBookg=false, NbOfTxs, CtrlSum, ReqdExctnDt/Dt,
             Dbtr, DbtrAcct/Id/Othr/Id, DbtrAgt (BICFI if known, CNAPS member id), ChrgBr=DEBT
      CdtTrfTxInf   one per instruction: InstrId = EndToEndId, Amt/InstdAmt Ccy=CNY,
                    CdtrAgt (CNAPS member id + bank name), Cdtr/Nm, CdtrAcct/Id/Othr/Id,
                    RmtInf/Ustrd = purpose

Why these choices:

* ``BtchBookg=false`` asks for one statement line per beneficiary, so camt.053/054 match 1:1
  on EndToEndId instead of one lump debit we would have to take apart.
* ``ChrgBr=DEBT``: we bear the fees, so a beneficiary receives exactly the amount it is owed.
* ``InstrId`` repeats the EndToEndId: unique in the file by construction (DU05 otherwise), the
  same on a resend, and a pain.002 ``OrgnlInstrId`` leads straight back to the instruction.
* Control sums are computed from the integer fen that are written, then formatted once: a bank
  rejects the whole group on a wrong CtrlSum (AM10/AM16).

The bytes are a pure function of the batch (no clock, no random ids), so a resend is the
identical file — which is what lets the bank's MsgId dedup (DU01) work for us.
"""

from __future__ import annotations

from lxml import etree

from clearing.domain.money import yuan_str
from clearing.settlement.model import DebtorAccount, Instruction, SettlementBatch

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"
MESSAGE = "pain.001.001.09"
CURRENCY = "CNY"
# ISO external code for China's payment system in ClrSysId/Cd
CNAPS = "CNAPS"
_XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def _el(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, f"{{{NAMESPACE}}}{tag}")
    if text is not None:
        el.text = text  # lxml escapes &, <, > and quotes; no string templates anywhere
    return el


def _path(parent: etree._Element, path: str, text: str | None = None) -> etree._Element:
    """Create the chain ``A/B/C`` under ``parent`` and put ``text`` in the last element."""
    *heads, last = path.split("/")
    for tag in heads:
        parent = _el(parent, tag)
    return _el(parent, last, text)


def _cnaps_agent(parent: etree._Element, code: str, name: str | None, bic: str | None) -> None:
    fin = _path(parent, "FinInstnId")
    if bic is not None:
        _el(fin, "BICFI", bic)
    member = _el(fin, "ClrSysMmbId")
    _path(member, "ClrSysId/Cd", CNAPS)
    _el(member, "MmbId", code)
    if name is not None:
        _el(fin, "Nm", name)


def _account(parent: etree._Element, tag: str, account_no: str) -> None:
    _path(_el(parent, tag), "Id/Othr/Id", account_no)


def _debtor(pmt: etree._Element, debtor: DebtorAccount) -> None:
    _path(pmt, "Dbtr/Nm", debtor.name)
    _account(pmt, "DbtrAcct", debtor.account_no)
    _cnaps_agent(_el(pmt, "DbtrAgt"), debtor.bank_code, None, debtor.bic)


def _transaction(pmt: etree._Element, ins: Instruction) -> None:
    tx = _el(pmt, "CdtTrfTxInf")
    pmt_id = _el(tx, "PmtId")
    _el(pmt_id, "InstrId", ins.end_to_end_id)
    _el(pmt_id, "EndToEndId", ins.end_to_end_id)
    _path(tx, "Amt/InstdAmt", yuan_str(ins.amount_fen)).set("Ccy", CURRENCY)
    _cnaps_agent(_el(tx, "CdtrAgt"), ins.creditor_bank_code, ins.creditor_bank_name, None)
    _path(tx, "Cdtr/Nm", ins.creditor_name)
    _account(tx, "CdtrAcct", ins.creditor_account)
    _path(tx, "RmtInf/Ustrd", ins.purpose)


def control_sum(batch: SettlementBatch) -> str:
    """CtrlSum as written: the exact yuan of the integer fen total."""
    return yuan_str(batch.total_fen)


def build(batch: SettlementBatch) -> etree._Element:
    """The ``Document`` element tree (for callers that want to inspect it before rendering)."""
    # the default namespace is the None key; lxml-stubs type nsmap keys as str only
    root = etree.Element(f"{{{NAMESPACE}}}Document", nsmap={None: NAMESPACE})  # type: ignore[dict-item]
    msg = _el(root, "CstmrCdtTrfInitn")

    header = _el(msg, "GrpHdr")
    _el(header, "MsgId", batch.msg_id)
    _el(header, "CreDtTm", batch.created_at.isoformat(timespec="seconds"))
    _el(header, "NbOfTxs", str(batch.count))
    _el(header, "CtrlSum", control_sum(batch))
    _path(header, "InitgPty/Nm", batch.debtor.name)

    pmt = _el(msg, "PmtInf")
    _el(pmt, "PmtInfId", batch.batch_id)
    _el(pmt, "PmtMtd", "TRF")
    _el(pmt, "BtchBookg", "false")
    _el(pmt, "NbOfTxs", str(batch.count))
    _el(pmt, "CtrlSum", control_sum(batch))
    _path(pmt, "ReqdExctnDt/Dt", batch.execution_date.isoformat())
    _debtor(pmt, batch.debtor)
    _el(pmt, "ChrgBr", "DEBT")
    for ins in batch.instructions:
        _transaction(pmt, ins)
    return root


def render(batch: SettlementBatch) -> bytes:
    """UTF-8 pain.001.001.09, valid against the official XSD, byte-identical for equal batches."""
    body = etree.tostring(build(batch), encoding="UTF-8", xml_declaration=False, pretty_print=True)
    return _XML_DECLARATION + body
