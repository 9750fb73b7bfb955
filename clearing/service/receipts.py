"""Receipts anyone can verify: what a printed 缴费凭证 claims, signed by the service.

The QR code on a receipt carries a token: the receipt's money facts (order, case, office, each
line's amount and reference, the total, the payment time) as canonical JSON, signed with the
service's Ed25519 receipt key. Checking a token proves two things: the service issued exactly
these facts (a forged or altered token fails the signature), and the ledger still says so today
(a refunded order, or one whose lines differ, fails the comparison). Tokens carry no name and no
ID number, so a scanned receipt gives away nothing the paper does not.

The key lives in a file (``TONGJIAO_RECEIPT_KEY_FILE``, default ``var/keys/receipt-ed25519.pem``),
never in the database; its id is part of every token so that a rotated key can still be told apart.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearing.db import Conn
from clearing.errors import MalformedRequest

# a receipt may be printed, and is valid, only while the money stays received
PAID_STATES = frozenset({"CLEARED", "SETTLED"})
MAX_TOKEN = 2048


class ReceiptSigner:
    """The service's receipt key; its repr names the key id only."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        raw = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.key_id = hashlib.sha256(raw).hexdigest()[:12]

    def __repr__(self) -> str:
        return f"ReceiptSigner(key_id={self.key_id!r})"

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

    def verify(self, signature: bytes, data: bytes) -> bool:
        try:
            self._key.public_key().verify(signature, data)
        except InvalidSignature:
            return False
        return True


def load_receipt_signer(path: Path) -> ReceiptSigner:
    """Read the PEM key at ``path``, creating it (mode 0600) on first start."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process of the service made it first
            pass
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return ReceiptSigner(key)


def claims(view: dict[str, Any]) -> dict[str, Any]:
    """What a receipt of ``view`` (an order view) asserts about money, in a fixed shape."""
    paid = [p for p in view["payments"] if p["outcome"] == "CLEARED"]
    return {
        "o": view["order_no"],
        "c": view["case_no"],
        "f": view["office"],
        "t": int(view["total_fen"]),
        "l": [[int(ln["amount_fen"]), ln["reference"] or ""] for ln in view["lines"]],
        "x": [p["provider_txn_id"] for p in paid],
    }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(view: dict[str, Any], signer: ReceiptSigner) -> str:
    """The token printed (as a QR code) on the receipt of ``view``."""
    body = {"k": signer.key_id, **claims(view)}
    payload = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    return f"{_b64(payload)}.{_b64(signer.sign(payload))}"


@dataclass(frozen=True)
class Verdict:
    """The answer to "is this receipt genuine?"; a stable ``code``, messages in English and
    Chinese."""

    valid: bool
    code: str
    message: str
    message_zh: str
    claims: dict[str, Any] | None = None
    state: str | None = None


def _malformed() -> MalformedRequest:
    return MalformedRequest(
        "RECEIPT_TOKEN_MALFORMED",
        "this is not a receipt verification code",
        "这不是缴费凭证的核验码，请扫描凭证上的二维码",
    )


def read(token: str, signer: ReceiptSigner) -> tuple[dict[str, Any] | None, Verdict | None]:
    """The claims of a well-signed token, or a failing verdict; a token that is not even shaped
    like one raises ``MalformedRequest``."""
    if len(token) > MAX_TOKEN or token.count(".") != 1:
        raise _malformed()
    head, sig = token.split(".")
    try:
        payload, signature = _unb64(head), _unb64(sig)
        body = json.loads(payload)
    except (binascii.Error, ValueError) as exc:
        raise _malformed() from exc
    if not isinstance(body, dict) or not isinstance(body.get("o"), str):
        raise _malformed()
    if body.get("k") != signer.key_id or not signer.verify(signature, payload):
        return None, Verdict(
            False,
            "RECEIPT_SIGNATURE_INVALID",
            "the receipt was not issued by this service, or was altered after issue",
            "凭证核验未通过：签名无效，该凭证可能系伪造或已被篡改",
        )
    return body, None


async def verify(conn: Conn, token: str, signer: ReceiptSigner) -> Verdict:
    """Check a receipt token against its signature and against the ledger as it is now."""
    from clearing.service import orders  # the order view; imported here to keep this module light

    body, failed = read(token, signer)
    if failed is not None:
        return failed
    assert body is not None
    stated = {k: v for k, v in body.items() if k != "k"}
    view = await orders.unscoped_view(conn, str(body["o"]))
    if view is None:
        return Verdict(
            False,
            "RECEIPT_ORDER_UNKNOWN",
            "the signed order does not exist here",
            "凭证核验未通过：系统中没有该缴费单",
            stated,
        )
    if view["state"] not in PAID_STATES:
        return Verdict(
            False,
            "RECEIPT_NO_LONGER_VALID",
            f"the order is now {view['state']}: the money was returned",
            f"凭证已失效：该缴费单当前状态为“{view['state_zh']}”",
            stated,
            view["state"],
        )
    if claims(view) != stated:
        return Verdict(
            False,
            "RECEIPT_MISMATCH",
            "the receipt does not match the order as recorded",
            "凭证核验未通过：凭证内容与系统记录不一致",
            stated,
            view["state"],
        )
    return Verdict(
        True, "RECEIPT_VALID", "the receipt is genuine", "凭证真实有效", stated, view["state"]
    )
