"""Receipts anyone can verify: the answer to a scanned 缴费凭证, against the ledger as it is now.

Receipts printed now carry a short code naming a stored print (``receipt_prints``: its facts,
MACed); receipts printed before carry a long token — the money facts (order, case, office, each
line's amount and reference, the total, the payment) as canonical JSON signed with the service's
Ed25519 receipt key. Both are checked the same way: the MAC or signature proves the service
issued exactly these facts, and the ledger, line by line, proves they still hold (a refunded
line, or a refunded order, fails). Neither carries a name or ID number, so a scanned receipt
gives away nothing the paper does not.

The key lives in a file (``TONGJIAO_RECEIPT_KEY_FILE``, default ``var/keys/receipt-ed25519.pem``),
never in the database; its id is part of every long token so that a rotated key can still be told
apart, and the short codes' MAC key is derived from it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearing.db import Conn
from clearing.errors import MalformedRequest
from clearing.security import load_or_create_ed25519
from clearing.service import receipt_prints as prints

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
        # the short codes' MAC key, derived from the receipt key so that one file holds both
        secret = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        self._mac_key = hashlib.sha256(b"tongjiao receipt code v1\0" + secret).digest()

    def __repr__(self) -> str:
        return f"ReceiptSigner(key_id={self.key_id!r})"

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

    def mac(self, data: bytes) -> bytes:
        """80 bits of HMAC-SHA256: the short verification code of a stored print."""
        return hmac.digest(self._mac_key, data, "sha256")[:10]

    def verify(self, signature: bytes, data: bytes) -> bool:
        try:
            self._key.public_key().verify(signature, data)
        except InvalidSignature:
            return False
        return True


def load_receipt_signer(path: Path) -> ReceiptSigner:
    """Read the PEM key at ``path``, creating it (mode 0600) on first start."""
    return ReceiptSigner(load_or_create_ed25519(path))


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
    Chinese, and — once the code is known to be ours — what stands now: each line of the order
    with what of it was refunded (``lines``), the net paid, and how often it was reprinted."""

    valid: bool
    code: str
    message: str
    message_zh: str
    claims: dict[str, Any] | None = None
    state: str | None = None
    lines: list[dict[str, Any]] | None = None
    paid_fen: int | None = None
    receipt_no: str | None = None
    reprint_no: int | None = None
    reprints: int | None = None


def _line_now(line: dict[str, Any], refunded: dict[int, int]) -> dict[str, Any]:
    n, amount = int(line["line_no"]), int(line["amount_fen"])
    back = min(refunded.get(n, 0), amount)
    return {
        "line_no": n,
        "item_name": line["item_name"],
        "beneficiary_name": line["beneficiary_name"],
        "reference": line["reference"] or "",
        "amount_fen": amount,
        "refunded_fen": back,
        "refunded": back > 0,
    }


_FORGED = (
    "RECEIPT_SIGNATURE_INVALID",
    "the receipt was not issued by this service, or was altered after issue",
    "凭证核验未通过：签名无效，该凭证可能系伪造或已被篡改",
)


