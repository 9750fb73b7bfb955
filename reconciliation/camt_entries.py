"""Entries of a camt.052/053/054 message (``Ntry`` and the ``TxDtls`` inside it), plus the small
readers every part of the importer shares: local-name lookups, amounts and dates.

Lookups match on local names only, so the ISO namespace of any version, a bank's own namespace
(the Swiss ``six-interbank-clearing.com`` ones) and no namespace at all read the same way.
Readers never raise for a schema violation: they append a readable sentence to ``violations``
and return what can still be used. The one exception is an amount that is not a number — a
statement whose money cannot be read is refused whole (``StatementFileError``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from functools import lru_cache
from typing import TypedDict

from lxml import etree

from reconciliation.errors import StatementFileError


class ParseOptions(TypedDict):
    """lxml's parser options, typed so that ``**SAFE_PARSE`` is checked against each parser."""

    resolve_entities: bool
    no_network: bool
    load_dtd: bool
    huge_tree: bool
    remove_comments: bool
    remove_pis: bool


# how a bank's XML is parsed (statements and status reports alike): no entity expansion, no
# network, no DTD, no oversized trees; comments sit between elements in bank samples (the
# Finnish ones), so they and processing instructions are dropped: every child is an element
# and every text whole
SAFE_PARSE: ParseOptions = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
}

Element = etree._Element

# ISO 4217 minor units where they are not 2; everything else (CNY, EUR, CHF, USD, …) has 2.
_MINOR_DIGITS = {
    code: digits
    for digits, codes in (
        (0, "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"),
        (3, "BHD IQD JOD KWD LYD OMR TND"),
        (4, "CLF UYW"),
    )
    for code in codes.split()
}
_CURRENCY = re.compile(r"[A-Z]{3}")
# xs:decimal's lexical space; anything else (1,50  1e3  NaN  empty) is not an amount
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
# ISO amounts have at most 18 digits; far longer text is an attack or garbage, not money
_MAX_AMOUNT_CHARS = 40
# a placeholder the EPC rulebooks prescribe when the originator gave no end-to-end id; it must not
# become a match key shared by thousands of unrelated payments
_NOT_PROVIDED = "NOTPROVIDED"


def local(el: Element) -> str:
    return el.tag.rpartition("}")[2] if isinstance(el.tag, str) else ""


def children(el: Element | None, name: str) -> list[Element]:
    if el is None:
        return []
    # "{*}" matches any namespace or none, inside libxml2 rather than in Python
    return list(el.iterchildren(f"{{*}}{name}"))


@lru_cache(maxsize=256)
def _any_namespace(path: str) -> str:
    return "/".join(f"{{*}}{name}" for name in path.split("/"))


def child(el: Element | None, path: str) -> Element | None:
    """The first element at a slash-separated path of local names, or None."""
    return None if el is None else el.find(_any_namespace(path))


def text(el: Element | None, path: str | None = None) -> str | None:
    """Stripped text of the element (at ``path``), None when absent or empty. Banks pad values
    with spaces (a creditor reference ``RF7812345 `` in the Finnish sample)."""
    target = child(el, path) if path else el
    if target is None or target.text is None:
        return None
    return target.text.strip() or None


def line_of(el: Element) -> int:
    line = el.sourceline
    return line if isinstance(line, int) else 1


def minor_digits(currency: str) -> int:
    return _MINOR_DIGITS.get(currency, 2)


def format_minor(amount: int, currency: str) -> str:
    """Minor units back as the decimal text a person compares with the file: 21511221 CHF →
    '215112.21'."""
    digits = minor_digits(currency)
    sign = "-" if amount < 0 else ""
    if digits == 0:
        return f"{sign}{abs(amount)}"
    whole, frac = divmod(abs(amount), 10**digits)
    return f"{sign}{whole}.{frac:0{digits}d}"


def read_currency(
    el: Element, path: str, fallback: str | None, violations: list[str]
) -> str | None:
    where, _, name = path.rpartition("/")
    ccy = (el.get("Ccy") or "").strip()
    if not ccy:
        violations.append(f"{where}: {name} has no Ccy")
        return fallback
    if not _CURRENCY.fullmatch(ccy):
        violations.append(f"{where}: {name} Ccy '{ccy}' is not an ISO 4217 currency code")
    return ccy


