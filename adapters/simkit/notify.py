"""How an acquirer simulator tells a merchant what happened, the same for every party.

A ``Notice`` is one event (a payment, a refund, a closed trade); every retry of it is the same
event. ``Courier`` runs its rounds on the party's retry schedule (``simkit.delivery``) and applies
the callback knobs every acquirer has: drops, duplicate copies, a burst sent newest first
(``reorder``) and the delay of every round. What a POST carries, how it is signed and what
answer counts as an acknowledgement is the party's protocol: it overrides ``sign`` and
``acknowledged`` (and ``round`` where its knobs add requests of their own, like WeChat's probe).
"""

from __future__ import annotations

import asyncio
import logging
import random
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, ClassVar

import aiohttp

from adapters import wiretime
from adapters.simkit.delivery import on_schedule
from adapters.simkit.faults import Knobs
from adapters.simkit.state import SimBase

log = logging.getLogger(__name__)

BEIJING = wiretime.BEIJING

Signed = tuple[bytes | str, dict[str, str]]
"""One POST as the party sends it: the body and the headers."""


def now_text() -> str:
    """When an attempt was made, as the desk shows it: Beijing time to the millisecond."""
    return datetime.now(BEIJING).isoformat(timespec="milliseconds")


@dataclass
class Attempt:
    """One POST (or one decision not to POST) of a notification."""

    at: str
    round: int
    kind: str  # notify, duplicate; probe (WeChat) and replay (POS) where the party has them
    status: int | None = None
    # the start of the merchant's answer, for the tests that check what it said
    body: str | None = None
    error: str | None = None


@dataclass
class Notice:
    """One event; every retry carries the same ``id`` and the same ``payload`` (the party's
    body, parameters or fields, signed afresh or once as its protocol wants)."""

    id: str
    url: str
    payload: Any = field(repr=False)
    label: str = ""  # the party's name for the kind of event (TRANSACTION.SUCCESS, refund, …)
    acknowledged: bool = False
    attempts: list[Attempt] = field(default_factory=list)


def notices_json(
    notices: Sequence[Notice], id_name: str, label_name: str = ""
) -> dict[str, list[dict[str, Any]]]:
    """``notifications`` and ``deliveries`` as the desks' ``GET /sim/orders/{no}`` shows them,
    under the party's own names for the event id and kind."""

    def head(notice: Notice) -> dict[str, Any]:
        named = {id_name: notice.id}
        if label_name:
            named[label_name] = notice.label
        return named

    return {
        "notifications": [
            {
                **head(n),
                "acknowledged": n.acknowledged,
                "attempts": [asdict(a) for a in n.attempts],
            }
            for n in notices
        ],
        "deliveries": [{id_name: n.id, **asdict(a)} for n in notices for a in n.attempts],
    }


@dataclass
class CallbackKnobs(Knobs):
    """The knobs every acquirer has for its notifications and its API answers."""

    drop_callbacks: float = 0.0  # probability that a round is not sent at all
    duplicate_callbacks: int = 0  # extra copies sent with each round
    delay_callbacks_s: float = 0.0
    bad_signature: bool = False  # notifications signed with a key the party never published
    api_5xx: int = 0  # the next N calls fail with an HTTP 5xx
    api_delay_s: float = 0.0  # every call waits this long first (client timeouts)
    bad_response_signature: bool = False
    pay_after_timeout: bool = False  # the next payment succeeds but answers too late
    pay_after_timeout_s: float = 30.0

    def spend(self, name: str) -> bool:
        """Use one of a knob's turns: a count (``api_5xx``, the next N calls) goes one down, a
        one-shot flag (``pay_after_timeout``) goes off. False when it had none left."""
        value = getattr(self, name)
        if isinstance(value, bool):
            setattr(self, name, False)
        elif value > 0:
            setattr(self, name, value - 1)
        return bool(value > 0)

    def burst(self) -> tuple[int, float] | None:
        """How first deliveries are held back to be sent newest first: until this many are
        waiting or this many seconds after the first, or None when they are not."""
        return None


@dataclass
class _Held:
    notice: Notice
    round_no: int
    turn: asyncio.Future[bool]


