"""What the WeChat Pay simulator remembers: orders, refunds, reversals, notifications and their
delivery attempts, issued bill links, and the fault knobs (``sim_faults``); and how its
notifications are signed and acknowledged (``simkit.notify`` runs the rounds)."""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Unpack

from aiohttp import web

from adapters import wiretime
from adapters.simkit.acquirer import Acquirer, Reach
from adapters.simkit.bills import Links
from adapters.simkit.keyfiles import digits
from adapters.simkit.notify import Notice, Signed
from adapters.wechatpay import crypto
from adapters.wechatpay.keys import PlatformKeys
from adapters.wechatpay.sim_faults import Faults

BEIJING = wiretime.BEIJING

# protocols-cn.md 1.6: fifteen retries after the first attempt, 24 h 4 min in all
RETRY_SCHEDULE_S: tuple[float, ...] = (
    15,
    15,
    30,
    180,
    600,
    1200,
    1800,
    1800,
    1800,
    3600,
    10800,
    10800,
    10800,
    21600,
    21600,
)
# a Wechatpay-Serial that no merchant was ever given, for the wrong_serial knob
UNKNOWN_SERIAL = "PUB_KEY_ID_0000000000000000000000000000"
STALE_BY_S = 600


def rfc3339(moment: datetime) -> str:
    """WeChat's time format: Beijing offset, whole seconds."""
    return moment.astimezone(BEIJING).isoformat(timespec="seconds")


@dataclass
class Refund:
    """A refund, or (with an empty ``out_refund_no``) the money a reversal gave back."""

    out_refund_no: str
    refund_id: str
    refund_fen: int
    total_fen: int
    reason: str
    status: str
    create_time: str
    success_time: str | None
    notify_url: str = ""


@dataclass
class Order:
    out_trade_no: str
    description: str
    total_fen: int
    notify_url: str
    attach: str
    time_expire: datetime | None
    request: dict[str, Any] = field(repr=False)
    pr: str
    created_at: datetime
    state: str = "NOTPAY"
    transaction_id: str | None = None
    paid_fen: int | None = None
    success_time: str | None = None
    openid: str | None = None
    trade_type: str = "NATIVE"
    # the fee rate in force when the money moved, in millionths (0.60% = 6000)
    fee_ppm: int = 0
    refunds: list[Refund] = field(default_factory=list)
    reversal: Refund | None = None
    notifications: list[Notice] = field(default_factory=list)

    def expired(self, now: datetime) -> bool:
        return self.time_expire is not None and now >= self.time_expire

    def effective_state(self, now: datetime) -> str:
        # WeChat stops accepting payment at time_expire; we report the order closed from then on
        if self.state == "NOTPAY" and self.expired(now):
            return "CLOSED"
        return self.state

    def refunded_fen(self) -> int:
        return sum(r.refund_fen for r in self.refunds if r.status != "CLOSED")


TRADE_STATE_DESC = {
    "NOTPAY": "订单未支付",
    "SUCCESS": "支付成功",
    "CLOSED": "订单已关闭",
    "REFUND": "转入退款",
    "USERPAYING": "需要用户输入支付密码",
    "PAYERROR": "支付失败，请重新下单支付",
    "REVOKED": "已撤销",
}


def transaction_json(keys: PlatformKeys, order: Order, now: datetime) -> dict[str, Any]:
    """The transaction as query answers and TRANSACTION.SUCCESS resources show it."""
    state = order.effective_state(now)
    total = order.paid_fen if order.paid_fen is not None else order.total_fen
    data: dict[str, Any] = {
        "appid": keys.appid,
        "mchid": keys.mchid,
        "out_trade_no": order.out_trade_no,
        "trade_type": order.trade_type,
        "trade_state": state,
        "trade_state_desc": TRADE_STATE_DESC[state],
        "attach": order.attach,
        "amount": {"total": total, "currency": "CNY", "payer_currency": "CNY"},
    }
    if order.transaction_id is not None:
        data["transaction_id"] = order.transaction_id
        data["bank_type"] = "OTHERS"
        data["success_time"] = order.success_time
        data["payer"] = {"openid": order.openid}
        data["amount"]["payer_total"] = total
    return data