def _judge(
    view: dict[str, Any],
    refunded: dict[int, int],
    stated: dict[int, tuple[int, str, int]],
    *,
    shape_matches: bool,
    **extra: Any,
) -> Verdict:
    """Compare what a receipt states, line by line (line → amount, reference, refunded fen),
    with the order and its ledger now."""
    lines = [_line_now(ln, refunded) for ln in view["lines"]]
    paid = sum(x["amount_fen"] - x["refunded_fen"] for x in lines)
    now = {"state": view["state"], "lines": lines, "paid_fen": paid, **extra}
    if view["state"] not in PAID_STATES:
        return Verdict(
            False,
            "RECEIPT_NO_LONGER_VALID",
            f"the order is now {view['state']}: the money was returned",
            f"凭证已失效：该缴费单当前状态为“{view['state_zh']}”",
            **now,
        )
    by_no = {x["line_no"]: x for x in lines}
    same_lines = shape_matches and stated.keys() == by_no.keys()
    if same_lines and all(
        (by_no[n]["amount_fen"], by_no[n]["reference"]) == (amount, ref)
        for n, (amount, ref, _back) in stated.items()
    ):
        gone = [n for n, (_a, _r, back) in stated.items() if by_no[n]["refunded_fen"] > back]
        if gone:
            names = "、".join(str(by_no[n]["item_name"]) for n in gone)
            return Verdict(
                False,
                "RECEIPT_PARTLY_REFUNDED",
                f"line(s) {gone} of this receipt were refunded since it was printed",
                f"已部分退款，凭证已失效：{names}已退款，请以补打的凭证为准",
                **now,
            )
        if all(by_no[n]["refunded_fen"] == back for n, (_a, _r, back) in stated.items()):
            return Verdict(True, "RECEIPT_VALID", "the receipt is genuine", "凭证真实有效", **now)
    return Verdict(
        False,
        "RECEIPT_MISMATCH",
        "the receipt does not match the order as recorded",
        "凭证核验未通过：凭证内容与系统记录不一致",
        **now,
    )


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
        return None, Verdict(False, *_FORGED)
    return body, None


async def verify(conn: Conn, token: str, signer: ReceiptSigner) -> Verdict:
    """Check a receipt's verification code — a short print code (``TJ…-n.mac``) or a long signed
    token from receipts printed before short codes — against the ledger as it is now."""
    from clearing.service import orders  # the order view; imported here to keep this module light

    if prints.CODE_RE.fullmatch(token):
        return await _verify_print(conn, token, signer)
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
    refunded = await prints.refunded_by_line(conn, view["order_no"])
    mine = claims(view)
    # a long token states every line as paid, in line order
    by_line = {
        int(ln["line_no"]): (int(amount), str(ref), 0)
        for ln, (amount, ref) in zip(view["lines"], stated.get("l") or [], strict=False)
    }
    same_rest = {k: v for k, v in stated.items() if k != "l"} == {
        k: v for k, v in mine.items() if k != "l"
    } and len(stated.get("l") or []) == len(view["lines"])
    return _judge(view, refunded, by_line, shape_matches=same_rest, claims=stated)


async def _verify_print(conn: Conn, code: str, signer: ReceiptSigner) -> Verdict:
    from clearing.service import orders

    match = prints.CODE_RE.fullmatch(code)
    assert match is not None
    printed = await prints.by_receipt_no(conn, match[1], signer.mac)
    # an unknown receipt number answers like a wrong MAC: no way to probe which numbers exist
    if printed is None or not hmac.compare_digest(printed.code, code):
        return Verdict(False, *_FORGED)
    view = await orders.unscoped_view(conn, printed.order_no)
    assert view is not None  # a print refers to its order
    refunded = await prints.refunded_by_line(conn, printed.order_no)
    count = await conn.fetchval(
        "SELECT count(*) FROM receipt_prints"
        " WHERE order_id = (SELECT id FROM orders WHERE order_no = $1)",
        printed.order_no,
    )
    f = printed.facts
    stated = {int(n): (int(a), str(r), int(b)) for n, a, r, b in f["l"]}
    same_rest = (f["o"], f["c"], f["f"], int(f["t"]), f["x"]) == (
        view["order_no"],
        view["case_no"],
        view["office"],
        int(view["total_fen"]),
        [p["provider_txn_id"] for p in view["payments"] if p["outcome"] == "CLEARED"],
    )
    return _judge(
        view,
        refunded,
        stated,
        shape_matches=same_rest,
        claims={"o": f["o"], "c": f["c"], "t": int(f["t"]), "p": int(f["p"])},
        receipt_no=printed.receipt_no,
        reprint_no=printed.reprint_no,
        reprints=int(count) - 1,
    )