class Courier(SimBase, ABC):
    """A simulator that notifies merchants; the base of each acquirer's ``SimState``."""

    SCHEDULE: ClassVar[Sequence[float]] = ()
    """The party's retry schedule: the delays between rounds, the first round going at once."""
    HOLD_EVERY_ROUND: ClassVar[bool] = False
    """Whether ``burst`` holds every round (Alipay) or only the first delivery of each event."""
    FOLLOW_REDIRECTS: ClassVar[bool] = True

    faults: CallbackKnobs

    def __init__(
        self, *, public_base_url: str, retry_scale: float, notify_timeout_s: float, seed: int | None
    ) -> None:
        super().__init__()
        if retry_scale < 0:
            raise ValueError("retry_scale must not be negative")
        self.public_base_url = public_base_url.rstrip("/")
        self.retry_scale = retry_scale
        self.notify_timeout_s = notify_timeout_s
        # seedable so that a test can replay the same drops; not used for anything secret
        self.rng = random.Random(seed)  # noqa: S311
        self.held: list[_Held] = []

    @abstractmethod
    def sign(self, notice: Notice, kind: str) -> Signed:
        """The body and headers of one POST of ``notice``."""

    @abstractmethod
    def acknowledged(self, status: int, answer: bytes) -> bool:
        """Whether the merchant's answer stops the retries."""

    def send(self, notice: Notice) -> None:
        """Start delivering ``notice`` in the background."""
        self.spawn(self.deliver(notice))

    async def deliver(self, notice: Notice) -> None:
        """First attempt now, then retries until acknowledged or the schedule runs out."""
        acked = await on_schedule(self, self.SCHEDULE, partial(self._attempt, notice))
        if acked is None:
            if not self.stopping.is_set():
                log.warning("sim notification given up id=%s", notice.id)
            return
        notice.acknowledged = True
        log.info("sim notification acknowledged id=%s round=%d", notice.id, acked)

    async def _attempt(self, notice: Notice, round_no: int) -> bool:
        burst = self.faults.burst()
        if burst is not None and (round_no == 0 or self.HOLD_EVERY_ROUND):
            return await self._held(notice, round_no, *burst)
        return await self.round(notice, round_no)

    async def _held(self, notice: Notice, round_no: int, count: int, hold_s: float) -> bool:
        """Wait for the burst this round belongs to; it goes out once ``count`` rounds wait, or
        ``hold_s`` after the first of them, newest first: the merchant sees later events
        before earlier ones."""
        held = _Held(notice, round_no, asyncio.get_running_loop().create_future())
        self.held.append(held)
        if len(self.held) >= count:
            batch, self.held = self.held, []
            self.spawn(self._release(batch))
        elif len(self.held) == 1:
            self.spawn(self._release_later(held, hold_s))
        return await held.turn

    async def _release_later(self, first: _Held, hold_s: float) -> None:
        await self.pause(hold_s)
        if self.held and self.held[0] is first:
            batch, self.held = self.held, []
            await self._release(batch)

    async def _release(self, batch: list[_Held]) -> None:
        try:
            # one after another, newest first: the receiver sees exactly the reverse order
            for held in reversed(batch):
                if self.stopping.is_set():
                    break
                try:
                    held.turn.set_result(await self.round(held.notice, held.round_no))
                except Exception as exc:  # a failed burst must not strand the rounds held in it
                    held.turn.set_exception(exc)
        finally:
            # a burst cut short by shutdown still answers its rounds (they count as failed)
            for held in batch:
                if not held.turn.done():
                    held.turn.set_result(False)

    def dropped(self, notice: Notice, round_no: int) -> bool:
        """The ``drop_callbacks`` knob decides this round is not sent; the desk shows it."""
        drop = self.faults.drop_callbacks
        if drop and self.rng.random() < drop:
            notice.attempts.append(
                Attempt(at=now_text(), round=round_no, kind="notify", error="dropped")
            )
            return True
        return False

    async def round(self, notice: Notice, round_no: int) -> bool:
        """One round: the notification and its ``duplicate_callbacks`` copies, all at once."""
        if self.dropped(notice, round_no):
            return False
        kinds = ["notify"] + ["duplicate"] * self.faults.duplicate_callbacks
        acks = await asyncio.gather(*(self.post(notice, round_no, k) for k in kinds))
        return any(acks)

    async def post(
        self, notice: Notice, round_no: int, kind: str, signed: Signed | None = None
    ) -> bool:
        """One POST, recorded as an attempt; True when the merchant acknowledged it."""
        body, headers = signed if signed is not None else self.sign(notice, kind)
        attempt = Attempt(at=now_text(), round=round_no, kind=kind)
        notice.attempts.append(attempt)
        assert self.session is not None, "the notify session lives in the app's cleanup_ctx"
        try:
            async with self.session.post(
                notice.url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.notify_timeout_s),
                allow_redirects=self.FOLLOW_REDIRECTS,
            ) as resp:
                answer = await resp.read()
                attempt.status = resp.status
                attempt.body = answer[:64].decode("utf-8", "replace")
        except (aiohttp.ClientError, TimeoutError) as exc:
            attempt.error = type(exc).__name__
            return False
        return kind != "probe" and self.acknowledged(resp.status, answer)
