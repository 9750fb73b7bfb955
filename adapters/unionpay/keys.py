"""Key material for UnionPay ACP 5.1.0, for our service and for the simulator.

UnionPay trusts certificates, not bare keys: a CA (CFCA in real life) issues both the merchant's
signing certificate (its serial is our ``certId``) and UnionPay's own signing certificate, which
UnionPay sends as ``signPubKeyCert``. ``generate_keyset(root)`` builds that small world::

    root/ca/         the certificate authority; only generate_keyset reads it
        root_ca_key.pem, middle_ca_key.pem (0600), root_ca.pem, middle_ca.pem
    root/merchant/   what tongjiao holds
        merchant.json            merId and certId
        merchant_sign_key.pem    our signing key (0600)
        merchant_sign_cert.pem   our signing certificate
        unionpay_root.pem, unionpay_middle.pem   what a signPubKeyCert must chain to
    root/platform/   what the UnionPay simulator holds
        platform.json            the merchant ids it serves
        unionpay_sign_key.pem    UnionPay's signing key (0600)
        unionpay_sign_cert.pem   UnionPay's signing certificate
        merchant_certs/<certId>.pem   merchant certificates by certId
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.x509.oid import NameOID

from adapters import keyset
from adapters.simkit import certs, keyfiles
from adapters.unionpay.crypto import UNIONPAY_OWNER, TrustedChain, cert_id, pem_text

CA_DIR = "ca"
MERCHANT_DIR, PLATFORM_DIR = keyset.MERCHANT_DIR, keyset.PLATFORM_DIR
_ROOT_KEY, _ROOT_CERT = "root_ca_key.pem", "root_ca.pem"
_MIDDLE_KEY, _MIDDLE_CERT = "middle_ca_key.pem", "middle_ca.pem"
_MERCHANT_JSON = "merchant.json"
_MERCHANT_KEY, _MERCHANT_CERT = "merchant_sign_key.pem", "merchant_sign_cert.pem"
_TRUST_ROOT, _TRUST_MIDDLE = "unionpay_root.pem", "unionpay_middle.pem"
_PLATFORM_JSON = "platform.json"
_UNIONPAY_KEY, _UNIONPAY_CERT = "unionpay_sign_key.pem", "unionpay_sign_cert.pem"
_MERCHANT_CERTS = "merchant_certs"
_CFCA = "China Financial Certification Authority"


@dataclass(frozen=True)
class MerchantKeys:
    """What our service needs to sign requests and to trust UnionPay's answers."""

    mer_id: str
    cert_id: str
    private_key: RSAPrivateKey = field(repr=False, compare=False)
    sign_cert: x509.Certificate = field(repr=False, compare=False)
    chain: TrustedChain = field(repr=False, compare=False)


@dataclass(frozen=True)
class PlatformKeys:
    """What the UnionPay side (our simulator) holds."""

    mer_ids: tuple[str, ...]
    private_key: RSAPrivateKey = field(repr=False, compare=False)
    sign_cert: x509.Certificate = field(repr=False, compare=False)
    merchant_certs: Mapping[str, x509.Certificate] = field(repr=False, compare=False)

    @property
    def sign_cert_pem(self) -> str:
        """The ``signPubKeyCert`` value."""
        return pem_text(self.sign_cert)


def generate_keyset(root: Path) -> None:
    """Create whatever is missing under ``root/{ca,merchant,platform}``; keep the rest."""
    ca_dir, (merchant_dir, platform_dir) = root / CA_DIR, keyset.folders(root)
    for folder in (ca_dir, platform_dir / _MERCHANT_CERTS):
        folder.mkdir(exist_ok=True)
    now = datetime.now(UTC)

    root_key = keyfiles.rsa_private_key(ca_dir / _ROOT_KEY)
    root_cert = _cert(
        ca_dir / _ROOT_CERT,
        lambda: _issue(root_key, None, root_key.public_key(), _name("CFCA SIM ROOT"), now, ca=1),
    )
    middle_key = keyfiles.rsa_private_key(ca_dir / _MIDDLE_KEY)
    middle_cert = _cert(
        ca_dir / _MIDDLE_CERT,
        lambda: _issue(
            root_key, root_cert, middle_key.public_key(), _name("CFCA SIM OCA1"), now, ca=0
        ),
    )
    unionpay_key = keyfiles.rsa_private_key(platform_dir / _UNIONPAY_KEY)
    _cert(
        platform_dir / _UNIONPAY_CERT,
        lambda: issue_leaf(middle_key, middle_cert, unionpay_key.public_key(), UNIONPAY_OWNER, now),
    )
    mer_id = _mer_id(merchant_dir / _MERCHANT_JSON, platform_dir / _PLATFORM_JSON)
    merchant_key = keyfiles.rsa_private_key(merchant_dir / _MERCHANT_KEY)
    merchant_cert = _cert(
        merchant_dir / _MERCHANT_CERT,
        lambda: issue_leaf(middle_key, middle_cert, merchant_key.public_key(), mer_id, now),
    )
    keyfiles.write_if_missing(
        merchant_dir / _MERCHANT_JSON,
        keyfiles.json_bytes({"merId": mer_id, "certId": cert_id(merchant_cert)}),
    )
    keyfiles.write_if_missing(
        platform_dir / _PLATFORM_JSON, keyfiles.json_bytes({"merIds": [mer_id]})
    )
    keyfiles.write_if_missing(merchant_dir / _TRUST_ROOT, pem_text(root_cert).encode())
    keyfiles.write_if_missing(merchant_dir / _TRUST_MIDDLE, pem_text(middle_cert).encode())
    keyfiles.write_if_missing(
        platform_dir / _MERCHANT_CERTS / f"{cert_id(merchant_cert)}.pem",
        pem_text(merchant_cert).encode(),
    )


