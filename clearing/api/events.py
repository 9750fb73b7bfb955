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


class EventHub:
    def __init__(self, dsn: str, check_every_s: float = 5.0) -> None:
        self._dsn = dsn
        self.check_every_s = check_every_s
        self._subs: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

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
            if sub.wants(event):
                with contextlib.suppress(asyncio.QueueFull):
                    sub.queue.put_nowait(event)

    async def _listen_forever(self) -> None:
        delay = 0.5
        while True:
            try:
                conn = await asyncpg.connect(self._dsn)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("event listener cannot connect, retry in %.1fs: %r", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            delay = 0.5
            try:
                await conn.add_listener(CHANNEL, self._dispatch)
                self.connected.set()
                # screens may have missed events while we were away: tell them to reload
                self._dispatch(None, 0, CHANNEL, json.dumps({"type": "resync"}))
                while not conn.is_closed():
                    await asyncio.sleep(self.check_every_s)
                    # a dead socket is only noticed when used: ask something
                    await conn.fetchval("SELECT 1", timeout=5)
                log.warning("event listener lost its connection; reconnecting")
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("event listener failed: %r", exc)
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
