"""WeChat Pay API v3 client: the ``clearing.ports`` Acquirer for WeChat, with Native QR
(``QrAcquirer``), payment codes (``CodeAcquirer``), and H5 and JSAPI on the citizen's phone
(``MobileAcquirer``, ``JsapiAcquirer``, in ``mobile``).

Signing and verification live in ``transport``, wire ↔ record mapping in ``mapping``, the bill
format in ``bill``; this module says which endpoint each operation calls and what its answers mean
(protocols-cn.md 1.1, 1.7, 1.8).
"""

from __future__ import annotations

import hashlib
import logging
import re
import zlib
from datetime import date
from typing import Any, Unpack
from urllib.parse import quote, urlencode, urlsplit

import aiohttp

from adapters import wiretime
from adapters.errors import AcquirerUnavailable
from adapters.http import Client, Options
from adapters.wechatpay.bill import BillFormatError, parse_trade_bill
from adapters.wechatpay.keys import MerchantKeys
from adapters.wechatpay.mapping import MalformedError, refund_outcome, trade_status
from adapters.wechatpay.mobile import MobileMixin
from adapters.wechatpay.transport import PROVIDER, Answer, Transport, rejected, unreadable
from clearing import bounds
from clearing.ports import BillRecord, CodeAsk, PaymentAsk, RefundAsk, RefundOutcome, TradeStatus

log = logging.getLogger(__name__)

NOT_FOUND = "NOT_FOUND"
BEIJING = wiretime.BEIJING
# WeChat Pay payment codes: 18 digits starting 10-15 (the prefix names the channel)
AUTH_CODE = re.compile(r"1[0-5][0-9]{16}")
# v3 names first, then the v2 names some gateways still answer with (protocols-cn.md 1.8)
NO_BILL = frozenset({"NO_STATEMENT_EXIST", "NO_BILL_EXIST"})
BILL_CREATING = frozenset({"STATEMENT_CREATING", "BILL_CREATING"})
# a day's bill is a few MB at most; the cap keeps a hostile gzip from filling memory
MAX_BILL_BYTES = 256 * 1024 * 1024


