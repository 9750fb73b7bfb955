"""Verify and open WeChat Pay notifications (protocols-cn.md 1.3, 1.5, 1.6).

The signature is checked over the raw request bytes before anything parses them, so a body that a
framework re-encoded, or that someone altered, can never pass. Payment (TRANSACTION.*) and refund
(REFUND.*) notifications are signed and sealed alike and verified alike.

Stable refusal codes: SIGNATURE_MISSING, SIGNATURE_PROBE (WeChat's deliberate test traffic),
SIGNATURE_INVALID, UNKNOWN_KEY (no key for ``Wechatpay-Serial``), TIMESTAMP_SKEW (older or newer
than 300 s: this is also what stops replays, since every delivery is signed afresh),
DECRYPT_FAILED (wrong APIv3 key), WRONG_MERCHANT (mchid/appid not ours), MALFORMED.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from adapters.errors import NotifyRejected
from adapters.wechatpay import crypto
from adapters.wechatpay.keys import MerchantKeys
from adapters.wechatpay.mapping import MalformedError, refund_outcome
from clearing.ports import PaymentNotice, RefundOutcome

log = logging.getLogger(__name__)

PROVIDER = "wechatpay"
RESOURCE_ALGORITHM = "AEAD_AES_256_GCM"

# WeChat Pay reads only the HTTP status: 200 or 204 acknowledges, anything else is retried on its
# schedule (15 s … 6 h). The body of a refusal is shown in the merchant console.
ACK_OK: tuple[int, str, bytes] = (204, "application/json", b"")
ACK_REFUSED: tuple[int, str, bytes] = (
    401,
    "application/json",
    b'{"code":"FAIL","message":"notification refused"}',
)


@dataclass(frozen=True)
class VerifiedNotification:
    """A notification whose signature, freshness and encryption all checked out."""

    event_id: str
    event_type: str
    create_time: datetime
    summary: str
    resource: Mapping[str, Any] = field(repr=False)


def _reject(code: str, message: str) -> NotifyRejected:
    log.warning("wechatpay notification rejected code=%s", code)
    return NotifyRejected(provider=PROVIDER, code=code, message=message)


class NotifyVerifier:
    """Checks one notification at a time; holds only public keys and the APIv3 key."""

    def __init__(
        self,
        platform_public_keys: Mapping[str, RSAPublicKey],
        apiv3_key: bytes,
        max_skew_s: int = 300,
        *,
        mchid: str | None = None,
        appid: str | None = None,
    ) -> None:
        self._keys = dict(platform_public_keys)
        self._apiv3_key = apiv3_key
        self._max_skew_s = max_skew_s
        self._mchid = mchid
        self._appid = appid

    @classmethod
    def for_merchant(cls, keys: MerchantKeys, max_skew_s: int = 300) -> NotifyVerifier:
        """A verifier that also refuses notifications for any other merchant or app."""
        return cls(
            keys.wechatpay_public_keys,
            keys.apiv3_key,
            max_skew_s,
            mchid=keys.mchid,
            appid=keys.appid,
        )

    def __repr__(self) -> str:
        return (
            f"NotifyVerifier(serials={sorted(self._keys)!r}, mchid={self._mchid!r},"
            f" max_skew_s={self._max_skew_s})"
        )

    def parse(self, headers: Mapping[str, str], body: bytes, now: datetime) -> PaymentNotice | None:
        """The core's notification parser: the payment to capture, or None for a verified
        notification that reports none (a refund event, a non-final state)."""
        return payment_notice(self.verify(headers, body, now))

    def verify(
        self, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> VerifiedNotification:
        """Return the opened notification or raise ``NotifyRejected`` with a stable code."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        lowered = {name.lower(): value for name, value in headers.items()}
        timestamp = lowered.get("wechatpay-timestamp", "").strip()
        nonce = lowered.get("wechatpay-nonce", "").strip()
        signature = lowered.get("wechatpay-signature", "").strip()
        serial = lowered.get("wechatpay-serial", "").strip()
        if not (timestamp and nonce and signature and serial):
            raise _reject("SIGNATURE_MISSING", "Wechatpay signature headers are missing")
        # WeChat Pay sends these on purpose to catch receivers that accept anything
        if signature.startswith(crypto.PROBE_PREFIX):
            raise _reject("SIGNATURE_PROBE", "signature probe refused")
        signature_type = lowered.get("wechatpay-signature-type", crypto.SIGNATURE_TYPE)
        if signature_type != crypto.SIGNATURE_TYPE:
            raise _reject("SIGNATURE_INVALID", "unsupported signature type")
        key = self._keys.get(serial)
        if key is None:
            raise _reject("UNKNOWN_KEY", "no WeChat Pay key for this Wechatpay-Serial")
        # ASCII digits, a handful of them: str.isdigit() also passes "²" and thousands of
        # digits, which int() then refuses with a ValueError of its own
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            raise _reject("MALFORMED", "Wechatpay-Timestamp is not a number")
        if abs(now.timestamp() - int(timestamp)) > self._max_skew_s:
            raise _reject("TIMESTAMP_SKEW", "Wechatpay-Timestamp too far from now")
        if not crypto.verify(key, crypto.response_message(timestamp, nonce, body), signature):
            raise _reject("SIGNATURE_INVALID", "signature does not match the body")
        return self._open(body)

    def _open(self, body: bytes) -> VerifiedNotification:
        # orjson: several times faster than json on every notification, and never laxer: NaN and
        # invalid UTF-8 are MALFORMED; an integer past 64 bits reads as a float, no amount
        envelope = _json_object(body, "body")
        resource = envelope.get("resource")
        if not isinstance(resource, dict):
            raise _reject("MALFORMED", "resource is missing")
        if resource.get("algorithm") != RESOURCE_ALGORITHM:
            raise _reject("MALFORMED", "unsupported resource algorithm")
        ciphertext = _text(resource, "ciphertext")
        nonce = _text(resource, "nonce")
        associated_data = resource.get("associated_data", "")
        if not isinstance(associated_data, str):
            raise _reject("MALFORMED", "associated_data is not a string")
        try:
            plain = crypto.decrypt_resource(self._apiv3_key, nonce, associated_data, ciphertext)
        except crypto.DecryptError:
            raise _reject("DECRYPT_FAILED", "resource did not decrypt with the APIv3 key") from None
        opened = _json_object(plain, "decrypted resource")
        self._check_merchant(opened)
        summary = envelope.get("summary", "")
        return VerifiedNotification(
            event_id=_text(envelope, "id"),
            event_type=_text(envelope, "event_type"),
            create_time=_time(envelope, "create_time"),
            summary=summary if isinstance(summary, str) else "",
            resource=opened,
        )

    def _check_merchant(self, resource: Mapping[str, Any]) -> None:
        # the signature proves WeChat Pay sent it, not that it is about our merchant account
        if self._mchid is not None and resource.get("mchid") != self._mchid:
            raise _reject("WRONG_MERCHANT", "mchid is not ours")
        appid = resource.get("appid")
        if self._appid is not None and appid is not None and appid != self._appid:
            raise _reject("WRONG_MERCHANT", "appid is not ours")