def refund_resource(keys: PlatformKeys, order: Order, refund: Refund) -> dict[str, Any]:
    """A refund as REFUND.* notification resources show it (protocols-cn.md 1.5)."""
    paid = order.paid_fen or 0
    data: dict[str, Any] = {
        "mchid": keys.mchid,
        "out_trade_no": order.out_trade_no,
        "transaction_id": order.transaction_id,
        "out_refund_no": refund.out_refund_no,
        "refund_id": refund.refund_id,
        "refund_status": refund.status,
        "user_received_account": "支付用户零钱",
        "amount": {
            "total": refund.total_fen,
            "refund": refund.refund_fen,
            "payer_total": paid,
            "payer_refund": refund.refund_fen,
        },
    }
    if refund.success_time is not None:
        data["success_time"] = refund.success_time
    return data


def refund_json(order: Order, refund: Refund) -> dict[str, Any]:
    """A refund as the refund and refund-query answers show it."""
    paid = order.paid_fen or 0
    return {
        "refund_id": refund.refund_id,
        "out_refund_no": refund.out_refund_no,
        "transaction_id": order.transaction_id,
        "out_trade_no": order.out_trade_no,
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "success_time": refund.success_time,
        "create_time": refund.create_time,
        "status": refund.status,
        "funds_account": "AVAILABLE",
        "amount": {
            "total": refund.total_fen,
            "refund": refund.refund_fen,
            "payer_total": paid,
            "payer_refund": refund.refund_fen,
            "settlement_total": paid,
            "settlement_refund": refund.refund_fen,
            "discount_refund": 0,
            "currency": "CNY",
            "refund_fee": 0,
        },
    }


class SimState(Acquirer[PlatformKeys]):
    """All mutable simulator state; one per application, never module-level."""

    SCHEDULE = RETRY_SCHEDULE_S
    faults: Faults

    def __init__(self, keys: PlatformKeys, *, fee_ppm: int = 0, **reach: Unpack[Reach]) -> None:
        super().__init__(keys, **reach)
        self.faults = Faults()
        self.fee_ppm = fee_ppm
        self.orders: dict[str, Order] = {}
        self.by_pr: dict[str, str] = {}
        self.by_transaction: dict[str, str] = {}
        self.refunds: dict[str, tuple[str, Refund]] = {}
        # bill download links: the file's bytes as served, for five minutes
        self.bill_links: Links[bytes] = Links(timedelta(minutes=5))

    def sign(self, notice: Notice, kind: str) -> Signed:
        faults = self.faults
        timestamp = int(time.time()) - (STALE_BY_S if faults.stale_timestamp else 0)
        headers = crypto.response_headers(
            private_key=self.wrong_key if faults.bad_signature else self.keys.private_key,
            serial=UNKNOWN_SERIAL if faults.wrong_serial else self.keys.public_key_id,
            body=notice.payload,
            timestamp=timestamp,
            nonce=crypto.new_nonce(),
        )
        if kind == "probe":
            noise = base64.b64encode(secrets.token_bytes(48)).decode()
            headers["Wechatpay-Signature"] = crypto.PROBE_PREFIX + noise
        headers["Content-Type"] = "application/json"
        return notice.payload, headers

    def acknowledged(self, status: int, answer: bytes) -> bool:
        # WeChat reads only the status: 200 or 204 is an acknowledgement, whatever the body says
        return status in (200, 204)

    async def round(self, notice: Notice, round_no: int) -> bool:
        if self.faults.probe:
            # a WECHATPAY/SIGNTEST/ probe first, as WeChat sends them to check the merchant
            await self.post(notice, round_no, "probe")
        return await super().round(notice, round_no)

    def settle(self, order: Order, amount_fen: int, now: datetime, openid: str = "") -> None:
        """The money is taken: the order succeeds with a transaction id, at today's fee rate."""
        order.state = "SUCCESS"
        order.transaction_id = self.new_transaction_id(now)
        order.paid_fen = amount_fen
        order.success_time = rfc3339(now)
        order.openid = openid or "o" + secrets.token_urlsafe(21)
        order.fee_ppm = self.fee_ppm
        self.by_transaction[order.transaction_id] = order.out_trade_no

    def new_transaction_id(self, now: datetime) -> str:
        # 28 digits like WeChat's: 4200 + a 4-digit channel + yyyymmdd + 12 digits
        return "4200" + digits(4) + now.astimezone(BEIJING).strftime("%Y%m%d") + digits(12)

    def new_refund_id(self, now: datetime) -> str:
        return "50" + digits(8) + now.astimezone(BEIJING).strftime("%Y%m%d") + digits(11)

    def new_event_id(self, now: datetime) -> str:
        return "EV-" + now.astimezone(BEIJING).strftime("%Y%m%d%H%M%S") + digits(6)


STATE = web.AppKey("wechatpay_sim_state", SimState)
