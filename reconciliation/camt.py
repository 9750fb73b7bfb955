"""ISO 20022 bank-to-customer cash reports, read leniently: camt.052 (``Rpt``), camt.053 (``Stmt``)
and camt.054 (``Ntfctn``), versions .001.02 to .001.13, in the ISO namespace, a bank's own
namespace, or none.

``parse_camt(data)`` gives one ``Statement`` per ``Stmt``/``Rpt``/``Ntfctn`` in document order,
amounts as ``int`` minor units of their currency. What breaks the schema or the arithmetic
(a missing mandatory element, a statement that does not balance, counts that disagree, too many
decimals, duplicate bank references) is listed in ``Statement.violations`` — banks' own published
samples break their schemas, and a statement we refuse is a statement nobody reconciles
(docs/decisions/0008-lenient-statement-parsing.md). Only what cannot be read safely raises
``StatementFileError``: not XML, truncated, a DOCTYPE, not a camt message, an amount that is not
a number.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from lxml import etree

from reconciliation.camt_entries import (
    Element,
    Entry,
    account_id,
    child,
    children,
    format_minor,
    line_of,
    local,
    parse_entry,
    read_amount,
    read_credit_debit,
    read_date,
    read_datetime,
    read_decimal,
    text,
)
from reconciliation.errors import StatementFileError

Kind = Literal["statement", "report", "notification"]

# message element → (message, statement element, kind, statement pagination element)
_MESSAGES: dict[str, tuple[str, str, Kind, str]] = {
    "BkToCstmrStmt": ("camt.053", "Stmt", "statement", "StmtPgntn"),
    "BkToCstmrAcctRpt": ("camt.052", "Rpt", "report", "RptPgntn"),
    "BkToCstmrDbtCdtNtfctn": ("camt.054", "Ntfctn", "notification", "NtfctnPgntn"),
}
# urn:iso:std:iso:20022:tech:xsd:camt.053.001.08, and the Swiss
# http://www.six-interbank-clearing.com/de/camt.053.001.04.ch.02.xsd
_NAMESPACE = re.compile(r"(camt\.05[234])\.001\.(\d{2})")
_KNOWN_VERSIONS = range(2, 14)
_OPENING = ("OPBD", "PRCD")
_CLOSING = "CLBD"
_DOCTYPE = b"<!DOCTYPE"


@dataclass(frozen=True)
class Balance:
    type: str  # OPBD, PRCD, CLBD, CLAV, ITBD, … (or the proprietary code)
    amount: int  # signed: negative when CdtDbtInd is DBIT
    currency: str | None
    date: date | None


@dataclass(frozen=True)
class PageInfo:
    number: str
    last: bool | None


@dataclass(frozen=True)
class Statement:
    kind: Kind
    message: str  # camt.052, camt.053 or camt.054
    version: int | None  # 8 for camt.053.001.08; None when the namespace does not say
    message_id: str | None
    statement_id: str | None
    electronic_seq: int | None
    legal_seq: int | None
    page: PageInfo | None
    created_at: datetime | None  # the statement's CreDtTm, else the group header's
    account: str | None  # IBAN, else Othr/Id
    currency: str | None  # Acct/Ccy, else from the balances, else from the entries
    balances: tuple[Balance, ...]
    entries: tuple[Entry, ...]
    violations: list[str]

    def balance(self, *types: str) -> Balance | None:
        """The first balance of the first of ``types`` present."""
        return _find(self.balances, types)

    @property
    def opening_booked(self) -> Balance | None:
        """OPBD, else PRCD (the previous closing, which some banks send instead)."""
        return _find(self.balances, _OPENING)

    @property
    def closing_booked(self) -> Balance | None:
        return _find(self.balances, (_CLOSING,))


def _find(balances: Sequence[Balance], types: Sequence[str]) -> Balance | None:
    for t in types:
        for b in balances:
            if b.type == t:
                return b
    return None


@dataclass(frozen=True)
class CamtFile:
    message: str
    version: int | None
    message_id: str | None
    statements: tuple[Statement, ...]
    violations: tuple[str, ...]  # about the document itself; repeated on every statement


def parse_camt(data: bytes) -> CamtFile:
    """Every statement, report or notification in a camt.052/053/054 file."""
    root = _load(data)
    message_el, doc_violations = _message_element(root)
    message, stmt_name, kind, pgntn_name = _MESSAGES[local(message_el)]
    version = _version(root, message, doc_violations)
    header = child(message_el, "GrpHdr")
    if header is None:
        doc_violations.append("GrpHdr: missing")
    else:
        for name in ("MsgId", "CreDtTm"):
            if text(header, name) is None:
                doc_violations.append(f"GrpHdr/{name}: missing")
    statements = tuple(
        _statement(
            el,
            f"{stmt_name}[{i}]",
            kind=kind,
            message=message,
            version=version,
            header=header,
            pgntn_name=pgntn_name,
            doc_violations=doc_violations,
        )
        for i, el in enumerate(children(message_el, stmt_name), start=1)
    )
    if not statements:
        doc_violations.append(f"{local(message_el)}: no {stmt_name}")
    return CamtFile(
        message=message,
        version=version,
        message_id=text(header, "MsgId"),
        statements=statements,
        violations=tuple(doc_violations),
    )


def _load(data: bytes) -> Element:
    data = _unix_lines(data)
    doctype_at = _doctype_line(data)
    if doctype_at is not None:
        raise StatementFileError(
            line=doctype_at,
            reason="DOCTYPE declarations are refused: entities and external DTDs are an attack"
            " surface, and no bank statement needs one",
        )
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        remove_blank_text=True,
        # comments sit between elements in bank samples (the Finnish ones); dropping them keeps
        # every child an element and every text whole
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as e:
        reason = (e.msg or "").split(", line ")[0] or "unreadable"
        raise StatementFileError(line=e.lineno or 1, reason=f"not well-formed XML: {reason}") from e
    # backstop for encodings the byte scan cannot see (an internal DTD is there even without
    # declarations)
    if root.getroottree().docinfo.internalDTD is not None:
        raise StatementFileError(line=1, reason="DOCTYPE declarations are refused")
    return root


def _doctype_line(data: bytes) -> int | None:
    for encoding in ("ascii", "utf-16-le", "utf-16-be"):
        at = data.find(_DOCTYPE.decode().encode(encoding))
        if at >= 0:
            return data[:at].count("\n".encode(encoding)) + 1
    return None


def _unix_lines(data: bytes) -> bytes:
    """CR-only line ends (the Finnish samples) read as LF so that libxml2 counts lines; XML
    normalises line ends to LF anyway. In UTF-8 and the other ASCII-compatible encodings a 0x0D
    byte is always CR; UTF-16/32 (BOM or NUL bytes up front) are left alone."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in data[:4]:
        return data
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def _message_element(root: Element) -> tuple[Element, list[str]]:
    if local(root) in _MESSAGES:
        return root, [f"{local(root)}: not wrapped in a Document element"]
    if local(root) != "Document":
        raise StatementFileError(
            line=line_of(root), reason=f"not a camt statement: the root element is {local(root)}"
        )
    message = next(iter(root), None)
    if message is None:
        raise StatementFileError(line=line_of(root), reason="not a camt statement: empty Document")
    if local(message) not in _MESSAGES:
        ns = etree.QName(message).namespace
        raise StatementFileError(
            line=line_of(message),
            reason=f"not a camt statement: the Document holds {local(message)}"
            + (f" (namespace {ns})" if ns else ""),
        )
    return message, []


