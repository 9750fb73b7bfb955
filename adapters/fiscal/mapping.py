"""Answers of the non-tax system read into the ports' types: refusals, due items, e-bills.

Pure: every function takes the answer's fields (already MAC-verified) and what we asked.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Mapping
from datetime import datetime
from typing import Final

from adapters.fiscal import codes
from adapters.fiscal import messages as m
from adapters.fiscal.errors import FiscalRefused, FiscalUnavailable
from adapters.fiscal.frame import BEIJING
from adapters.fiscal.keys import Registration
from adapters.fiscal.transport import unreadable
from clearing.domain.money import MoneyError, parse_yuan
from clearing.ports import DueItem, LegConfirmation

log = logging.getLogger(__name__)

AUTHORITY: Final = "fiscal"

# the system's ErrCode → our refusal code; anything else means "no answer yet"
REFUSALS: Final[Mapping[str, tuple[str, str]]] = {
    m.ERR_NO_NOTICE: ("UNKNOWN_REFERENCE", "the fiscal system knows no such payment code"),
    m.ERR_PAID: ("ALREADY_PAID", "the notice is already paid"),
    m.ERR_OTHER_PAYMENT: ("ALREADY_PAID", "the notice was paid by another payment"),
    m.ERR_VOID: ("NOTICE_VOID", "the notice was cancelled by the collecting agency"),
    m.ERR_AMOUNT: ("AMOUNT_MISMATCH", "the amount is not what the notice asks"),
    m.ERR_ACCOUNT: ("ACCOUNT_MISMATCH", "the money did not go to the region's collecting account"),
    m.ERR_REFUSED: ("CONFIRM_REFUSED", "the fiscal system refused the confirmation"),
}


def refusal(operation: str, fields: Mapping[str, str]) -> FiscalRefused | FiscalUnavailable:
    """What a Result other than 00000 means: a refusal, or (unknown or generic) ask later."""
    known = REFUSALS.get(fields.get("ErrCode", ""))
    if known is None:
        log.warning(
            "fiscal answer without a known refusal op=%s err=%s",
            operation,
            fields.get("ErrCode", ""),
        )
        return FiscalUnavailable(operation=operation, reason=fields.get("ErrCode") or "99999")
    code, message = known
    return FiscalRefused(
        operation=operation, code=code, message=message, reason=fields.get("AddWord", "")
    )


def amount_of(operation: str, text: str) -> int:
    try:
        fen = parse_yuan(text)
    except MoneyError as exc:
        raise unreadable(operation, f"Amt {exc.code}") from None
    if fen <= 0:
        raise unreadable(operation, "Amt must be positive")
    return fen


def _same_name(a: str, b: str) -> bool:
    # full-width letters and stray spaces from a typed case must not make a mismatch
    def norm(s: str) -> str:
        return "".join(unicodedata.normalize("NFKC", s).split())

    return norm(a) == norm(b)


def due_item(
    fields: Mapping[str, str], reg: Registration, reference: str, case: Mapping[str, str]
) -> DueItem:
    """The notice of a 5995 answer as one DueItem, checked against the case when it says so."""
    operation = "lookup"
    if fields["PayCode"] != reference:
        raise unreadable(operation, "answer is about another payment code")
    item_code = reg.item_codes.get(fields["ItemCode"])
    if item_code is None:
        raise FiscalRefused(
            operation=operation,
            code="ITEM_UNKNOWN",
            message="the notice is for a fee this window does not collect",
            reason=f"{fields['ItemCode']} {fields['ItemName']}",
        )
    amount_fen = amount_of(operation, fields["Amt"])
    payer = case.get("payer_name")
    if payer is not None and not _same_name(payer, fields["PayerName"]):
        raise FiscalRefused(
            operation=operation,
            code="PAYER_MISMATCH",
            message="the notice names another payer than the case",
            reason=fields["PayerName"],
        )
    expected = case.get("item_code")
    if expected is not None and expected != item_code:
        raise FiscalRefused(
            operation=operation,
            code="ITEM_MISMATCH",
            message=f"the notice is for {item_code}, the case expects {expected}",
            reason=fields["ItemName"],
        )
    return DueItem(
        authority=AUTHORITY,
        item_code=item_code,
        reference=reference,
        amount_fen=amount_fen,
        payer_name=fields["PayerName"] or None,
        details={
            "division": fields["AdmDivCode"],
            "notice_no": fields["NoticeNo"],
            "agency_code": fields["AgencyCode"],
            "agency_name": fields["AgencyName"],
            "nontax_item_code": fields["ItemCode"],
            "nontax_item_name": fields["ItemName"],
            "notice_date": fields["NoticeDate"],
            "due_date": fields["DueDate"],
            "collect_account_no": fields["RecAcct"],
            "collect_account_name": fields["RecAcctName"],
            "collect_bank": fields["RecBank"],
        },
    )


def _time(operation: str, text: str, fmt: str) -> datetime:
    try:
        return datetime.strptime(text, fmt).replace(tzinfo=BEIJING)
    except ValueError:
        raise unreadable(operation, f"time {text!r} is not {fmt}") from None


def confirmation(operation: str, fields: Mapping[str, str], reg: Registration) -> LegConfirmation:
    """One confirmation (8001 voucher return or 5998 line); an e-bill not yet issued has an
    empty ``proof_no`` and ``proof`` (a reconciliation state, protocols-cn 4.2)."""
    accepted_at = _time(operation, fields["AcceptTime"], "%Y%m%d%H%M%S")
    amount_fen = amount_of(operation, fields["Amt"])
    if fields["BillStatus"] == m.BILL_PENDING:
        return LegConfirmation(
            reference=fields["PayCode"],
            proof_no="",
            confirmed_at=accepted_at,
            amount_fen=amount_fen,
        )
    if fields["BillStatus"] != m.BILL_ISSUED:
        raise unreadable(operation, "BillStatus must be 0 or 1")
    issued_on = _time(operation, fields["IssueDate"], "%Y%m%d").date()
    bill_code, bill_no, check_code = fields["BillCode"], fields["BillNo"], fields["CheckCode"]
    try:
        parts = codes.parse_bill_code(bill_code)
    except ValueError as exc:
        raise unreadable(operation, str(exc)) from None
    if parts.division != reg.division[:2] or parts.year != f"{issued_on.year % 100:02d}":
        raise unreadable(operation, "票据代码 is of another province or year")
    if not codes.is_bill_no(bill_no) or not codes.is_check_code(check_code):
        raise unreadable(operation, "票据号码 or 校验码 malformed")
    return LegConfirmation(
        reference=fields["PayCode"],
        proof_no=bill_code + bill_no,
        confirmed_at=accepted_at,
        proof={
            "bill_code": bill_code,
            "bill_no": bill_no,
            "check_code": check_code,
            "issued_on": issued_on.isoformat(),
        },
        amount_fen=amount_fen,
    )
