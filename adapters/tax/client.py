"""Client of the tax bureau's 税费统缴 data-exchange front-end: the ``Authority`` named "tax".

``lookup`` asks what a declaration (申报) still owes, one ``DueItem`` per tax and payer, each with
its electronic tax voucher number (电子税票号); ``confirm`` tells the bureau one voucher was paid
through us and returns its completion certificate (完税证明); ``daily_confirmations`` fetches the
day's voucher detail list for reconciliation (TIPS 3111). Wire format: PROTOCOL.md.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from adapters.http import Client
from adapters.tax import mapping
from adapters.tax.errors import AUTHORITY, TaxAnswerForged, TaxRefused
from adapters.tax.keys import MerchantKeys
from adapters.tax.transport import Transport, unreadable
from adapters.tax.wire import (
    CONFIRM,
    DECLARATION_NO,
    LOOKUP,
    ORDER_NO,
    PAYMENT_REF,
    PROPERTY_UNIT,
    RECONCILE,
    TAX_VOU_NO,
    TAXPAYER_ID,
    wire_date,
    wire_time,
)
from adapters.wiretime import WireFormatError
from clearing.domain.money import yuan_str
from clearing.ports import DueItem, LegConfirmation, LegPaid

log = logging.getLogger(__name__)

# the ``**case`` keys lookup reads; the core may pass others meant for other authorities
CASE_KEYS = ("taxpayer_id", "property_unit")


class TaxClient(Client[MerchantKeys, Transport]):
    """Calls the bureau's front-end (or its simulator) over a session the caller owns."""

    name = AUTHORITY
    transport = Transport
    shows = ("tax_org", "tax_org_code")

    async def lookup(self, reference: str, **case: str) -> list[DueItem]:
        """The vouchers a declaration still owes, by declaration number (申报号), or, with an empty
        ``reference``, by ``taxpayer_id`` (buyer or seller) and ``property_unit``.

        With a declaration number, a ``taxpayer_id`` or ``property_unit`` given as well must
        match the declaration (CASE_MISMATCH otherwise): a cheap guard against the wrong case.
        Vouchers already paid are not listed; ALREADY_PAID when none is left.
        """
        reference = reference.strip()
        taxpayer_id = case.get("taxpayer_id", "").strip().upper()
        unit = case.get("property_unit", "").strip().upper()
        if taxpayer_id and not TAXPAYER_ID.fullmatch(taxpayer_id):
            raise _bad_reference("lookup", "taxpayer_id is not an 18-character taxpayer id")
        if unit and not PROPERTY_UNIT.fullmatch(unit):
            raise _bad_reference("lookup", "property_unit is not a 28-character unit number")
        body: dict[str, Any] = {}
        if reference:
            if not DECLARATION_NO.fullmatch(reference):
                raise _bad_reference("lookup", "not an 18-digit declaration number")
            body["DeclNo"] = reference
        elif not (taxpayer_id and unit):
            raise _bad_reference(
                "lookup", "a declaration number, or taxpayer_id and property_unit, is needed"
            )
        if taxpayer_id:
            body["TaxPayCode"] = taxpayer_id
        if unit:
            body["PropertyUnit"] = unit
        answer = await self._t.call("lookup", LOOKUP, body)
        try:
            return mapping.due_items(
                answer.body,
                tax_org_code=self._keys.tax_org_code,
                declaration_no=reference or None,
            )
        except WireFormatError as exc:
            raise unreadable("lookup", str(exc)) from None

    async def confirm(self, leg: LegPaid) -> LegConfirmation:
        """Tell the bureau voucher ``leg.reference`` was paid; the proof is its 完税证明号.

        Asking again for the same voucher and payment returns the same certificate. The bureau
        refuses an amount other than the one due (AMOUNT_MISMATCH) and a voucher paid by another
        payment (ALREADY_PAID).
        """
        if not PAYMENT_REF.fullmatch(leg.payment_ref) or not ORDER_NO.fullmatch(leg.order_no):
            raise ValueError("payment_ref or order_no out of format")
        if not TAX_VOU_NO.fullmatch(leg.reference):
            raise _bad_reference("confirm", "not a 20-digit tax voucher number")
        body = {
            "TaxVouNo": leg.reference,
            "TraAmt": yuan_str(leg.amount_fen),
            "PayTime": wire_time(leg.paid_at),
            "TraNoBus": leg.payment_ref,
            "OrderNo": leg.order_no,
        }
        answer = await self._t.call("confirm", CONFIRM, body)
        try:
            confirmed = mapping.confirmation(
                answer.body,
                tax_org_code=self._keys.tax_org_code,
                public_key=self._keys.bureau_public_key,
            )
        except mapping.CertificateForged as exc:
            log.error("tax certificate not trusted op=confirm why=%s", exc)
            raise TaxAnswerForged(operation="confirm", reason=str(exc), status=200) from None
        except WireFormatError as exc:
            raise unreadable("confirm", str(exc)) from None
        if confirmed.reference != leg.reference or confirmed.amount_fen != leg.amount_fen:
            raise unreadable("confirm", "answer is about another voucher or amount")
        if answer.body.get("TraNoBus") != leg.payment_ref:
            raise unreadable("confirm", "answer is about another payment")
        log.info("tax confirmed voucher=%s cert=%s", leg.reference, confirmed.proof_no)
        return confirmed

    async def daily_confirmations(self, day: date) -> list[LegConfirmation]:
        """Every voucher the bureau confirmed through us on ``day`` (Beijing), certificates
        checked and totals matched."""
        answer = await self._t.call("daily_confirmations", RECONCILE, {"ChkDate": wire_date(day)})
        try:
            chk_date, lines = mapping.confirmations(
                answer.body,
                tax_org_code=self._keys.tax_org_code,
                public_key=self._keys.bureau_public_key,
            )
        except mapping.CertificateForged as exc:
            log.error("tax certificate not trusted op=daily_confirmations why=%s", exc)
            raise TaxAnswerForged(
                operation="daily_confirmations", reason=str(exc), status=200
            ) from None
        except WireFormatError as exc:
            raise unreadable("daily_confirmations", str(exc)) from None
        if chk_date != wire_date(day):
            raise unreadable("daily_confirmations", "list is for another day")
        return lines


def _bad_reference(operation: str, why: str) -> TaxRefused:
    # refused before sending: a typo should not cost a round trip or look like the bureau's word
    return TaxRefused(
        operation=operation,
        code="BAD_REFERENCE",
        message=why,
        reason="",
    )