def issue_leaf(
    ca_key: RSAPrivateKey,
    ca_cert: x509.Certificate,
    public_key: RSAPublicKey,
    owner: str,
    now: datetime,
    *,
    days: int = 5 * 365,
) -> x509.Certificate:
    """A signing certificate in CFCA's style: CN ``041@Z<n>@<owner>@00000001``."""
    # eleven digits like real certIds, never a leading zero, so the decimal text keeps its length
    serial = secrets.randbelow(9 * 10**10) + 10**10
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "CFCA SIM OCA1"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Local RA OCA1"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Enterprises"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"041@Z{serial}@{owner}@00000001"),
        ]
    )
    return _issue(ca_key, ca_cert, public_key, subject, now, ca=None, serial=serial, days=days)


def load_ca(root: Path) -> tuple[RSAPrivateKey, x509.Certificate]:
    """The intermediate CA's key and certificate (tests use it to issue look-alike certs)."""
    ca_dir = root / CA_DIR
    return keyfiles.load_rsa_private(ca_dir / _MIDDLE_KEY), _load_cert(ca_dir / _MIDDLE_CERT)


def load_merchant_keys(path: Path) -> MerchantKeys:
    """Load ``root/merchant`` (pass that folder)."""
    ids = keyfiles.read_json(path / _MERCHANT_JSON)
    cert = _load_cert(path / _MERCHANT_CERT)
    key = keyfiles.load_rsa_private(path / _MERCHANT_KEY)
    if cert.public_key() != key.public_key():
        raise ValueError(f"{path / _MERCHANT_CERT} does not match {_MERCHANT_KEY}")
    if cert_id(cert) != keyfiles.text_field(ids, "certId"):
        raise ValueError(f"{path / _MERCHANT_JSON} certId does not match the certificate")
    return MerchantKeys(
        mer_id=keyfiles.text_field(ids, "merId"),
        cert_id=cert_id(cert),
        private_key=key,
        sign_cert=cert,
        chain=TrustedChain(_load_cert(path / _TRUST_ROOT), _load_cert(path / _TRUST_MIDDLE)),
    )


def load_platform_keys(path: Path) -> PlatformKeys:
    """Load ``root/platform`` (pass that folder)."""
    ids = keyfiles.read_json(path / _PLATFORM_JSON)
    mer_ids = ids.get("merIds")
    if not isinstance(mer_ids, list) or not mer_ids or not all(isinstance(m, str) for m in mer_ids):
        raise ValueError(f"{path / _PLATFORM_JSON} lacks merIds")
    return PlatformKeys(
        mer_ids=tuple(mer_ids),
        private_key=keyfiles.load_rsa_private(path / _UNIONPAY_KEY),
        sign_cert=_load_cert(path / _UNIONPAY_CERT),
        merchant_certs=keyfiles.by_stem(
            path / _MERCHANT_CERTS, _load_cert, "merchant certificates"
        ),
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _CFCA),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _issue(
    ca_key: RSAPrivateKey,
    ca_cert: x509.Certificate | None,
    public_key: RSAPublicKey,
    subject: x509.Name,
    now: datetime,
    *,
    ca: int | None,
    serial: int | None = None,
    days: int = 20 * 365,
) -> x509.Certificate:
    """``ca`` is the path length for a CA certificate, None for a signing certificate."""
    usage = (
        ("digital_signature", "content_commitment") if ca is None else ("key_cert_sign", "crl_sign")
    )
    return certs.builder(
        subject,
        ca_cert.subject if ca_cert is not None else subject,
        public_key,
        now,
        ca=ca,
        usage=usage,
        valid_for=timedelta(days=days),
        backdated=timedelta(days=1),
        serial=serial,
    ).sign(ca_key, hashes.SHA256())


def _mer_id(merchant_json: Path, platform_json: Path) -> str:
    if merchant_json.exists():
        return keyfiles.text_field(keyfiles.read_json(merchant_json), "merId")
    if platform_json.exists():
        known = keyfiles.read_json(platform_json).get("merIds")
        if isinstance(known, list) and known and isinstance(known[0], str):
            return known[0]
    # 15 digits; 898 is the prefix UnionPay gives directly connected merchants
    return "898" + keyfiles.digits(12)


def _cert(path: Path, make: Callable[[], x509.Certificate]) -> x509.Certificate:
    if path.exists():
        return _load_cert(path)
    cert = make()
    keyfiles.write_if_missing(path, pem_text(cert).encode())
    return cert


def _load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())
