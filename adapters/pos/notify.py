"""Verify the terminal cloud's result notifications (PROTOCOL.md, "Notifications").

The signature is checked over the raw request bytes before anything parses them. Each delivery is
signed afresh with a new nonce, so a nonce seen twice within the accepted clock skew is a replay of
a captured request, not a retry; the parser refuses it. The nonce memory is per process: a replay
sent to another process of the service is still harmless, because capture is idempotent.

The cloud counts a delivery as received only on ``ACK_OK``; anything else is retried on its
schedule, which is what we want for refused deliveries too (a genuine one may follow).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from adapters.errors import NotifyRejected
from adapters.pos import signing
from adapters.pos.keys import MerchantKeys
from adapters.pos.wire import OK, PROVIDER, masked_raw, parse_sale
from adapters.wiretime import WireFormatError, parse_time
from clearing.ports import PaymentDeclined, PaymentNotice

log = logging.getLogger(__name__)

# (HTTP status, content type, body): the cloud reads status 200 and the exact text SUCCESS
ACK_OK: Final[tuple[int, str, bytes]] = (200, "text/plain", b"SUCCESS")
ACK_REFUSED: Final[tuple[int, str, bytes]] = (401, "text/plain", b"FAIL")
SALE_RESULT = "SALE_RESULT"
MAX_NONCES = 100_000


def _reject(code: str, message: str) -> NotifyRejected:
    log.warning("pos notification rejected code=%s", code)
    return NotifyRejected(provider=PROVIDER, code=code, message=message)


class PosNotifyParser:
    """Checks one notification at a time; holds our merchant's keys and recent nonces."""

    def __init__(self, keys: MerchantKeys, *, max_skew_s: int = signing.MAX_SKEW_S) -> None:
        self._keys = keys
        self._max_skew_s = max_skew_s
        # nonce -> the moment (epoch seconds) after which its timestamp is refused anyway
        self._nonces: dict[str, float] = {}

    def __repr__(self) -> str:
        return (
            f"PosNotifyParser(merchant_id={self._keys.merchant_id!r}, "
            f"max_skew_s={self._max_skew_s})"
        )

    def parse(
        self, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> PaymentNotice | PaymentDeclined | None:
        """The approved sale a notification reports, or the declined one (the window waiting
        for it is told why at once); None for another event.

        Raises ``NotifyRejected`` with SIGNATURE_MISSING, MALFORMED, UNKNOWN_KEY, TIMESTAMP_SKEW,
        SIGNATURE_INVALID, REPLAYED, WRONG_MERCHANT or UNKNOWN_TERMINAL.
        """
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self._verify(headers, body, now)
        envelope = _json(body)
        if envelope.get("notify_type") != SALE_RESULT:
            return None
        data = envelope.get("sale")
        if not isinstance(data, dict):
            raise _reject("MALFORMED", "sale is missing")
        try:
            sale = parse_sale(data)
        except WireFormatError as exc:
            raise _reject("MALFORMED", str(exc)) from None
        if sale.merchant_id != self._keys.merchant_id:
            raise _reject("WRONG_MERCHANT", "the sale is for another merchant")
        if sale.terminal_id not in self._keys.terminals:
            raise _reject("UNKNOWN_TERMINAL", "the sale is from a terminal we do not hold")
        notify_id = envelope.get("notify_id")
        if not isinstance(notify_id, str) or not notify_id:
            raise _reject("MALFORMED", "notify_id is missing")
        txn = sale.provider_txn_id
        decline = sale.decline_zh
        if decline is not None:
            return PaymentDeclined(PROVIDER, sale.out_trade_no, sale.resp_code, decline)
        if sale.state != "APPROVED" or sale.resp_code != OK or txn is None:
            return None
        assert sale.txn_time is not None, "parse_sale requires it of an approved sale"
        return PaymentNotice(
            provider=PROVIDER,
            event_id=notify_id,
            out_trade_no=sale.out_trade_no,
            provider_txn_id=txn,
            amount_fen=sale.amount_fen,
            paid_at=sale.txn_time,
            raw=masked_raw(data),
            details=sale.details(),
        )

    __call__ = parse  # the core calls a parser as a function

    def _verify(self, headers: Mapping[str, str], body: bytes, now: datetime) -> None:
        lowered = {name.lower(): value for name, value in headers.items()}
        header = lowered.get(signing.CLOUD_HEADER.lower(), "").strip()
        try:
            auth = signing.verify_cloud(
                header,
                body,
                key_id=self._keys.cloud_key_id,
                cloud_key=self._keys.cloud_key,
                now=now,
                max_skew_s=self._max_skew_s,
            )
        except signing.CloudSignatureError as exc:
            raise _reject(exc.code, exc.message) from None
        # remembered only once the signature holds, so forged requests cannot fill the memory
        self._remember(auth.nonce, parse_time(auth.timestamp).timestamp(), now.timestamp())

    def _remember(self, nonce: str, signed_at: float, now: float) -> None:
        for old in [n for n, until in self._nonces.items() if until < now]:
            del self._nonces[old]
        if nonce in self._nonces:
            raise _reject("REPLAYED", "this signed delivery was seen before")
        if len(self._nonces) >= MAX_NONCES:
            del self._nonces[next(iter(self._nonces))]
        self._nonces[nonce] = signed_at + self._max_skew_s


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _reject("MALFORMED", "body is not JSON") from None
    if not isinstance(data, dict):
        raise _reject("MALFORMED", "body is not a JSON object")
    return data
