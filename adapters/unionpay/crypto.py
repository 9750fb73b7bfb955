"""ACP 5.1.0 signatures and UnionPay certificate checks (protocols-cn.md 3.1).

Signing (``signMethod 01``): sort every field but ``signature`` by name, join as ``k=v&…`` (UTF-8,
no encoding), take the lower-case hex SHA-256 of that, and sign *the hex text* with SHA256withRSA.
UnionPay puts its signing certificate in every answer and notification (``signPubKeyCert``); it is
trusted only when it chains to the configured root and intermediate and names UnionPay as owner.
Both sides live here so that the client and the simulator cannot drift apart.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from adapters import signatures

# the owner part of a UnionPay signing certificate's CN: "041@Z…@<owner>@<seq>"
UNIONPAY_OWNER = "中国银联股份有限公司"
# CFCA enterprise certificates carry this organizational unit
ENTERPRISE_OU = "Enterprises"


class UntrustedCert(Exception):
    """``signPubKeyCert`` is not a UnionPay signing certificate we trust; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def signing_string(fields: Mapping[str, str]) -> bytes:
    """What is hashed: every field except ``signature``, sorted by name, ``k=v`` joined by ``&``."""
    return "&".join(f"{k}={fields[k]}" for k in sorted(fields) if k != "signature").encode()


def _digest_hex(fields: Mapping[str, str]) -> bytes:
    return hashlib.sha256(signing_string(fields)).hexdigest().encode("ascii")


def sign(fields: Mapping[str, str], private_key: RSAPrivateKey) -> str:
    """The Base64 ``signature`` value for ``fields``."""
    return signatures.rsa_sign(private_key, _digest_hex(fields))


def verify(fields: Mapping[str, str], public_key: RSAPublicKey) -> bool:
    """True when ``fields["signature"]`` signs the other fields under ``public_key``."""
    return signatures.rsa_verify(public_key, _digest_hex(fields), fields.get("signature", ""))


def cert_id(cert: x509.Certificate) -> str:
    """``certId``: the certificate serial number in decimal, as the ACP SDKs print it."""
    return str(cert.serial_number)


def pem_text(cert: x509.Certificate) -> str:
    return cert.public_bytes(Encoding.PEM).decode("ascii")


def load_cert(pem: str | bytes) -> x509.Certificate:
    """One PEM certificate; ``UntrustedCert`` when it does not parse."""
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        raise UntrustedCert("signPubKeyCert is not a PEM certificate") from None


def cn_owner(cert: x509.Certificate) -> str:
    """The third ``@``-separated part of the subject CN (how the ACP SDKs identify the owner)."""
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(names) != 1:
        return ""
    value = names[0].value
    parts = (value if isinstance(value, str) else value.decode("utf-8", "replace")).split("@")
    return parts[2] if len(parts) > 2 else ""


def _ous(cert: x509.Certificate) -> set[str]:
    return {
        v if isinstance(v, str) else v.decode("utf-8", "replace")
        for v in (
            a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
        )
    }


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _current(cert: x509.Certificate, now: datetime, what: str) -> None:
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise UntrustedCert(f"{what} certificate is not valid now")


class TrustedChain:
    """The UnionPay root and intermediate we were configured with; checks signing certificates."""

    def __init__(self, root: x509.Certificate, middle: x509.Certificate) -> None:
        try:
            middle.verify_directly_issued_by(root)
        except (ValueError, TypeError, InvalidSignature):
            raise ValueError("the intermediate certificate is not issued by the root") from None
        if not (_is_ca(root) and _is_ca(middle)):
            raise ValueError("root and intermediate must be CA certificates")
        self.root = root
        self.middle = middle

    def __repr__(self) -> str:
        return f"TrustedChain(root={self.root.subject.rfc4514_string()!r})"

    def check(self, cert: x509.Certificate, now: datetime) -> RSAPublicKey:
        """The certificate's key, or ``UntrustedCert`` naming the first check that failed."""
        try:
            cert.verify_directly_issued_by(self.middle)
        except (ValueError, TypeError, InvalidSignature):
            raise UntrustedCert("certificate does not chain to the UnionPay intermediate") from None
        for what, c in (("signing", cert), ("intermediate", self.middle), ("root", self.root)):
            _current(c, now, what)
        if _is_ca(cert):
            raise UntrustedCert("a CA certificate cannot sign messages")
        if cn_owner(cert) != UNIONPAY_OWNER:
            raise UntrustedCert("certificate owner is not UnionPay")
        if ENTERPRISE_OU not in _ous(cert):
            raise UntrustedCert("certificate lacks the enterprise OU")
        key = cert.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise UntrustedCert("certificate key is not RSA")
        return key
