"""TC3-HMAC-SHA256, Tencent Cloud API 3.0's request signature, for both sides of the wire.

Four steps (counter-and-beyond.md §5.2; Tencent's "签名方法 v3"):

1. CanonicalRequest = method, URI ``/``, the (empty) query, the canonical headers
   (``content-type`` and ``host``, lowercase, each line ending in a newline), the signed header
   names, and the hex SHA-256 of the body — joined by newlines.
2. StringToSign = ``TC3-HMAC-SHA256``, the timestamp, the credential scope
   ``YYYY-MM-DD/<service>/tc3_request`` (the UTC date of the timestamp), hex SHA-256 of step 1.
3. The signing key is HMAC-SHA256 chained over the date, the service and ``tc3_request``, starting
   from ``"TC3" + SecretKey``; the signature is the hex HMAC of step 2 under it.
4. ``Authorization: TC3-HMAC-SHA256 Credential=<SecretId>/<scope>, SignedHeaders=content-type;host,
   Signature=<hex>``.

The provider refuses a timestamp more than five minutes from its clock
(AuthFailure.SignatureExpire).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime

ALGORITHM = "TC3-HMAC-SHA256"
CONTENT_TYPE = "application/json; charset=utf-8"
SIGNED_HEADERS = "content-type;host"
MAX_SKEW_S = 300

_AUTH = re.compile(
    r"^TC3-HMAC-SHA256 Credential=(?P<id>[^/\s]+)/(?P<date>\d{4}-\d{2}-\d{2})/(?P<service>[a-z]+)"
    r"/tc3_request, SignedHeaders=(?P<signed>[a-z;-]+), Signature=(?P<sig>[0-9a-f]{64})$"
)


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def scope_date(timestamp: int) -> str:
    """The UTC date of ``timestamp``, as the credential scope writes it."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


def canonical_request(host: str, body: bytes, content_type: str = CONTENT_TYPE) -> str:
    headers = f"content-type:{content_type}\nhost:{host}\n"
    return "\n".join(("POST", "/", "", headers, SIGNED_HEADERS, _sha256_hex(body)))


def string_to_sign(timestamp: int, service: str, canonical: str) -> str:
    scope = f"{scope_date(timestamp)}/{service}/tc3_request"
    return "\n".join((ALGORITHM, str(timestamp), scope, _sha256_hex(canonical.encode())))


def signature(secret_key: str, timestamp: int, service: str, to_sign: str) -> str:
    secret_date = _hmac(("TC3" + secret_key).encode(), scope_date(timestamp))
    secret_service = _hmac(secret_date, service)
    secret_signing = _hmac(secret_service, "tc3_request")
    return hmac.new(secret_signing, to_sign.encode(), hashlib.sha256).hexdigest()


def authorization(
    *,
    secret_id: str,
    secret_key: str,
    service: str,
    host: str,
    body: bytes,
    timestamp: int,
    content_type: str = CONTENT_TYPE,
) -> str:
    """The ``Authorization`` header for a POST of ``body`` to ``https://host/``."""
    to_sign = string_to_sign(timestamp, service, canonical_request(host, body, content_type))
    sig = signature(secret_key, timestamp, service, to_sign)
    scope = f"{scope_date(timestamp)}/{service}/tc3_request"
    return (
        f"{ALGORITHM} Credential={secret_id}/{scope}, SignedHeaders={SIGNED_HEADERS},"
        f" Signature={sig}"
    )


@dataclass(frozen=True)
class Credential:
    """What an ``Authorization`` header claims: who, on which day, for which service."""

    secret_id: str
    date: str
    service: str
    signed_headers: str
    signature: str


def parse_authorization(header: str) -> Credential | None:
    """The parts of a TC3 ``Authorization`` header; None when it is not one."""
    m = _AUTH.match(header.strip())
    if m is None:
        return None
    return Credential(m["id"], m["date"], m["service"], m["signed"], m["sig"])
