"""What the Alipay simulator remembers: orders (QR codes and trades), refunds, notifications,
delivery attempts and fault knobs."""

from __future__ import annotations

import asyncio
import random
import secrets
import string
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from adapters.alipay.crypto import BEIJING
from adapters.alipay.keys import PlatformKeys
from adapters.alipay.sim_faults import Faults
from adapters.simkit.keyfiles import digits
from adapters.simkit.state import SimBase

# protocols-cn.md 2.6, domestic docs: 8 notifications in about 25 h, the first one at once
RETRY_SCHEDULE_S: tuple[float, ...] = (240, 600, 600, 3600, 7200, 21600, 54000)

WAIT_BUYER_PAY = "WAIT_BUYER_PAY"
TRADE_SUCCESS = "TRADE_SUCCESS"
TRADE_CLOSED = "TRADE_CLOSED"


@dataclass
class DeliveryAttempt:
    """One POST (or one decision not to POST) of a notification to a notify_url."""

    at: str
    round: int
    kind: str  # notify, duplicate
    status: int | None = None
    body: str | None = None
    error: str | None = None


@dataclass
class Notification:
    """One event; every retry carries the same notify_id, a fresh notify_time and sign."""

    notify_id: str
    event: str  # payment, refund, close
    notify_url: str
    params: dict[str, str] = field(repr=False)
    acknowledged: bool = False
    attempts: list[DeliveryAttempt] = field(default_factory=list)


@dataclass
class Refund:
    """Money back to the buyer; a cancel (reversal) has no out_request_no."""

    out_request_no: str | None
    refund_fen: int
    reason: str
    at: datetime
    # the part of the service fee Alipay gives back with it
    fee_back_fen: int = 0


@dataclass
class Order:
    """An out_trade_no at Alipay: a precreated QR (no trade until scanned) or a trade."""

    out_trade_no: str
    scene: str  # precreate, bar_code, wap, cancelled (cancel of an out_trade_no never seen)
    subject: str
    total_fen: int
    body: str
    notify_url: str
    request: dict[str, Any] = field(repr=False)
    created_at: datetime
    time_expire: datetime | None = None
    token: str = ""
    # 手机网站支付: where the browser goes after paying, or when the payer gives up
    return_url: str = ""
    quit_url: str = ""
    page_token: str = ""
    # the trade exists from the scan (precreate) or the pay call (bar_code) on
    trade_no: str | None = None
    status: str = WAIT_BUYER_PAY
    gmt_create: datetime | None = None
    gmt_payment: datetime | None = None
    gmt_close: datetime | None = None
    paid_fen: int | None = None
    fee_fen: int = 0
    buyer_user_id: str = ""
    buyer_logon_id: str = ""
    voided: bool = False  # a QR cancelled before anyone scanned it
    cancel_action: str | None = None
    refunds: list[Refund] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)

    def expired(self, now: datetime) -> bool:
        return self.time_expire is not None and now >= self.time_expire

    def effective_status(self, now: datetime) -> str:
        # Alipay closes a waiting trade at time_expire; we report it closed from then on
        if self.status == WAIT_BUYER_PAY and self.expired(now):
            return TRADE_CLOSED
        return self.status

    def payable(self, now: datetime) -> bool:
        if self.voided or self.scene == "cancelled" or self.expired(now):
            return False
        return self.effective_status(now) == WAIT_BUYER_PAY

    def refunded_fen(self) -> int:
        return sum(r.refund_fen for r in self.refunds)


class SimState(SimBase):
    """All mutable simulator state; one per application, never module-level."""

    def __init__(
        self,
        keys: PlatformKeys,
        *,
        public_base_url: str,
        retry_scale: float,
        notify_timeout_s: float,
        fee_rate_ppm: int,
        seed: int | None,
    ) -> None:
        super().__init__()
        self.keys = keys
        self.public_base_url = public_base_url.rstrip("/")
        self.retry_scale = retry_scale
        self.notify_timeout_s = notify_timeout_s
        # seedable so that a test can replay the same drops; not used for anything secret
        self.rng = random.Random(seed)  # noqa: S311
        self.faults = Faults(fee_rate_ppm=fee_rate_ppm)
        self.orders: dict[str, Order] = {}
        self.by_token: dict[str, str] = {}
        self.by_trade_no: dict[str, str] = {}  # Alipay's trade_no → out_trade_no
        self.by_page: dict[str, str] = {}  # cashier page token → out_trade_no (手机网站支付)
        self.refunds: dict[tuple[str, str], Refund] = {}
        self.bill_links: dict[str, tuple[str, float]] = {}  # token → (bill date, expiry)
        self.held: list[tuple[Notification, int, asyncio.Future[bool]]] = []
        self.flushing = False
        self._wrong_key: RSAPrivateKey | None = None

    @property
    def wrong_key(self) -> RSAPrivateKey:
        """A key Alipay never published, for the forged-signature knobs."""
        if self._wrong_key is None:
            self._wrong_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return self._wrong_key

    def fee_for(self, fen: int) -> int:
        """The service fee on ``fen`` at the configured rate, rounded half up to the fen."""
        return (fen * self.faults.fee_rate_ppm + 500_000) // 1_000_000

    def new_trade_no(self, now: datetime) -> str:
        # 28 digits like Alipay's: the date, 22 and 18 more digits
        return now.astimezone(BEIJING).strftime("%Y%m%d") + "22" + digits(18)

    def new_notify_id(self) -> str:
        return secrets.token_hex(16)

    def new_page_token(self) -> str:
        return secrets.token_urlsafe(18)

    def new_qr_token(self) -> str:
        alphabet = string.ascii_lowercase + string.digits
        return "bax" + "".join(secrets.choice(alphabet) for _ in range(21))


STATE = web.AppKey("alipay_sim_state", SimState)
