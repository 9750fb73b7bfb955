"""One signed ACP call: build the common fields, sign, POST the form, verify the answer.

Every answer must carry a ``signPubKeyCert`` that chains to our configured UnionPay CA and a
``signature`` that verifies under it; otherwise it is forged (protocols-cn.md 3.1). A call that may
have been processed without us hearing the result raises ``OutcomeUnknown`` so that callers can
fall back to the query schedule instead of treating it as "nothing happened".
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import aiohttp

from adapters.errors import AcquirerRejected, AcquirerUnavailable, ResponseForged
from adapters.http import Exchange
from adapters.unionpay import crypto, wire
from adapters.unionpay.keys import MerchantKeys

log = logging.getLogger(__name__)

PROVIDER = "unionpay"
BACK_TRANS = "/gateway/api/backTransReq.do"
QUERY_TRANS = "/gateway/api/queryTrans.do"
# front transactions are posted by the payer's browser, not by us
FRONT_TRANS = "/gateway/api/frontTransReq.do"
# the file host serves downloads at its root; these are UnionPay's own host pairs
_FILE_HOSTS = {
    "gateway.95516.com": "https://filedownload.95516.com/",
    "gateway.test.95516.com": "https://filedownload.test.95516.com/",
}


class OutcomeUnknown(AcquirerUnavailable):
    """The request may have been processed (timeout, dropped connection, 5xx, "in process"):
    ask again with a query on ``QUERY_SCHEDULE_S`` before doing anything else."""


@dataclass(frozen=True)
class Answer:
    """A verified answer."""

    fields: Mapping[str, str]

    @property
    def code(self) -> str:
        return self.fields.get("respCode", "")

    @property
    def message(self) -> str:
        return self.fields.get("respMsg", "")


def default_file_url(base_url: str) -> str:
    """UnionPay's file host for its gateway host; the gateway itself for anything else."""
    host = urlsplit(base_url).hostname or ""
    return _FILE_HOSTS.get(host, base_url.rstrip("/") + "/")


class Gateway(Exchange[MerchantKeys]):
    """Holds the session, the keys and the timeout; knows nothing about what a call means."""

    party = PROVIDER

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        file_url: str,
        keys: MerchantKeys,
        timeout_s: float,
        clock: Callable[[], float],
    ) -> None:
        super().__init__(session, base_url=base_url, keys=keys, timeout_s=timeout_s, clock=clock)
        self.file_url = file_url
        self.keys = keys

    def unanswered(self, operation: str, reason: str) -> OutcomeUnknown:
        # the request may have been processed without us hearing the result
        return OutcomeUnknown(provider=PROVIDER, operation=operation, reason=reason)

    def now(self) -> datetime:
        return self._now_in(UTC)

    def fields(self, txn_type: str, txn_sub_type: str, channel: str = "") -> dict[str, str]:
        """The fields every request carries; the caller adds the rest."""
        common = {
            "version": wire.VERSION,
            "encoding": wire.ENCODING,
            "signMethod": wire.SIGN_METHOD_RSA,
            "certId": self.keys.cert_id,
            "txnType": txn_type,
            "txnSubType": txn_sub_type,
            "bizType": wire.BIZ_TYPE,
            "accessType": wire.ACCESS_MERCHANT,
            "merId": self.keys.mer_id,
        }
        if channel:
            common["channelType"] = channel
        return common

    async def call(self, operation: str, url: str, fields: Mapping[str, str]) -> Answer:
        """Sign and send; return the verified answer whatever its ``respCode``."""
        signed = dict(fields)
        signed["signature"] = crypto.sign(signed, self.keys.private_key)
        reply = await self.send(
            operation,
            "POST",
            url,
            data=wire.encode_form(signed),
            headers={"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"},
        )
        status, raw, elapsed_ms = reply.status, reply.body, reply.ms
        if status != 200:
            raise OutcomeUnknown(
                provider=PROVIDER, operation=operation, reason="server error", status=status
            )
        answer = Answer(self._verified(operation, raw))
        log.info("unionpay call op=%s respCode=%s ms=%d", operation, answer.code or "-", elapsed_ms)
        return answer

    def _verified(self, operation: str, raw: bytes) -> dict[str, str]:
        try:
            fields = wire.decode_answer(raw)
        except ValueError as exc:
            log.error("unionpay answer unreadable op=%s why=%s", operation, exc)
            raise OutcomeUnknown(
                provider=PROVIDER,
                operation=operation,
                reason=f"unreadable answer: {exc}",
                status=200,
            ) from None
        reason = ""
        if not fields.get("signature") or not fields.get("signPubKeyCert"):
            reason = "signature or signPubKeyCert missing"
        elif fields.get("signMethod") != wire.SIGN_METHOD_RSA:
            reason = "unsupported signMethod"
        else:
            try:
                key = self.keys.chain.check(crypto.load_cert(fields["signPubKeyCert"]), self.now())
            except crypto.UntrustedCert as exc:
                reason = exc.reason
            else:
                if not crypto.verify(fields, key):
                    reason = "signature invalid"
                elif fields.get("merId", self.keys.mer_id) != self.keys.mer_id:
                    reason = "answer names another merchant"
        if reason:
            log.error("unionpay answer not trusted op=%s reason=%s", operation, reason)
            raise ResponseForged(provider=PROVIDER, operation=operation, status=200, reason=reason)
        return fields


def rejected(operation: str, answer: Answer) -> AcquirerRejected | AcquirerUnavailable:
    """The error for an answer whose ``respCode`` is not one the caller handles."""
    if answer.code in wire.BUSY:
        return AcquirerUnavailable(
            provider=PROVIDER, operation=operation, reason=answer.code, status=200
        )
    if answer.code in wire.UNKNOWN:
        return OutcomeUnknown(
            provider=PROVIDER, operation=operation, reason=answer.code, status=200
        )
    return AcquirerRejected.answered(
        PROVIDER, operation, answer.code or "NO_RESP_CODE", answer.message
    )


def unreadable(operation: str, why: str) -> OutcomeUnknown:
    """A verified answer that lacks what the operation needs."""
    log.error("unionpay answer unusable op=%s why=%s", operation, why)
    return OutcomeUnknown(
        provider=PROVIDER, operation=operation, reason=f"unreadable answer: {why}", status=200
    )
