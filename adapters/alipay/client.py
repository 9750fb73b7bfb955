"""Alipay OpenAPI client for 当面付 and 手机网站支付: the ``QrAcquirer``, ``CodeAcquirer`` and
``MobileAcquirer`` for Alipay.

Each method is one or two gateway calls (``gateway.Gateway`` signs and verifies) and a mapping of
the answer (``mapping``) onto the core's types (protocols-cn.md 2.5).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, Final

import aiohttp

from adapters.alipay import crypto, mapping
from adapters.alipay.bill import parse_bill_zip
from adapters.alipay.bill_lines import BillFormatError
from adapters.alipay.gateway import PAYING, Gateway, failure, unreadable
from adapters.alipay.keys import AppKeys
from adapters.errors import AcquirerRejected
from clearing.domain.money import yuan_str
from clearing.ports import (
    BillRecord,
    CodeAsk,
    PaymentAsk,
    PayPage,
    RefundAsk,
    RefundOutcome,
    TradeStatus,
)

log = logging.getLogger(__name__)

PROVIDER: Final = "alipay"
TRADE_NOT_EXIST: Final = "ACQ.TRADE_NOT_EXIST"
TRADE_STATUS_ERROR: Final = "ACQ.TRADE_STATUS_ERROR"
TRADE_HAS_SUCCESS: Final = "ACQ.TRADE_HAS_SUCCESS"
# Alipay refuses '/', '=' and '&' in a subject; the full-width forms read the same on the phone
_SUBJECT_SAFE: Final = str.maketrans({"/": "／", "=": "＝", "&": "＆"})


class AlipayClient:
    """Calls the Alipay gateway (or its simulator) over a session the caller owns."""

    provider = PROVIDER

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        gateway_url: str,
        keys: AppKeys,
        notify_url: str,
        timeout_s: float = 5.0,
        cancel_retries: int = 2,
        cancel_retry_delay_s: float = 1.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._gateway_url = gateway_url
        self._gateway = Gateway(
            session, url=gateway_url, keys=keys, timeout_s=timeout_s, clock=clock
        )
        self._keys = keys
        self._notify_url = notify_url
        self._cancel_retries = cancel_retries
        self._cancel_retry_delay_s = cancel_retry_delay_s

    def __repr__(self) -> str:
        return f"AlipayClient(gateway_url={self._gateway_url!r}, app_id={self._keys.app_id!r})"

    async def create_qr(self, ask: PaymentAsk) -> str:
        """``alipay.trade.precreate``; returns the ``https://qr.alipay.com/…`` code to render."""
        biz = self._trade_biz(ask)
        biz["time_expire"] = crypto.beijing_text(ask.expires_at)
        answer = await self._gateway.call(
            "create_qr", "alipay.trade.precreate", biz, notify_url=self._notify_url
        )
        if not answer.ok:
            raise failure("create_qr", answer)
        try:
            return mapping.text(answer.data, "qr_code")
        except mapping.MalformedAnswer as exc:
            raise unreadable("create_qr", str(exc)) from None

    async def pay_by_code(self, ask: CodeAsk) -> TradeStatus:
        """``alipay.trade.pay`` with ``scene=bar_code``: SUCCESS, or USERPAYING (poll ``query``)."""
        out_trade_no = ask.out_trade_no
        biz = self._trade_biz(ask)
        biz.update(scene="bar_code", auth_code=ask.auth_code)
        answer = await self._gateway.call(
            "pay_by_code", "alipay.trade.pay", biz, notify_url=self._notify_url
        )
        try:
            if answer.ok:
                return mapping.paid_by_code(out_trade_no, answer.data)
            if answer.code == PAYING:
                return mapping.waiting_for_code(out_trade_no, answer.data)
        except mapping.MalformedAnswer as exc:
            raise unreadable("pay_by_code", str(exc)) from None
        if answer.sub_code == TRADE_HAS_SUCCESS:
            # a retry of a payment that went through: report it as the trade is now
            return await self.query(out_trade_no)
        raise failure("pay_by_code", answer)

    async def open_mobile_page(self, ask: PaymentAsk, *, return_url: str, payer_ip: str) -> PayPage:
        """``alipay.trade.wap.pay``: the signed form the phone's browser posts to the gateway,
        which answers with Alipay's cashier. Nothing is sent from here, so nothing can fail at
        Alipay yet; the result arrives by notification (or ``query``), never by ``return_url``,
        which only brings the browser back. ``payer_ip`` is not part of this API."""
        biz = self._trade_biz(ask)
        biz.update(
            product_code="QUICK_WAP_WAY",
            # leaving the cashier midway goes back where paying finishes, too
            quit_url=return_url,
            time_expire=crypto.beijing_text(ask.expires_at),
        )
        url, fields = self._gateway.page_request(
            "alipay.trade.wap.pay", biz, notify_url=self._notify_url, return_url=return_url
        )
        log.info("alipay wap page out_trade_no=%s", ask.out_trade_no)
        return PayPage(url=url, method="POST", fields=fields)

    async def query(self, out_trade_no: str) -> TradeStatus:
        """``alipay.trade.query``; NOT_FOUND while a precreated QR is not yet scanned."""
        answer = await self._gateway.call(
            "query",
            "alipay.trade.query",
            {"out_trade_no": out_trade_no},
            acted_on=frozenset({TRADE_NOT_EXIST}),
        )
        if answer.sub_code == TRADE_NOT_EXIST:
            # precreate makes no trade; it exists from the scan on (protocols-cn.md 2.5)
            return TradeStatus(out_trade_no=out_trade_no, state=mapping.NOT_FOUND, raw=answer.data)
        if not answer.ok:
            raise failure("query", answer)
        try:
            return mapping.trade_status(out_trade_no, answer.data)
        except mapping.MalformedAnswer as exc:
            raise unreadable("query", str(exc)) from None

    async def close(self, out_trade_no: str) -> None:
        """``alipay.trade.close``; a QR nobody scanned is voided with ``alipay.trade.cancel``."""
        answer = await self._gateway.call(
            "close",
            "alipay.trade.close",
            {"out_trade_no": out_trade_no},
            acted_on=frozenset({TRADE_NOT_EXIST}),
        )
        if answer.ok:
            return
        if answer.sub_code == TRADE_NOT_EXIST:
            # close cannot reach a trade that does not exist yet, and the QR stays payable
            # until time_expire; cancel is what voids it
            action = await self._cancel("close", out_trade_no)
            if action == "refund":
                raise AcquirerRejected.answered(
                    PROVIDER,
                    "close",
                    TRADE_HAS_SUCCESS,
                    "paid while being closed; the cancel refunded it in full",
                )
            return
        # the same refusal means "closed already" or "paid": the trade itself tells them apart
        if answer.sub_code == TRADE_STATUS_ERROR and await self._is_closed(out_trade_no):
            return
        raise failure("close", answer)

    async def _is_closed(self, out_trade_no: str) -> bool:
        return (await self.query(out_trade_no)).state == "CLOSED"

    async def reverse(self, out_trade_no: str) -> None:
        """``alipay.trade.cancel``: closed if unpaid, refunded in full if paid."""
        await self._cancel("reverse", out_trade_no)

    async def refund(self, ask: RefundAsk) -> RefundOutcome:
        """``alipay.trade.refund``; ``out_refund_no`` is the ``out_request_no`` that makes it safe
        to repeat. Alipay refunds synchronously: an accepted refund is SUCCESS."""
        biz: dict[str, Any] = {
            "out_trade_no": ask.out_trade_no,
            "refund_amount": yuan_str(ask.refund_fen),
            "out_request_no": ask.out_refund_no,
        }
        if ask.reason:
            biz["refund_reason"] = ask.reason
        answer = await self._gateway.call("refund", "alipay.trade.refund", biz)
        if not answer.ok:
            raise failure("refund", answer)
        if answer.data.get("out_trade_no") != ask.out_trade_no:
            raise unreadable("refund", "out_trade_no missing or different")
        return RefundOutcome(out_refund_no=ask.out_refund_no, state="SUCCESS", raw=answer.data)

    async def query_refund(self, *, out_trade_no: str, out_refund_no: str) -> RefundOutcome:
        """``alipay.trade.fastpay.refund.query``; a refund Alipay never took is REFUND_NOT_FOUND
        (retrying the refund with the same ``out_refund_no`` is then safe)."""
        biz = {
            "out_trade_no": out_trade_no,
            "out_request_no": out_refund_no,
            "query_options": ["gmt_refund_pay"],
        }
        answer = await self._gateway.call("query_refund", "alipay.trade.fastpay.refund.query", biz)
        if not answer.ok:
            raise failure("query_refund", answer)
        if not answer.data.get("refund_amount"):
            # the documented way of saying "no such refund": success with nothing in it
            raise AcquirerRejected.answered(
                PROVIDER,
                "query_refund",
                "REFUND_NOT_FOUND",
                "Alipay has no refund with this out_request_no",
            )
        try:
            return mapping.refund_outcome(out_refund_no, answer.data)
        except mapping.MalformedAnswer as exc:
            raise unreadable("query_refund", str(exc)) from None

    async def daily_bill(self, day: date) -> list[BillRecord]:
        """The ``trade`` bill of one Beijing day: ask for the URL, download the ZIP, parse it."""
        biz = {"bill_type": "trade", "bill_date": day.isoformat()}
        answer = await self._gateway.call(
            "daily_bill", "alipay.data.dataservice.bill.downloadurl.query", biz
        )
        if not answer.ok:
            raise failure("daily_bill", answer)
        try:
            url = mapping.text(answer.data, "bill_download_url")
        except mapping.MalformedAnswer as exc:
            raise unreadable("daily_bill", str(exc)) from None
        data = await self._gateway.download(url)
        try:
            records = parse_bill_zip(data, day=day, seller_id=self._keys.seller_id)
        except BillFormatError as exc:
            log.error("alipay bill unreadable day=%s error=%s", day.isoformat(), exc)
            raise unreadable("daily_bill", f"bill: {exc}") from exc
        log.info("alipay bill day=%s records=%d", day.isoformat(), len(records))
        return records

    def _trade_biz(self, ask: PaymentAsk | CodeAsk) -> dict[str, Any]:
        """What every order request carries (the ask has checked the amount)."""
        biz: dict[str, Any] = {
            "out_trade_no": ask.out_trade_no,
            "total_amount": yuan_str(ask.total_fen),
            "subject": ask.description.translate(_SUBJECT_SAFE),
            "product_code": "FACE_TO_FACE_PAYMENT",
        }
        if ask.attach:
            biz["body"] = ask.attach
        return biz

    async def _cancel(self, operation: str, out_trade_no: str) -> str:
        """Cancel, retried while Alipay answers ``retry_flag=Y``; returns ``action``."""
        for attempt in range(self._cancel_retries + 1):
            answer = await self._gateway.call(
                operation, "alipay.trade.cancel", {"out_trade_no": out_trade_no}
            )
            if answer.ok:
                action = answer.data.get("action", "")
                log.info("alipay cancel op=%s action=%s", operation, action)
                return action if isinstance(action, str) else ""
            if answer.data.get("retry_flag") != "Y" or attempt == self._cancel_retries:
                raise failure(operation, answer)
            await asyncio.sleep(self._cancel_retry_delay_s)
        raise AssertionError("unreachable: the loop returns or raises")
