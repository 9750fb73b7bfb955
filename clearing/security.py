"""Secrets at rest: staff passwords, bearer tokens, and the payer's personal data."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, salt_b64, digest_b64 = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    salt = base64.b64decode(salt_b64)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P)
    return hmac.compare_digest(digest, base64.b64decode(digest_b64))


def new_token() -> str:
    """A bearer token: 256 random bits, shown once, stored only as its SHA-256."""
    return "tj_" + secrets.token_urlsafe(32)


def token_hash(token: str) -> bytes:
    # tokens carry 256 bits of entropy, so a plain hash is enough (no salt or stretching needed)
    return hashlib.sha256(token.encode()).digest()


class PiiCipher:
    """AES-256-GCM for payer names and ID numbers; the column name is bound in as associated data
    so that a ciphertext cannot be moved from one column to another.

    With a ``search_key`` (its own key file, never the encryption key) it also gives the keyed
    hash by which orders are found from a payer's ID number: equal numbers give equal hashes,
    and without the key a hash cannot be checked against a guessed number."""

    def __init__(self, key: bytes, *, search_key: bytes | None = None) -> None:
        if len(key) != 32:
            raise ValueError("the PII key must be 32 bytes (base64 of 32 random bytes)")
        if search_key is not None and len(search_key) != 32:
            raise ValueError("the PII search key must be 32 bytes (base64 of 32 random bytes)")
        self._aead = AESGCM(key)
        self._search_key = search_key

    def search_hash(self, payer_id: str) -> bytes | None:
        """HMAC-SHA256 of a normalized ID number; None when no search key is configured."""
        if self._search_key is None:
            return None
        return hmac.new(self._search_key, payer_id.encode(), hashlib.sha256).digest()

    def __repr__(self) -> str:
        return "PiiCipher(<key hidden>)"

    def encrypt(self, text: str, column: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, text.encode(), column.encode())

    def decrypt(self, blob: bytes, column: str) -> str:
        return self._aead.decrypt(blob[:12], blob[12:], column.encode()).decode()


def load_or_create_key(path: os.PathLike[str] | str) -> bytes:
    """Read a base64 key file, creating it (mode 0600) with a fresh key when it does not exist."""
    p = os.fspath(path)
    if not os.path.exists(p):
        os.makedirs(os.path.dirname(p) or ".", exist_ok=True)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(base64.b64encode(os.urandom(32)).decode() + "\n")
    with open(p) as f:
        return base64.b64decode(f.read().strip())


def load_or_create_ed25519(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in the PEM file at ``path``, made (mode 0600) on first start;
    a key made by another process of the service at the same moment is read, not overwritten."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return key