def read_decimal(el: Element, path: str, currency: str | None, violations: list[str]) -> int:
    """An xs:decimal amount in minor units of ``currency``, exactly (no float on the way).

    ``path`` ends in the element's own name ("Stmt[1]/Ntry[5]/Amt"). More fraction digits than
    the currency has is recorded; the value is then rounded half to even and the violation says
    to what. A text that is not a number is refused."""
    where, _, name = path.rpartition("/")
    raw = (el.text or "").strip()
    if len(raw) > _MAX_AMOUNT_CHARS or not _DECIMAL.fullmatch(raw):
        shown = raw if len(raw) <= _MAX_AMOUNT_CHARS else raw[:_MAX_AMOUNT_CHARS] + "…"
        raise StatementFileError(
            line=line_of(el), reason=f"{where}: {name} '{shown}' is not a number"
        )
    digits = minor_digits(currency) if currency else 2
    value = Decimal(raw)
    with localcontext() as ctx:
        ctx.prec = len(raw) + digits + 2  # enough that scaling never rounds
        scaled = value.scaleb(digits)
        minor = int(scaled.to_integral_value(rounding=ROUND_HALF_EVEN))
    # lexical, as the ISO rule is: '12.340' breaks it too, though its value is exact
    if len(raw.partition(".")[2]) > digits:
        counted = "" if scaled == minor else f"; counted as {format_minor(minor, currency or '')}"
        violations.append(
            f"{where}: {name} '{raw}' has more decimals than {currency or 'the currency'} allows"
            f" ({digits}){counted}"
        )
    if value < 0:
        violations.append(
            f"{where}: {name} '{raw}' is negative; amounts are positive and CdtDbtInd gives the"
            " sign"
        )
    elif len(raw.lstrip("+").replace(".", "").lstrip("0")) > 18:
        violations.append(f"{where}: {name} '{raw}' has more than the 18 digits ISO 20022 allows")
    return minor


def read_amount(
    el: Element, path: str, fallback_currency: str | None, violations: list[str]
) -> tuple[int, str | None]:
    """An ``Amt Ccy=…`` element: minor units (as written, unsigned) and its currency."""
    currency = read_currency(el, path, fallback_currency, violations)
    return read_decimal(el, path, currency, violations), currency


def read_credit_debit(el: Element, path: str, violations: list[str]) -> str | None:
    """CRDT or DBIT; None (recorded) when missing or anything else."""
    ind = text(el, "CdtDbtInd")
    if ind in ("CRDT", "DBIT"):
        return ind
    violations.append(
        f"{path}: no CdtDbtInd" if ind is None else f"{path}: unknown CdtDbtInd '{ind}'"
    )
    return None


def read_date(el: Element | None, path: str, violations: list[str]) -> date | None:
    """A ``DateAndDateTimeChoice`` (``Dt`` or ``DtTm``) as a date; a bad one (30 February) is
    recorded and read as None."""
    if el is None:
        return None
    raw = text(el, "Dt") or text(el, "DtTm")
    if raw is None:
        violations.append(f"{path}: neither Dt nor DtTm")
        return None
    try:
        # xs:date may carry a zone ("2020-11-24+01:00"); the calendar day is the first 10 chars
        return date.fromisoformat(raw[:10])
    except ValueError:
        violations.append(f"{path}: '{raw}' is not a date")
        return None


def read_datetime(el: Element | None, path: str, violations: list[str]) -> datetime | None:
    """An ISODateTime; naive when the bank gives no offset (its local time)."""
    raw = text(el)
    if raw is None:
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        violations.append(f"{path}: '{raw}' is not a date and time")
        return None


def account_id(acct: Element | None) -> str | None:
    """IBAN, else the other identification."""
    return text(acct, "Id/IBAN") or text(acct, "Id/Othr/Id")


@dataclass(frozen=True)
class BankTransactionCode:
    domain: str | None
    family: str | None
    subfamily: str | None
    proprietary: str | None
    proprietary_issuer: str | None


@dataclass(frozen=True)
class TransactionDetails:
    """One ``TxDtls``: the references we match on, its own amount, parties and remittance."""

    end_to_end_id: str | None
    instruction_id: str | None
    transaction_id: str | None
    account_servicer_ref: str | None
    message_id: str | None
    payment_info_id: str | None
    uetr: str | None
    amount: int | None  # minor units as written; TxDtls/Amt, else AmtDtls/TxAmt/Amt
    currency: str | None
    credit_debit: str | None  # TxDtls/CdtDbtInd, sent from v03 on
    debtor_name: str | None
    debtor_account: str | None
    creditor_name: str | None
    creditor_account: str | None
    ultimate_debtor_name: str | None
    ultimate_creditor_name: str | None
    unstructured: tuple[str, ...]  # RmtInf/Ustrd
    creditor_refs: tuple[str, ...]  # RmtInf/Strd/CdtrRefInf/Ref
    return_reason: str | None  # RtrInf/Rsn/Cd (or Prtry)


@dataclass(frozen=True)
class Entry:
    """One ``Ntry``. ``amount`` is signed: negative for DBIT, as written when CdtDbtInd is
    missing or unknown (``credit_debit`` is then None and the entry counts on neither side)."""

    amount: int
    currency: str | None
    credit_debit: str | None
    reversal: bool
    status: str | None  # BOOK, PDNG, INFO, … from <Sts>X</Sts> or <Sts><Cd>X</Cd></Sts>
    booking_date: date | None
    value_date: date | None
    entry_ref: str | None
    account_servicer_ref: str | None
    bank_transaction_code: BankTransactionCode | None
    additional_info: str | None
    details: tuple[TransactionDetails, ...]


def _party_name(parties: Element | None, role: str) -> str | None:
    # from v08 on a party is a choice: Dbtr/Pty/Nm (or Dbtr/Agt); before, Dbtr/Nm
    return text(parties, f"{role}/Nm") or text(parties, f"{role}/Pty/Nm")


