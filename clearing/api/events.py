"""Order state changes pushed to window screens: PostgreSQL NOTIFY → this process → SSE.

Any process may change an order (the one that got the callback, a worker that polled); every
process LISTENs on one channel and fans the events out to its own browsers, so a screen sees the
change whichever process made it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from clearing.announce import CHANNEL

log = logging.getLogger(__name__)

RESYNC: dict[str, Any] = {"type": "resync"}
# the longest wait between attempts to listen again: a screen is stale until the listener is
# back, and one connection attempt per process every few seconds costs PostgreSQL nothing
MAX_RETRY_S = 2.0


@dataclass(eq=False)
class Subscription:
    office: str | None
    window: str | None
    order_no: str | None
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=lambda: asyncio.Queue(256))

    def wants(self, event: dict[str, Any]) -> bool:
        if event.get("type") == "resync":
            return True
        if self.order_no is not None and event.get("order_no") != self.order_no:
            return False
        if self.office is not None and event.get("office") != self.office:
            return False
        return self.window is None or event.get("window") == self.window

    def offer(self, event: dict[str, Any]) -> bool:
        """Queue ``event`` for the screen. A screen that cannot keep up (a burst after an
        outage, a slow network) loses its backlog and is told to resync instead, so it reloads
        what it shows rather than silently missing a change; False when that happened."""
        try:
            self.queue.put_nowait(event)
            return True
        except asyncio.QueueFull:
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(dict(RESYNC))
            return False


class EventHub:
    def __init__(self, dsn: str, check_every_s: float = 5.0) -> None:
        self._dsn = dsn
        self.check_every_s = check_every_s
        self._subs: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        # screens told to resync because they fell behind
        self.overflowed = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever(), name="event-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _dispatch(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        try:
            event = json.loads(str(payload))
        except json.JSONDecodeError:
            return
        for sub in list(self._subs):
            if sub.wants(event) and not sub.offer(event):
                self.overflowed += 1
                log.warning(
                    "a screen's event stream fell %d events behind; told it to resync",
                    sub.queue.maxsize,
                )

    async def _listen_forever(self) -> None:
        delay = 0.5
        while True:
            try:
                conn = await asyncpg.connect(self._dsn)
            except Exception as exc:  # whatever it was, the screens need the listener back
                log.warning("event listener cannot connect, retry in %.1fs: %r", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_S)
                continue
            delay = 0.5
            try:
                await conn.add_listener(CHANNEL, self._dispatch)
                self.connected.set()
                # screens may have missed events while we were away: tell them to reload
                self._dispatch(None, 0, CHANNEL, json.dumps(RESYNC))
                while not conn.is_closed():
                    await asyncio.sleep(self.check_every_s)
                    # a dead socket is only noticed when used: ask something
                    await conn.fetchval("SELECT 1", timeout=5)
                log.warning("event listener lost its connection; reconnecting")
            except Exception as exc:
                # LISTEN refused (a standby behind a balancer not yet told) or the connection
                # lost: wait before the next try, as after a failed connect
                log.warning("event listener failed, retry in %.1fs: %r", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_S)
            finally:
                self.connected.clear()
                with contextlib.suppress(Exception):
                    await conn.close(timeout=1)

    @contextlib.asynccontextmanager
    async def subscribe(
        self, *, office: str | None = None, window: str | None = None, order_no: str | None = None
    ) -> AsyncIterator[Subscription]:
        sub = Subscription(office, window, order_no)
        self._subs.add(sub)
        try:
            yield sub
        finally:
            self._subs.discard(sub)
