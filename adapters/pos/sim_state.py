"""What the terminal-cloud simulator remembers: terminals and their batches, sales, the host's
transaction journal (what settlement files are made of), deliveries and fault knobs."""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, ClassVar

from aiohttp import web

from adapters.pos.keys import PlatformKeys
from adapters.simkit.faults import Knobs
from adapters.simkit.keyfiles import digits
from adapters.simkit.state import SimBase

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
TIME_FORMAT = "%Y%m%d%H%M%S"
REFUND_STATES = ("SUCCESS", "PROCESSING")

# The bank's notification schedule (招商银行 open platform): after the first attempt at 0 s,
# again at 10 s, 30 s, 1 min, 3 min, 10 min, 30 min, 1 h, 6 h and 20 h. Offsets, not gaps.
RETRY_OFFSETS_S: tuple[float, ...] = (10, 30, 60, 180, 600, 1800, 3600, 21600, 72000)

# ISO 8583 field 39 answers a cardholder can get at the terminal
DECLINES = {
    "05": "不予承兑",
    "14": "无效卡号",
    "51": "余额不足",
    "54": "过期的卡",
    "55": "密码错",
    "61": "超出取款金额限制",
    "75": "允许的输入PIN次数超限",
}


def wire_time(moment: datetime) -> str:
    return moment.astimezone(BEIJING).strftime(TIME_FORMAT)


def mask(card_no: str) -> str:
    return card_no[:6] + "*" * (len(card_no) - 10) + card_no[-4:]


@dataclass
class Terminal:
    terminal_id: str
    batch_no: int = 1
    trace: int = 0
    pending: str | None = None  # the out_trade_no on its screen

    def next_trace(self) -> str:
        self.trace = self.trace % 999_999 + 1
        return f"{self.trace:06d}"

    @property
    def batch(self) -> str:
        return f"{self.batch_no:06d}"


@dataclass
class Txn:
    """One financial message the acquiring host accepted: a line of the settlement file."""

    txn_type: str  # SALE, VOID, RFND, REVS
    terminal_id: str
    batch_no: str
    trace_no: str
    txn_time: datetime
    card_no: str  # masked
    card_type: str
    amount_fen: int
    fee_millifen: int
    rrn: str
    auth_code: str
    out_trade_no: str
    out_refund_no: str = ""
    orig_batch_no: str = ""
    orig_trace_no: str = ""
    orig_rrn: str = ""
    settle_date: date | None = None


@dataclass
class Refund:
    out_refund_no: str
    out_trade_no: str
    refund_type: str  # VOID or REFUND
    amount_fen: int
    reason: str
    state: str
    txn: Txn


@dataclass
class DeliveryAttempt:
    """One POST (or one decision not to POST) of a notification."""

    at: str
    round: int
    kind: str  # notify, duplicate, replay
    status: int | None = None
    error: str | None = None


@dataclass
class Notification:
    """One result; every retry carries the same id and body, each signed afresh."""

    notify_id: str
    notify_url: str
    body: bytes = field(repr=False)
    acknowledged: bool = False
    attempts: list[DeliveryAttempt] = field(default_factory=list)


@dataclass
class Sale:
    out_trade_no: str
    terminal_id: str
    amount_fen: int
    description: str
    notify_url: str
    request: dict[str, Any] = field(repr=False)
    created_at: datetime
    state: str = "WAITING"
    card_no: str = ""  # masked as soon as it is read
    card_type: str = ""
    entry_mode: str = ""
    resp_code: str = ""
    resp_msg: str = ""
    paid_fen: int | None = None
    txn: Txn | None = None
    result_lost: bool = False
    refunds: list[Refund] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)

    def refunded_fen(self) -> int:
        return sum(r.amount_fen for r in self.refunds)


