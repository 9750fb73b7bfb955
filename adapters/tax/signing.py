"""MACs on our requests, signatures on the bureau's answers and certificates (PROTOCOL.md).

Requests: ``X-Tdx-Mac: HMAC-SM3 <hex>`` over the exact body bytes under the shared access token,
the way the CNNONTAX frame appends SHA-256(token + XML), but keyed properly (HMAC) and with SM3,
the 国密 digest the bureau's front-ends use. The body carries ``TraNo`` (a fresh 20-digit serial)
and ``SendTime``, so the MAC also covers what makes a replay detectable.

Answers: ``X-Tdx-Signature: KeyId="…", Alg="SM3withECDSA", Signature="<base64 DER>"`` over the
exact answer bytes, by the bureau's private key. Each answer echoes our ``TraNo`` as ``OriTraNo``
inside the signed body, which binds it to the request it answers. The bureau uses SM2; the
``cryptography`` package has no SM2, so ECDSA on P-256 with SM3 stands in for it here, with the
same key size, digest and DER signature shape.

Completion certificates (完税证明) carry a signature of their own over one pipe-joined line, so
that the proof printed on a receipt can be checked without the answer it came in.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import string
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.asymmetric import ec

from adapters import signatures

MAC_HEADER = "X-Tdx-Mac"
SRC_HEADER = "X-Tdx-Src"  # our SrcOrgCode, so the front-end knows whose token to use
SIGNATURE_HEADER = "X-Tdx-Signature"
MAC_ALG = "HMAC-SM3"
SIGN_ALG = "SM3withECDSA"
MAX_SKEW_S = 300

_SIGN_FIELDS = ("KeyId", "Alg", "Signature")


def new_tra_no() -> str:
    """A 20-digit request serial: unique per request, the nonce the bureau remembers."""
    return "".join(secrets.choice(string.digits) for _ in range(20))


def request_mac(token: bytes, body: bytes) -> str:
    """Lower-case hex HMAC-SM3 of the exact body bytes."""
    mac = crypto_hmac.HMAC(token, hashes.SM3())
    mac.update(body)
    return mac.finalize().hex()


def mac_header(token: bytes, body: bytes) -> str:
    return f"{MAC_ALG} {request_mac(token, body)}"


def check_mac(token: bytes, body: bytes, header: str) -> bool:
    """Whether ``header`` is the right MAC of ``body``; constant time in the MAC."""
    alg, _, given = header.strip().partition(" ")
    if alg != MAC_ALG:
        return False
    return hmac.compare_digest(request_mac(token, body).encode(), given.strip().encode())


def _sign(private_key: ec.EllipticCurvePrivateKey, message: bytes) -> str:
    raw = private_key.sign(message, ec.ECDSA(hashes.SM3()))
    return base64.b64encode(raw).decode("ascii")


def _verify(public_key: ec.EllipticCurvePublicKey, message: bytes, signature_b64: str) -> bool:
    try:
        raw = base64.b64decode(signature_b64, validate=True)
        public_key.verify(raw, message, ec.ECDSA(hashes.SM3()))
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def signature_header(private_key: ec.EllipticCurvePrivateKey, *, key_id: str, body: bytes) -> str:
    """The ``X-Tdx-Signature`` value for an answer whose exact bytes are ``body``."""
    signature = _sign(private_key, body)
    return f'KeyId="{key_id}", Alg="{SIGN_ALG}", Signature="{signature}"'


@dataclass(frozen=True)
class AnswerSignature:
    key_id: str
    alg: str
    signature: str


def parse_signature_header(header: str) -> AnswerSignature:
    """Split an ``X-Tdx-Signature`` value; ``ValueError`` when it is malformed."""
    found = signatures.quoted_params(header, _SIGN_FIELDS)
    return AnswerSignature(found["KeyId"], found["Alg"], found["Signature"])


def verify_answer(public_key: ec.EllipticCurvePublicKey, body: bytes, signature_b64: str) -> bool:
    return _verify(public_key, body, signature_b64)


def certificate_line(
    *, tax_org_code: str, cert_no: str, tax_vou_no: str, tra_amt: str, tax_date: str
) -> bytes:
    """What a 完税证明 signature covers: ``TaxOrgCode|CertNo|TaxVouNo|TraAmt|TaxDate``."""
    return "|".join((tax_org_code, cert_no, tax_vou_no, tra_amt, tax_date)).encode("ascii")


def sign_certificate(private_key: ec.EllipticCurvePrivateKey, line: bytes) -> str:
    return _sign(private_key, line)


def verify_certificate(public_key: ec.EllipticCurvePublicKey, line: bytes, signature: str) -> bool:
    return _verify(public_key, line, signature)
