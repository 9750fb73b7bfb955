"""What the Alipay simulator remembers: orders (QR codes and trades), refunds, notifications,
delivery attempts and fault knobs; and how its notifications are signed and acknowledged
(``simkit.notify`` runs the rounds)."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Unpack
from urllib.parse import urlencode

from aiohttp import web

from adapters.alipay import crypto
from adapters.alipay.crypto import BEIJING
from adapters.alipay.keys import PlatformKeys
from adapters.alipay.sim_faults import Faults
from adapters.simkit.acquirer import Acquirer, Reach
from adapters.simkit.bills import Links
from adapters.simkit.keyfiles import digits
from adapters.simkit.notify import Notice, Signed

# protocols-cn.md 2.6, domestic docs: 8 notifications in about 25 h, the first one at once
RETRY_SCHEDULE_S: tuple[float, ...] = (240, 600, 600, 3600, 7200, 21600, 54000)
ACK_BODY = b"success"

WAIT_BUYER_PAY = "WAIT_BUYER_PAY"
TRADE_SUCCESS = "TRADE_SUCCESS"
TRADE_CLOSED = "TRADE_CLOSED"


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
    notifications: list[Notice] = field(default_factory=list)

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


class SimState(Acquirer[PlatformKeys]):
    """All mutable simulator state; one per application, never module-level."""

    SCHEDULE = RETRY_SCHEDULE_S
    # with reorder_callbacks every round waits for its burst, retries too
    HOLD_EVERY_ROUND = True
    faults: Faults

    def __init__(
        self, keys: PlatformKeys, *, fee_rate_ppm: int = 0, **reach: Unpack[Reach]
    ) -> None:
        super().__init__(keys, **reach)
        self.faults = Faults(fee_rate_ppm=fee_rate_ppm)
        self.orders: dict[str, Order] = {}
        self.by_token: dict[str, str] = {}
        self.by_trade_no: dict[str, str] = {}  # Alipay's trade_no → out_trade_no
        self.by_page: dict[str, str] = {}  # cashier page token → out_trade_no (手机网站支付)
        self.refunds: dict[tuple[str, str], Refund] = {}
        # bill download links, for the day they are the bill of: valid for 30 s, like Alipay's
        self.bill_links: Links[date] = Links(timedelta(seconds=30), lambda: secrets.token_hex(16))

    def sign(self, notice: Notice, kind: str) -> Signed:
        """A form POST: the notification's parameters with a fresh notify_time, then the
        signature (or a fault's)."""
        faults = self.faults
        params = dict(notice.payload)
        params["notify_time"] = crypto.beijing_text(datetime.now(BEIJING))
        if faults.wrong_app_id:
            params["app_id"] = "2021" + digits(12)
        if faults.wrong_seller_id:
            params["seller_id"] = "2088" + digits(12)
        params["sign_type"] = crypto.SIGN_TYPE
        if not faults.unsigned_callbacks:
            key = self.wrong_key if faults.bad_signature else self.keys.private_key
            params["sign"] = crypto.sign(key, crypto.notify_content(params))
        content_type = "application/x-www-form-urlencoded; charset=utf-8"
        return urlencode(params), {"Content-Type": content_type}

    def acknowledged(self, status: int, answer: bytes) -> bool:
        # Alipay reads the body: only the seven characters "success" stop the retries
        return status == 200 and answer == ACK_BODY

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
