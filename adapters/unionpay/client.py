"""UnionPay online QR and 手机网页支付 (ACP 5.1.0): the ``clearing.ports`` QR, payment-code and
mobile acquirer.

Who scans whom: ``create_qr`` asks UnionPay for a code that the citizen scans (01/07, "主扫");
``pay_by_code`` charges the code the citizen shows (01/06, "被扫", the C2B code). Back-end calls
answer "accepted"; the result comes by notification or query. Our ``out_trade_no`` is the
``orderId``; refunds use ``out_refund_no`` as their own ``orderId`` and name the payment by
``origQryId``; a reversal uses ``out_trade_no + "RV"``, so repeating one is harmless.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time
from collections.abc import Callable, Sequence
from datetime import date

import aiohttp

from adapters.errors import AcquirerRejected, AcquirerUnavailable
from adapters.unionpay import bill, crypto, status, wire
from adapters.unionpay.gateway import (
    BACK_TRANS,
    FRONT_TRANS,
    PROVIDER,
    QUERY_TRANS,
    Answer,
    Gateway,
    OutcomeUnknown,
    default_file_url,
    rejected,
    unreadable,
)
from adapters.unionpay.keys import MerchantKeys
from adapters.unionpay.status import NOT_FOUND, QUERY_SCHEDULE_S
from adapters.unionpay.txn_times import MemoryTxnTimes, TxnTimes
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

# UnionPay payment codes (C2B): 19 digits starting 62 (protocols-cn.md 3.2)
PAYMENT_CODE = re.compile(r"62[0-9]{17}")
REVERSAL_SUFFIX = "RV"


def reversal_id(out_trade_no: str) -> str:
    """The order id of the void or refund that ``reverse`` sends for ``out_trade_no``."""
    return out_trade_no + REVERSAL_SUFFIX


class UnionPayClient:
    """Calls UnionPay (or its simulator) over a session the caller owns."""

    provider = PROVIDER

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        keys: MerchantKeys,
        notify_url: str,
        timeout_s: float = 5.0,
        file_url: str | None = None,
        txn_times: TxnTimes | None = None,
        query_schedule_s: Sequence[float] = QUERY_SCHEDULE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._gw = Gateway(
            session,
            base_url=base_url,
            file_url=file_url or default_file_url(base_url),
            keys=keys,
            timeout_s=timeout_s,
            clock=clock,
        )
        self._notify_url = notify_url
        self._txn_times: TxnTimes = txn_times if txn_times is not None else MemoryTxnTimes()
        self._schedule = tuple(query_schedule_s)

    def __repr__(self) -> str:
        return f"UnionPayClient(base_url={self._gw.base_url!r}, merId={self._gw.keys.mer_id!r})"

    async def create_qr(self, ask: PaymentAsk) -> str:
        """Apply for a dynamic code (01/07); returns the ``https://qr.95516.com/…`` text to show.

        ACP has no field for ``description``; the code stops being payable at ``expires_at``."""
        wire.check_order_id(ask.out_trade_no, room=len(REVERSAL_SUFFIX))
        extra = {
            "txnAmt": wire.positive_fen(ask.total_fen),
            "currencyCode": wire.CURRENCY_CNY,
            "backUrl": self._notify_url,
            "payTimeout": wire.txn_time(ask.expires_at),
            **wire.reserved(ask.attach),
        }
        answer = await self._send("create_qr", "01", "07", ask.out_trade_no, extra)
        if answer.code != wire.OK:
            raise rejected("create_qr", answer)
        qr_code = answer.fields.get("qrCode", "")
        if not qr_code.startswith("https://"):
            raise unreadable("create_qr", "qrCode missing")
        return qr_code

    async def pay_by_code(self, ask: CodeAsk) -> TradeStatus:
        """Charge the citizen's C2B code (01/06). USERPAYING: the outcome is not known yet; poll
        ``query`` on ``QUERY_SCHEDULE_S`` (or call ``query_until_final``). A call that timed out
        is USERPAYING too: the charge may have gone through. ACP has no ``description`` field."""
        out_trade_no = ask.out_trade_no
        wire.check_order_id(out_trade_no, room=len(REVERSAL_SUFFIX))
        if not PAYMENT_CODE.fullmatch(ask.auth_code):
            raise ValueError("a UnionPay payment code is 19 digits starting 62")
        extra = {
            "txnAmt": wire.positive_fen(ask.total_fen),
            "currencyCode": wire.CURRENCY_CNY,
            "qrNo": ask.auth_code,
            "backUrl": self._notify_url,
            **wire.reserved(ask.attach),
        }
        try:
            answer = await self._send("pay_by_code", "01", "06", out_trade_no, extra)
        except OutcomeUnknown as exc:
            return _in_process(out_trade_no, exc.reason)
        if answer.code in wire.UNKNOWN:
            return _in_process(out_trade_no, answer.code)
        if answer.code != wire.OK:
            raise rejected("pay_by_code", answer)
        # 00 means "accepted": the charge's own result is what the query says
        try:
            found = await self.query(out_trade_no)
        except AcquirerUnavailable as exc:
            return _in_process(out_trade_no, exc.reason)
        return _in_process(out_trade_no, "not visible yet") if found.state == NOT_FOUND else found

    async def open_mobile_page(self, ask: PaymentAsk, *, return_url: str, payer_ip: str) -> PayPage:
        """手机网页支付: the signed front consumption (01/01, bizType 000201, channelType 08) the
        phone's browser posts to ``frontTransReq.do``, where UnionPay takes the card. Nothing is
        sent from here; the txnTime is kept first, so the order can be queried whatever the
        browser does. The result comes by back notification or query, never by ``frontUrl``
        (``return_url``), which only brings the browser back. ACP has no ``description`` field
        here, and no payer IP for this access type."""
        out_trade_no = ask.out_trade_no
        wire.check_order_id(out_trade_no, room=len(REVERSAL_SUFFIX))
        if not return_url.startswith(("https://", "http://")):
            raise ValueError("return_url must be an http(s) URL")
        txn_time = wire.txn_time(self._gw.now())
        await self._txn_times.remember(out_trade_no, txn_time)
        fields = self._gw.fields("01", "01", wire.CHANNEL_MOBILE)
        fields |= {
            "bizType": wire.BIZ_TYPE_GATEWAY,
            "orderId": out_trade_no,
            "txnTime": txn_time,
            "txnAmt": wire.positive_fen(ask.total_fen),
            "currencyCode": wire.CURRENCY_CNY,
            "frontUrl": return_url,
            "backUrl": self._notify_url,
            "payTimeout": wire.txn_time(ask.expires_at),
            **wire.reserved(ask.attach),
        }
        fields["signature"] = crypto.sign(fields, self._gw.keys.private_key)
        log.info("unionpay wap page orderId=%s", out_trade_no)
        return PayPage(url=self._gw.base_url + FRONT_TRANS, method="POST", fields=fields)

    async def query(self, out_trade_no: str) -> TradeStatus:
        """UnionPay's view of one attempt; NOT_FOUND for a code nobody has paid yet, and for an
        order id never sent (a process that died between recording the attempt and sending it),
        which only a complete store of the times sent can tell."""
        if self._txn_times.complete and not await self._txn_times.recall(out_trade_no):
            return TradeStatus(out_trade_no=out_trade_no, state=NOT_FOUND)
        answer = await self._find("query", out_trade_no)
        if answer is None:
            return TradeStatus(out_trade_no=out_trade_no, state=NOT_FOUND)
        try:
            found = status.trade_status(out_trade_no, answer.fields, self._gw.now())
        except status.Malformed as exc:
            raise unreadable("query", str(exc)) from None
        if found.state != "SUCCESS":
            return found
        # the query shows the payment as it was; only our own reversal tells that it was undone
        undone = await self._reversal(out_trade_no)
        if undone is not None and undone.state == "SUCCESS":
            voided = undone.raw.get("txnType") == status.VOID
            return dataclasses.replace(found, state="REVOKED" if voided else "REFUND")
        return found

    async def query_until_final(self, out_trade_no: str) -> TradeStatus:
        """Query on the schedule (1, 2, 4, 8, 16, 32 s) until the outcome is no longer open."""
        found = TradeStatus(out_trade_no=out_trade_no, state="USERPAYING")
        for wait in self._schedule:
            await asyncio.sleep(wait)
            found = await self.query(out_trade_no)
            if found.state != "USERPAYING":
                return found
        return found

    async def close(self, out_trade_no: str) -> None:
        """ACP cannot close a code: an unpaid one lapses at its ``payTimeout``. Refused if paid."""
        found = await self.query(out_trade_no)
        if found.paid:
            raise AcquirerRejected.answered(
                PROVIDER, "close", "ORDER_PAID", "the order is paid; reverse or refund it instead"
            )

    async def reverse(self, out_trade_no: str) -> None:
        """Undo whatever became of an attempt: nothing if unpaid, a void (31) while the payment's
        clearing day lasts, a full refund (04) after it."""
        found = await self.query(out_trade_no)
        if found.state == "USERPAYING":
            found = await self.query_until_final(out_trade_no)
        if found.state == "USERPAYING":
            raise OutcomeUnknown(provider=PROVIDER, operation="reverse", reason="still in process")
        if found.state != "SUCCESS":
            return  # NOT_FOUND, PAYERROR, or already REVOKED/REFUND by an earlier reverse
        assert found.provider_txn_id is not None and found.amount_fen is not None
        same_day = status.same_clearing_day(found.raw, self._gw.now())
        outcome = await self._refund_like(
            "reverse",
            status.VOID if same_day else status.REFUND,
            order_id=reversal_id(out_trade_no),
            orig_qry_id=found.provider_txn_id,
            fen=found.amount_fen,
            out_trade_no=out_trade_no,
        )
        if outcome.state == "PROCESSING":
            outcome = await self._refund_until_final("reverse", outcome)
        if outcome.state != "SUCCESS":
            raise AcquirerRejected.answered(
                PROVIDER,
                "reverse",
                outcome.raw.get("origRespCode", outcome.state),
                outcome.raw.get("origRespMsg", "reversal did not succeed"),
            )

    async def refund(self, ask: RefundAsk) -> RefundOutcome:
        """Refund (04) part or all of a payment; ``out_refund_no`` is the refund's own order id,
        so repeating a call finds the refund already made instead of making another. ACP has no
        field for ``reason``; the payment's ``out_trade_no`` travels in ``reqReserved``."""
        out_refund_no = ask.out_refund_no
        wire.check_order_id(out_refund_no)
        if await self._txn_times.recall(out_refund_no):
            earlier = await self._find("refund", out_refund_no)
            if earlier is not None:
                return _refund_outcome("refund", out_refund_no, earlier)
        found = await self.query(ask.out_trade_no)
        if not found.paid or found.provider_txn_id is None:
            raise AcquirerRejected.answered(
                PROVIDER, "refund", "ORDER_NOT_PAID", f"the payment to refund is {found.state}"
            )
        return await self._refund_like(
            "refund",
            status.REFUND,
            order_id=out_refund_no,
            orig_qry_id=found.provider_txn_id,
            fen=ask.refund_fen,
            out_trade_no=ask.out_trade_no,
        )

    async def query_refund(self, *, out_trade_no: str, out_refund_no: str) -> RefundOutcome:
        """The refund's state; ``AcquirerRejected`` 34 when UnionPay never received it."""
        answer = await self._find("query_refund", out_refund_no)
        if answer is None:
            raise AcquirerRejected.answered(PROVIDER, "query_refund", wire.NOT_FOUND, "查无此交易")
        return _refund_outcome("query_refund", out_refund_no, answer)

    async def daily_bill(self, day: date) -> list[BillRecord]:
        """Download (76/01) and parse the ZM clearing file of the clearing day ``day``.

        ``AcquirerRejected`` 98 while the file does not exist yet; ``bill.BillUnreadable`` (an
        ``AcquirerUnavailable``) naming the line when the file is malformed or truncated."""
        fields = self._gw.fields("76", "01") | {
            "txnTime": wire.txn_time(self._gw.now()),
            "settleDate": wire.mmdd(day),
            "fileType": "00",
        }
        answer = await self._gw.call("daily_bill", self._gw.file_url, fields)
        if answer.code != wire.OK:
            raise rejected("daily_bill", answer)
        return bill.parse_download(answer.fields, mer_id=self._gw.keys.mer_id, day=day)

    async def _send(
        self, operation: str, txn_type: str, sub_type: str, order_id: str, extra: dict[str, str]
    ) -> Answer:
        txn_time = wire.txn_time(self._gw.now())
        # kept before sending: an answer lost on the way back must still be queryable
        await self._txn_times.remember(order_id, txn_time)
        fields = self._gw.fields(txn_type, sub_type, wire.CHANNEL_MOBILE)
        fields |= {"orderId": order_id, "txnTime": txn_time, **extra}
        return await self._gw.call(operation, self._gw.base_url + BACK_TRANS, fields)

    async def _find(self, operation: str, order_id: str) -> Answer | None:
        """Query (00/00) by order id; None when UnionPay has no such transaction."""
        sent = await self._txn_times.recall(order_id)
        if not sent:
            raise AcquirerRejected(
                provider=PROVIDER,
                operation=operation,
                status=0,
                code="TXN_TIME_UNKNOWN",
                message="no txnTime kept for this order id; it cannot be queried",
            )
        for txn_time in reversed(sent):
            fields = self._gw.fields("00", "00", wire.CHANNEL_INTERNET)
            fields |= {"orderId": order_id, "txnTime": txn_time}
            answer = await self._gw.call(operation, self._gw.base_url + QUERY_TRANS, fields)
            if answer.code == wire.NOT_FOUND:
                continue
            if answer.code != wire.OK:
                raise rejected(operation, answer)
            return answer
        return None

    async def _reversal(self, out_trade_no: str) -> RefundOutcome | None:
        order_id = reversal_id(out_trade_no)
        if not await self._txn_times.recall(order_id):
            return None
        answer = await self._find("query", order_id)
        return None if answer is None else _refund_outcome("query", order_id, answer)

    async def _refund_like(
        self,
        operation: str,
        txn_type: str,
        *,
        order_id: str,
        orig_qry_id: str,
        fen: int,
        out_trade_no: str,
    ) -> RefundOutcome:
        extra = {
            "txnAmt": wire.fen_text(fen),
            "currencyCode": wire.CURRENCY_CNY,
            "origQryId": orig_qry_id,
            "backUrl": self._notify_url,
            # reqReserved reaches the clearing file: it names the payment a refund belongs to
            "reqReserved": out_trade_no,
        }
        answer = await self._send(operation, txn_type, "00", order_id, extra)
        if answer.code == wire.DUPLICATE:
            earlier = await self._find(operation, order_id)
            if earlier is None:
                raise rejected(operation, answer)
            return _refund_outcome(operation, order_id, earlier)
        if answer.code in wire.UNKNOWN:
            return RefundOutcome(
                out_refund_no=order_id, state="PROCESSING", raw=status.kept(answer.fields)
            )
        if answer.code != wire.OK:
            raise rejected(operation, answer)
        accepted = await self._find(operation, order_id)
        if accepted is None:
            return RefundOutcome(
                out_refund_no=order_id, state="PROCESSING", raw=status.kept(answer.fields)
            )
        return _refund_outcome(operation, order_id, accepted)

    async def _refund_until_final(self, operation: str, outcome: RefundOutcome) -> RefundOutcome:
        for wait in self._schedule:
            await asyncio.sleep(wait)
            answer = await self._find(operation, outcome.out_refund_no)
            if answer is not None:
                outcome = _refund_outcome(operation, outcome.out_refund_no, answer)
                if outcome.state != "PROCESSING":
                    return outcome
        raise OutcomeUnknown(provider=PROVIDER, operation=operation, reason="still in process")


def _refund_outcome(operation: str, order_id: str, answer: Answer) -> RefundOutcome:
    try:
        return status.refund_outcome(order_id, answer.fields)
    except status.Malformed as exc:
        raise unreadable(operation, str(exc)) from None


def _in_process(out_trade_no: str, why: str) -> TradeStatus:
    log.info("unionpay outcome unknown, query on schedule why=%s", why)
    return TradeStatus(out_trade_no=out_trade_no, state="USERPAYING", raw={"unknown": why})
