"""The bank's end-of-day statement of one account: camt.053.001.08.

One statement per account and business date, one entry per booking (the bank books every
transaction on its own, as with BtchBookg=false). OPBD + credits - debits = CLBD exactly, and
TxsSummry repeats the counts and sums. Every entry carries the reference chain back to our
pain.001 (NtryDtls/TxDtls/Refs: MsgId, AcctSvcrRef, PmtInfId, InstrId, EndToEndId), the parties
with their 联行号, and our remittance text; a return (退汇) carries RtrInf/Rsn/Cd.

Bank transaction codes (Domn/Fmly/SubFmlyCd), from the account owner's side:

    our transfer, debit of the collection account      PMNT/ICDT/DMCT
    the same transfer, credit of the beneficiary       PMNT/RCDT/DMCT
    its return, credit of the collection account       PMNT/ICDT/RRTN
    its return, debit of the beneficiary               PMNT/RCDT/RRTN
    money from outside the bank (acquirer settlement)  PMNT/RCDT/DMCT
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from lxml import etree

from adapters.bank.sim_ledger import CREDIT, RETURN, Account, Booking, signed
from adapters.bank.sim_xml import (
    CURRENCY,
    BankIdentity,
    Builder,
    agent,
    iso_time,
    reason,
    serialize,
    yuan,
)

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"


@dataclass(frozen=True)
class Statement:
    """What goes into one account's statement for one day."""

    account: Account
    day: date
    opening_fen: int
    entries: Sequence[Booking]
    sequence: int  # ElctrncSeqNb and LglSeqNb: 1, 2, 3 ... per account

    @property
    def closing_fen(self) -> int:
        return self.opening_fen + sum(signed(b, self.account.number) for b in self.entries)


def render_camt053(
    statement: Statement,
    *,
    msg_id: str,
    created_at: datetime,
    bank: BankIdentity,
    accounts: Mapping[str, Account],
) -> bytes:
    b = Builder(NAMESPACE)
    root = b.root("Document")
    body = b.add(root, "BkToCstmrStmt")
    header = b.add(body, "GrpHdr")
    b.add(header, "MsgId", msg_id)
    b.add(header, "CreDtTm", iso_time(created_at))
    pages = b.add(header, "MsgPgntn")
    b.add(pages, "PgNb", "1")
    b.add(pages, "LastPgInd", "true")

    account, day = statement.account, statement.day
    stmt = b.add(body, "Stmt")
    b.add(stmt, "Id", f"{account.number}-{day:%Y%m%d}"[:35])
    b.add(stmt, "ElctrncSeqNb", str(statement.sequence))
    b.add(stmt, "LglSeqNb", str(statement.sequence))
    b.add(stmt, "CreDtTm", iso_time(created_at))
    period = b.add(stmt, "FrToDt")
    b.add(period, "FrDtTm", f"{day.isoformat()}T00:00:00+08:00")
    b.add(period, "ToDtTm", f"{day.isoformat()}T23:59:59+08:00")
    acct = b.add(stmt, "Acct")
    b.path(acct, "Id", "Othr", "Id", text=account.number)
    b.add(acct, "Ccy", CURRENCY)
    b.path(acct, "Ownr", "Nm", text=account.name)
    agent(b, acct, "Svcr", bank.bank_code)
    _balance(b, stmt, "OPBD", statement.opening_fen, day)
    _balance(b, stmt, "CLBD", statement.closing_fen, day)
    _summary(b, stmt, account.number, statement.entries)
    for booking in statement.entries:
        _entry(b, stmt, account, booking, accounts=accounts)
    return serialize(root)


def _amount(b: Builder, parent: etree._Element, name: str, fen: int) -> None:
    b.add(parent, name, yuan(fen), Ccy=CURRENCY)


def _balance(b: Builder, stmt: etree._Element, code: str, fen: int, day: date) -> None:
    bal = b.add(stmt, "Bal")
    b.path(bal, "Tp", "CdOrPrtry", "Cd", text=code)
    _amount(b, bal, "Amt", abs(fen))
    b.add(bal, "CdtDbtInd", "CRDT" if fen >= 0 else "DBIT")
    b.path(bal, "Dt", "Dt", text=day.isoformat())


