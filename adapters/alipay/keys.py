"""Key material for Alipay in public-key mode (公钥模式), for our service and for the simulator.

``generate_keyset(root)`` lays out two folders, each holding only what its party really holds::

    root/merchant/   what tongjiao holds
        app.json                  app_id, seller_id (the merchant's 2088… PID)
        app_private_key.pem       the app's private key (0600)
        alipay_public_key.pem     Alipay's public key
    root/platform/   what the Alipay simulator holds
        platform.json             app_id, seller_id
        alipay_private_key.pem    Alipay's private key (0600)
        app_keys/<APP_ID>.pem     the public key each app uploaded to the open platform
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from adapters.simkit.keyfiles import (
    digits,
    json_bytes,
    load_rsa_private,
    read_json,
    rsa_private_key,
    text_field,
    write_if_missing,
)

MERCHANT_DIR = "merchant"
PLATFORM_DIR = "platform"
_APP_JSON = "app.json"
_APP_PRIVATE = "app_private_key.pem"
_ALIPAY_PUBLIC = "alipay_public_key.pem"
_PLATFORM_JSON = "platform.json"
_ALIPAY_PRIVATE = "alipay_private_key.pem"
_APP_PUBLIC_DIR = "app_keys"


@dataclass(frozen=True)
class AppKeys:
    """What our service needs to call Alipay and to trust its answers and notifications."""

    app_id: str
    seller_id: str
    private_key: RSAPrivateKey = field(repr=False, compare=False)
    alipay_public_key: RSAPublicKey = field(repr=False, compare=False)


@dataclass(frozen=True)
class PlatformKeys:
    """What the Alipay side (our simulator) holds."""

    app_id: str
    seller_id: str
    private_key: RSAPrivateKey = field(repr=False, compare=False)
    app_public_keys: Mapping[str, RSAPublicKey] = field(repr=False, compare=False)


def generate_keyset(root: Path) -> None:
    """Create whatever is missing under ``root/merchant`` and ``root/platform``; keep the rest."""
    merchant_dir = root / MERCHANT_DIR
    platform_dir = root / PLATFORM_DIR
    merchant_dir.mkdir(parents=True, exist_ok=True)
    (platform_dir / _APP_PUBLIC_DIR).mkdir(parents=True, exist_ok=True)

    app_key = rsa_private_key(merchant_dir / _APP_PRIVATE)
    alipay_key = rsa_private_key(platform_dir / _ALIPAY_PRIVATE)
    ids = _ids(merchant_dir / _APP_JSON, platform_dir / _PLATFORM_JSON)
    for path in (merchant_dir / _APP_JSON, platform_dir / _PLATFORM_JSON):
        write_if_missing(path, json_bytes(ids))
    write_if_missing(merchant_dir / _ALIPAY_PUBLIC, _public_pem(alipay_key.public_key()))
    write_if_missing(
        platform_dir / _APP_PUBLIC_DIR / f"{ids['app_id']}.pem",
        _public_pem(app_key.public_key()),
    )


def load_merchant_keys(path: Path) -> AppKeys:
    """Load ``root/merchant`` (pass that folder)."""
    ids = read_json(path / _APP_JSON)
    return AppKeys(
        app_id=text_field(ids, "app_id"),
        seller_id=text_field(ids, "seller_id"),
        private_key=load_rsa_private(path / _APP_PRIVATE),
        alipay_public_key=_load_public(path / _ALIPAY_PUBLIC),
    )


def load_platform_keys(path: Path) -> PlatformKeys:
    """Load ``root/platform`` (pass that folder)."""
    ids = read_json(path / _PLATFORM_JSON)
    apps = {pem.stem: _load_public(pem) for pem in sorted((path / _APP_PUBLIC_DIR).glob("*.pem"))}
    if not apps:
        raise ValueError(f"no app public keys under {path / _APP_PUBLIC_DIR}")
    return PlatformKeys(
        app_id=text_field(ids, "app_id"),
        seller_id=text_field(ids, "seller_id"),
        private_key=load_rsa_private(path / _ALIPAY_PRIVATE),
        app_public_keys=MappingProxyType(apps),
    )


def _ids(app_json: Path, platform_json: Path) -> dict[str, str]:
    for known in (app_json, platform_json):
        if known.exists():
            data = read_json(known)
            return {
                "app_id": text_field(data, "app_id"),
                "seller_id": text_field(data, "seller_id"),
            }
    # an app id is 16 digits starting with the year; a PID is 2088 and 12 more digits
    return {"app_id": "2021" + digits(12), "seller_id": "2088" + digits(12)}


def _load_public(path: Path) -> RSAPublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError(f"{path} is not an RSA public key")
    return key


def _public_pem(key: RSAPublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
