"""What the simulators of the authorities we pay (the tax bureau, the fiscal non-tax system, the
maintenance-fund office) share besides their protocols.

Each speaks its own wire format, yet all three behave alike around it: the same fault knobs
(``AuthorityKnobs``: down, slow, failing, answering with a key nobody issued, refusing the next
confirmations), a front door that is shut or slow before any check (``front_door``), request ids
remembered against replay (``Replays``), the secret answers are signed with while
``bad_signature`` is on (``AuthorityBase.signing_secret``), a refusal carrying the party's code
and words (``Refusal``), and the rule for a confirmation asked for again (``asked_again``). What
the codes and words are stays each party's business.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from aiohttp import web

from adapters.simkit.faults import Knobs
from adapters.simkit.state import SimBase


class Refusal(Exception):
    """The party says no: its result or error ``code``, its ``words``, and the HTTP status the
    answer carries them with (most authorities answer a refusal with 200 and say so inside).
    Any simulator's refusal of a request has this shape (the case system's of a webhook too)."""

    def __init__(self, code: str, words: str, status: int = 200) -> None:
        super().__init__(f"{code} {words}")
        self.code = code
        self.words = words
        self.status = status


def asked_again(
    paid: tuple[str, int], asked: tuple[str, int], other_payment: Refusal, other_amount: Refusal
) -> None:
    """A payment confirmed before is confirmed again: ``paid`` and ``asked`` are (payment
    reference, fen). The same payment of the same amount returns (the party answers with the
    proof it gave the first time); another payment, or another amount, is refused, so that a
    duplicate payment is noticed rather than confirmed twice."""
    if asked[0] != paid[0]:
        raise other_payment
    if asked[1] != paid[1]:
        raise other_amount


@dataclass
class AuthorityKnobs(Knobs):
    """The knobs every authority's ``Faults`` has; all off by default.

    api_5xx: that many next API calls fail (each party fails in its own way); api_delay_s: every
    API answer waits this long (the client must time out); bad_signature: answers signed or
    MAC'd with a key the party never issued; refuse_confirm: that many next new confirmations
    refused, with the party's reason knob; down: every API call answered 503 by the front proxy,
    unsigned, as when the party's system is off line.
    """

    api_5xx: int = 0
    api_delay_s: float = 0.0
    bad_signature: bool = False
    refuse_confirm: int = 0
    down: bool = False


F = TypeVar("F", bound=AuthorityKnobs)


class AuthorityBase(SimBase, Generic[F]):
    """An authority simulator's state: its knobs (``faults``) and the request ids it has seen,
    kept for twice the clock skew it allows (``skew_s``)."""

    def __init__(self, faults: F, skew_s: float) -> None:
        super().__init__()
        self.faults = faults
        self.replays = Replays(timedelta(seconds=2 * skew_s))
        self._wrong_secret = secrets.token_hex(32).encode()

    def signing_secret(self, issued: bytes) -> bytes:
        """The shared secret answers are signed or MAC'd with: ``issued``, or one the party
        never issued while ``bad_signature`` is on."""
        return self._wrong_secret if self.faults.bad_signature else issued


async def front_door(state: AuthorityBase[F], closed: web.Response) -> web.Response | None:
    """``closed`` while the party is down; otherwise None, after the ``api_delay_s`` wait."""
    if state.faults.down:
        return closed
    await state.pause(state.faults.api_delay_s)
    return None


class Replays:
    """Request ids (nonces, serials, message ids) seen lately: an id seen again is a replay.

    An id is remembered for ``memory``, twice the clock skew a party allows, so that a request
    old enough to be forgotten is refused for its time before it could be taken again."""

    def __init__(self, memory: timedelta) -> None:
        self.memory = memory
        self.seen: dict[str, datetime] = {}

    def fresh(self, request_id: str, now: datetime) -> bool:
        """Whether ``request_id`` is new; a new one is remembered from now on."""
        for old in [i for i, at in self.seen.items() if now - at > self.memory]:
            del self.seen[old]
        if request_id in self.seen:
            return False
        self.seen[request_id] = now
        return True
