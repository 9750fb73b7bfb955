"""The bank's answer to a file: a pain.002.001.10 Customer Payment Status Report.

Statuses at three levels (files-and-recon.md 1.3): the group (OrgnlGrpInfAndSts/GrpSts), each
PmtInf (PmtInfSts) and each transaction (TxInfAndSts/TxSts). The bank sends one final report per
file: ACSC when every transaction was booked, PART when some were, RJCT when none were or the
file itself was refused (the reason then sits at group level).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

from adapters.bank.sim_xml import (
    BankIdentity,
    Builder,
    agent,
    iso_time,
    reason,
    serialize,
    yuan,
)

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"
BOOKED = "ACSC"
PARTIAL = "PART"
REJECTED = "RJCT"
_ISO_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})?"
)


@dataclass(frozen=True)
class TxStatus:
    end_to_end_id: str
    instr_id: str
    amount_fen: int | None
    status: str
    code: str = ""
    text: str = ""
    booking_ref: str = ""


@dataclass
class PmtInfStatus:
    pmt_inf_id: str
    nb_of_txs: str
    ctrl_sum: str
    code: str = ""  # set when the whole PmtInf was refused
    text: str = ""
    transactions: list[TxStatus] = field(default_factory=list)

    @property
    def status(self) -> str:
        return summary_status([t.status for t in self.transactions])


@dataclass
class StatusReport:
    """What the bank says about one file; ``code`` set means the whole file was refused."""

    orgnl_msg_id: str
    orgnl_msg_name: str
    orgnl_created_at: str = ""
    nb_of_txs: str = ""
    ctrl_sum: str = ""
    code: str = ""
    text: str = ""
    payments: list[PmtInfStatus] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.code:
            return REJECTED
        return summary_status([t.status for p in self.payments for t in p.transactions])


def summary_status(statuses: list[str]) -> str:
    if statuses and all(s == BOOKED for s in statuses):
        return BOOKED
    if any(s == BOOKED for s in statuses):
        return PARTIAL
    return REJECTED


def render_pain002(
    report: StatusReport, *, msg_id: str, created_at: datetime, bank: BankIdentity
) -> bytes:
    b = Builder(NAMESPACE)
    root = b.root("Document")
    body = b.add(root, "CstmrPmtStsRpt")
    header = b.add(body, "GrpHdr")
    b.add(header, "MsgId", msg_id)
    b.add(header, "CreDtTm", iso_time(created_at))
    b.path(header, "InitgPty", "Nm", text=bank.name)
    agent(b, header, "DbtrAgt", bank.bank_code)

    group = b.add(body, "OrgnlGrpInfAndSts")
    b.add(group, "OrgnlMsgId", report.orgnl_msg_id[:35])
    b.add(group, "OrgnlMsgNmId", report.orgnl_msg_name[:35])
    if _ISO_DATETIME.fullmatch(report.orgnl_created_at):
        b.add(group, "OrgnlCreDtTm", report.orgnl_created_at)
    _original(b, group, report, "GrpSts")
    if report.code:
        return serialize(root)
    _per_status(b, group, [t for p in report.payments for t in p.transactions])
    for payment in report.payments:
        _payment(b, body, payment)
    return serialize(root)


def _payment(b: Builder, body: etree._Element, payment: PmtInfStatus) -> None:
    element = b.add(body, "OrgnlPmtInfAndSts")
    b.add(element, "OrgnlPmtInfId", payment.pmt_inf_id)
    _original(b, element, payment, "PmtInfSts")
    _per_status(b, element, payment.transactions)
    for tx in payment.transactions:
        entry = b.add(element, "TxInfAndSts")
        if tx.instr_id:
            b.add(entry, "OrgnlInstrId", tx.instr_id)
        b.add(entry, "OrgnlEndToEndId", tx.end_to_end_id)
        b.add(entry, "TxSts", tx.status)
        if tx.code:
            reason(b, entry, "StsRsnInf", tx.code, tx.text)
        if tx.booking_ref:
            b.add(entry, "AcctSvcrRef", tx.booking_ref)
        if tx.amount_fen is not None:
            b.path(entry, "OrgnlTxRef", "Amt", "InstdAmt", text=yuan(tx.amount_fen)).set(
                "Ccy", "CNY"
            )


def _original(
    b: Builder, element: etree._Element, item: StatusReport | PmtInfStatus, status_tag: str
) -> None:
    """The counts the file gave (when it gave them), then the status and, if refused, why."""
    if item.nb_of_txs:
        b.add(element, "OrgnlNbOfTxs", item.nb_of_txs)
    if item.ctrl_sum:
        b.add(element, "OrgnlCtrlSum", item.ctrl_sum)
    b.add(element, status_tag, item.status)
    if item.code:
        reason(b, element, "StsRsnInf", item.code, item.text)


def _per_status(b: Builder, parent: etree._Element, transactions: list[TxStatus]) -> None:
    """NbOfTxsPerSts: how many transactions (and how much) ended in each status."""
    for status in (BOOKED, REJECTED):
        chosen = [t for t in transactions if t.status == status]
        if not chosen:
            continue
        per = b.add(parent, "NbOfTxsPerSts")
        b.add(per, "DtldNbOfTxs", str(len(chosen)))
        b.add(per, "DtldSts", status)
        amounts = [t.amount_fen for t in chosen]
        if all(a is not None for a in amounts):
            b.add(per, "DtldCtrlSum", yuan(sum(a for a in amounts if a is not None)))
