"""Signed HTTP to WeChat Pay: every request signed over the exact bytes sent, every answer that we
act on checked against the WeChat Pay key (protocols-cn.md 1.2, 1.3).

Bill files are the one exception WeChat makes: the download request is signed, the file is not
(1.1, 1.8); its integrity comes from the SHA-1 in the signed apply answer instead.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from yarl import URL

from adapters.errors import AcquirerRejected, AcquirerUnavailable, ResponseForged
from adapters.http import Exchange, JsonAnswer, json_object
from adapters.wechatpay import crypto
from adapters.wechatpay.keys import MerchantKeys

log = logging.getLogger(__name__)

PROVIDER = "wechatpay"

# error answers that a caller treats as an outcome ("no such order", "nothing to bill", "already
# closed"): a forger could otherwise hide a payment or a day's bill, so they must be signed too
SIGNED_ERROR_CODES = frozenset(
    {"ORDER_NOT_EXIST", "ORDER_CLOSED", "NO_STATEMENT_EXIST", "NO_BILL_EXIST"}
)


class Answer(JsonAnswer):
    """A WeChat Pay answer whose signature (where one is required) checked out."""


class Transport(Exchange[MerchantKeys]):
    """Signs, sends and verifies; knows nothing about what the operations mean."""

    party = PROVIDER

    async def call(
        self, operation: str, method: str, path_and_query: str, payload: Mapping[str, Any] | None
    ) -> Answer:
        """One API call; ``AcquirerUnavailable`` for 5xx/429/network, ``ResponseForged`` for a
        2xx (or a signed-outcome error) that WeChat Pay did not sign."""
        # serialized once: these bytes are both signed and sent
        body = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode()
        url = URL(self.base_url + path_and_query, encoded=True)
        status, headers, raw = await self._send(operation, method, url, body, payload is not None)
        data = json_object(raw, empty={})
        answer = Answer(status=status, data=data if data is not None else {})
        if status >= 500 or status == 429:
            raise self.unavailable(operation, answer.code or "server error", status)
        if 200 <= status < 300 or answer.code in SIGNED_ERROR_CODES:
            self._check_signature(operation, status, headers, raw)
            if data is None and raw:
                raise unreadable(operation, status, "body is not a JSON object")
        return answer

    async def download(self, operation: str, url: str) -> bytes:
        """A signed GET of a bill ``download_url``; the file itself carries no signature."""
        target = URL(url, encoded=True)
        status, _headers, raw = await self._send(operation, "GET", target, b"", False)
        if status >= 500 or status == 429:
            raise self.unavailable(operation, "server error", status)
        if status != 200:
            data = json_object(raw, empty={}) or {}
            raise rejected(operation, Answer(status=status, data=data))
        return raw

    async def _send(
        self, operation: str, method: str, url: URL, body: bytes, has_body: bool
    ) -> tuple[int, Mapping[str, str], bytes]:
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
        if has_body:
            headers["Content-Type"] = "application/json"
        reply = await self.send(
            operation, method, url, data=body if has_body else None, headers=headers
        )
        return reply.status, reply.headers, reply.body

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
        elif (
            not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12)
            or abs(self._clock() - int(timestamp)) > self._max_skew_s
        ):
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


def rejected(operation: str, answer: Answer) -> AcquirerRejected | AcquirerUnavailable:
    """The error for an answer the operation cannot use: 4xx is a refusal, anything else odd."""
    if 400 <= answer.status < 500:
        return answer.refusal(PROVIDER, operation)
    return unreadable(operation, answer.status, f"unexpected status {answer.status}")


def unreadable(operation: str, status: int | None, why: str) -> AcquirerUnavailable:
    """A signed answer we cannot read: nothing in it is acted on, so the call may be retried."""
    return AcquirerUnavailable.unreadable(PROVIDER, operation, why, status)
