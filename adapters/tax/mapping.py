"""The bureau's answers read strictly into ``DueItem`` and ``LegConfirmation`` (pure).

Anything out of shape raises ``WireFormatError``; a completion certificate whose signature does
not verify raises ``CertificateForged``. Yuan strings become int fen through ``parse_yuan`` only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from adapters.tax import signing
from adapters.tax.rules import Rate
from adapters.tax.wire import CERT_NO, DECLARATION_NO, ITEM_BY_TAX_TYPE, PROPERTY_UNIT, TAX_VOU_NO
from adapters.wiretime import WireFormatError, fen, parse_date, parse_time, text
from clearing.ports import DueItem, LegConfirmation

AUTHORITY = "tax"
PAYER_ROLES = ("BUYER", "SELLER")


class CertificateForged(WireFormatError):
    """A 完税证明 whose signature the bureau's key did not make."""


def _count(data: Mapping[str, Any], name: str) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise WireFormatError(f"{name} missing or not a count")
    return value


def _entries(data: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    value = data.get(name)
    if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
        raise WireFormatError(f"{name} missing or not a list of objects")
    return value


def mask_id(taxpayer_id: str) -> str:
    """Enough of a 纳税人识别号 to recognise it on a screen, not to reuse it."""
    return taxpayer_id[:4] + "*" * (len(taxpayer_id) - 8) + taxpayer_id[-4:]


def due_items(
    body: Mapping[str, Any], *, tax_org_code: str, declaration_no: str | None
) -> list[DueItem]:
    """The outstanding vouchers of one declaration (answer 2101)."""
    decl_no = text(body, "DeclNo")
    if not DECLARATION_NO.fullmatch(decl_no):
        raise WireFormatError("DeclNo is not a declaration number")
    if declaration_no is not None and decl_no != declaration_no:
        raise WireFormatError("answer is about another declaration")
    if text(body, "TaxOrgCode") != tax_org_code:
        raise WireFormatError("answer is from another tax office")
    unit = text(body, "PropertyUnit")
    if not PROPERTY_UNIT.fullmatch(unit):
        raise WireFormatError("PropertyUnit is not a property unit number")
    vouchers = _entries(body, "TaxVouList")
    if not vouchers or _count(body, "TaxVouNum") != len(vouchers):
        raise WireFormatError("TaxVouNum does not match TaxVouList")
    items = [_due_item(v, decl_no, unit, tax_org_code, text(body, "TaxOrgName")) for v in vouchers]
    if sum(item.amount_fen for item in items) != fen(body, "TotalAmt"):
        raise WireFormatError("TotalAmt is not the sum of the vouchers")
    if len({item.reference for item in items}) != len(items):
        raise WireFormatError("a voucher is listed twice")
    return items


def _due_item(
    voucher: Mapping[str, Any], decl_no: str, unit: str, tax_org_code: str, tax_org_name: str
) -> DueItem:
    vou_no = text(voucher, "TaxVouNo")
    if not TAX_VOU_NO.fullmatch(vou_no) or not vou_no.startswith(tax_org_code):
        raise WireFormatError("TaxVouNo is not one of this office's voucher numbers")
    type_code = text(voucher, "TaxTypeCode")
    item_code = ITEM_BY_TAX_TYPE.get(type_code)
    if item_code is None:
        raise WireFormatError(f"unknown TaxTypeCode {type_code}")
    amount = fen(voucher, "TraAmt")
    if amount <= 0:
        raise WireFormatError("TraAmt must be positive")
    role = text(voucher, "PayerRole")
    if role not in PAYER_ROLES:
        raise WireFormatError("PayerRole must be BUYER or SELLER")
    try:
        rate = Rate.parse(text(voucher, "TaxRate"))
    except ValueError as exc:
        raise WireFormatError(f"TaxRate: {exc}") from None
    start, end = parse_date(text(voucher, "TaxStartDate")), parse_date(text(voucher, "TaxEndDate"))
    if end < start:
        raise WireFormatError("tax period ends before it starts")
    return DueItem(
        authority=AUTHORITY,
        item_code=item_code,
        reference=vou_no,
        amount_fen=amount,
        payer_name=text(voucher, "TaxPayName"),
        details={
            "declaration_no": decl_no,
            "tax_org_code": tax_org_code,
            "tax_org_name": tax_org_name,
            "tax_type_code": type_code,
            "tax_type_name": text(voucher, "TaxTypeName"),
            "payer_role": role,
            "taxpayer_id_masked": mask_id(text(voucher, "TaxPayCode")),
            "property_unit": unit,
            "basis_fen": fen(voucher, "TaxBasis"),
            "rate": rate.text,
            "period_start": start.isoformat(),
            "period_end": end.isoformat(),
            "due_by": parse_date(text(voucher, "LimitDate")).isoformat(),
            "rate_set": text(voucher, "RateSet"),
        },
    )


def confirmation(
    entry: Mapping[str, Any], *, tax_org_code: str, public_key: ec.EllipticCurvePublicKey
) -> LegConfirmation:
    """One confirmed voucher (answer 2102, or a line of 3111) with its certificate checked."""
    vou_no, cert_no = text(entry, "TaxVouNo"), text(entry, "CertNo")
    if not TAX_VOU_NO.fullmatch(vou_no) or not CERT_NO.fullmatch(cert_no):
        raise WireFormatError("TaxVouNo or CertNo out of format")
    if text(entry, "TaxOrgCode") != tax_org_code:
        raise WireFormatError("confirmation is from another tax office")
    tra_amt, tax_date = text(entry, "TraAmt"), text(entry, "TaxDate")
    amount = fen(entry, "TraAmt")
    day = parse_date(tax_date)
    confirmed_at = parse_time(text(entry, "CfmTime"))
    if confirmed_at.date() != day:
        raise WireFormatError("CfmTime is not on TaxDate")
    sign = text(entry, "CertSign")
    line = signing.certificate_line(
        tax_org_code=tax_org_code,
        cert_no=cert_no,
        tax_vou_no=vou_no,
        tra_amt=tra_amt,
        tax_date=tax_date,
    )
    if not signing.verify_certificate(public_key, line, sign):
        raise CertificateForged("CertSign does not verify")
    return LegConfirmation(
        reference=vou_no,
        proof_no=cert_no,
        confirmed_at=confirmed_at,
        proof={
            "tax_org_code": tax_org_code,
            "tax_vou_no": vou_no,
            "cert_no": cert_no,
            "tax_date": day.isoformat(),
            "cert_sign": sign,
        },
        amount_fen=amount,
    )


def confirmations(
    body: Mapping[str, Any], *, tax_org_code: str, public_key: ec.EllipticCurvePublicKey
) -> tuple[str, list[LegConfirmation]]:
    """The voucher detail list (3111): its ChkDate and every line, totals checked."""
    chk_date = text(body, "ChkDate")
    parse_date(chk_date)
    if text(body, "TaxOrgCode") != tax_org_code:
        raise WireFormatError("list is from another tax office")
    entries = _entries(body, "Vouchers")
    if _count(body, "AllNum") != len(entries):
        raise WireFormatError("AllNum does not match the list")
    lines = [confirmation(e, tax_org_code=tax_org_code, public_key=public_key) for e in entries]
    if sum(line.amount_fen or 0 for line in lines) != fen(body, "AllAmt"):
        raise WireFormatError("AllAmt is not the sum of the list")
    if any(e.get("TaxDate") != chk_date for e in entries):
        raise WireFormatError("a line is from another day")
    return chk_date, lines
