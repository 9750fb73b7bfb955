"""When a simulator sends a notification again: each party's retry schedule is data (its
``RETRY_SCHEDULE_S``), the rounds are run the same way everywhere.

Round 0 goes out at once, round n after the n-th delay of the schedule, scaled by the state's
``retry_scale`` (tests shrink hours to milliseconds); the ``delay_callbacks_s`` knob holds every
round back further. What a round sends, how it is signed and what counts as an
acknowledgement is the party's own business (``attempt``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from itertools import pairwise
from typing import Protocol


class _Delaying(Protocol):
    @property
    def delay_callbacks_s(self) -> float: ...


class Scheduling(Protocol):
    @property
    def retry_scale(self) -> float: ...

    @property
    def stopping(self) -> asyncio.Event: ...

    @property
    def faults(self) -> _Delaying: ...

    async def pause(self, seconds: float) -> None: ...


async def on_schedule(
    state: Scheduling, schedule: Sequence[float], attempt: Callable[[int], Awaitable[bool]]
) -> int | None:
    """Run ``attempt(round_no)`` until one is acknowledged; that round's number, or None when
    the schedule ran out or the simulator is stopping."""
    for round_no, delay in enumerate((0.0, *schedule)):
        await state.pause(delay * state.retry_scale)
        await state.pause(state.faults.delay_callbacks_s)
        if state.stopping.is_set():
            return None
        if await attempt(round_no):
            return round_no
    return None


def gaps(offsets: Sequence[float]) -> tuple[float, ...]:
    """A schedule given as times since the first send, as the delays between rounds."""
    return tuple(b - a for a, b in pairwise((0.0, *offsets)))
