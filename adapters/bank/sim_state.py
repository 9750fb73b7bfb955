"""What the bank simulator remembers: the books, files half-delivered to its inbox, what it
received and answered, its outbox, the statements it closed, and the fault knobs. One
``SimState`` per application, under ``STATE``; nothing at module level.

Outbox names say kind, business date and sequence (one sequence for the whole outbox, so
sorting by it gives the order of publication)::

    pain.002_20260302_000001.xml
    camt.053_20260302_000002_6217000010000000001.xml
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web

from adapters.bank.sim_faults import Faults
from adapters.bank.sim_ledger import Ledger
from adapters.bank.sim_signature import VerifyKey
from adapters.bank.sim_xml import BEIJING, BankIdentity
from adapters.simkit.control import view
from adapters.simkit.state import SimBase

Clock = Callable[[], datetime]


def beijing_now() -> datetime:
    return datetime.now(BEIJING)


@dataclass
class Pending:
    """A file in the inbox waiting for its other parts; processed once data and .sig are in."""

    data: bytes | None = None
    sig: bytes | None = None
    checksum: bytes | None = None


@dataclass(frozen=True)
class Received:
    """One complete delivery and what the bank made of it."""

    name: str
    sha256: str
    size: int
    via: str  # push or pull
    verdict: str  # ACCEPTED, REFUSED, RESENT (same MsgId and bytes), DUPLICATE
    code: str
    text: str
    msg_id: str
    status_name: str  # the pain.002 published for it ("" when none or dropped)
    at: datetime

    def as_json(self) -> dict[str, Any]:
        return view(self)


@dataclass(frozen=True)
class Processed:
    """A MsgId the bank has acted on: the bytes it came with and the pain.002 it earned."""

    sha256: str
    report: bytes


@dataclass(frozen=True)
class PullConfig:
    """Where the bank fetches our files (``{base_url}/bankfiles/``) with its client certificate."""

    base_url: str
    ssl_context: ssl.SSLContext | None
    poll_seconds: float = 0.0
    timeout_s: float = 10.0


class SimState(SimBase):
    """All mutable simulator state."""

    def __init__(
        self,
        *,
        verify_keys: Mapping[str, VerifyKey],
        bank: BankIdentity,
        client_cn: str,
        pull: PullConfig | None = None,
        clock: Clock = beijing_now,
    ) -> None:
        super().__init__()
        self.verify_keys = dict(verify_keys)
        self.bank = bank
        self.client_cn = client_cn
        self.pull = pull
        self.clock = clock
        self.faults = Faults()
        self.ledger = Ledger()
        self.pending: dict[str, Pending] = {}
        self.received: list[Received] = []
        self.processed: dict[str, Processed] = {}
        self.outbox: dict[str, bytes] = {}  # insertion order is publication order
        self.statements: dict[tuple[str, date], bytes] = {}
        self.statement_seq: dict[str, int] = {}
        self.closed_through: date | None = None
        self.fetched: dict[str, str] = {}  # pulled name -> sha256 already taken
        self.pull_lock = asyncio.Lock()
        self._outbox_seq = 0
        self._msg_seq = 0

    def now(self) -> datetime:
        return self.clock().astimezone(BEIJING)

    def business_date(self) -> date:
        """Today, or the day after the last closed day: bookings after the cut-off go there."""
        today = self.now().date()
        if self.closed_through is not None and self.closed_through >= today:
            return self.closed_through + timedelta(days=1)
        return today

    def next_outbox_name(self, kind: str, day: date, suffix: str = "") -> tuple[str, int]:
        """The name the next published file gets, and its sequence number."""
        self._outbox_seq += 1
        seq = self._outbox_seq
        return f"{kind}_{day:%Y%m%d}_{seq:06d}{suffix}.xml", seq

    def new_msg_id(self, kind: str) -> str:
        """A message id of the bank's own: SFBK-P002-20260302-000001 (at most 35 characters)."""
        self._msg_seq += 1
        return f"{self.bank.short}-{kind}-{self.now():%Y%m%d}-{self._msg_seq:06d}"

    def publish(self, name: str, data: bytes) -> None:
        self.outbox[name] = data

    def outbox_after(self, after: str | None) -> list[str] | None:
        """Names published after ``after`` (all when None); None when ``after`` is unknown."""
        names = list(self.outbox)
        if after is None:
            return names
        if after not in self.outbox:
            return None
        return names[names.index(after) + 1 :]


STATE = web.AppKey("bank_sim_state", SimState)
