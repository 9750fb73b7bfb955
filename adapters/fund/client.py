"""Client of the maintenance-fund office: the ``clearing.ports.Authority`` named ``fund``.

``lookup`` asks what a home owes (one ``MAINT_FUND`` item, its notice number as the reference,
the home's custodial sub-account in the details); ``confirm`` books a paid leg and returns the
deposit certificate number; ``daily_confirmations`` lists one day's deposits for reconciliation.
Requests are signed over the exact bytes sent; answers must carry the office's signature bound to
our request nonce (PROTOCOL.md). The amount on a notice is checked to be its own area × rate,
rounded as ``rules`` says, so that a garbled figure never reaches the order.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date
from typing import Any

from adapters.fund import rules, signing
from adapters.fund.errors import AUTHORITY, FundRefused
from adapters.fund.keys import MerchantKeys
from adapters.fund.transport import Answer, Transport, unreadable
from adapters.fund.unit_no import looks_like_unit_no, parse_unit_no
from adapters.fund.wire import (
    CONFIRM_PATH,
    LIST_PATH,
    NOTICE_NO,
    QUERY_PATH,
    Deposit,
    Notice,
    parse_deposit,
    parse_notice,
)
from adapters.http import Client
from adapters.wiretime import WireFormatError, format_date, format_time
from clearing.domain.money import yuan_str
from clearing.ports import DueItem, LegConfirmation, LegPaid

log = logging.getLogger(__name__)

# what ``lookup(reference, **case)`` takes besides the reference
CASE_KEYS = frozenset({"property_unit", "owner_name", "case_no"})
_SERIAL_MAX = 64
_ORDER_NO_MAX = 32


class FundClient(Client[MerchantKeys, Transport]):
    """Calls the office (or its simulator) over a session the caller owns."""

    name = AUTHORITY
    transport = Transport
    max_skew_s = signing.MAX_SKEW_S
    shows = ("agency", "agency_code")

    async def lookup(self, reference: str, **case: str) -> list[DueItem]:
        """The deposit due under a notice number, or for a property unit.

        ``reference`` is a notice number, a 28-character 不动产单元号, or empty when
        ``property_unit`` is given. Case keys: ``property_unit`` (checked against the notice when
        both are given), ``owner_name`` (the office refuses OWNER_MISMATCH when it is not the
        owner of record), ``case_no`` (the registration case, kept by the office). A paid or
        cancelled notice is refused (ALREADY_PAID, NOTICE_CANCELLED), an unknown one NOT_FOUND.
        """
        payload = {"agencyCode": self._keys.agency_code, **_lookup_fields(reference, case)}
        asked_no, asked_unit = payload.get("noticeNo"), payload.get("bdcdyh")
        answer = await self._t.call(
            "lookup", QUERY_PATH, payload, reference=asked_no or asked_unit or ""
        )
        notice = _notice_of(answer)
        if (asked_no and asked_no != notice.notice_no) or (
            asked_unit and asked_unit != notice.unit_no
        ):
            raise unreadable("lookup", answer, "answer is about another notice")
        if notice.status != "UNPAID":
            code = "ALREADY_PAID" if notice.status == "PAID" else "NOTICE_CANCELLED"
            raise FundRefused(
                operation="lookup",
                code=code,
                message=f"the notice is {notice.status.lower()}",
                reason=f"通知书状态：{notice.status}",
                reference=notice.notice_no,
            )
        if notice.amount_fen != rules.amount_fen(notice.area_centi, notice.rate_fen_per_m2):
            raise unreadable("lookup", answer, "amount is not area × rate rounded half up")
        return [_due_item(notice, self._keys.office_name)]

    async def confirm(self, leg: LegPaid) -> LegConfirmation:
        """Book the deposit for notice ``leg.reference``; the same question again returns the same
        certificate. Refused: AMOUNT_MISMATCH (not what is due), ALREADY_PAID (deposited under
        another ``payment_ref``), CONFIRM_REFUSED (the office's reason in ``reason``)."""
        notice_no = _notice_no(leg.reference)
        if (
            not 0 < len(leg.payment_ref) <= _SERIAL_MAX
            or not 0 < len(leg.order_no) <= _ORDER_NO_MAX
        ):
            raise ValueError("payment_ref (≤ 64) and order_no (≤ 32) must be given")
        payload = {
            "agencyCode": self._keys.agency_code,
            "noticeNo": notice_no,
            "amount": yuan_str(leg.amount_fen),
            "payTime": format_time(leg.paid_at),
            "paySerial": leg.payment_ref,
            "orderNo": leg.order_no,
        }
        answer = await self._t.call("confirm", CONFIRM_PATH, payload, reference=notice_no)
        deposit = _deposit_of("confirm", answer, answer.data.get("deposit"))
        if (deposit.notice_no, deposit.amount_fen, deposit.pay_serial) != (
            notice_no,
            leg.amount_fen,
            leg.payment_ref,
        ):
            raise unreadable("confirm", answer, "answer is about another deposit")
        log.info(
            "fund deposit confirmed notice=%s certificate=%s", notice_no, deposit.certificate_no
        )
        return _confirmation(deposit)

    async def daily_confirmations(self, day: date) -> list[LegConfirmation]:
        """Every deposit the office booked on ``day`` (Beijing), checked against its totals."""
        payload = {"agencyCode": self._keys.agency_code, "date": format_date(day)}
        answer = await self._t.call("daily_confirmations", LIST_PATH, payload)
        items = answer.data.get("deposits")
        if answer.data.get("date") != format_date(day) or not isinstance(items, list):
            raise unreadable("daily_confirmations", answer, "list missing or for another day")
        deposits = [_deposit_of("daily_confirmations", answer, item) for item in items]
        total = answer.data.get("totalAmount")
        if answer.data.get("count") != len(deposits) or total != yuan_str(
            sum(d.amount_fen for d in deposits)
        ):
            raise unreadable("daily_confirmations", answer, "count or total does not add up")
        if any(d.confirmed_at.date() != day for d in deposits):
            raise unreadable("daily_confirmations", answer, "a deposit of another day")
        return [_confirmation(d) for d in deposits]


def _notice_no(text: str) -> str:
    notice_no = text.strip().upper()
    if not NOTICE_NO.fullmatch(notice_no):
        raise ValueError("a notice number is 8 to 32 digits or capital letters")
    return notice_no


def _lookup_fields(reference: str, case: Mapping[str, str]) -> dict[str, str]:
    unknown = sorted(set(case) - CASE_KEYS)
    if unknown:
        raise TypeError(f"fund lookup takes {sorted(CASE_KEYS)} as case keys, not {unknown}")
    if not all(isinstance(value, str) for value in case.values()):
        raise TypeError("case values must be str")
    fields: dict[str, str] = {}
    unit = case.get("property_unit", "").strip()
    reference = reference.strip()
    if reference and looks_like_unit_no(reference):
        if unit and parse_unit_no(unit) != parse_unit_no(reference):
            raise ValueError("reference and property_unit name different units")
        unit, reference = reference, ""
    if reference:
        fields["noticeNo"] = _notice_no(reference)
    if unit:
        fields["bdcdyh"] = str(parse_unit_no(unit))
    if not fields:
        raise ValueError("give a notice number or a property_unit")
    if case.get("owner_name", "").strip():
        fields["ownerName"] = case["owner_name"].strip()
    if case.get("case_no", "").strip():
        fields["caseNo"] = case["case_no"].strip()
    return fields


def _notice_of(answer: Answer) -> Notice:
    data = answer.data.get("notice")
    if not isinstance(data, dict):
        raise unreadable("lookup", answer, "notice missing")
    try:
        return parse_notice(data)
    except WireFormatError as exc:
        raise unreadable("lookup", answer, str(exc)) from None


def _deposit_of(operation: str, answer: Answer, data: Any) -> Deposit:
    if not isinstance(data, dict):
        raise unreadable(operation, answer, "deposit missing")
    try:
        return parse_deposit(data)
    except WireFormatError as exc:
        raise unreadable(operation, answer, str(exc)) from None


def _due_item(notice: Notice, office_name: str) -> DueItem:
    return DueItem(
        authority=AUTHORITY,
        item_code=rules.ITEM_CODE,
        reference=notice.notice_no,
        amount_fen=notice.amount_fen,
        payer_name=notice.owner_name,
        details={
            "notice_no": notice.notice_no,
            "property_unit": notice.unit_no,
            "area_m2": rules.format_area(notice.area_centi),
            "building_type": notice.building_type,
            "building_type_name": rules.BUILDING_TYPES.get(notice.building_type, ""),
            "rate_yuan_per_m2": yuan_str(notice.rate_fen_per_m2),
            "rate_version": notice.rate_version,
            "assessed_on": notice.assessed_on.isoformat(),
            "rounding": rules.ROUNDING,
            "bank_name": notice.bank_name,
            "account_no": notice.account_no,
            "account_name": notice.account_name,
            "custodial_account_no": notice.custodial_account_no,
            "custodial_account_name": notice.custodial_account_name,
            "office_name": office_name,
        },
    )


def _confirmation(deposit: Deposit) -> LegConfirmation:
    return LegConfirmation(
        reference=deposit.notice_no,
        proof_no=deposit.certificate_no,
        confirmed_at=deposit.confirmed_at,
        proof={
            "certificate_no": deposit.certificate_no,
            "notice_no": deposit.notice_no,
            "property_unit": deposit.unit_no,
            "account_no": deposit.account_no,
            "pay_serial": deposit.pay_serial,
            "order_no": deposit.order_no,
        },
        amount_fen=deposit.amount_fen,
    )
