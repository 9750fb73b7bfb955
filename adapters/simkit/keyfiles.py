"""Key and registration files, as every party's ``keys.py`` lays them out.

Each adapter's ``generate_keyset(root)`` writes what tongjiao holds under ``root/merchant`` and
what the outside party holds under ``root/platform``; what the files hold differs per protocol,
how they are written and read does not. A file that exists is never rewritten (a keyset is
filled in, not replaced), and a secret is created with mode 0600 so that it is never readable
by others, not even between its creation and a chmod.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import string
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

log = logging.getLogger(__name__)

V = TypeVar("V")

HEX_LEN = 64  # hex characters: 256 bits, the size of every shared secret we generate


def write_if_missing(path: Path, data: bytes, *, secret: bool = False) -> None:
    if path.exists():
        return
    # O_EXCL and the mode at creation: a secret is never readable by others, not even briefly
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if secret else 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    if secret:
        log.info("generated key file=%s", path.name)


def json_bytes(data: Mapping[str, Any]) -> bytes:
    """A registration file: readable JSON, Chinese kept as written."""
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode()


def read_json(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a JSON object")
    return data


def text_field(data: Mapping[str, Any], name: str, path: Path | None = None) -> str:
    """A non-empty string field of a registration file; ``path`` names the file in the error."""
    value = data.get(name)
    if not isinstance(value, str) or not value:
        where = f"{path}: " if path is not None else ""
        raise ValueError(f"{where}missing or empty {name!r}")
    return value


def text_fields(
    data: Mapping[str, Any], names: Iterable[str], path: Path | None = None
) -> dict[str, Any]:
    """``text_field`` of each of ``names`` in turn, as keyword arguments for a keys class."""
    return {name: text_field(data, name, path) for name in names}


def load_hex(path: Path, what: str = "key", length: int = HEX_LEN) -> bytes:
    """A shared secret kept as lowercase hex text (its bytes are what the party signs with)."""
    key = path.read_bytes().strip()
    if len(key) != length or not all(c in b"0123456789abcdef" for c in key):
        raise ValueError(f"{path} must hold a {length}-character hex {what}")
    return key


def kept_or_new(paths: tuple[Path, ...], load: Callable[[Path], V], fresh: Callable[[], V]) -> V:
    """What the first of ``paths`` that exists holds, else ``fresh()``: a keyset is filled in,
    so an id or a secret either side already has is the one both keep."""
    for path in paths:
        if path.exists():
            return load(path)
    return fresh()


def shared_hex(*paths: Path, what: str = "key") -> bytes:
    """A secret both sides hold: the first copy that exists, else a fresh one (to be written)."""
    return kept_or_new(
        paths, lambda path: load_hex(path, what), lambda: secrets.token_hex(HEX_LEN // 2).encode()
    )


def digits(count: int) -> str:
    """Random decimal digits, for the numbers parties hand out (ids, trade numbers)."""
    return "".join(secrets.choice(string.digits) for _ in range(count))


def load_rsa_private(path: Path) -> RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path} is not an RSA private key")
    return key


def rsa_private_key(path: Path) -> RSAPrivateKey:
    """The RSA key kept at ``path``, generated (2048 bits, PKCS#8, 0600) if there is none."""
    if path.exists():
        return load_rsa_private(path)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_if_missing(path, pem, secret=True)
    log.info("generated private key file=%s", path.name)
    return key


def load_rsa_public(path: Path) -> RSAPublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError(f"{path} is not an RSA public key")
    return key


def public_pem(key: RSAPublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def by_stem(folder: Path, load: Callable[[Path], V], what: str) -> Mapping[str, V]:
    """Each ``*.pem`` under ``folder`` by its file name (an app id, a serial), read-only; a
    party that knows none of its callers' keys can check nobody, so none is an error."""
    found = {pem.stem: load(pem) for pem in sorted(folder.glob("*.pem"))}
    if not found:
        raise ValueError(f"no {what} under {folder}")
    return MappingProxyType(found)
