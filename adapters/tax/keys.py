"""Key material for the tax bureau's data-exchange front-end, for our service and the simulator.

``generate_keyset(root)`` lays out two folders, each holding only what its party holds::

    root/merchant/   what tongjiao holds (the bureau calls us the collecting agent, 代收机构)
        tax.json               our SrcOrgCode, the bureau's TaxOrgCode and name, its key id
        access_token.txt       接入令牌: MACs our requests (0600)
        bureau_public_key.pem  verifies the bureau's answers and completion certificates
    root/platform/   what the bureau's front-end (our simulator) holds
        bureau.json            the same ids, as the bureau registered them
        access_token.txt       the same token, to check our requests (0600)
        bureau_private_key.pem signs answers and certificates (0600)

The token is shared, so it can only prove to the bureau that a request is ours. The bureau's
answers are signed with a key we never hold, so a 完税证明 on a receipt can be shown to anyone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from adapters import keyset
from adapters.simkit import keyfiles

MERCHANT_DIR, PLATFORM_DIR = keyset.MERCHANT_DIR, keyset.PLATFORM_DIR
_MERCHANT_JSON = "tax.json"
_PLATFORM_JSON = "bureau.json"
_ACCESS_FILE = "access_token.txt"
_PUBLIC = "bureau_public_key.pem"
_PRIVATE = "bureau_private_key.pem"
_TAX_ORG_CODE = re.compile(r"[0-9]{11}")
_SRC_ORG_CODE = re.compile(r"[0-9]{12}")
# 国家税务总局上海市浦东新区税务局: "1" for a tax authority, the district's division code 310115
DEFAULT_TAX_ORG = ("13101150000", "国家税务总局上海市浦东新区税务局")


@dataclass(frozen=True)
class _Registration:
    """What both sides hold: the ids the bureau registered and the shared token."""

    src_org_code: str
    tax_org_code: str
    tax_org_name: str
    bureau_key_id: str
    access_token: bytes = field(repr=False, compare=False)


@dataclass(frozen=True)
class MerchantKeys(_Registration):
    """What our service needs to call the bureau and to trust its answers."""

    bureau_public_key: ec.EllipticCurvePublicKey = field(repr=False, compare=False)


@dataclass(frozen=True)
class PlatformKeys(_Registration):
    """What the bureau's front-end holds about us."""

    bureau_private_key: ec.EllipticCurvePrivateKey = field(repr=False, compare=False)

    @property
    def region(self) -> str:
        """The administrative division code inside TaxOrgCode (digits 2–7)."""
        return self.tax_org_code[1:7]


def generate_keyset(root: Path) -> None:
    """Create whatever is missing under ``root/merchant`` and ``root/platform``; keep the rest."""
    merchant_dir, platform_dir = keyset.shared_keyset(
        root, (_MERCHANT_JSON, _PLATFORM_JSON), _new_ids, (_ACCESS_FILE,), what="token"
    )
    private_path = platform_dir / _PRIVATE
    if not private_path.exists():
        if (merchant_dir / _PUBLIC).exists():
            # a public key without its private key can sign nothing: make the pair again
            (merchant_dir / _PUBLIC).unlink()
        # P-256 with SM3 stands in for SM2: same size and digest, and ``cryptography`` has no SM2
        private = ec.generate_private_key(ec.SECP256R1())
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        keyfiles.write_if_missing(private_path, pem, secret=True)
    private_key = _load_private(private_path)
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    keyfiles.write_if_missing(merchant_dir / _PUBLIC, public_pem)


def load_merchant_keys(path: Path) -> MerchantKeys:
    """Load ``root/merchant`` (pass that folder)."""
    public = serialization.load_pem_public_key((path / _PUBLIC).read_bytes())
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise ValueError(f"{path / _PUBLIC} must hold an EC public key")
    return MerchantKeys(
        **_checked_ids(path / _MERCHANT_JSON),
        access_token=keyfiles.load_hex(path / _ACCESS_FILE, "token"),
        bureau_public_key=public,
    )


def load_platform_keys(path: Path) -> PlatformKeys:
    """Load ``root/platform`` (pass that folder)."""
    return PlatformKeys(
        **_checked_ids(path / _PLATFORM_JSON),
        access_token=keyfiles.load_hex(path / _ACCESS_FILE, "token"),
        bureau_private_key=_load_private(path / _PRIVATE),
    )


def _new_ids() -> dict[str, Any]:
    tax_org_code, tax_org_name = DEFAULT_TAX_ORG
    return {
        # the partner bank branch's 12-digit CNAPS code: TIPS knows collecting agents by it
        "src_org_code": "313290" + keyfiles.digits(6),
        "tax_org_code": tax_org_code,
        "tax_org_name": tax_org_name,
        "bureau_key_id": "TDX" + keyfiles.digits(6),
    }


def _checked_ids(path: Path) -> dict[str, str]:
    data = keyfiles.read_json(path)
    names = ("src_org_code", "tax_org_code", "tax_org_name", "bureau_key_id")
    ids = keyfiles.text_fields(data, names, path)
    if not _TAX_ORG_CODE.fullmatch(ids["tax_org_code"]):
        raise ValueError(f"{path}: tax_org_code must be 11 digits")
    if not _SRC_ORG_CODE.fullmatch(ids["src_org_code"]):
        raise ValueError(f"{path}: src_org_code must be 12 digits")
    return ids


def _load_private(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path} must hold an EC private key")
    return key
