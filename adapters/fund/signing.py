"""HMAC-SM3 signatures of the office's interface (PROTOCOL.md, "Signatures").

Government front-ends favour the national algorithms (国密); with two shared secrets an HMAC
over SM3 is what such an interface issues to a collecting agency, and ``cryptography`` has SM3.

Requests: ``X-Fund-Sign`` = hex HMAC-SM3(app secret) of the lines method, path, app id,
timestamp, nonce and hex SM3(body). Method and path are signed so that a signed lookup cannot be
replayed as a confirmation; the nonce is remembered by the office for the timestamp window.

Answers: hex HMAC-SM3(office secret) of the lines key id, timestamp, nonce, the nonce of the
request answered, and hex SM3(body): an old signed "deposited" cannot answer a new question.

Both directions live here so that the client and the simulator cannot drift apart.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac

from adapters import signatures, wiretime

SIGN_TYPE = "HMAC-SM3"
MAX_SKEW_S = 300

APP_ID = "X-Fund-AppId"
KEY_ID = "X-Fund-KeyId"
TIMESTAMP = "X-Fund-Timestamp"
NONCE = "X-Fund-Nonce"
SIGN = "X-Fund-Sign"
SIGN_TYPE_HEADER = "X-Fund-Sign-Type"


# shared with the other schemes; kept under these names for the client and the simulator
new_nonce = signatures.new_nonce
same = signatures.same
skew_s = wiretime.skew_s
timestamp = wiretime.format_time  # Beijing ``yyyyMMddHHmmss``


def sm3_hex(data: bytes) -> str:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize().hex()


def hmac_sm3_hex(key: bytes, text: str) -> str:
    mac = crypto_hmac.HMAC(key, hashes.SM3())
    mac.update(text.encode())
    return mac.finalize().hex()


def request_signature(
    app_secret: bytes,
    *,
    method: str,
    path: str,
    app_id: str,
    timestamp: str,
    nonce: str,
    body: bytes,
) -> str:
    lines = (method.upper(), path, app_id, timestamp, nonce, sm3_hex(body))
    return hmac_sm3_hex(app_secret, "\n".join(lines))


def answer_signature(
    office_secret: bytes,
    *,
    key_id: str,
    timestamp: str,
    nonce: str,
    request_nonce: str,
    body: bytes,
) -> str:
    lines = (key_id, timestamp, nonce, request_nonce, sm3_hex(body))
    return hmac_sm3_hex(office_secret, "\n".join(lines))


def request_headers(
    *,
    app_secret: bytes,
    app_id: str,
    method: str,
    path: str,
    body: bytes,
    timestamp: str,
    nonce: str,
) -> dict[str, str]:
    """Headers of one request; ``body`` must be the exact bytes sent."""
    signature = request_signature(
        app_secret,
        method=method,
        path=path,
        app_id=app_id,
        timestamp=timestamp,
        nonce=nonce,
        body=body,
    )
    return {
        APP_ID: app_id,
        TIMESTAMP: timestamp,
        NONCE: nonce,
        SIGN_TYPE_HEADER: SIGN_TYPE,
        SIGN: signature,
    }


def answer_headers(
    *,
    office_secret: bytes,
    key_id: str,
    body: bytes,
    timestamp: str,
    nonce: str,
    request_nonce: str,
) -> dict[str, str]:
    """Headers the office puts on an answer to the request that carried ``request_nonce``."""
    signature = answer_signature(
        office_secret,
        key_id=key_id,
        timestamp=timestamp,
        nonce=nonce,
        request_nonce=request_nonce,
        body=body,
    )
    return {
        KEY_ID: key_id,
        TIMESTAMP: timestamp,
        NONCE: nonce,
        SIGN_TYPE_HEADER: SIGN_TYPE,
        SIGN: signature,
    }
