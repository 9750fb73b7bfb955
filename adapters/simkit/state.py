"""What every simulator's state does besides its protocol: background jobs it can cancel at
cleanup, sleeps that end at shutdown, and the client session for its notifications
(``simkit.wake_on_shutdown`` and ``simkit.add_notify_session`` wire these into the app)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

import aiohttp

log = logging.getLogger(__name__)


class SimBase:
    """The base of each simulator's ``SimState``; one per application, never module-level."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[None]] = set()
        self.stopping = asyncio.Event()
        self.session: aiohttp.ClientSession | None = None

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a background job (a delivery, a late completion), tracked so that cleanup can
        cancel it."""
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        # a job that dies of a bug would otherwise vanish without a trace
        if not task.cancelled() and task.exception() is not None:
            log.error("sim background task failed", exc_info=task.exception())

    async def pause(self, seconds: float) -> None:
        """Sleep, but wake at shutdown so that no handler holds the server open."""
        if seconds <= 0:
            return
        try:
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)
        except TimeoutError:
            return
