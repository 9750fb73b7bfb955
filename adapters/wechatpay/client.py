"""WeChat Pay API v3 client for Native (QR) payments: the ``clearing.ports.Acquirer`` for WeChat.

Every request is signed over the exact bytes sent; every 2xx answer must carry a valid WeChat Pay
signature or it is treated as forged (protocols-cn.md 1.2, 1.3).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from yarl import URL

from adapters.errors import AcquirerRejected, AcquirerUnavailable, ResponseForged
from adapters.wechatpay import crypto
from adapters.wechatpay.keys import MerchantKeys
from clearing.ports import RefundOutcome, TradeStatus

log = logging.getLogger(__name__)

PROVIDER = "wechatpay"
NOT_FOUND = "NOT_FOUND"
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


class _MalformedError(Exception):
    """A signed answer we cannot read; surfaces as AcquirerUnavailable."""


@dataclass(frozen=True)
class _Answer:
    status: int
    data: Mapping[str, Any]

    @property
    def code(self) -> str:
        code = self.data.get("code")
        return code if isinstance(code, str) else ""

    @property
    def message(self) -> str:
        message = self.data.get("message")
        return message if isinstance(message, str) else ""


class WeChatPayClient:
    """Calls WeChat Pay (or its simulator) over a session the caller owns."""

    provider = PROVIDER

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        keys: MerchantKeys,
        notify_url: str,
        timeout_s: float = 5.0,
        max_skew_s: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._keys = keys
        self._notify_url = notify_url
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._max_skew_s = max_skew_s
        self._clock = clock

    def __repr__(self) -> str:
        return f"WeChatPayClient(base_url={self._base_url!r}, mchid={self._keys.mchid!r})"

    async def create_qr(
        self,
        *,
        out_trade_no: str,
        description: str,
        total_fen: int,
        expires_at: datetime,
        attach: str = "",
    ) -> str:
        """Native prepay; returns the ``weixin://wxpay/bizpayurl?pr=…`` code URL."""
        _require_fen(total_fen, positive=True)
        if expires_at.tzinfo is None:
            raise ValueError("expires_at must be timezone-aware")
        payload: dict[str, Any] = {
            "appid": self._keys.appid,
            "mchid": self._keys.mchid,
            "description": description,
            "out_trade_no": out_trade_no,
            "time_expire": expires_at.astimezone(BEIJING).isoformat(timespec="seconds"),
            "notify_url": self._notify_url,
            "amount": {"total": total_fen, "currency": "CNY"},
        }
        if attach:
            payload["attach"] = attach
        answer = await self._call("create_qr", "POST", "/v3/pay/transactions/native", payload)
        if answer.status != 200:
            raise self._rejected("create_qr", answer)
        code_url = answer.data.get("code_url")
        if not isinstance(code_url, str) or not code_url:
            raise _unreadable("create_qr", answer, "code_url missing")
        return code_url

    async def query(self, out_trade_no: str) -> TradeStatus:
        """The acquirer's view of one attempt; state ``NOT_FOUND`` when it never heard of it."""
        path = _trade_path(out_trade_no) + "?" + urlencode({"mchid": self._keys.mchid})
        answer = await self._call("query", "GET", path, None)
        if answer.status == 404 and answer.code == "ORDER_NOT_EXIST":
            return TradeStatus(out_trade_no=out_trade_no, state=NOT_FOUND, raw=answer.data)
        if answer.status != 200:
            raise self._rejected("query", answer)
        try:
            return _trade_status(out_trade_no, answer.data)
        except _MalformedError as exc:
            raise _unreadable("query", answer, str(exc)) from None

    async def close(self, out_trade_no: str) -> None:
        """Close an unpaid attempt; an attempt that is already closed is fine."""
        path = _trade_path(out_trade_no) + "/close"
        answer = await self._call("close", "POST", path, {"mchid": self._keys.mchid})
        if answer.status in (200, 204) or answer.code == "ORDER_CLOSED":
            return
        raise self._rejected("close", answer)

    async def refund(
        self,
        *,
        out_trade_no: str,
        out_refund_no: str,
        refund_fen: int,
        total_fen: int,
        reason: str,
    ) -> RefundOutcome:
        """Ask for a (partial) refund; ``out_refund_no`` makes a repeated call safe."""
        _require_fen(refund_fen, positive=True)
        _require_fen(total_fen, positive=True)
        payload: dict[str, Any] = {
            "out_trade_no": out_trade_no,
            "out_refund_no": out_refund_no,
            "amount": {"refund": refund_fen, "total": total_fen, "currency": "CNY"},
        }
        if reason:
            payload["reason"] = reason
        answer = await self._call("refund", "POST", "/v3/refund/domestic/refunds", payload)
        if answer.status != 200:
            raise self._rejected("refund", answer)
        state = answer.data.get("status")
        if not isinstance(state, str) or answer.data.get("out_refund_no") != out_refund_no:
            raise _unreadable("refund", answer, "status or out_refund_no missing")
        refund_id = answer.data.get("refund_id")
        return RefundOutcome(
            out_refund_no=out_refund_no,
            state=state,
            provider_refund_id=refund_id if isinstance(refund_id, str) else None,
            raw=answer.data,
        )

    async def _call(
        self, operation: str, method: str, path_and_query: str, payload: Mapping[str, Any] | None
    ) -> _Answer:
        # serialized once: these bytes are both signed and sent
        body = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode()
        url = URL(self._base_url + path_and_query, encoded=True)
        headers = {
            "Authorization": crypto.authorization_header(
                mchid=self._keys.mchid,
                serial_no=self._keys.merchant_serial,
                private_key=self._keys.private_key,
                method=method,
                url_path=url.raw_path_qs,
                body=body,
                timestamp=int(self._clock()),
                nonce=crypto.new_nonce(),
            ),
            "Accept": "application/json",
        }
        if payload is not None:
            headers["Content-Type"] = "application/json"
        started = time.monotonic()
        try:
            async with self._session.request(
                method,
                url,
                data=body if payload is not None else None,
                headers=headers,
                timeout=self._timeout,
            ) as resp:
                raw = await resp.read()
                status = resp.status
                resp_headers = resp.headers
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("wechatpay call failed op=%s error=%s", operation, type(exc).__name__)
            raise AcquirerUnavailable(
                provider=PROVIDER, operation=operation, reason=type(exc).__name__
            ) from exc
        log.info(
            "wechatpay call op=%s status=%d ms=%d",
            operation,
            status,
            (time.monotonic() - started) * 1000,
        )
        data = _json_object(raw)
        answer = _Answer(status=status, data=data if data is not None else {})
        if status >= 500 or status == 429:
            raise AcquirerUnavailable(
                provider=PROVIDER,
                operation=operation,
                reason=answer.code or "server error",
                status=status,
            )
        # a 404 ORDER_NOT_EXIST is an answer the caller acts on, so it must be signed too
        if 200 <= status < 300 or (status == 404 and answer.code == "ORDER_NOT_EXIST"):
            self._check_signature(operation, status, resp_headers, raw)
            if data is None and raw:
                raise _unreadable(operation, answer, "body is not a JSON object")
        return answer

    def _check_signature(
        self, operation: str, status: int, headers: Mapping[str, str], raw: bytes
    ) -> None:
        timestamp = headers.get("Wechatpay-Timestamp", "")
        nonce = headers.get("Wechatpay-Nonce", "")
        signature = headers.get("Wechatpay-Signature", "")
        serial = headers.get("Wechatpay-Serial", "")
        reason = ""
        if not (timestamp and nonce and signature and serial):
            reason = "signature headers missing"
        elif signature.startswith(crypto.PROBE_PREFIX):
            reason = "signature probe"
        elif serial != self._keys.wechatpay_public_key_id:
            reason = "unknown Wechatpay-Serial"
        elif not timestamp.isdigit() or abs(self._clock() - int(timestamp)) > self._max_skew_s:
            reason = "timestamp missing or stale"
        elif not crypto.verify(
            self._keys.wechatpay_public_key,
            crypto.response_message(timestamp, nonce, raw),
            signature,
        ):
            reason = "signature invalid"
        if reason:
            log.error("wechatpay response not trusted op=%s reason=%s", operation, reason)
            raise ResponseForged(
                provider=PROVIDER, operation=operation, status=status, reason=reason
            )

    def _rejected(self, operation: str, answer: _Answer) -> AcquirerRejected | AcquirerUnavailable:
        if 400 <= answer.status < 500:
            return AcquirerRejected(
                provider=PROVIDER,
                operation=operation,
                status=answer.status,
                code=answer.code or f"HTTP_{answer.status}",
                message=answer.message,
            )
        return _unreadable(operation, answer, f"unexpected status {answer.status}")