class WeChatPayClient(MobileMixin, Client[MerchantKeys, Transport]):
    """Calls WeChat Pay (or its simulator) over a session the caller owns; H5 and JSAPI come
    from ``MobileMixin``. ``open_url`` and ``sns_url`` are the 公众平台's web-authorization
    hosts (open.weixin.qq.com, api.weixin.qq.com)."""

    provider = PROVIDER
    transport = Transport
    max_skew_s = 300
    shows = ("mchid", "mchid")

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        notify_url: str,
        store_id: str = "tongjiao",
        open_url: str = "https://open.weixin.qq.com",
        sns_url: str = "https://api.weixin.qq.com",
        **options: Unpack[Options[MerchantKeys]],
    ) -> None:
        super().__init__(session, **options)
        self._session = session
        self._open_url = open_url.rstrip("/")
        self._sns_url = sns_url.rstrip("/")
        self._timeout_s = options.get("timeout_s", 5.0)
        self._notify_url = notify_url
        self._store_id = store_id

    async def create_qr(self, ask: PaymentAsk) -> str:
        """Native prepay; returns the ``weixin://wxpay/bizpayurl?pr=…`` code URL."""
        return await self._prepay("create_qr", "native", "code_url", {}, ask)

    async def pay_by_code(self, ask: CodeAsk) -> TradeStatus:
        """Charge a payment code (B scans C). SUCCESS is final; USERPAYING means the citizen is
        confirming on the phone and ``query`` must be polled. Payment codes get no callback."""
        out_trade_no = ask.out_trade_no
        if not AUTH_CODE.fullmatch(ask.auth_code):
            # the code is a bearer credential: never echo it
            raise ValueError("auth_code is not a WeChat Pay payment code (18 digits, 10-15…)")
        payload: dict[str, Any] = {
            "appid": self._keys.appid,
            "mchid": self._keys.mchid,
            "description": ask.description,
            "out_trade_no": out_trade_no,
            "payer": {"auth_code": ask.auth_code},
            "amount": {"total": ask.total_fen, "currency": "CNY"},
            "scene_info": {"store_info": {"out_id": self._store_id}},
        }
        if ask.attach:
            payload["attach"] = ask.attach
        answer = await self._t.call("pay_by_code", "POST", "/v3/pay/transactions/codepay", payload)
        if answer.status == 202 or "USERPAYING" in (answer.code, answer.data.get("trade_state")):
            return TradeStatus(out_trade_no=out_trade_no, state="USERPAYING", raw=answer.data)
        if answer.code == "ORDERPAID":
            # a repeated request for an order that was paid meanwhile: its state is the answer
            return await self.query(out_trade_no)
        if answer.status != 200:
            raise rejected("pay_by_code", answer)
        return _status("pay_by_code", out_trade_no, answer)

    async def query(self, out_trade_no: str) -> TradeStatus:
        """The acquirer's view of one attempt; state ``NOT_FOUND`` when it never heard of it."""
        path = _trade_path(out_trade_no) + "?" + urlencode({"mchid": self._keys.mchid})
        answer = await self._t.call("query", "GET", path, None)
        if answer.status == 404 and answer.code == "ORDER_NOT_EXIST":
            return TradeStatus(out_trade_no=out_trade_no, state=NOT_FOUND, raw=answer.data)
        if answer.status != 200:
            raise rejected("query", answer)
        return _status("query", out_trade_no, answer)

    async def close(self, out_trade_no: str) -> None:
        """Close an unpaid attempt; an attempt that is already closed is fine."""
        path = _trade_path(out_trade_no) + "/close"
        answer = await self._t.call("close", "POST", path, {"mchid": self._keys.mchid})
        if answer.status in (200, 204) or answer.code == "ORDER_CLOSED":
            return
        raise rejected("close", answer)

    async def reverse(self, out_trade_no: str) -> None:
        """Undo an attempt whatever became of it (WeChat 撤销): closed if unpaid, refunded in
        full if paid. WeChat reverses payment-code orders only; any other order is closed or
        refunded here instead. An order WeChat never heard of needs no undoing."""
        path = _trade_path(out_trade_no) + "/reverse"
        payload = {"appid": self._keys.appid, "mchid": self._keys.mchid}
        answer = await self._t.call("reverse", "POST", path, payload)
        if answer.status in (200, 204) or answer.code in ("ORDER_NOT_EXIST", "ORDER_CLOSED"):
            log.info("wechatpay reversed out_trade_no=%s code=%s", out_trade_no, answer.code)
            return
        if answer.code != "INVALID_REQUEST":
            raise rejected("reverse", answer)
        status = await self.query(out_trade_no)
        if status.state in ("NOTPAY", "USERPAYING"):
            await self.close(out_trade_no)
        elif status.paid:
            if status.amount_fen is None:
                raise unreadable("reverse", 200, "a paid order without amount.total")
            # derived from the trade number, so a repeated reverse can never refund twice
            fen = status.amount_fen
            await self.refund(RefundAsk(out_trade_no, f"{out_trade_no}-RV", fen, fen, "撤销"))
        # NOT_FOUND, CLOSED, REVOKED, PAYERROR: nothing was taken, nothing to give back

    async def refund(self, ask: RefundAsk) -> RefundOutcome:
        """Ask for a (partial) refund; ``out_refund_no`` makes a repeated call safe. Its final
        state arrives as a REFUND.* notification at ``notify_url`` or by ``query_refund``."""
        payload: dict[str, Any] = {
            "out_trade_no": ask.out_trade_no,
            "out_refund_no": ask.out_refund_no,
            "notify_url": self._notify_url,
            "amount": {"refund": ask.refund_fen, "total": ask.total_fen, "currency": "CNY"},
        }
        if ask.reason:
            payload["reason"] = ask.reason
        answer = await self._t.call("refund", "POST", "/v3/refund/domestic/refunds", payload)
        if answer.status != 200:
            raise rejected("refund", answer)
        return _refund("refund", ask.out_refund_no, answer)

    async def query_refund(self, *, out_trade_no: str, out_refund_no: str) -> RefundOutcome:
        """The refund's current state; ``AcquirerRejected`` 404 RESOURCE_NOT_EXISTS when WeChat
        never accepted it (asking again with the same ``out_refund_no`` is then safe)."""
        path = "/v3/refund/domestic/refunds/" + quote(out_refund_no, safe="")
        answer = await self._t.call("query_refund", "GET", path, None)
        if answer.status != 200:
            raise rejected("query_refund", answer)
        if answer.data.get("out_trade_no") != out_trade_no:
            raise unreadable("query_refund", answer.status, "the refund is for another order")
        return _refund("query_refund", out_refund_no, answer)

    async def daily_bill(self, day: date) -> list[BillRecord]:
        """The ALL trade bill of one Beijing day: apply, download, gunzip, check SHA-1, parse.

        A day without trades is an empty list; a bill still being generated (before about 10:00
        the next day) is ``AcquirerUnavailable`` — ask again later."""
        query = urlencode({"bill_date": day.isoformat(), "bill_type": "ALL", "tar_type": "GZIP"})
        answer = await self._t.call("daily_bill", "GET", "/v3/bill/tradebill?" + query, None)
        if answer.code in NO_BILL:
            return []
        if answer.code in BILL_CREATING:
            raise AcquirerUnavailable(
                provider=PROVIDER, operation="daily_bill", reason=answer.code, status=answer.status
            )
        if answer.status != 200:
            raise rejected("daily_bill", answer)
        hash_value, url = _bill_link(answer)
        packed = await self._t.download("daily_bill", url)
        plain = _gunzip(packed)
        if hashlib.sha1(plain, usedforsecurity=False).hexdigest() != hash_value:
            raise unreadable("daily_bill", 200, "bill SHA-1 differs from hash_value")
        try:
            return parse_trade_bill(plain.decode("utf-8"), mchid=self._keys.mchid)
        except UnicodeDecodeError:
            raise unreadable("daily_bill", 200, "bill is not UTF-8") from None
        except BillFormatError as exc:
            raise unreadable("daily_bill", 200, str(exc)) from exc


