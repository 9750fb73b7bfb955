"""Verify Alipay's asynchronous notifications (protocols-cn.md 2.6).

A notification is a form-encoded POST. Alipay signs the decoded parameters (all but ``sign`` and
``sign_type``, sorted, ``k=v`` joined by ``&``), so the raw bytes are decoded exactly once, as
the form they are, and verified before any value is looked at. Only then do we check that it is
for our app and our seller account, and only TRADE_SUCCESS / TRADE_FINISHED of a payment becomes
a ``PaymentNotice``; the core's capture compares ``out_trade_no`` and the amount with the order.

Alipay reads the answer body: exactly ``success`` stops the retries, anything else (our refusal
included) makes it resend up to 8 times over about 25 hours.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Final
from urllib.parse import parse_qsl

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from adapters.alipay import crypto
from adapters.alipay.mapping import payment_details
from adapters.errors import NotifyRejected
from clearing.domain.money import MoneyError, parse_yuan
from clearing.ports import PaymentNotice

log = logging.getLogger(__name__)

PROVIDER: Final = "alipay"
ACK_OK: Final[tuple[int, str, bytes]] = (200, "text/plain", b"success")
# any body but "success" is a failure to Alipay; 401 is what the core answers refusals with
ACK_REFUSED: Final[tuple[int, str, bytes]] = (401, "text/plain", b"fail")
PAID_STATES: Final = frozenset({"TRADE_SUCCESS", "TRADE_FINISHED"})
# fields only a refund notification carries (a partial refund still says TRADE_SUCCESS)
_REFUND_FIELDS: Final = ("out_biz_no", "refund_fee", "gmt_refund")
MAX_FUTURE_SKEW_S: Final = 300


def _reject(code: str, message: str) -> NotifyRejected:
    log.warning("alipay notification rejected code=%s", code)
    return NotifyRejected(provider=PROVIDER, code=code, message=message)


class AlipayNotifyParser:
    """Checks one notification at a time; holds only Alipay's public key and our identifiers.

    ``max_age_s`` (off by default) refuses a ``notify_time`` older than that: the sources do not
    say that Alipay refreshes it on each retry, and a replayed genuine notification is harmless
    because capture is idempotent per ``trade_no``. A ``notify_time`` from the future is always
    refused (TIMESTAMP_SKEW): no honest sender has one.
    """

    def __init__(
        self,
        *,
        app_id: str,
        seller_id: str,
        alipay_public_key: RSAPublicKey,
        max_age_s: int | None = None,
    ) -> None:
        self._app_id = app_id
        self._seller_id = seller_id
        self._key = alipay_public_key
        self._max_age_s = max_age_s

    def __repr__(self) -> str:
        return f"AlipayNotifyParser(app_id={self._app_id!r}, seller_id={self._seller_id!r})"

    def parse(self, headers: Mapping[str, str], body: bytes, now: datetime) -> PaymentNotice | None:
        """The payment this notification reports, None if it reports none, or NotifyRejected."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        params = self.verify(body)
        if params.get("app_id") != self._app_id:
            raise _reject("WRONG_MERCHANT", "app_id is not ours")
        if params.get("seller_id") != self._seller_id:
            raise _reject("WRONG_MERCHANT", "seller_id is not ours")
        self._check_time(params, now)
        if params.get("notify_type") != "trade_status_sync":
            return None
        if any(params.get(name) for name in _REFUND_FIELDS):
            return None
        if params.get("trade_status") not in PAID_STATES:
            return None
        try:
            amount_fen = parse_yuan(_text(params, "total_amount"))
        except MoneyError:
            raise _reject("MALFORMED", "total_amount is not a yuan amount") from None
        return PaymentNotice(
            provider=PROVIDER,
            event_id=_text(params, "notify_id"),
            out_trade_no=_text(params, "out_trade_no"),
            provider_txn_id=_text(params, "trade_no"),
            amount_fen=amount_fen,
            paid_at=_time(params, "gmt_payment"),
            raw=params,
            details=payment_details(params),
        )

    __call__ = parse  # the core calls a parser as a function

    def verify(self, body: bytes) -> dict[str, str]:
        """The notification's parameters once Alipay's signature over them checked out."""
        try:
            text = body.decode("utf-8")
            pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True, errors="strict")
        except (UnicodeDecodeError, ValueError):
            raise _reject("MALFORMED", "body is not a UTF-8 form") from None
        params: dict[str, str] = {}
        for name, value in pairs:
            if name in params:
                # two values for one name: we could verify one and act on the other
                raise _reject("MALFORMED", f"{name} appears twice")
            params[name] = value
        signature = params.get("sign", "")
        if not signature:
            raise _reject("SIGNATURE_MISSING", "sign is missing")
        if params.get("sign_type", crypto.SIGN_TYPE) != crypto.SIGN_TYPE:
            raise _reject("SIGNATURE_INVALID", "only RSA2 notifications are accepted")
        if "alipay_cert_sn" in params:
            # certificate mode names its key; we run in public-key mode and hold no certificate
            raise _reject("UNKNOWN_KEY", "signed with an Alipay certificate we do not hold")
        if params.get("charset", crypto.CHARSET).lower() != crypto.CHARSET:
            raise _reject("MALFORMED", "charset is not utf-8")
        if not crypto.verify(self._key, crypto.notify_content(params), signature):
            raise _reject("SIGNATURE_INVALID", "signature does not match the parameters")
        return params

    def _check_time(self, params: Mapping[str, str], now: datetime) -> None:
        sent = _time(params, "notify_time")
        age = (now - sent).total_seconds()
        if age < -MAX_FUTURE_SKEW_S:
            raise _reject("TIMESTAMP_SKEW", "notify_time is in the future")
        if self._max_age_s is not None and age > self._max_age_s:
            raise _reject("TIMESTAMP_SKEW", "notify_time is too old")


def _text(params: Mapping[str, str], name: str) -> str:
    value = params.get(name, "")
    if not value:
        raise _reject("MALFORMED", f"{name} is missing")
    return value


def _time(params: Mapping[str, str], name: str) -> datetime:
    try:
        return crypto.parse_beijing(_text(params, name))
    except ValueError:
        raise _reject("MALFORMED", f"{name} is not yyyy-MM-dd HH:mm:ss") from None