def _version(root: Element, message: str, violations: list[str]) -> int | None:
    ns = etree.QName(root).namespace
    if not ns:
        violations.append(f"Document: no namespace; read as {message} by its element names")
        return None
    found = _NAMESPACE.search(ns)
    if found is None:
        violations.append(f"Document: namespace '{ns}' is not a camt one; read as {message}")
        return None
    if found.group(1) != message:
        violations.append(
            f"Document: namespace says {found.group(1)} but the message is {message}; read as"
            f" {message}"
        )
    version = int(found.group(2))
    if version not in _KNOWN_VERSIONS:
        violations.append(
            f"Document: {found.group(0)} is not a version we know (.02 to .13); read by element"
            " names"
        )
    return version


def _statement(
    el: Element,
    path: str,
    *,
    kind: Kind,
    message: str,
    version: int | None,
    header: Element | None,
    pgntn_name: str,
    doc_violations: Sequence[str],
) -> Statement:
    violations = list(doc_violations)
    if text(el, "Id") is None:
        violations.append(f"{path}/Id: missing")
    acct = child(el, "Acct")
    account = account_id(acct)
    if acct is None:
        violations.append(f"{path}/Acct: missing")
    elif account is None:
        violations.append(f"{path}/Acct/Id: neither IBAN nor Othr/Id")
    currency = text(acct, "Ccy") or _first_currency(el)
    balances = tuple(
        b
        for i, bal in enumerate(children(el, "Bal"), start=1)
        if (b := _balance(bal, f"{path}/Bal[{i}]", currency, violations)) is not None
    )
    if kind == "statement" and not children(el, "Bal"):
        violations.append(f"{path}: no Bal; a statement must carry at least one balance")
    entries = tuple(
        parse_entry(ntry, f"{path}/Ntry[{i}]", currency, violations)
        for i, ntry in enumerate(children(el, "Ntry"), start=1)
    )
    _check_duplicate_refs(el, path, violations)
    _check_summary(el, path, entries, currency, violations)
    _check_balanced(balances, entries, currency, path, violations)
    pagination = child(el, pgntn_name)
    return Statement(
        kind=kind,
        message=message,
        version=version,
        message_id=text(header, "MsgId"),
        statement_id=text(el, "Id"),
        electronic_seq=_number(el, "ElctrncSeqNb", path, violations),
        legal_seq=_number(el, "LglSeqNb", path, violations),
        page=_page(pagination if pagination is not None else child(header, "MsgPgntn")),
        created_at=read_datetime(child(el, "CreDtTm"), f"{path}/CreDtTm", violations)
        or read_datetime(child(header, "CreDtTm"), "GrpHdr/CreDtTm", violations),
        account=account,
        currency=currency,
        balances=balances,
        entries=entries,
        violations=violations,
    )


