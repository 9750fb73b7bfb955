"""Verify UnionPay back notifications (``backUrl``, protocols-cn.md 3.1).

A notification is a form POST whose fields are signed like an answer: ``signPubKeyCert`` must chain
to our UnionPay root and intermediate and name UnionPay, and ``signature`` must verify under it.
Nothing in the body is interpreted before that. The form is decoded first only because the
signature covers the decoded values, not the bytes; a body that is not a strict UTF-8 form is
refused outright.

ACP gives a notification no timestamp or nonce of its own, so a replay cannot be told from
UnionPay's own retries; that is harmless because capture is idempotent per ``queryId``.

UnionPay counts HTTP 200 (or 302) as received and resends on anything else, whatever the body.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from adapters.errors import NotifyRejected
from adapters.unionpay import crypto, status, wire
from adapters.unionpay.keys import MerchantKeys
from clearing.ports import PaymentNotice

log = logging.getLogger(__name__)

PROVIDER = "unionpay"
# (HTTP status, content type, body): UnionPay reads only the status
ACK_OK: tuple[int, str, bytes] = (200, "text/plain", b"ok")
ACK_REFUSED: tuple[int, str, bytes] = (401, "text/plain", b"refused")


def _reject(code: str, message: str) -> NotifyRejected:
    log.warning("unionpay notification rejected code=%s", code)
    return NotifyRejected(provider=PROVIDER, code=code, message=message)


class UnionPayNotifyParser:
    """Checks one notification at a time; holds only the merchant id and public certificates."""

    def __init__(self, keys: MerchantKeys) -> None:
        self._mer_id = keys.mer_id
        self._chain = keys.chain

    def __repr__(self) -> str:
        return f"UnionPayNotifyParser(merId={self._mer_id!r})"

    def verify(self, headers: Mapping[str, str], body: bytes, now: datetime) -> dict[str, str]:
        """The notification's fields once signature, certificate and merchant checked out."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        try:
            fields = wire.decode_form(body)
        except ValueError as exc:
            raise _reject("MALFORMED", f"body is not a UTF-8 form: {exc}") from None
        if not fields.get("signature") or not fields.get("signPubKeyCert"):
            raise _reject("SIGNATURE_MISSING", "signature or signPubKeyCert is missing")
        if (
            fields.get("signMethod") != wire.SIGN_METHOD_RSA
            or fields.get("version") != wire.VERSION
        ):
            raise _reject("SIGNATURE_INVALID", "only version 5.1.0 with signMethod 01 is accepted")
        try:
            key = self._chain.check(crypto.load_cert(fields["signPubKeyCert"]), now)
        except crypto.UntrustedCert as exc:
            raise _reject("UNKNOWN_KEY", exc.reason) from None
        if not crypto.verify(fields, key):
            raise _reject("SIGNATURE_INVALID", "signature does not match the fields")
        if fields.get("merId") != self._mer_id:
            raise _reject("WRONG_MERCHANT", "merId is not ours")
        return fields

    def parse(self, headers: Mapping[str, str], body: bytes, now: datetime) -> PaymentNotice | None:
        """The payment a successful consumption notification reports; None for refunds, voids
        and failed payments (nothing to capture)."""
        fields = self.verify(headers, body, now)
        return payment_notice(fields, now)

    __call__ = parse  # the core calls a parser as a function


def payment_notice(fields: Mapping[str, str], now: datetime) -> PaymentNotice | None:
    """Map verified fields; ``NotifyRejected`` MALFORMED when a success lacks what we need."""
    if fields.get("txnType") != status.CONSUME or fields.get("respCode") != wire.OK:
        return None
    if fields.get("currencyCode", wire.CURRENCY_CNY) != wire.CURRENCY_CNY:
        raise _reject("MALFORMED", "currencyCode is not CNY")
    query_id = fields.get("queryId", "")
    order_id = fields.get("orderId", "")
    if not query_id or not order_id:
        raise _reject("MALFORMED", "queryId or orderId is missing")
    try:
        amount = wire.parse_fen(fields.get("txnAmt", ""))
        paid_at = status.completed_at(fields, now)
    except (ValueError, status.Malformed):
        raise _reject("MALFORMED", "txnAmt or traceTime is unreadable") from None
    return PaymentNotice(
        provider=PROVIDER,
        # every resend of one notification carries the same queryId, UnionPay's transaction id
        event_id=query_id,
        out_trade_no=order_id,
        provider_txn_id=query_id,
        amount_fen=amount,
        paid_at=paid_at,
        raw=status.kept(fields),
        details=status.details(fields),
    )
