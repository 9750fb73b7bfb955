"""Signatures of the terminal cloud (PROTOCOL.md, "Signatures").

Requests carry the acquiring bank's open-platform ``OPEN-BODY-SIG`` scheme: HMAC-SHA256 under our
AppKey over AppId, timestamp, nonce and the SHA-256 of the body. The cloud signs its answers and
its notifications with a second key of its own (the 通讯密钥), named by a key id so that it can be
rotated, and binds each answer to the nonce of the request it answers, so that an old signed
"approved" cannot be replayed as the answer to a new question.

Both directions live here so that the client and the simulator cannot drift apart.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from adapters import signatures, wiretime

AUTH_SCHEME = "OPEN-BODY-SIG"
# on answers (response header) and on notifications (request header) from the cloud
CLOUD_HEADER = "X-Open-Signature"
MAX_SKEW_S = 300

_REQUEST_FIELDS = ("AppId", "Timestamp", "Nonce", "Signature")
_CLOUD_FIELDS = ("KeyId", "Timestamp", "Nonce", "Signature")


# shared with the other schemes; kept under these names for the client and the simulator
new_nonce = signatures.new_nonce
same = signatures.same
skew_s = wiretime.skew_s
timestamp_now = wiretime.format_time  # the ``Timestamp`` parameter: Beijing ``yyyyMMddHHmmss``


def body_digest(body: bytes) -> str:
    """Lower-case hex SHA-256 of the exact bytes sent."""
    return hashlib.sha256(body).hexdigest()


def _hmac_b64(key: bytes, message: str) -> str:
    return base64.b64encode(hmac.new(key, message.encode(), hashlib.sha256).digest()).decode()


def request_signature(app_key: bytes, app_id: str, timestamp: str, nonce: str, body: bytes) -> str:
    """Base64 HMAC-SHA256 of ``AppId + Timestamp + Nonce + hex(SHA-256(body))``, no separators."""
    return _hmac_b64(app_key, app_id + timestamp + nonce + body_digest(body))


def cloud_signature(
    cloud_key: bytes,
    *,
    key_id: str,
    timestamp: str,
    nonce: str,
    body: bytes,
    request_nonce: str = "",
) -> str:
    """Base64 HMAC-SHA256 of the five lines key id, timestamp, nonce, the nonce of the request
    being answered (empty for a notification) and hex(SHA-256(body))."""
    lines = (key_id, timestamp, nonce, request_nonce, body_digest(body))
    return _hmac_b64(cloud_key, "\n".join(lines))


@dataclass(frozen=True)
class RequestAuth:
    app_id: str
    timestamp: str
    nonce: str
    signature: str


def authorization_header(
    *, app_id: str, app_key: bytes, body: bytes, timestamp: str, nonce: str
) -> str:
    """The ``Authorization`` value of one request; ``body`` must be the exact bytes sent."""
    signature = request_signature(app_key, app_id, timestamp, nonce, body)
    return (
        f'{AUTH_SCHEME} AppId="{app_id}", Timestamp="{timestamp}", Nonce="{nonce}", '
        f'Signature="{signature}"'
    )


def parse_authorization(header: str) -> RequestAuth:
    """Split an ``Authorization`` value; ``ValueError`` when it is not OPEN-BODY-SIG."""
    found = signatures.authorization_params(header, AUTH_SCHEME, _REQUEST_FIELDS)
    return RequestAuth(found["AppId"], found["Timestamp"], found["Nonce"], found["Signature"])


@dataclass(frozen=True)
class CloudAuth:
    key_id: str
    timestamp: str
    nonce: str
    signature: str


def cloud_header(
    *,
    cloud_key: bytes,
    key_id: str,
    body: bytes,
    timestamp: str,
    nonce: str,
    request_nonce: str = "",
) -> str:
    """The ``X-Open-Signature`` value the cloud puts on an answer or a notification."""
    signature = cloud_signature(
        cloud_key,
        key_id=key_id,
        timestamp=timestamp,
        nonce=nonce,
        body=body,
        request_nonce=request_nonce,
    )
    return f'KeyId="{key_id}", Timestamp="{timestamp}", Nonce="{nonce}", Signature="{signature}"'


def parse_cloud_header(header: str) -> CloudAuth:
    """Split an ``X-Open-Signature`` value; ``ValueError`` when a parameter is missing."""
    found = signatures.quoted_params(header.strip(), _CLOUD_FIELDS)
    return CloudAuth(found["KeyId"], found["Timestamp"], found["Nonce"], found["Signature"])


class CloudSignatureError(ValueError):
    """Why a cloud signature is not trusted, in the words of both readers: ``code`` and
    ``message`` as a refused notification reports them, ``reason`` as a forged answer does."""

    def __init__(self, code: str, message: str, reason: str) -> None:
        self.code = code
        self.message = message
        self.reason = reason
        super().__init__(f"{code}: {message}")


def verify_cloud(
    header: str,
    body: bytes,
    *,
    key_id: str,
    cloud_key: bytes,
    now: datetime,
    max_skew_s: int,
    request_nonce: str = "",
) -> CloudAuth:
    """The ``X-Open-Signature`` of an answer (bound to ``request_nonce``) or of a notification
    (no request nonce), checked: known key id, fresh timestamp, right HMAC. The parsed header,
    or ``CloudSignatureError``."""
    malformed = "signature header missing or malformed"
    if not header:
        raise CloudSignatureError(
            "SIGNATURE_MISSING", f"{CLOUD_HEADER} header is missing", malformed
        )
    try:
        auth = parse_cloud_header(header)
    except ValueError as exc:
        raise CloudSignatureError("MALFORMED", f"{CLOUD_HEADER}: {exc}", malformed) from None
    if auth.key_id != key_id:
        raise CloudSignatureError("UNKNOWN_KEY", "no key for this KeyId", "unknown KeyId")
    skew = skew_s(auth.timestamp, now)
    stale = "timestamp missing or stale"
    if skew is None:
        raise CloudSignatureError("MALFORMED", "Timestamp is not yyyyMMddHHmmss", stale)
    if skew > max_skew_s:
        raise CloudSignatureError("TIMESTAMP_SKEW", "Timestamp too far from now", stale)
    expected = cloud_signature(
        cloud_key,
        key_id=auth.key_id,
        timestamp=auth.timestamp,
        nonce=auth.nonce,
        body=body,
        request_nonce=request_nonce,
    )
    if not same(expected, auth.signature):
        raise CloudSignatureError(
            "SIGNATURE_INVALID", "signature does not match the body", "signature invalid"
        )
    return auth
