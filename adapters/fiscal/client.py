"""Client of the fiscal non-tax system: the ``clearing.ports.Authority`` named ``fiscal``.

``lookup`` asks what a payment code (缴款码) owes (5995), ``confirm`` tells the system that the leg
was paid into the region's 非税收入汇缴专户 and gets the 财政电子票据 back (5996 → 8001), and
``daily_confirmations`` reads the system's list of a day's confirmations (5998), page by page.
Payment codes are checked against the region's pattern before anything is sent.
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from datetime import date
from typing import Unpack

import aiohttp

from adapters.fiscal import frame as fr
from adapters.fiscal import messages as m
from adapters.fiscal.codes import InvalidPaymentCode, PaymentCodeRules
from adapters.fiscal.errors import EBillPending, FiscalRefused
from adapters.fiscal.keys import MerchantKeys
from adapters.fiscal.mapping import AUTHORITY, confirmation, due_item, refusal
from adapters.fiscal.transport import Transport, unreadable
from adapters.http import Client, Options
from clearing.domain.money import yuan_str
from clearing.ports import DueItem, LegConfirmation, LegPaid

log = logging.getLogger(__name__)

# keys of ``lookup(**case)`` this authority reads; the core may pass others meant for other ones
CASE_KEYS = ("payer_name", "item_code")
_PRINTABLE = re.compile(r"[!-~]{1,64}")
ORDER_NO_MAX = 64
MAX_PAGES = 10_000
_BATCH_FIELDS = ("OriMsgNo", "Result", "ErrCode", "AddWord")


class FiscalClient(Client[MerchantKeys, Transport]):
    """Talks to the non-tax system (or its simulator) over a session the caller owns."""

    name = AUTHORITY
    transport = Transport
    max_skew_s = fr.MAX_SKEW_S

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        code_rules: PaymentCodeRules | None = None,
        **options: Unpack[Options[MerchantKeys]],
    ) -> None:
        super().__init__(session, **options)
        self._reg = self._keys.registration
        self.code_rules = code_rules or self._reg.code_rules

    def __repr__(self) -> str:
        return f"FiscalClient(base_url={self._t.base_url!r}, division={self._reg.division!r})"

    def check_payment_code(self, reference: str, operation: str = "lookup") -> str:
        """The division that issues ``reference``; FiscalRefused PAYMENT_CODE_INVALID if none."""
        try:
            return self.code_rules.check(reference, self._t.now().date())
        except InvalidPaymentCode as exc:
            raise FiscalRefused(
                operation=operation,
                code="PAYMENT_CODE_INVALID",
                message="not a payment code of this region",
                reason=str(exc),
            ) from None

    async def lookup(self, reference: str, **case: str) -> list[DueItem]:
        """The one fee a payment code asks for (土地出让金 or 不动产登记费).

        ``case`` may hold ``payer_name`` and ``item_code``: when given, the notice must match."""
        division = self.check_payment_code(reference)
        query = {"PayCode": reference, "AdmDivCode": division, "BankOutlet": self._reg.bank_outlet}
        msg = ET.Element("MSG")
        msg.append(m.fields_element("Query5995", query, m.QUERY_FIELDS))
        answer = await self._t.ask("lookup", m.MSG_QUERY, msg, m.MSG_QUERY)
        fields = self._read("lookup", answer.find("Return5995"), m.NOTICE_FIELDS)
        if fields["Result"] != m.RESULT_OK:
            raise refusal("lookup", fields)
        wanted = {k: v for k, v in case.items() if k in CASE_KEYS}
        return [due_item(fields, self._reg, reference, wanted)]

    async def confirm(self, leg: LegPaid) -> LegConfirmation:
        """缴款确认: the fiscal e-bill of this leg; asking again returns the same bill.

        EBillPending while the system has accepted the payment but not issued the bill yet."""
        if leg.paid_at.tzinfo is None:
            raise ValueError("paid_at must be timezone-aware")
        # TraNoBus is the bank's serial: printable ASCII in every system we know of
        if not _PRINTABLE.fullmatch(leg.payment_ref) or len(leg.order_no) > ORDER_NO_MAX:
            raise ValueError("payment_ref must be 1 to 64 printable ASCII, order_no at most 64")
        division = self.check_payment_code(leg.reference, "confirm")
        paid = leg.paid_at.astimezone(fr.BEIJING)
        voucher = {
            "PayCode": leg.reference,
            "CfmDate": paid.strftime("%Y%m%d"),
            "CfmTime": paid.strftime("%H%M%S"),
            "Amt": yuan_str(leg.amount_fen),
            "BankOutlet": self._reg.bank_outlet,
            "Operator": self._reg.operator,
            "PayMode": m.PAY_MODE_THIRD_PARTY,
            "TraNoBus": leg.payment_ref,
            "RecAcctType": m.REC_ACCT_TYPE_COLLECT,
            "RecAcct": self._reg.collect_acct,
            "Hold1": leg.order_no,  # our order, so that the fiscal side can trace a leg back to it
        }
        msg = ET.Element("MSG")
        mof = ET.SubElement(msg, "MOF")
        ET.SubElement(mof, "VoucherCount").text = "1"
        body = ET.SubElement(
            mof,
            "VoucherBody",
            AdmDivCode=division,
            StYear=str(paid.year),
            VtCode=m.MSG_CONFIRM,
            VoucherNo=leg.reference,
        )
        ET.SubElement(body, "Voucher").text = m.encode_voucher(voucher)
        answer = await self._t.ask("confirm", m.MSG_CONFIRM, msg, m.MSG_REPLY)
        batch = self._read("confirm", answer.find("BatchReturn8001"), _BATCH_FIELDS)
        if batch["OriMsgNo"] != m.MSG_CONFIRM:
            raise unreadable("confirm", "8001 answers another message")
        if batch["Result"] != m.RESULT_OK and answer.find("VoucherReturn/Return8001") is None:
            # refused as a whole (MAC, format, MsgID): nothing was decided about the voucher
            raise refusal("confirm", batch)
        fields = self._voucher_return(answer, leg.reference)
        if fields["Result"] != m.RESULT_OK:
            raise refusal("confirm", fields)
        if fields["TraNoBus"] != leg.payment_ref:
            raise unreadable("confirm", "confirmation is of another payment")
        confirmed = confirmation("confirm", fields, self._reg)
        if confirmed.amount_fen != leg.amount_fen:
            raise unreadable("confirm", "confirmed amount differs from the amount sent")
        if not confirmed.proof_no:
            log.info("fiscal e-bill pending reference=%s", leg.reference)
            raise EBillPending(
                reference=leg.reference, accepted_at=confirmed.confirmed_at.isoformat()
            )
        log.info("fiscal leg confirmed reference=%s proof_no=%s", leg.reference, confirmed.proof_no)
        return confirmed

    async def daily_confirmations(self, day: date) -> list[LegConfirmation]:
        """Every confirmation the system accepted on ``day`` (Beijing), all pages of it; one whose
        e-bill is not issued yet has an empty ``proof_no`` (a reconciliation state of its own)."""
        check_date = day.strftime("%Y%m%d")
        legs: list[LegConfirmation] = []
        page, pages, total = 1, 1, 0
        while page <= pages:
            msg = ET.Element("MSG")
            query = {"CheckDate": check_date, "PageNo": str(page)}
            msg.append(m.fields_element("Query5998", query, m.LIST_QUERY_FIELDS))
            answer = await self._t.ask("daily_confirmations", m.MSG_LIST, msg, m.MSG_LIST)
            head = self._read("daily_confirmations", answer.find("Return5998"), m.LIST_HEAD_FIELDS)
            if head["Result"] != m.RESULT_OK:
                raise refusal("daily_confirmations", head)
            if head["CheckDate"] != check_date or head["PageNo"] != str(page):
                raise unreadable("daily_confirmations", "answer is about another day or page")
            pages, total = self._counts(head)
            for line in answer.iterfind("Return5998/Detail5998/Cfm"):
                fields = self._read("daily_confirmations", line, m.CONFIRMATION_FIELDS)
                legs.append(confirmation("daily_confirmations", fields, self._reg))
            page += 1
        if len(legs) != total:
            raise unreadable("daily_confirmations", f"{len(legs)} lines, TotalCount {total}")
        return legs

    # --- plumbing ----------------------------------------------------------------------------

    @staticmethod
    def _read(operation: str, element: ET.Element | None, names: tuple[str, ...]) -> dict[str, str]:
        try:
            return m.read_fields(element, names)
        except fr.FrameError as exc:
            raise unreadable(operation, str(exc)) from None

    def _voucher_return(self, answer: ET.Element, reference: str) -> dict[str, str]:
        returns = [
            self._read("confirm", el, m.CONFIRMATION_FIELDS)
            for el in answer.iterfind("VoucherReturn/Return8001")
        ]
        mine = [r for r in returns if r["VoucherNo"] == reference and r["PayCode"] == reference]
        if len(mine) != 1:
            raise unreadable("confirm", "no single return for our voucher")
        return mine[0]

    @staticmethod
    def _counts(head: dict[str, str]) -> tuple[int, int]:
        pages, total = head["PageCount"], head["TotalCount"]
        if not pages.isdigit() or not total.isdigit() or int(pages) > MAX_PAGES:
            raise unreadable("daily_confirmations", "PageCount or TotalCount malformed")
        return max(int(pages), 1), int(total)
