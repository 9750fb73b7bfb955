"""Checksums and detached signatures for every file we hand to a bank.

For a file ``F`` we write ``F.sha256`` (``sha256sum`` format, so ``sha256sum -c`` checks it) and
``F.sig``, a small JSON document::

    {"file": "TJ_ICBC_20261125_001.pain001.xml", "sha256": "…", "alg": "ed25519",
     "key_id": "tj-2026-01", "signature": "<base64>"}

The signature is over the raw bytes of ``F`` exactly as sent, never over a re-serialisation:

* ``rsa-pss-sha256`` — RSASSA-PSS, SHA-256, MGF1-SHA-256, salt length = digest length (32);
* ``ed25519`` — plain Ed25519 (RFC 8032);
* ``sm2-sm3`` — SM2 with SM3 (GB/T 32918), raw r‖s, signer ID ``1234567812345678``.

``file`` and ``sha256`` in the JSON are for people and for a quick check; they are not signed.
What binds a file to its slot is the MsgId/sequence the bank dedups on, not the name.

Private keys are loaded from a file with an explicit key id (``load_signer``) — never from the
database — and a ``Signer`` never shows them (repr, str). SM2 keys are hex text files because
gmssl has no PEM: 64 hex digits private, ``04`` + x + y public.

gmssl is the approved SM2 (``cryptography`` has SM3/SM4, not SM2). Three of its defaults are
unsafe, so it is only reached through ``_sm2_*`` below: its nonce comes from ``random`` (ours
from ``secrets``); its constructor ``lstrip("04")``s the public key, also eating leading 0/4
digits of x (we set the key after construction); its verifier neither range-checks r, s nor
survives garbage (we do both).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Final, Literal, get_args

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from gmssl.sm2 import CryptSM2, default_ecc_table

from clearing.settlement.model import SettlementError
from clearing.settlement.naming import checksum_name, signature_name

Alg = Literal["rsa-pss-sha256", "ed25519", "sm2-sm3"]
ALGS: Final[tuple[Alg, ...]] = get_args(Alg)
Reason = Literal[
    "malformed",
    "wrong_file_name",
    "unknown_key_id",
    "algorithm_mismatch",
    "checksum_mismatch",
    "bad_signature",
]
RSA_BITS: Final = 3072
_KEY_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_PSS: Final = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
_FIELDS: Final = ("file", "sha256", "alg", "key_id", "signature")


class KeyFileInvalid(SettlementError):
    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(
            "SETTLEMENT_KEY_INVALID",
            f"{path}: {reason}",
            f"密钥文件 {path} 无效：{reason}",
            path=str(path),
        )


class SignatureInvalid(SettlementError):
    """A signature we must not accept; ``reason`` is stable, the message says more."""

    def __init__(self, reason: Reason, detail: str) -> None:
        self.reason: Reason = reason
        super().__init__(
            "SETTLEMENT_SIGNATURE_INVALID",
            f"signature refused ({reason}): {detail}",
            f"签名无效（{reason}）：{detail}",
            reason=reason,
        )


# --- SM2 through gmssl -----------------------------------------------------------------------

_N: Final = int(default_ecc_table["n"], 16)
_P: Final = int(default_ecc_table["p"], 16)
_A: Final = int(default_ecc_table["a"], 16)
_B: Final = int(default_ecc_table["b"], 16)
_HEX: Final = re.compile(r"[0-9a-f]+")


def _sm2(private_hex: str, public_xy: str) -> CryptSM2:
    crypt = CryptSM2(private_key=private_hex, public_key="")
    crypt.public_key = public_xy  # never through the constructor's lstrip("04")
    return crypt


def _sm2_private(text: str) -> int:
    value = text.strip().lower()
    if len(value) != 64 or not _HEX.fullmatch(value):
        raise ValueError("an SM2 private key file holds exactly 64 hex digits")
    d = int(value, 16)
    if not 1 <= d <= _N - 2:
        raise ValueError("SM2 private key out of range")
    return d


def _sm2_public(text: str) -> str:
    """``04``+x+y hex → x+y, checked to be a point on the curve."""
    value = text.strip().lower()
    value = value.removeprefix("04") if len(value) == 130 else value
    if len(value) != 128 or not _HEX.fullmatch(value):
        raise ValueError("an SM2 public key is 04 + 128 hex digits (uncompressed x, y)")
    x, y = int(value[:64], 16), int(value[64:], 16)
    if x >= _P or y >= _P or (y * y - (x * x * x + _A * x + _B)) % _P:
        raise ValueError("SM2 public key is not a point on the curve")
    return value


def _sm2_public_of(d: int) -> str:
    point: str = _sm2(f"{d:064x}", "")._kg(d, default_ecc_table["g"])
    return point


def _sm2_sign(d: int, public_xy: str, data: bytes) -> bytes:
    crypt = _sm2(f"{d:064x}", public_xy)
    while True:
        k = secrets.randbelow(_N - 1) + 1
        signature: str | None = crypt.sign_with_sm3(data, f"{k:064x}")
        if signature is not None:  # None when this K gives r = 0, r + k = n or s = 0
            return bytes.fromhex(signature)


def _sm2_verify(public_xy: str, data: bytes, signature: bytes) -> bool:
    if len(signature) != 64:
        return False
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    if not (1 <= r < _N and 1 <= s < _N):
        return False
    try:
        return bool(_sm2("", public_xy).verify_with_sm3(signature.hex(), data))
    except (ValueError, TypeError, IndexError):
        return False


# --- signing ---------------------------------------------------------------------------------

_Private = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey | tuple[int, str]
_Public = rsa.RSAPublicKey | ed25519.Ed25519PublicKey | str


def _check_key_id(key_id: str) -> str:
    if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
        raise ValueError(f"key id must be 1-64 letters, digits, '.', '_' or '-': {key_id!r}")
    return key_id


def _check_alg(alg: str) -> Alg:
    for known in ALGS:
        if alg == known:
            return known
    raise ValueError(f"unknown signature algorithm {alg!r}; one of {', '.join(ALGS)}")


class Signer:
    """A private key with its id and algorithm. It signs bytes and never shows the key."""

    __slots__ = ("_key", "alg", "key_id")

    def __init__(self, key_id: str, alg: Alg, key: _Private) -> None:
        self.key_id = _check_key_id(key_id)
        self.alg = _check_alg(alg)
        self._key = key

    def __repr__(self) -> str:
        return f"Signer(key_id={self.key_id!r}, alg={self.alg!r})"

    __str__ = __repr__

    def sign(self, data: bytes) -> bytes:
        """The raw signature over ``data``."""
        key = self._key
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, _PSS, hashes.SHA256())
        if isinstance(key, ed25519.Ed25519PrivateKey):
            return key.sign(data)
        d, public_xy = key
        return _sm2_sign(d, public_xy, data)


def load_signer(
    path: Path | str, key_id: str, alg: Alg, *, password: bytes | None = None
) -> Signer:
    """A Signer from a private key file: PEM (PKCS#8 or traditional) for RSA and Ed25519, 64 hex
    digits for SM2. The key must be of the algorithm named; RSA keys have at least 2048 bits."""
    alg = _check_alg(alg)
    raw = Path(path).read_bytes()
    try:
        if alg == "sm2-sm3":
            d = _sm2_private(raw.decode("ascii"))
            return Signer(key_id, alg, (d, _sm2_public_of(d)))
        key = serialization.load_pem_private_key(raw, password=password)
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        # the parsers' messages describe the format, never the key; keep ours the same
        raise KeyFileInvalid(path, f"not a {alg} private key ({type(exc).__name__})") from None
    if alg == "rsa-pss-sha256" and isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 2048:
            raise KeyFileInvalid(path, f"RSA key of {key.key_size} bits; at least 2048")
        return Signer(key_id, alg, key)
    if alg == "ed25519" and isinstance(key, ed25519.Ed25519PrivateKey):
        return Signer(key_id, alg, key)
    raise KeyFileInvalid(path, f"the key is not a {alg} key")


def checksum_file(name: str, data: bytes) -> bytes:
    """``F.sha256`` content: ``<hex>  <name>\\n``."""
    return f"{hashlib.sha256(data).hexdigest()}  {name}\n".encode("ascii")


def signature_file(signer: Signer, name: str, data: bytes) -> bytes:
    """``F.sig`` content: the JSON document described above."""
    doc = {
        "file": name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "alg": signer.alg,
        "key_id": signer.key_id,
        "signature": base64.b64encode(signer.sign(data)).decode("ascii"),
    }
    return (json.dumps(doc, indent=2) + "\n").encode("ascii")


def sidecars(signer: Signer, name: str, data: bytes) -> dict[str, bytes]:
    """``{F.sha256: …, F.sig: …}`` for file ``name`` with content ``data``."""
    return {
        checksum_name(name): checksum_file(name, data),
        signature_name(name): signature_file(signer, name, data),
    }


# --- verifying -------------------------------------------------------------------------------


def _load_public(alg: Alg, material: bytes | str) -> _Public:
    if alg == "sm2-sm3":
        text = material.decode("ascii") if isinstance(material, bytes) else material
        return _sm2_public(text)
    pem = material.encode("ascii") if isinstance(material, str) else material
    key = serialization.load_pem_public_key(pem)
    if alg == "rsa-pss-sha256" and isinstance(key, rsa.RSAPublicKey):
        return key
    if alg == "ed25519" and isinstance(key, ed25519.Ed25519PublicKey):
        return key
    raise ValueError(f"public key is not a {alg} key")


def _parse_sig(sig_json: bytes) -> dict[str, str]:
    try:
        doc = json.loads(sig_json)
    except (ValueError, UnicodeDecodeError):
        raise SignatureInvalid("malformed", "the .sig file is not JSON") from None
    if not isinstance(doc, dict) or any(not isinstance(doc.get(f), str) for f in _FIELDS):
        raise SignatureInvalid("malformed", f"the .sig file needs string fields {_FIELDS}")
    return {f: doc[f] for f in _FIELDS}


class Verifier:
    """Public keys by key id: ``{key_id: (alg, PEM bytes | SM2 hex text)}``."""

    def __init__(self, keys: Mapping[str, tuple[Alg, bytes | str]]) -> None:
        self._keys: dict[str, tuple[Alg, _Public]] = {}
        for key_id, (alg, material) in keys.items():
            checked = _check_alg(alg)
            self._keys[_check_key_id(key_id)] = (checked, _load_public(checked, material))

    @classmethod
    def from_files(cls, files: Mapping[str, tuple[Alg, Path | str]]) -> Verifier:
        return cls({k: (alg, Path(p).read_bytes()) for k, (alg, p) in files.items()})

    def __repr__(self) -> str:
        return f"Verifier(key_ids={sorted(self._keys)!r})"

    def verify(self, file_bytes: bytes, sig_json: bytes, *, file_name: str | None = None) -> None:
        """Accept the file, or raise SignatureInvalid. ``file_name``, when given, must be the
        name the signature document was written for."""
        doc = _parse_sig(sig_json)
        if file_name is not None and doc["file"] != file_name:
            raise SignatureInvalid(
                "wrong_file_name", f"signature is for {doc['file']!r}, not {file_name!r}"
            )
        known = self._keys.get(doc["key_id"])
        if known is None:
            raise SignatureInvalid("unknown_key_id", f"no public key for {doc['key_id']!r}")
        alg, public = known
        if doc["alg"] != alg:
            raise SignatureInvalid(
                "algorithm_mismatch", f"key {doc['key_id']!r} is {alg}, not {doc['alg']!r}"
            )
        if hashlib.sha256(file_bytes).hexdigest() != doc["sha256"].lower():
            raise SignatureInvalid("checksum_mismatch", "the file's SHA-256 differs")
        try:
            signature = base64.b64decode(doc["signature"], validate=True)
        except (binascii.Error, ValueError):
            raise SignatureInvalid("malformed", "signature is not base64") from None
        if not _verify(public, file_bytes, signature):
            raise SignatureInvalid("bad_signature", f"not signed by key {doc['key_id']!r}")


def _verify(public: _Public, data: bytes, signature: bytes) -> bool:
    try:
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(signature, data, _PSS, hashes.SHA256())
        elif isinstance(public, ed25519.Ed25519PublicKey):
            public.verify(signature, data)
        else:
            return _sm2_verify(public, data, signature)
    except InvalidSignature:
        return False
    return True


def verify_checksum(file_bytes: bytes, checksum: bytes, *, file_name: str) -> None:
    """Check an ``F.sha256`` sidecar against the file; SignatureInvalid if it does not match."""
    expected = checksum_file(file_name, file_bytes)
    if checksum.replace(b"\r\n", b"\n") != expected:
        raise SignatureInvalid("checksum_mismatch", f"{file_name}.sha256 does not match the file")


# --- demo and test keys ----------------------------------------------------------------------


def _write(path: Path, data: bytes, mode: int) -> None:
    # O_EXCL: a key file is never overwritten; the mode is set at creation, not after
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def generate_keypair(alg: Alg, directory: Path | str, key_id: str) -> tuple[Path, Path]:
    """Write ``<key_id>.key`` (0600) and ``<key_id>.pub`` into ``directory``, for demos and tests;
    production keys come from the bank's or our security officer's process."""
    alg = _check_alg(alg)
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    private_path = folder / f"{_check_key_id(key_id)}.key"
    public_path = folder / f"{key_id}.pub"
    if alg == "sm2-sm3":
        d = _sm2_private_new()
        private, public = f"{d:064x}\n".encode(), f"04{_sm2_public_of(d)}\n".encode()
    else:
        key = (
            rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
            if alg == "rsa-pss-sha256"
            else ed25519.Ed25519PrivateKey.generate()
        )
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    _write(private_path, private, 0o600)
    _write(public_path, public, 0o644)
    return private_path, public_path


def _sm2_private_new() -> int:
    return secrets.randbelow(_N - 2) + 1