def payment_notice(v: VerifiedNotification) -> PaymentNotice | None:
    """The payment a TRANSACTION.SUCCESS notification reports; None for any other event."""
    if v.event_type != "TRANSACTION.SUCCESS" or v.resource.get("trade_state") != "SUCCESS":
        return None
    amount = v.resource.get("amount")
    if not isinstance(amount, dict):
        raise _reject("MALFORMED", "amount is missing")
    total = amount.get("total")
    # bool is an int to Python; JSON true is never an amount
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        raise _reject("MALFORMED", "amount.total is not a non-negative integer")
    return PaymentNotice(
        provider=PROVIDER,
        event_id=v.event_id,
        out_trade_no=_text(v.resource, "out_trade_no"),
        provider_txn_id=_text(v.resource, "transaction_id"),
        amount_fen=total,
        paid_at=_time(v.resource, "success_time"),
        raw=v.resource,
        details={
            name: v.resource[name]
            for name in ("trade_type", "bank_type")
            if isinstance(v.resource.get(name), str) and v.resource[name]
        },
    )


def refund_notice(v: VerifiedNotification) -> RefundOutcome | None:
    """The refund a REFUND.SUCCESS / REFUND.ABNORMAL / REFUND.CLOSED notification reports; None
    for any other event. ABNORMAL is not final: the refund can still be completed."""
    if not v.event_type.startswith("REFUND."):
        return None
    out_refund_no = _text(v.resource, "out_refund_no")
    try:
        outcome = refund_outcome(out_refund_no, v.resource)
    except MalformedError as exc:
        raise _reject("MALFORMED", str(exc)) from None
    if v.event_type != f"REFUND.{outcome.state}":
        raise _reject("MALFORMED", "event_type and refund_status disagree")
    _text(v.resource, "out_trade_no")
    return outcome


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    """``raw`` read by orjson as a JSON object; MALFORMED naming ``what`` for anything else."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _reject("MALFORMED", f"{what} is not JSON") from None
    if not isinstance(data, dict):
        raise _reject("MALFORMED", f"{what} is not a JSON object")
    return data


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise _reject("MALFORMED", f"{name} is missing")
    return value


def _time(data: Mapping[str, Any], name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(_text(data, name))
    except ValueError:
        raise _reject("MALFORMED", f"{name} is not an RFC 3339 time") from None
    if parsed.tzinfo is None:
        raise _reject("MALFORMED", f"{name} has no UTC offset")
    return parsed
