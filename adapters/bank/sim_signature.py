"""The bank's own check of a delivered file: its ``.sha256`` sidecar and its detached ``.sig``.

The bank holds our public keys by key id (``--verify-key KEY_ID:ALG:PATH``) and verifies with its
own code, never ours: a file is refused when its checksum is wrong, its signature is bad or made
with a key it does not hold, or the signature names another file. The refusal carries an ISO
20022 external status reason code and a sentence saying why, for the pain.002.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from gmssl import sm2

RSA_PSS = "rsa-pss-sha256"
ED25519 = "ed25519"
SM2_SM3 = "sm2-sm3"
ALGORITHMS = (RSA_PSS, ED25519, SM2_SM3)
PSS_SALT_LENGTH = 32

# ISO 20022 external status reason codes for signature problems (DS = digital signature)
BAD_SIGNATURE = "DS0B"  # data signature for the format is not available or invalid
UNKNOWN_SIGNER = "DS0E"  # the signer's certificate (here: key) is not present
DATA_MISMATCH = "DS17"  # order data and signatures don't match

_SM2_N = int(sm2.default_ecc_table["n"], 16)
_SM2_P = int(sm2.default_ecc_table["p"], 16)
_SM2_A = int(sm2.default_ecc_table["a"], 16)
_SM2_B = int(sm2.default_ecc_table["b"], 16)
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_SM2_PUBLIC = re.compile(r"(04)?[0-9a-fA-F]{128}")
_SHA256SUM = re.compile(r"([0-9a-fA-F]{64}) [ *](.+)\n?")

PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey | str


@dataclass(frozen=True)
class VerifyKey:
    """One of our public keys as the bank holds it; SM2 keys are hex (x‖y, optional 04)."""

    key_id: str
    alg: str
    public: PublicKey


@dataclass(frozen=True)
class Refusal:
    """Why a file was refused: an ISO reason code and English text (at most 105 characters)."""

    code: str
    text: str


def parse_verify_key(spec: str) -> VerifyKey:
    """``KEY_ID:ALG:PATH`` as on the command line; ``ValueError`` says what is wrong."""
    key_id, _, rest = spec.partition(":")
    alg, _, path = rest.partition(":")
    if not key_id or not path:
        raise ValueError(f"--verify-key {spec!r}: expected KEY_ID:ALG:PATH")
    if alg not in ALGORITHMS:
        raise ValueError(f"key {key_id}: algorithm must be one of {', '.join(ALGORITHMS)}")
    return load_verify_key(key_id, alg, Path(path).read_bytes())


def load_verify_key(key_id: str, alg: str, material: bytes) -> VerifyKey:
    """A key from its file's bytes: PEM public key or certificate (RSA, Ed25519), hex (SM2)."""
    if alg not in ALGORITHMS:
        raise ValueError(f"key {key_id}: algorithm must be one of {', '.join(ALGORITHMS)}")
    if alg == SM2_SM3:
        text = material.decode("ascii", "replace").strip()
        if not _SM2_PUBLIC.fullmatch(text):
            raise ValueError(f"key {key_id}: an SM2 public key is 128 hex digits (x‖y)")
        xy = text[-128:].lower()
        x, y = int(xy[:64], 16), int(xy[64:], 16)
        if (y * y - (x * x * x + _SM2_A * x + _SM2_B)) % _SM2_P or max(x, y) >= _SM2_P:
            raise ValueError(f"key {key_id}: the SM2 public key is not a point on the curve")
        return VerifyKey(key_id, alg, xy)
    public: Any
    if b"BEGIN CERTIFICATE" in material:
        public = x509.load_pem_x509_certificate(material).public_key()
    else:
        public = serialization.load_pem_public_key(material)
    expected = rsa.RSAPublicKey if alg == RSA_PSS else ed25519.Ed25519PublicKey
    if not isinstance(public, expected):
        raise ValueError(f"key {key_id}: the file does not hold an {alg} public key")
    return VerifyKey(key_id, alg, public)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_delivery(
    name: str,
    data: bytes,
    signature_doc: bytes,
    checksum: bytes | None,
    keys: Mapping[str, VerifyKey],
) -> Refusal | None:
    """None when ``data`` (delivered as ``name``) is intact and signed by a key we hold."""
    digest = sha256_hex(data)
    if checksum is not None:
        match = _SHA256SUM.fullmatch(checksum.decode("utf-8", "replace"))
        if match is None:
            return Refusal(DATA_MISMATCH, f"{name}.sha256 is not in sha256sum format")
        if match.group(2) != name:
            return Refusal(DATA_MISMATCH, f"{name}.sha256 names another file")
        if not hmac.compare_digest(match.group(1).lower(), digest):
            return Refusal(DATA_MISMATCH, f"checksum in {name}.sha256 does not match the file")
    try:
        sig = json.loads(signature_doc)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return Refusal(BAD_SIGNATURE, "signature document is not JSON")
    fields = ("file", "sha256", "alg", "key_id", "signature")
    if not isinstance(sig, dict) or not all(isinstance(sig.get(f), str) for f in fields):
        return Refusal(BAD_SIGNATURE, "signature document lacks file/sha256/alg/key_id/signature")
    if sig["file"] != name:
        return Refusal(DATA_MISMATCH, "signature is for another file name")
    if not _HEX64.fullmatch(sig["sha256"]) or not hmac.compare_digest(
        sig["sha256"].lower(), digest
    ):
        return Refusal(DATA_MISMATCH, "sha256 in the signature does not match the file")
    key = keys.get(sig["key_id"])
    if key is None:
        return Refusal(UNKNOWN_SIGNER, f"unknown key id {sig['key_id'][:40]}")
    if sig["alg"] != key.alg:
        return Refusal(BAD_SIGNATURE, f"key {key.key_id[:40]} is not an {sig['alg'][:20]} key")
    try:
        raw = base64.b64decode(sig["signature"], validate=True)
    except binascii.Error:
        return Refusal(BAD_SIGNATURE, "signature is not base64")
    if not verify(key, raw, data):
        return Refusal(BAD_SIGNATURE, f"signature does not verify with key {key.key_id[:40]}")
    return None


def verify(key: VerifyKey, signature: bytes, data: bytes) -> bool:
    """Whether ``signature`` over the raw ``data`` holds under ``key``."""
    public = key.public
    try:
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(
                signature,
                data,
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=PSS_SALT_LENGTH),
                hashes.SHA256(),
            )
            return True
        if isinstance(public, ed25519.Ed25519PublicKey):
            public.verify(signature, data)
            return True
    except InvalidSignature:
        return False
    return _sm2_verify(public, signature, data)


def _sm2_verify(public_xy: str, signature: bytes, data: bytes) -> bool:
    """SM2 with SM3 (user id 1234567812345678), the signature raw r‖s in 64 bytes."""
    if len(signature) != 64:
        return False
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    if not (1 <= r < _SM2_N and 1 <= s < _SM2_N):
        return False
    crypt = sm2.CryptSM2(private_key="", public_key="")
    # set after construction: the constructor lstrip("04")s the key, eating digits of x
    crypt.public_key = public_xy
    try:
        return bool(crypt.verify_with_sm3(signature.hex(), data))
    except (ValueError, ZeroDivisionError, TypeError, IndexError):
        return False