def _first_currency(el: Element) -> str | None:
    """PostFinance leaves Acct/Ccy out (it is optional); the balances, else the entries, say it."""
    for name in ("Bal", "Ntry"):
        for item in children(el, name):
            amt = child(item, "Amt")
            ccy = amt.get("Ccy") if amt is not None else None
            if ccy:
                return ccy.strip()
    return None


def _balance(
    bal: Element, path: str, currency: str | None, violations: list[str]
) -> Balance | None:
    code = text(bal, "Tp/CdOrPrtry/Cd") or text(bal, "Tp/CdOrPrtry/Prtry")
    if code is None:
        violations.append(f"{path}: no Tp/CdOrPrtry code")
    # Bal/Amt only: a credit line inside the balance (Bal/CdtLine/Amt) is not the balance
    amt = child(bal, "Amt")
    if amt is None:
        violations.append(f"{path}: no Amt; balance ignored")
        return None
    amount, ccy = read_amount(amt, f"{path}/Amt", currency, violations)
    if currency and ccy and ccy != currency:
        violations.append(
            f"{path}: Amt currency {ccy} differs from the account currency {currency}"
        )
    # read as a credit when the indicator is missing (the Lithuanian camt.053.001.08 files)
    indicator = read_credit_debit(bal, path, violations)
    dt = child(bal, "Dt")
    if dt is None:
        violations.append(f"{path}: no Dt")
    return Balance(
        type=code or "",
        amount=-amount if indicator == "DBIT" else amount,
        currency=ccy,
        date=read_date(dt, f"{path}/Dt", violations),
    )


def _number(el: Element, name: str, path: str, violations: list[str]) -> int | None:
    raw = text(el, name)
    if raw is None:
        return None
    if not raw.isdigit():
        violations.append(f"{path}/{name}: '{raw}' is not a whole number")
        return None
    return int(raw)


def _page(el: Element | None) -> PageInfo | None:
    number = text(el, "PgNb")
    if number is None:
        return None
    last = text(el, "LastPgInd")
    return PageInfo(number=number, last=None if last is None else last in ("true", "1"))


def _check_duplicate_refs(el: Element, path: str, violations: list[str]) -> None:
    seen: dict[str, int] = {}
    for i, ntry in enumerate(children(el, "Ntry"), start=1):
        ref = text(ntry, "AcctSvcrRef")
        if ref is None:
            continue
        if ref in seen:
            violations.append(
                f"{path}/Ntry[{i}]: AcctSvcrRef '{ref}' repeats that of Ntry[{seen[ref]}]"
            )
        else:
            seen[ref] = i


def _check_summary(
    el: Element,
    path: str,
    entries: Sequence[Entry],
    currency: str | None,
    violations: list[str],
) -> None:
    """TxsSummry counts and sums against the entries themselves. TtlNetNtryAmt is not checked:
    the FFFS sample nets a reversed credit as a debit, others follow CdtDbtInd, and the sums by
    side already catch a wrong file."""
    summary = child(el, "TxsSummry")
    sides = {
        "TtlNtries": list(entries),
        "TtlCdtNtries": [e for e in entries if e.credit_debit == "CRDT"],
        "TtlDbtNtries": [e for e in entries if e.credit_debit == "DBIT"],
    }
    for name, counted in sides.items():
        total = child(summary, name)
        if total is None:
            continue
        where = f"{path}/TxsSummry/{name}"
        number = _number(total, "NbOfNtries", where, violations)
        if number is not None and number != len(counted):
            violations.append(f"{where}: NbOfNtries {number} but {len(counted)} entries")
        sum_el = child(total, "Sum")
        if sum_el is not None:
            stated = read_decimal(sum_el, f"{where}/Sum", currency, violations)
            actual = sum(abs(e.amount) for e in counted)
            if stated != actual:
                ccy = currency or ""
                violations.append(
                    f"{where}: Sum {format_minor(stated, ccy)} but the entries sum to"
                    f" {format_minor(actual, ccy)}"
                )


def _check_balanced(
    balances: Sequence[Balance],
    entries: Sequence[Entry],
    currency: str | None,
    path: str,
    violations: list[str],
) -> None:
    """Opening booked + booked entries = closing booked, when the statement has both. Pending
    and information-only entries have not moved the booked balance."""
    opening, closing = _find(balances, _OPENING), _find(balances, (_CLOSING,))
    if opening is None or closing is None:
        return
    moved = sum(e.amount for e in entries if e.status == "BOOK" and e.credit_debit is not None)
    expected = opening.amount + moved
    if expected != closing.amount:
        ccy = currency or ""
        gap = format_minor(abs(closing.amount - expected), ccy)
        violations.append(
            f"{path}: does not balance: {opening.type} {format_minor(opening.amount, ccy)}"
            f" + booked entries {format_minor(moved, ccy)} = {format_minor(expected, ccy)},"
            f" but CLBD is {format_minor(closing.amount, ccy)}"
            f" ({gap} {'less' if closing.amount < expected else 'more'})"
        )
