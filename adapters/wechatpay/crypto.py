"""WeChat Pay API v3 signatures and resource encryption (protocols-cn.md 1.2, 1.3, 1.5).

Both sides live here so that the client and the simulator cannot drift apart: the merchant signs
requests with its API key, WeChat Pay signs responses and notifications with its own key, and
notification resources are sealed with AEAD_AES_256_GCM under the shared APIv3 key.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from adapters import signatures

AUTH_SCHEME = "WECHATPAY2-SHA256-RSA2048"
SIGNATURE_TYPE = AUTH_SCHEME
PROBE_PREFIX = "WECHATPAY/SIGNTEST/"
APIV3_KEY_LEN = 32
GCM_NONCE_LEN = 12

_AUTH_FIELDS = ("mchid", "nonce_str", "signature", "timestamp", "serial_no")


class DecryptError(Exception):
    """The resource did not authenticate under the given key (almost always a wrong APIv3 key)."""


def new_nonce() -> str:
    """A 32-character random string, the shape the official SDKs send."""
    return signatures.new_nonce().upper()


def request_message(
    method: str, url_path: str, timestamp: int | str, nonce: str, body: bytes
) -> bytes:
    """The five-line string a merchant signs: method, path with query, time, nonce, body."""
    head = f"{method.upper()}\n{url_path}\n{timestamp}\n{nonce}\n".encode()
    return head + body + b"\n"


def response_message(timestamp: str | int, nonce: str, body: bytes) -> bytes:
    """The three-line string WeChat Pay signs; an empty body (204) leaves an empty third line."""
    return f"{timestamp}\n{nonce}\n".encode() + body + b"\n"


# RSA PKCS#1 v1.5 over SHA-256, Base64: the kit's, over the strings ``message`` builds
sign = signatures.rsa_sign
verify = signatures.rsa_verify


@dataclass(frozen=True)
class AuthorizationParams:
    """The fields of a merchant's ``Authorization`` header."""

    mchid: str
    nonce_str: str
    signature: str
    timestamp: str
    serial_no: str


def authorization_header(
    *,
    mchid: str,
    serial_no: str,
    private_key: RSAPrivateKey,
    method: str,
    url_path: str,
    body: bytes,
    timestamp: int,
    nonce: str,
) -> str:
    """The ``Authorization`` value for one request; ``body`` must be the exact bytes sent."""
    signature = sign(private_key, request_message(method, url_path, timestamp, nonce, body))
    return (
        f'{AUTH_SCHEME} mchid="{mchid}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{serial_no}"'
    )


def parse_authorization(header: str) -> AuthorizationParams:
    """Split an ``Authorization`` value; ``ValueError`` when it is not the v3 RSA scheme."""
    found = signatures.authorization_params(header, AUTH_SCHEME, _AUTH_FIELDS, "authorization")
    return AuthorizationParams(**{name: found[name] for name in _AUTH_FIELDS})


def response_headers(
    *, private_key: RSAPrivateKey, serial: str, body: bytes, timestamp: int, nonce: str
) -> dict[str, str]:
    """The headers WeChat Pay puts on a signed response or notification."""
    return {
        "Wechatpay-Timestamp": str(timestamp),
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": sign(private_key, response_message(timestamp, nonce, body)),
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": SIGNATURE_TYPE,
    }


def _check_key_and_nonce(key: bytes, nonce: str) -> bytes:
    if len(key) != APIV3_KEY_LEN:
        raise ValueError("the APIv3 key must be 32 bytes")
    nonce_bytes = nonce.encode()
    if len(nonce_bytes) != GCM_NONCE_LEN:
        raise ValueError("the resource nonce must be 12 bytes")
    return nonce_bytes


def encrypt_resource(key: bytes, nonce: str, associated_data: str, plaintext: bytes) -> str:
    """AEAD_AES_256_GCM as WeChat Pay seals a resource: Base64 of ciphertext followed by tag."""
    nonce_bytes = _check_key_and_nonce(key, nonce)
    sealed = AESGCM(key).encrypt(nonce_bytes, plaintext, associated_data.encode())
    return base64.b64encode(sealed).decode("ascii")


def decrypt_resource(key: bytes, nonce: str, associated_data: str, ciphertext_b64: str) -> bytes:
    """Open a sealed resource; ``DecryptError`` on a wrong key, nonce, AAD or a tampered text."""
    try:
        nonce_bytes = _check_key_and_nonce(key, nonce)
        sealed = base64.b64decode(ciphertext_b64, validate=True)
        return AESGCM(key).decrypt(nonce_bytes, sealed, associated_data.encode())
    except (InvalidTag, ValueError, binascii.Error) as exc:
        raise DecryptError(type(exc).__name__) from None


def new_resource_nonce() -> str:
    """Twelve printable characters: the GCM nonce travels as text in the notification."""
    return secrets.token_urlsafe(9)[:GCM_NONCE_LEN]


def bridge_message(app_id: str, time_stamp: str, nonce_str: str, package: str) -> bytes:
    """What ``paySign`` covers for ``getBrandWCPayRequest`` (counter-and-beyond.md 1.3): appId,
    timeStamp, nonceStr and package, each followed by a newline, the last one too."""
    return "".join(f"{v}\n" for v in (app_id, time_stamp, nonce_str, package)).encode()