def _amount_element(tx: Element) -> Element | None:
    return child(tx, "Amt") if child(tx, "Amt") is not None else child(tx, "AmtDtls/TxAmt/Amt")


def parse_details(tx: Element, path: str, violations: list[str]) -> TransactionDetails:
    refs = child(tx, "Refs")
    amount: int | None = None
    currency: str | None = None
    amt = _amount_element(tx)
    if amt is not None:
        amount, currency = read_amount(amt, f"{path}/Amt", None, violations)
    ind = text(tx, "CdtDbtInd")
    if ind is not None and ind not in ("CRDT", "DBIT"):
        violations.append(f"{path}: unknown CdtDbtInd '{ind}'")
    parties = child(tx, "RltdPties")
    remittance = child(tx, "RmtInf")
    ustrd = tuple(t for u in children(remittance, "Ustrd") if (t := text(u)))
    crefs = tuple(
        t for s in children(remittance, "Strd") if (t := text(s, "CdtrRefInf/Ref")) is not None
    )
    e2e = text(refs, "EndToEndId")
    return TransactionDetails(
        end_to_end_id=None if e2e == _NOT_PROVIDED else e2e,
        instruction_id=text(refs, "InstrId"),
        transaction_id=text(refs, "TxId"),
        account_servicer_ref=text(refs, "AcctSvcrRef"),
        message_id=text(refs, "MsgId"),
        payment_info_id=text(refs, "PmtInfId"),
        uetr=text(refs, "UETR"),
        amount=amount,
        currency=currency,
        credit_debit=ind,
        debtor_name=_party_name(parties, "Dbtr"),
        debtor_account=account_id(child(parties, "DbtrAcct")),
        creditor_name=_party_name(parties, "Cdtr"),
        creditor_account=account_id(child(parties, "CdtrAcct")),
        ultimate_debtor_name=_party_name(parties, "UltmtDbtr"),
        ultimate_creditor_name=_party_name(parties, "UltmtCdtr"),
        unstructured=ustrd,
        creditor_refs=crefs,
        return_reason=text(tx, "RtrInf/Rsn/Cd") or text(tx, "RtrInf/Rsn/Prtry"),
    )


def _status(ntry: Element, path: str, violations: list[str]) -> str | None:
    sts = child(ntry, "Sts")
    if sts is None:
        violations.append(f"{path}: no Sts")
        return None
    # a plain code up to v06, a choice Sts/Cd | Sts/Prtry from v07 on; banks mix them up
    status = text(sts) or text(sts, "Cd") or text(sts, "Prtry")
    if status is None:
        violations.append(f"{path}: empty Sts")
    return status


def _bank_transaction_code(
    ntry: Element, path: str, violations: list[str]
) -> BankTransactionCode | None:
    code = child(ntry, "BkTxCd")
    if code is None:
        violations.append(f"{path}: no BkTxCd")
        return None
    return BankTransactionCode(
        domain=text(code, "Domn/Cd"),
        family=text(code, "Domn/Fmly/Cd"),
        subfamily=text(code, "Domn/Fmly/SubFmlyCd"),
        proprietary=text(code, "Prtry/Cd"),
        proprietary_issuer=text(code, "Prtry/Issr"),
    )


def _all_details(ntry: Element) -> Iterator[Element]:
    for dtls in children(ntry, "NtryDtls"):
        yield from children(dtls, "TxDtls")


def parse_entry(
    ntry: Element, path: str, account_currency: str | None, violations: list[str]
) -> Entry:
    """One ``Ntry``; ``TxDtls`` are numbered across all its ``NtryDtls`` in the paths."""
    amt = child(ntry, "Amt")
    if amt is None:
        violations.append(f"{path}: no Amt; counted as 0")
        amount, currency = 0, account_currency
    else:
        amount, currency = read_amount(amt, f"{path}/Amt", account_currency, violations)
        if account_currency and currency and currency != account_currency:
            violations.append(
                f"{path}: Amt currency {currency} differs from the account currency"
                f" {account_currency}"
            )
    credit_debit = read_credit_debit(ntry, path, violations)
    status = _status(ntry, path, violations)
    booking_date = read_date(child(ntry, "BookgDt"), f"{path}/BookgDt", violations)
    value_date = read_date(child(ntry, "ValDt"), f"{path}/ValDt", violations)
    code = _bank_transaction_code(ntry, path, violations)
    details = tuple(
        parse_details(tx, f"{path}/TxDtls[{i}]", violations)
        for i, tx in enumerate(_all_details(ntry), start=1)
    )
    return Entry(
        amount=-amount if credit_debit == "DBIT" else amount,
        currency=currency,
        credit_debit=credit_debit,
        reversal=text(ntry, "RvslInd") in ("true", "1"),
        status=status,
        booking_date=booking_date,
        value_date=value_date,
        entry_ref=text(ntry, "NtryRef"),
        account_servicer_ref=text(ntry, "AcctSvcrRef"),
        bank_transaction_code=code,
        additional_info=text(ntry, "AddtlNtryInf"),
        details=details,
    )