def _trade_path(out_trade_no: str) -> str:
    return "/v3/pay/transactions/out-trade-no/" + quote(out_trade_no, safe="")


def _require_fen(value: int, *, positive: bool) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("amounts are int fen")
    if positive and value <= 0:
        raise ValueError("amount must be positive")


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(raw) if raw else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _unreadable(operation: str, answer: _Answer, why: str) -> AcquirerUnavailable:
    log.error("wechatpay answer unreadable op=%s why=%s", operation, why)
    return AcquirerUnavailable(
        provider=PROVIDER,
        operation=operation,
        reason=f"unreadable answer: {why}",
        status=answer.status,
    )


def _trade_status(out_trade_no: str, data: Mapping[str, Any]) -> TradeStatus:
    state = data.get("trade_state")
    if not isinstance(state, str) or data.get("out_trade_no") != out_trade_no:
        raise _MalformedError("trade_state or out_trade_no missing")
    amount_fen: int | None = None
    amount = data.get("amount")
    if isinstance(amount, dict) and "total" in amount:
        total = amount["total"]
        if not isinstance(total, int) or isinstance(total, bool) or total < 0:
            raise _MalformedError("amount.total is not int fen")
        amount_fen = total
    paid_at: datetime | None = None
    success_time = data.get("success_time")
    if success_time is not None:
        try:
            paid_at = datetime.fromisoformat(str(success_time))
        except ValueError:
            raise _MalformedError("success_time unreadable") from None
        if paid_at.tzinfo is None:
            raise _MalformedError("success_time has no offset")
    txn_id = data.get("transaction_id")
    return TradeStatus(
        out_trade_no=out_trade_no,
        state=state,
        provider_txn_id=txn_id if isinstance(txn_id, str) and txn_id else None,
        amount_fen=amount_fen,
        paid_at=paid_at,
        raw=data,
    )
