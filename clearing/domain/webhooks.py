"""Webhooks to the case system, the pure part: event types, the retry schedule, the signature.

A delivery is ``POST <url>`` with the event's JSON body and::

    X-Tongjiao-Event-Id:   evt_…            (unique per event: the receiver's de-duplication key)
    X-Tongjiao-Event-Type: order.paid
    X-Tongjiao-Timestamp:  1767225600       (Unix seconds when this attempt was signed)
    X-Tongjiao-Signature:  v1=<hex>[,v1=<hex>]

where each ``v1`` is HMAC-SHA256, keyed with one of the subscription's secrets (the secret's
text as UTF-8), over ``timestamp + "." + raw body``. While a secret is being rotated, both the
new and the old one sign, so the header carries two ``v1`` values; a receiver accepts the
delivery when any of them matches a secret it holds. Pure: no I/O, no clock of its own.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Final

EVENT_TYPES: Final = (
    "order.paid",
    "order.settled",
    "order.refunded",
    "order.cancelled",
    "order.expired",
)

# seconds to wait after each failed attempt: 12 attempts over about 24 hours, then dead-letter
RETRY_SCHEDULE_S: Final[tuple[int, ...]] = (
    10,
    30,
    60,
    300,
    900,
    1800,
    3600,
    7200,
    14400,
    28800,
    28800,
)
MAX_ATTEMPTS: Final = len(RETRY_SCHEDULE_S) + 1

HEADER_EVENT_ID: Final = "X-Tongjiao-Event-Id"
HEADER_EVENT_TYPE: Final = "X-Tongjiao-Event-Type"
HEADER_TIMESTAMP: Final = "X-Tongjiao-Timestamp"
HEADER_SIGNATURE: Final = "X-Tongjiao-Signature"


def retry_delay_s(attempts: int, *, scale: float, jitter: float) -> float | None:
    """How long to wait after ``attempts`` failed attempts, or None when it is time to give up.

    ``jitter`` in [0, 1) spreads the wait between 75 % and 125 % of the step, so that the
    deliveries that failed together (the receiver was down) do not all come back at once."""
    if attempts < 1 or attempts > len(RETRY_SCHEDULE_S):
        return None
    return RETRY_SCHEDULE_S[attempts - 1] * scale * (0.75 + jitter / 2)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``timestamp.body`` with one secret."""
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(secrets: Iterable[str], timestamp: int, body: bytes) -> str:
    """``v1=<hex>`` for each secret, comma-separated (two while a secret is being rotated)."""
    return ",".join(f"v1={signature(s, timestamp, body)}" for s in secrets)
