"""The Alipay gateway as a transport: one signed form POST per call, answers verified.

Requests follow protocols-cn.md 2.1 and 2.2; every answer we act on must carry Alipay's RSA2
signature over the exact text of its ``…_response`` member, or it is treated as forged (2.3).
Business failures arrive with HTTP 200 and a ``code`` other than 10000.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlencode

import aiohttp
from yarl import URL

from adapters.alipay import crypto
from adapters.alipay.keys import AppKeys
from adapters.errors import AcquirerRejected, AcquirerUnavailable, ResponseForged
from adapters.http import Exchange, TooLarge, read_body

log = logging.getLogger(__name__)

PROVIDER: Final = "alipay"
SUCCESS: Final = "10000"
PAYING: Final = "10003"
# answers that say "the outcome is unknown, ask again", never "refused"
_UNKNOWN_OUTCOME: Final = frozenset(
    {"ACQ.SYSTEM_ERROR", "isp.unknow-error", "aop.ACQ.SYSTEM_ERROR"}
)
MAX_BILL_BYTES: Final = 64 * 1024 * 1024


@dataclass(frozen=True)
class Answer:
    """The inner ``…_response`` object of a verified gateway answer."""

    data: Mapping[str, Any]

    @property
    def code(self) -> str:
        return str(self.data.get("code", ""))

    @property
    def sub_code(self) -> str:
        return str(self.data.get("sub_code", ""))

    @property
    def ok(self) -> bool:
        return self.code == SUCCESS


class Gateway(Exchange[AppKeys]):
    """Signs requests with the app key and verifies answers with Alipay's public key."""

    party = PROVIDER

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        url: str,
        keys: AppKeys,
        timeout_s: float,
        clock: Callable[[], datetime],
    ) -> None:
        super().__init__(session, base_url=url, keys=keys, timeout_s=timeout_s, clock=time.time)
        # the gateway's address may carry a query (a sandbox's charset): kept exactly as given
        self._url = url
        self._beijing_now = clock

    async def call(
        self,
        operation: str,
        method: str,
        biz: Mapping[str, Any],
        *,
        notify_url: str | None = None,
        acted_on: frozenset[str] = frozenset(),
    ) -> Answer:
        """Sign and send one call; ``acted_on`` lists refusals the caller draws conclusions
        from, which must therefore be signed as strictly as a success."""
        params = self.signed_params(method, biz, notify_url=notify_url)
        reply = await self.send(
            operation,
            "POST",
            self._url,
            data=urlencode(params),
            headers={
                "Content-Type": "application/x-www-form-urlencoded;charset=utf-8",
                "Accept": "application/json",
            },
        )
        status, raw, ms = reply.status, reply.body, reply.ms
        if status >= 500 or status == 429:
            raise self.unavailable(operation, "server error", status)
        if status != 200:
            # the gateway answers every business outcome with 200
            raise unreadable(operation, f"unexpected HTTP status {status}", status)
        answer = self._verified(operation, method, raw, acted_on)
        log.info(
            "alipay call op=%s code=%s sub_code=%s ms=%d",
            operation,
            answer.code,
            answer.sub_code or "-",
            ms,
        )
        return answer

    def signed_params(
        self,
        method: str,
        biz: Mapping[str, Any],
        *,
        notify_url: str | None = None,
        return_url: str | None = None,
    ) -> dict[str, str]:
        """The common parameters, ``biz_content`` and the app's RSA2 signature over them all."""
        params = {
            "app_id": self._keys.app_id,
            "method": method,
            "format": "JSON",
            "charset": crypto.CHARSET,
            "sign_type": crypto.SIGN_TYPE,
            "timestamp": crypto.beijing_text(self._beijing_now()),
            "version": crypto.VERSION,
            "biz_content": crypto.compact_json(biz),
        }
        if notify_url is not None:
            params["notify_url"] = notify_url
        if return_url is not None:
            params["return_url"] = return_url
        params["sign"] = crypto.sign(self._keys.private_key, crypto.request_content(params))
        return params

    def page_request(
        self, method: str, biz: Mapping[str, Any], *, notify_url: str, return_url: str
    ) -> tuple[str, dict[str, str]]:
        """A page call the payer's browser sends, as the SDK's ``pageExecute`` (POST) builds it:
        the form's action is the gateway URL carrying the signed common parameters, and the
        form itself holds ``biz_content``. Nothing is sent from here."""
        params = self.signed_params(method, biz, notify_url=notify_url, return_url=return_url)
        body = {"biz_content": params.pop("biz_content")}
        joiner = "&" if "?" in self._url else "?"
        return f"{self._url}{joiner}{urlencode(params)}", body

    def _verified(
        self, operation: str, method: str, raw: bytes, acted_on: frozenset[str]
    ) -> Answer:
        try:
            text = raw.decode("utf-8")
            spans = crypto.top_level_spans(text)
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise unreadable(operation, f"answer is not a JSON object: {exc}") from None
        name = crypto.response_key(method)
        if name not in spans:
            name = crypto.ERROR_RESPONSE
        if name not in spans:
            raise unreadable(operation, f"no {crypto.response_key(method)} in the answer")
        start, end = spans[name]
        content = text[start:end]
        data = json.loads(content)
        if not isinstance(data, dict):
            raise unreadable(operation, f"{name} is not an object")
        answer = Answer(data)
        signature: Any = None
        if "sign" in spans:
            signature = json.loads(text[slice(*spans["sign"])])
        reason = ""
        if not isinstance(signature, str) or not signature:
            # an unsigned refusal can only make us stop; anything we would act on must be signed
            if answer.code in (SUCCESS, PAYING) or answer.sub_code in acted_on:
                reason = "sign missing"
        elif not crypto.verify(self._keys.alipay_public_key, content, signature):
            reason = "signature invalid"
        if reason:
            log.error("alipay response not trusted op=%s reason=%s", operation, reason)
            raise ResponseForged(provider=PROVIDER, operation=operation, status=200, reason=reason)
        return answer

    async def download(self, url: str) -> bytes:
        """Fetch a bill from the short-lived URL a signed answer gave us (no auth of its own)."""
        try:
            async with self._session.get(URL(url, encoded=True), timeout=self._timeout) as resp:
                if resp.status != 200:
                    raise unreadable("daily_bill", "bill download failed", resp.status)
                try:
                    return await read_body(resp, MAX_BILL_BYTES)
                except TooLarge:
                    raise unreadable("daily_bill", "bill download too large", resp.status) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("alipay bill download failed error=%s", type(exc).__name__)
            raise AcquirerUnavailable(
                provider=PROVIDER, operation="daily_bill", reason=type(exc).__name__
            ) from exc


def failure(operation: str, answer: Answer) -> AcquirerRejected | AcquirerUnavailable:
    """The error for a non-success answer: unknown outcomes are retryable, the rest refused."""
    code = answer.sub_code or answer.code or "UNKNOWN"
    message = str(answer.data.get("sub_msg") or answer.data.get("msg") or "")
    if answer.code == "20000" or answer.sub_code in _UNKNOWN_OUTCOME:
        log.warning("alipay outcome unknown op=%s code=%s", operation, code)
        return AcquirerUnavailable(provider=PROVIDER, operation=operation, reason=code, status=200)
    return AcquirerRejected.answered(PROVIDER, operation, code, message)


def unreadable(operation: str, why: str, status: int | None = 200) -> AcquirerUnavailable:
    """A (signed) answer we cannot make sense of: treat the outcome as unknown."""
    return AcquirerUnavailable.unreadable(PROVIDER, operation, why, status)
