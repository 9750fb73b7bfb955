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

import io
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO, Literal

from lxml import etree

from clearing import bounds
from reconciliation.camt_entries import (
    SAFE_PARSE,
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


@dataclass
class EntryTotals:
    """Counts and sums of a statement's entries, kept as they stream past (so that a check of
    a large file need not keep the entries themselves)."""

    count: int = 0
    abs_sum: int = 0  # minor units, every entry whatever its side
    credit_count: int = 0
    credit_sum: int = 0  # minor units, positive
    debit_count: int = 0
    debit_sum: int = 0  # minor units, positive
    booked_moved: int = 0  # signed sum of booked entries with a valid CdtDbtInd

    def add(self, e: Entry) -> None:
        self.count += 1
        self.abs_sum += abs(e.amount)
        if e.credit_debit == "CRDT":
            self.credit_count += 1
            self.credit_sum += abs(e.amount)
        elif e.credit_debit == "DBIT":
            self.debit_count += 1
            self.debit_sum += abs(e.amount)
        if e.status == "BOOK" and e.credit_debit is not None:
            self.booked_moved += e.amount


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
    entries: tuple[Entry, ...]  # empty when read with keep_entries=False
    violations: list[str]
    totals: EntryTotals

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
    return read_camt(io.BytesIO(data), size=len(data))


def read_camt_file(path: Path, *, keep_entries: bool = True) -> CamtFile:
    """``parse_camt`` on a file, streamed: memory follows one entry, not the file."""
    with path.open("rb") as f:
        return read_camt(f, size=os.fstat(f.fileno()).st_size, keep_entries=keep_entries)


def read_camt(source: BinaryIO, *, size: int | None = None, keep_entries: bool = True) -> CamtFile:
    """Read a camt file from a binary stream, one element at a time: each ``Ntry`` is read into
    an ``Entry`` and dropped from the tree when it ends, each statement when it ends; with
    ``keep_entries=False`` only their totals are kept. Files past ``bounds.MAX_STATEMENT_BYTES``
    are refused before (or while) they are read."""
    limit = bounds.MAX_STATEMENT_BYTES
    if size is not None and size > limit:
        raise StatementFileError(
            line=1, reason=f"file of {size} bytes is larger than the limit of {limit}"
        )
    reader = _Reader(source, limit)
    events = etree.iterparse(reader, events=("start", "end"), remove_blank_text=True, **SAFE_PARSE)
    doc = _Document(keep_entries)
    try:
        for event, el in events:
            if event == "start":
                doc.start(el)
            else:
                doc.end(el)
    except etree.XMLSyntaxError as e:
        if reader.refusal is not None:
            raise reader.refusal from None
        reason = (e.msg or "").split(", line ")[0] or "unreadable"
        raise StatementFileError(line=e.lineno or 1, reason=f"not well-formed XML: {reason}") from e
    if reader.refusal is not None:
        raise reader.refusal
    root = doc.root
    if root is None:
        raise StatementFileError(line=1, reason="not well-formed XML: no root element")
    # backstop for encodings the byte scan cannot see (an internal DTD is there even without
    # declarations)
    if root.getroottree().docinfo.internalDTD is not None:
        raise StatementFileError(line=1, reason="DOCTYPE declarations are refused")
    return doc.finish()


class _Reader:
    """The file as libxml2 reads it: CR-only and CRLF line ends as LF (so that it counts lines;
    XML normalises line ends anyway), a DOCTYPE refused wherever it appears (entities and
    external DTDs are an attack surface, and no bank statement needs one), and no more than
    ``limit`` bytes. UTF-16/32 files (BOM or NUL bytes up front) keep their line ends."""

    _PATTERNS = tuple(
        (_DOCTYPE.decode().encode(enc), "\n".encode(enc))
        for enc in ("ascii", "utf-16-le", "utf-16-be")
    )

    def __init__(self, source: BinaryIO, limit: int) -> None:
        self._source = source
        self._limit = limit
        self._count = 0
        self._wide: bool | None = None
        self._carry_cr = False
        self._tail = b""
        self._lines = [0, 0, 0]  # line ends passed, counted in each pattern's encoding
        self.refusal: StatementFileError | None = None

    def read(self, n: int = -1) -> bytes:
        if self.refusal is not None:
            raise self.refusal
        data = self._source.read(n if n > 0 else 64 * 1024)
        self._count += len(data)
        if self._count > self._limit:
            self.refusal = StatementFileError(
                line=1 + self._lines[0],
                reason=f"file is larger than the limit of {self._limit} bytes",
            )
            raise self.refusal
        if self._wide is None and data:
            self._wide = data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in data[:4]
        if not self._wide:
            if self._carry_cr:
                data = b"\r" + data
                self._carry_cr = False
            if data.endswith(b"\r") and len(data) > 1:
                data, self._carry_cr = data[:-1], True  # it may be the CR of a CRLF
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        self._scan(data)
        return data

    def _scan(self, data: bytes) -> None:
        window = self._tail + data
        for i, (doctype, newline) in enumerate(self._PATTERNS):
            at = window.find(doctype)
            if at >= 0:
                before = self._lines[i] - self._tail.count(newline)
                self.refusal = StatementFileError(
                    line=before + window[:at].count(newline) + 1,
                    reason="DOCTYPE declarations are refused: entities and external DTDs are an"
                    " attack surface, and no bank statement needs one",
                )
                raise self.refusal
            self._lines[i] += data.count(newline)
        self._tail = window[-32:]


@dataclass
class _Streamed:
    """What one statement's entries gave while they streamed past."""

    currency: str | None = None
    keep: bool = True
    number: int = 0
    totals: EntryTotals = field(default_factory=EntryTotals)
    entries: list[Entry] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    refs: dict[str, int] = field(default_factory=dict)


class _Document:
    """The parse, one event at a time; the checks are those of a whole-tree read."""

    def __init__(self, keep_entries: bool) -> None:
        self.keep_entries = keep_entries
        self.root: Element | None = None
        self.message_el: Element | None = None
        self.depth = 0
        self.doc_violations: list[str] = []
        self.header_checked = False
        self.statements: list[Statement] = []
        self.streamed: dict[Element, _Streamed] = {}

    def start(self, el: Element) -> None:
        self.depth += 1
        if self.depth == 1:
            self.root = el
            if local(el) in _MESSAGES:
                self._message(el, [f"{local(el)}: not wrapped in a Document element"])
            elif local(el) != "Document":
                raise StatementFileError(
                    line=line_of(el),
                    reason=f"not a camt statement: the root element is {local(el)}",
                )
        elif self.depth == 2 and self.message_el is None:
            if local(el) not in _MESSAGES:
                ns = etree.QName(el).namespace
                raise StatementFileError(
                    line=line_of(el),
                    reason=f"not a camt statement: the Document holds {local(el)}"
                    + (f" (namespace {ns})" if ns else ""),
                )
            self._message(el, [])

    def _message(self, el: Element, violations: list[str]) -> None:
        self.message_el = el
        assert self.root is not None
        self.message, self.stmt_name, self.kind, self.pgntn_name = _MESSAGES[local(el)]
        self.doc_violations.extend(violations)
        self.version = _version(self.root, self.message, self.doc_violations)

    def end(self, el: Element) -> None:
        self.depth -= 1
        message_el = self.message_el
        if message_el is None:
            if el is self.root:
                raise StatementFileError(
                    line=line_of(el), reason="not a camt statement: empty Document"
                )
            return
        parent = el.getparent()
        if parent is None or local(el) not in ("Ntry", self.stmt_name):
            return
        if local(el) == "Ntry" and parent.getparent() is message_el:
            if local(parent) == self.stmt_name:
                self._entry(parent, el)
                parent.remove(el)  # its Entry is kept; its elements are not
        elif parent is message_el:
            self._check_header()
            number = len(self.statements) + 1
            self.statements.append(
                _statement(
                    el,
                    f"{self.stmt_name}[{number}]",
                    kind=self.kind,
                    message=self.message,
                    version=self.version,
                    header=child(message_el, "GrpHdr"),
                    pgntn_name=self.pgntn_name,
                    doc_violations=self.doc_violations,
                    streamed=self.streamed.pop(el, _Streamed()),
                )
            )
            message_el.remove(el)

    def _entry(self, stmt_el: Element, ntry: Element) -> None:
        got = self.streamed.get(stmt_el)
        if got is None:
            # Acct and Bal come before the entries: the account's currency is known by now
            got = self.streamed[stmt_el] = _Streamed(
                currency=text(child(stmt_el, "Acct"), "Ccy") or _first_currency(stmt_el),
                keep=self.keep_entries,
            )
        got.number += 1
        number = got.number
        path = f"{self.stmt_name}[{len(self.statements) + 1}]/Ntry[{number}]"
        entry = parse_entry(ntry, path, got.currency, got.violations)
        got.totals.add(entry)
        if got.keep:
            got.entries.append(entry)
        ref = text(ntry, "AcctSvcrRef")
        if ref is not None:
            if ref in got.refs:
                got.duplicates.append(
                    f"{self.stmt_name}[{len(self.statements) + 1}]/Ntry[{number}]: AcctSvcrRef"
                    f" '{ref}' repeats that of Ntry[{got.refs[ref]}]"
                )
            else:
                got.refs[ref] = number

    def _check_header(self) -> None:
        if self.header_checked or self.message_el is None:
            return
        self.header_checked = True
        header = child(self.message_el, "GrpHdr")
        if header is None:
            self.doc_violations.append("GrpHdr: missing")
        else:
            for name in ("MsgId", "CreDtTm"):
                if text(header, name) is None:
                    self.doc_violations.append(f"GrpHdr/{name}: missing")

    def finish(self) -> CamtFile:
        message_el = self.message_el
        assert message_el is not None
        self._check_header()
        if not self.statements:
            self.doc_violations.append(f"{local(message_el)}: no {self.stmt_name}")
        header = child(message_el, "GrpHdr")
        return CamtFile(
            message=self.message,
            version=self.version,
            message_id=text(header, "MsgId"),
            statements=tuple(self.statements),
            violations=tuple(self.doc_violations),
        )


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
    streamed: _Streamed,
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
    currency = text(acct, "Ccy") or _first_currency(el) or streamed.currency
    balances = tuple(
        b
        for i, bal in enumerate(children(el, "Bal"), start=1)
        if (b := _balance(bal, f"{path}/Bal[{i}]", currency, violations)) is not None
    )
    if kind == "statement" and not children(el, "Bal"):
        violations.append(f"{path}: no Bal; a statement must carry at least one balance")
    # the entries were read (and dropped from the tree) as they streamed past
    entries = tuple(streamed.entries)
    totals = streamed.totals
    violations.extend(streamed.violations)
    violations.extend(streamed.duplicates)
    _check_summary(el, path, totals, currency, violations)
    _check_balanced(balances, totals, currency, path, violations)
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
        totals=totals,
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


def _check_summary(
    el: Element,
    path: str,
    totals: EntryTotals,
    currency: str | None,
    violations: list[str],
) -> None:
    """TxsSummry counts and sums against the entries themselves. TtlNetNtryAmt is not checked:
    the FFFS sample nets a reversed credit as a debit, others follow CdtDbtInd, and the sums by
    side already catch a wrong file."""
    summary = child(el, "TxsSummry")
    sides = {
        "TtlNtries": (totals.count, totals.abs_sum),
        "TtlCdtNtries": (totals.credit_count, totals.credit_sum),
        "TtlDbtNtries": (totals.debit_count, totals.debit_sum),
    }
    for name, (count, actual) in sides.items():
        total = child(summary, name)
        if total is None:
            continue
        where = f"{path}/TxsSummry/{name}"
        number = _number(total, "NbOfNtries", where, violations)
        if number is not None and number != count:
            violations.append(f"{where}: NbOfNtries {number} but {count} entries")
        sum_el = child(total, "Sum")
        if sum_el is not None:
            stated = read_decimal(sum_el, f"{where}/Sum", currency, violations)
            if stated != actual:
                ccy = currency or ""
                violations.append(
                    f"{where}: Sum {format_minor(stated, ccy)} but the entries sum to"
                    f" {format_minor(actual, ccy)}"
                )


def _check_balanced(
    balances: Sequence[Balance],
    totals: EntryTotals,
    currency: str | None,
    path: str,
    violations: list[str],
) -> None:
    """Opening booked + booked entries = closing booked, when the statement has both. Pending
    and information-only entries have not moved the booked balance."""
    opening, closing = _find(balances, _OPENING), _find(balances, (_CLOSING,))
    if opening is None or closing is None:
        return
    moved = totals.booked_moved
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
