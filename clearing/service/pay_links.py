"""The link on a payment notice (缴费通知书) that opens the mobile payment page for one order.

``/m/{token}``: the token names the order and the moment the link dies, and carries an HMAC-SHA256
over both under the service's pay-link key (``var/keys/pay-link-hmac.key``, made on first start).
A token is useless for any other order (the order number is inside the MAC) and after its expiry,
which is the order's own; the page still checks the order's state on every request, so a link to
a paid, cancelled or expired order shows that and offers no payment.

The token is short enough for a QR code a phone reads at arm's length and for an SMS: the order
number, the expiry in seconds, and the first 16 bytes of the MAC, base64url without padding.
The order number is not secret (it is printed on the notice); what the link must not do is let
anyone derive another order's link, which needs the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from clearing.errors import NotFound

_MAC_BYTES = 16
_TOKEN = re.compile(r"^([A-Za-z0-9-]{1,40})\.([0-9a-z]{1,10})\.([A-Za-z0-9_-]{22})$")


@dataclass(frozen=True)
class PayLink:
    order_no: str
    expires_at: datetime


def _mac(key: bytes, order_no: str, expires: int) -> str:
    digest = hmac.new(key, f"pay-link|{order_no}|{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:_MAC_BYTES]).rstrip(b"=").decode()


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def make_token(key: bytes, order_no: str, expires_at: datetime) -> str:
    """The token for ``order_no`` that stops working at ``expires_at`` (whole seconds)."""
    if not re.fullmatch(r"[A-Za-z0-9-]{1,40}", order_no):
        raise ValueError(f"not an order number: {order_no!r}")
    expires = int(expires_at.timestamp())
    return f"{order_no}.{_base36(expires)}.{_mac(key, order_no, expires)}"


def _bad(reason: str) -> NotFound:
    return NotFound(
        "PAY_LINK_INVALID",
        f"This payment link is not valid: {reason}",
        "缴费链接无效，请向窗口工作人员索取新的缴费通知书",
    )


def read_token(key: bytes, token: str, *, now: datetime) -> PayLink:
    """The order a token opens, or ``PAY_LINK_INVALID`` (404, so that a guessed or altered link
    learns nothing) when it is malformed, forged or past its expiry."""
    m = _TOKEN.match(token)
    if m is None:
        raise _bad("malformed")
    order_no, exp36, mac = m.groups()
    expires = int(exp36, 36)
    if not hmac.compare_digest(mac, _mac(key, order_no, expires)):
        raise _bad("signature does not match")
    expires_at = datetime.fromtimestamp(expires, UTC)
    if now >= expires_at:
        raise _bad("expired")
    return PayLink(order_no=order_no, expires_at=expires_at)


def link_url(public_base_url: str, token: str) -> str:
    """The absolute URL a notice prints and an SMS carries."""
    return f"{public_base_url.rstrip('/')}/m/{token}"