def _summary(b: Builder, stmt: etree._Element, number: str, entries: Sequence[Booking]) -> None:
    effects = [signed(e, number) for e in entries]
    credits = [x for x in effects if x > 0]
    debits = [-x for x in effects if x < 0]
    net = sum(effects)
    summary = b.add(stmt, "TxsSummry")
    total = b.add(summary, "TtlNtries")
    b.add(total, "NbOfNtries", str(len(effects)))
    b.add(total, "Sum", yuan(sum(credits) + sum(debits)))
    net_entry = b.add(total, "TtlNetNtry")
    b.add(net_entry, "Amt", yuan(abs(net)))
    b.add(net_entry, "CdtDbtInd", "CRDT" if net >= 0 else "DBIT")
    for name, chosen in (("TtlCdtNtries", credits), ("TtlDbtNtries", debits)):
        part = b.add(summary, name)
        b.add(part, "NbOfNtries", str(len(chosen)))
        b.add(part, "Sum", yuan(sum(chosen)))


def _entry(
    b: Builder,
    stmt: etree._Element,
    account: Account,
    booking: Booking,
    *,
    accounts: Mapping[str, Account],
) -> None:
    is_credit = booking.credit == account.number
    indicator = "CRDT" if is_credit else "DBIT"
    # the family says who started the money moving from this account's side: we issued it
    # (ICDT) when the collection account paid out, the beneficiary received it (RCDT)
    issued = (booking.debit == account.number) != (booking.kind == RETURN)
    family = "RCDT" if booking.kind == CREDIT or not issued else "ICDT"
    sub_family = "RRTN" if booking.kind == RETURN else "DMCT"

    ntry = b.add(stmt, "Ntry")
    _amount(b, ntry, "Amt", booking.amount_fen)
    b.add(ntry, "CdtDbtInd", indicator)
    b.path(ntry, "Sts", "Cd", text="BOOK")
    b.path(ntry, "BookgDt", "Dt", text=booking.booked_on.isoformat())
    b.path(ntry, "ValDt", "Dt", text=booking.booked_on.isoformat())
    b.add(ntry, "AcctSvcrRef", booking.ref)
    domain = b.path(ntry, "BkTxCd", "Domn")
    b.add(domain, "Cd", "PMNT")
    fmly = b.add(domain, "Fmly")
    b.add(fmly, "Cd", family)
    b.add(fmly, "SubFmlyCd", sub_family)

    tx = b.path(ntry, "NtryDtls", "TxDtls")
    refs = b.add(tx, "Refs")
    if booking.msg_id:
        b.add(refs, "MsgId", booking.msg_id)
    b.add(refs, "AcctSvcrRef", booking.ref)
    if booking.pmt_inf_id:
        b.add(refs, "PmtInfId", booking.pmt_inf_id)
    if booking.instr_id:
        b.add(refs, "InstrId", booking.instr_id)
    if booking.end_to_end_id:
        b.add(refs, "EndToEndId", booking.end_to_end_id)
    _amount(b, tx, "Amt", booking.amount_fen)
    b.add(tx, "CdtDbtInd", indicator)
    _parties(b, tx, booking, accounts)
    if booking.remittance:
        b.path(tx, "RmtInf", "Ustrd", text=booking.remittance[:140])
    if booking.kind == RETURN:
        reason(b, tx, "RtrInf", booking.return_reason, f"return of {booking.returned_ref}")
    b.add(ntry, "AddtlNtryInf", _narrative(booking))


def _parties(
    b: Builder,
    tx: etree._Element,
    booking: Booking,
    accounts: Mapping[str, Account],
) -> None:
    debtor = accounts.get(booking.debit) if booking.debit else None
    creditor = accounts[booking.credit]
    parties = b.add(tx, "RltdPties")
    if debtor is not None:
        b.path(parties, "Dbtr", "Pty", "Nm", text=debtor.name)
        b.path(parties, "DbtrAcct", "Id", "Othr", "Id", text=debtor.number)
    elif booking.counterparty:
        b.path(parties, "Dbtr", "Pty", "Nm", text=booking.counterparty[:140])
    b.path(parties, "Cdtr", "Pty", "Nm", text=creditor.name)
    b.path(parties, "CdtrAcct", "Id", "Othr", "Id", text=creditor.number)
    agents = b.add(tx, "RltdAgts")
    if debtor is not None:  # money from outside comes from a bank we do not name
        agent(b, agents, "DbtrAgt", debtor.bank_code)
    agent(b, agents, "CdtrAgt", creditor.bank_code)


def _narrative(booking: Booking) -> str:
    if booking.kind == RETURN:
        return f"退汇 {booking.return_reason} 原交易 {booking.returned_ref}"
    if booking.kind == CREDIT:
        return f"来账 {booking.counterparty}"[:500]
    return f"代付 {booking.end_to_end_id}"
