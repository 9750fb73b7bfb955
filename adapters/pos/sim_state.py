"""What the terminal-cloud simulator remembers: terminals and their batches, sales, the host's
transaction journal (what settlement files are made of), deliveries and fault knobs; and how its
notifications are signed and acknowledged (``simkit.notify`` runs the rounds)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, ClassVar, Unpack

from aiohttp import web

from adapters import wiretime
from adapters.pos import signing
from adapters.pos.keys import PlatformKeys
from adapters.simkit.acquirer import Acquirer, Reach
from adapters.simkit.authority import Replays
from adapters.simkit.bills import Links, fee_millifen
from adapters.simkit.delivery import gaps
from adapters.simkit.keyfiles import digits
from adapters.simkit.notify import CallbackKnobs, Notice, Signed

BEIJING = wiretime.BEIJING
TIME_FORMAT = "%Y%m%d%H%M%S"
REFUND_STATES = ("SUCCESS", "PROCESSING")

# The bank's notification schedule (招商银行 open platform): after the first attempt at 0 s,
# again at 10 s, 30 s, 1 min, 3 min, 10 min, 30 min, 1 h, 6 h and 20 h. Offsets, not gaps.
RETRY_OFFSETS_S: tuple[float, ...] = (10, 30, 60, 180, 600, 1800, 3600, 21600, 72000)
# a KeyId the bank never issued, for the unknown_key knob
UNKNOWN_KEY_ID = "CK000000"
STALE_BY_S = 600
ACK_BODY = b"SUCCESS"

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

    def undone_by(self, txn_type: str, now: datetime, **changes: Any) -> Txn:
        """The message that undoes this one (VOID, RFND, REVS): the same card and sale, naming
        this one's batch, trace and RRN as the original; ``changes`` are its own fields."""
        return replace(
            self,
            txn_type=txn_type,
            txn_time=now,
            orig_batch_no=self.batch_no,
            orig_trace_no=self.trace_no,
            orig_rrn=self.rrn,
            settle_date=None,
            **changes,
        )


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
    notifications: list[Notice] = field(default_factory=list)

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
class Faults(CallbackKnobs):
    """Knobs set by ``PUT /sim/faults``; all off by default. The callback and API knobs every
    acquirer has come from ``CallbackKnobs``."""

    CHOICES: ClassVar[Mapping[str, tuple[str, ...]]] = {"refund_status": REFUND_STATES}

    reorder_callbacks: int = 0  # hold first deliveries until this many, then send newest first
    reorder_hold_s: float = 2.0  # a short burst goes out after this long anyway
    replay_callbacks: bool = False  # send each delivery twice with the same signature
    unknown_key: bool = False
    stale_timestamp: bool = False
    lose_result: bool = False
    lose_result_s: float = 30.0
    refund_status: str = "SUCCESS"
    bad_file_digest: bool = False

    def burst(self) -> tuple[int, float] | None:
        return (self.reorder_callbacks, self.reorder_hold_s) if self.reorder_callbacks else None


class SimState(Acquirer[PlatformKeys]):
    """All mutable simulator state; one per application, never module-level."""

    SCHEDULE = gaps(RETRY_OFFSETS_S)
    faults: Faults

    def __init__(
        self, keys: PlatformKeys, *, fee_rate_ppm: int = 0, **reach: Unpack[Reach]
    ) -> None:
        super().__init__(keys, **reach)
        self.fee_rate_ppm = fee_rate_ppm
        self.faults = Faults()
        self.terminals = {t: Terminal(t) for t in keys.terminals}
        self.sales: dict[str, Sale] = {}
        # out_trade_nos cancelled or reversed before any sale arrived: never accepted later
        self.tombstones: dict[str, str] = {}
        self.refunds: dict[str, Refund] = {}
        self.journal: list[Txn] = []
        # settlement files behind their download links, for five minutes
        self.files: Links[bytes] = Links(timedelta(minutes=5), lambda: secrets.token_urlsafe(24))
        self.replays = Replays(timedelta(seconds=2 * signing.MAX_SKEW_S))
        self._host_seq = 0
        # a key the bank never issued, for the forged-signature knobs
        self.forged_key = secrets.token_hex(32).encode()

    def sign(self, notice: Notice, kind: str) -> Signed:
        faults = self.faults
        now = datetime.now(BEIJING) - timedelta(seconds=STALE_BY_S if faults.stale_timestamp else 0)
        header = signing.cloud_header(
            cloud_key=self.forged_key if faults.bad_signature else self.keys.cloud_key,
            key_id=UNKNOWN_KEY_ID if faults.unknown_key else self.keys.cloud_key_id,
            body=notice.payload,
            timestamp=signing.timestamp_now(now),
            nonce=signing.new_nonce(),
        )
        content_type = "application/json; charset=utf-8"
        return notice.payload, {signing.CLOUD_HEADER: header, "Content-Type": content_type}

    def acknowledged(self, status: int, answer: bytes) -> bool:
        # the bank reads status 200 and the text SUCCESS; 204 or any other body means "send again"
        return status == 200 and answer.strip() == ACK_BODY

    async def round(self, notice: Notice, round_no: int) -> bool:
        if self.dropped(notice, round_no):
            return False
        signed = self.sign(notice, "notify")
        acks = [await self.post(notice, round_no, "notify", signed)]
        if self.faults.replay_callbacks:
            # the very same signed request again, as an eavesdropper would send it
            acks.append(await self.post(notice, round_no, "replay", signed))
        copies = [
            self.post(notice, round_no, "duplicate") for _ in range(self.faults.duplicate_callbacks)
        ]
        acks.extend(await asyncio.gather(*copies))
        return any(acks)

    def fee(self, amount_fen: int) -> int:
        """The merchant discount fee in thousandths of a fen, rounded half up."""
        return fee_millifen(amount_fen, self.fee_rate_ppm)

    def new_rrn(self, now: datetime) -> str:
        # hhmmss of the host's clock and a host sequence: unique within a day, as real RRNs are
        self._host_seq = self._host_seq % 999_999 + 1
        return now.astimezone(BEIJING).strftime("%H%M%S") + f"{self._host_seq:06d}"

    def new_notify_id(self, now: datetime) -> str:
        return "PN" + now.astimezone(BEIJING).strftime("%Y%m%d%H%M%S") + digits(8)


STATE = web.AppKey("pos_sim_state", SimState)
