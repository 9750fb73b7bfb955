"""What the parties' signature schemes do alike, whatever their keys and algorithms.

Each party's ``signing``/``crypto`` module keeps its own scheme (what is signed, with what key,
in which header); the nonce, the comparison and the ``Name="value", ...`` header syntax they
share live here once, so that a fix to one (a timing leak, a parser that accepts a repeated
parameter) reaches all of them.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

# one ``Name="value"`` parameter of a signature header, blanks around it allowed
PARAM = re.compile(r'\s*([A-Za-z_]+)="([^"]*)"\s*')


def new_nonce() -> str:
    """32 random hex characters: unguessable, and the shape the parties' SDKs send."""
    return secrets.token_hex(16)


def same(expected: str, given: str) -> bool:
    """Constant-time comparison, so that timing reveals nothing about the right signature."""
    return hmac.compare_digest(expected.encode(), given.encode())


def quoted_params(text: str, fields: tuple[str, ...], what: str = "signature") -> dict[str, str]:
    """``Name="value"`` parameters split on commas; ``ValueError`` for a malformed or repeated
    one, or when one of ``fields`` is missing or empty."""
    found: dict[str, str] = {}
    for part in text.split(","):
        match = PARAM.fullmatch(part)
        if match is None:
            raise ValueError(f"malformed {what} parameter")
        name, value = match.groups()
        if name in found:
            raise ValueError(f"repeated {what} parameter {name}")
        found[name] = value
    missing = [name for name in fields if not found.get(name)]
    if missing:
        raise ValueError(f"{what} lacks {', '.join(missing)}")
    return found


def authorization_params(
    header: str, scheme: str, fields: tuple[str, ...], what: str = "signature"
) -> dict[str, str]:
    """The parameters of an ``Authorization`` value ``<scheme> Name="value", ...``;
    ``ValueError`` for another scheme, or as ``quoted_params`` says."""
    given, _, params = header.strip().partition(" ")
    if given != scheme:
        raise ValueError("unsupported authorization scheme")
    return quoted_params(params, fields, what)


def rsa_sign(private_key: RSAPrivateKey, message: bytes) -> str:
    """SHA256withRSA (PKCS#1 v1.5), Base64 without line breaks: what WeChat Pay, Alipay and
    UnionPay sign with, each over its own string."""
    raw = private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(raw).decode("ascii")


def rsa_verify(public_key: RSAPublicKey, message: bytes, signature_b64: str) -> bool:
    """True when ``signature_b64`` is ``rsa_sign``'s signature of ``message`` by the key's owner."""
    try:
        raw = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        public_key.verify(raw, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True
