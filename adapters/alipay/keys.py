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

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from adapters import keyset
from adapters.simkit import keyfiles

MERCHANT_DIR, PLATFORM_DIR = keyset.MERCHANT_DIR, keyset.PLATFORM_DIR
_APP_JSON = "app.json"
_APP_PRIVATE = "app_private_key.pem"
_ALIPAY_PUBLIC = "alipay_public_key.pem"
_PLATFORM_JSON = "platform.json"
_ID_FIELDS = ("app_id", "seller_id")
_ALIPAY_PRIVATE = "alipay_private_key.pem"
_APP_PUBLIC_DIR = "app_keys"


@dataclass(frozen=True)
class _Side:
    """The app's ids, which both sides know, and the signing key of the side holding them."""

    app_id: str
    seller_id: str
    private_key: RSAPrivateKey = field(repr=False, compare=False)


@dataclass(frozen=True)
class AppKeys(_Side):
    """What our service needs to call Alipay and to trust its answers and notifications."""

    alipay_public_key: RSAPublicKey = field(repr=False, compare=False)


@dataclass(frozen=True)
class PlatformKeys(_Side):
    """What the Alipay side (our simulator) holds."""

    app_public_keys: Mapping[str, RSAPublicKey] = field(repr=False, compare=False)


def generate_keyset(root: Path) -> None:
    """Create whatever is missing under ``root/merchant`` and ``root/platform``; keep the rest."""
    merchant_dir, platform_dir = keyset.folders(root)
    (platform_dir / _APP_PUBLIC_DIR).mkdir(exist_ok=True)

    app_key = keyfiles.rsa_private_key(merchant_dir / _APP_PRIVATE)
    alipay_key = keyfiles.rsa_private_key(platform_dir / _ALIPAY_PRIVATE)
    registrations = (merchant_dir / _APP_JSON, platform_dir / _PLATFORM_JSON)
    ids = keyfiles.kept_or_new(registrations, _ids, _new_ids)
    keyset.write_registration(ids, *registrations)
    keyfiles.write_if_missing(
        merchant_dir / _ALIPAY_PUBLIC, keyfiles.public_pem(alipay_key.public_key())
    )
    keyfiles.write_if_missing(
        platform_dir / _APP_PUBLIC_DIR / f"{ids['app_id']}.pem",
        keyfiles.public_pem(app_key.public_key()),
    )


def load_merchant_keys(path: Path) -> AppKeys:
    """Load ``root/merchant`` (pass that folder)."""
    ids = keyfiles.read_json(path / _APP_JSON)
    return AppKeys(
        **keyfiles.text_fields(ids, _ID_FIELDS),
        private_key=keyfiles.load_rsa_private(path / _APP_PRIVATE),
        alipay_public_key=keyfiles.load_rsa_public(path / _ALIPAY_PUBLIC),
    )


def load_platform_keys(path: Path) -> PlatformKeys:
    """Load ``root/platform`` (pass that folder)."""
    ids = keyfiles.read_json(path / _PLATFORM_JSON)
    return PlatformKeys(
        **keyfiles.text_fields(ids, _ID_FIELDS),
        private_key=keyfiles.load_rsa_private(path / _ALIPAY_PRIVATE),
        app_public_keys=keyfiles.by_stem(
            path / _APP_PUBLIC_DIR, keyfiles.load_rsa_public, "app public keys"
        ),
    )


def _ids(known: Path) -> dict[str, str]:
    return keyfiles.text_fields(keyfiles.read_json(known), _ID_FIELDS)


def _new_ids() -> dict[str, str]:
    # an app id is 16 digits starting with the year; a PID is 2088 and 12 more digits
    return {"app_id": "2021" + keyfiles.digits(12), "seller_id": "2088" + keyfiles.digits(12)}