def _status(operation: str, out_trade_no: str, answer: Answer) -> TradeStatus:
    try:
        return trade_status(out_trade_no, answer.data)
    except MalformedError as exc:
        raise unreadable(operation, answer.status, str(exc)) from None


def _refund(operation: str, out_refund_no: str, answer: Answer) -> RefundOutcome:
    try:
        return refund_outcome(out_refund_no, answer.data)
    except MalformedError as exc:
        raise unreadable(operation, answer.status, str(exc)) from None


def _bill_link(answer: Answer) -> tuple[str, str]:
    hash_value = answer.data.get("hash_value")
    url = answer.data.get("download_url")
    if answer.data.get("hash_type") != "SHA1" or not isinstance(hash_value, str):
        raise unreadable("daily_bill", answer.status, "hash_type is not SHA1")
    if not re.fullmatch(r"[0-9a-f]{40}", hash_value.lower()):
        raise unreadable("daily_bill", answer.status, "hash_value is not a SHA-1")
    # our signed Authorization goes to this URL: only ever to a WeChat Pay bill download path
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("https", "http") or not parts.netloc:
        raise unreadable("daily_bill", answer.status, "download_url is not an absolute URL")
    if not parts.path.startswith("/v3/billdownload/"):
        raise unreadable("daily_bill", answer.status, "download_url is not a bill download")
    assert isinstance(url, str)
    return hash_value.lower(), url


def _gunzip(packed: bytes) -> bytes:
    try:
        return bounds.inflate(packed, wbits=16 + zlib.MAX_WBITS, limit=MAX_BILL_BYTES)
    except bounds.TooLarge as exc:
        raise unreadable("daily_bill", 200, f"bill larger than the limit: {exc}") from None
    except zlib.error as exc:
        if "truncated" in str(exc):
            raise unreadable("daily_bill", 200, "bill gzip stream is truncated") from None
        raise unreadable("daily_bill", 200, "bill is not gzip") from None


def _trade_path(out_trade_no: str) -> str:
    return "/v3/pay/transactions/out-trade-no/" + quote(out_trade_no, safe="")