def sale_json(keys: PlatformKeys, sale: Sale) -> dict[str, Any]:
    """A sale as answers and notifications show it; the card number only ever masked."""
    txn = sale.txn
    batch_state = ""
    if txn is not None:
        batch_state = "SETTLED" if txn.settle_date else "OPEN"
    return {
        "merchant_id": keys.merchant_id,
        "terminal_id": sale.terminal_id,
        "out_trade_no": sale.out_trade_no,
        "description": sale.description,
        "amount": sale.paid_fen if sale.paid_fen is not None else sale.amount_fen,
        "currency": "156",
        "state": sale.state,
        "create_time": wire_time(sale.created_at),
        "resp_code": sale.resp_code,
        "resp_msg": sale.resp_msg,
        "card_no": sale.card_no,
        "card_type": sale.card_type,
        "entry_mode": sale.entry_mode,
        "batch_no": txn.batch_no if txn else "",
        "trace_no": txn.trace_no if txn else "",
        "rrn": txn.rrn if txn else "",
        "auth_code": txn.auth_code if txn else "",
        "txn_time": wire_time(txn.txn_time) if txn else "",
        "batch_state": batch_state,
        "settle_date": txn.settle_date.strftime("%Y%m%d") if txn and txn.settle_date else "",
        "refunded_amount": sale.refunded_fen(),
    }


def refund_json(refund: Refund) -> dict[str, Any]:
    txn = refund.txn
    return {
        "out_refund_no": refund.out_refund_no,
        "out_trade_no": refund.out_trade_no,
        "refund_type": refund.refund_type,
        "amount": refund.amount_fen,
        "state": refund.state,
        "reason": refund.reason,
        "terminal_id": txn.terminal_id,
        "batch_no": txn.batch_no,
        "trace_no": txn.trace_no,
        "rrn": txn.rrn,
        "orig_rrn": txn.orig_rrn,
        "txn_time": wire_time(txn.txn_time),
    }


@dataclass
class Faults(Knobs):
    """Knobs set by ``PUT /sim/faults``; all off by default."""

    CHOICES: ClassVar[Mapping[str, tuple[str, ...]]] = {"refund_status": REFUND_STATES}

    drop_callbacks: float = 0.0
    duplicate_callbacks: int = 0
    reorder_callbacks: int = 0  # hold first deliveries until this many, then send newest first
    reorder_hold_s: float = 2.0  # a short burst goes out after this long anyway
    delay_callbacks_s: float = 0.0
    replay_callbacks: bool = False  # send each delivery twice with the same signature
    api_5xx: int = 0
    api_delay_s: float = 0.0
    bad_signature: bool = False
    bad_response_signature: bool = False
    unknown_key: bool = False
    stale_timestamp: bool = False
    pay_after_timeout: bool = False
    pay_after_timeout_s: float = 30.0
    lose_result: bool = False
    lose_result_s: float = 30.0
    refund_status: str = "SUCCESS"
    bad_file_digest: bool = False


@dataclass
class HeldDelivery:
    """A first delivery waiting for its turn under ``reorder_callbacks``."""

    turn: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)


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
        self.fee_rate_ppm = fee_rate_ppm
        # seedable so that a test can replay the same drops; not used for anything secret
        self.rng = random.Random(seed)  # noqa: S311
        self.faults = Faults()
        self.terminals = {t: Terminal(t) for t in keys.terminals}
        self.sales: dict[str, Sale] = {}
        # out_trade_nos cancelled or reversed before any sale arrived: never accepted later
        self.tombstones: dict[str, str] = {}
        self.refunds: dict[str, Refund] = {}
        self.journal: list[Txn] = []
        self.files: dict[str, tuple[bytes, datetime]] = {}
        self.request_nonces: dict[str, datetime] = {}
        self.held: list[HeldDelivery] = []
        self.flush_scheduled = False
        self._host_seq = 0
        self._wrong_key = secrets.token_hex(32).encode()

    @property
    def wrong_key(self) -> bytes:
        """A key the bank never issued, for the forged-signature knobs."""
        return self._wrong_key

    def fee(self, amount_fen: int) -> int:
        """The merchant discount fee in thousandths of a fen, rounded half up."""
        return (amount_fen * self.fee_rate_ppm + 500) // 1000

    def new_rrn(self, now: datetime) -> str:
        # hhmmss of the host's clock and a host sequence: unique within a day, as real RRNs are
        self._host_seq = self._host_seq % 999_999 + 1
        return now.astimezone(BEIJING).strftime("%H%M%S") + f"{self._host_seq:06d}"

    def new_notify_id(self, now: datetime) -> str:
        return "PN" + now.astimezone(BEIJING).strftime("%Y%m%d%H%M%S") + digits(8)


STATE = web.AppKey("pos_sim_state", SimState)
