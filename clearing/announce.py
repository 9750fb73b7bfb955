"""Announcing order state changes to every process's window screens, after commit.

Changes made off the hot path NOTIFY inside their own transaction. Captures, which must not queue
on PostgreSQL's notification lock, hand their event to an ``Announcer`` instead: it sends whatever
has gathered as one small transaction (``pg_notify`` over an array), so a burst of captures costs a
handful of NOTIFY transactions. An announcement lost to a crash right after commit only delays the
screen: it re-reads an open order every few seconds and on every reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import asyncpg

log = logging.getLogger(__name__)

CHANNEL = "tj_order_events"
Announce = Callable[[dict[str, Any]], None]

_SEND = "SELECT pg_notify($1, e) FROM unnest($2::text[]) AS e"


class Announcer:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        max_batch: int = 500,
        max_age_s: float = 30.0,
        gather_s: float = 0.02,
    ):
        self._pool = pool
        # what arrives within this long after the first event goes in the same NOTIFY
        # transaction: under load a flush per handful of captures cost the service and
        # PostgreSQL a round trip and a commit each; 20 ms is nothing to a person at a screen
        self._gather_s = gather_s
        self._queue: list[tuple[float, str]] = []
        self._wake = asyncio.Event()
        self._max_batch = max_batch
        self._max_age_s = max_age_s
        self._task: asyncio.Task[None] | None = None

    def __call__(self, event: dict[str, Any]) -> None:
        self._queue.append((time.monotonic(), json.dumps(event, ensure_ascii=False)))
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="announcer")

    async def stop(self) -> None:
        if self._task is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.flush(), 2)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def flush(self) -> None:
        while self._queue:
            now = time.monotonic()
            # screens resync on reconnect; announcing very old news helps nobody
            fresh = [(t, e) for t, e in self._queue if now - t < self._max_age_s]
            if len(fresh) < len(self._queue):
                log.warning(
                    "dropped %d order events older than %.0fs (screens reload on reconnect)",
                    len(self._queue) - len(fresh),
                    self._max_age_s,
                )
            self._queue = fresh
            batch = [e for _, e in self._queue[: self._max_batch]]
            if not batch:
                return
            async with self._pool.acquire() as conn:
                await conn.execute(_SEND, CHANNEL, batch)
            del self._queue[: len(batch)]

    async def _run(self) -> None:
        delay = 0.1
        while True:
            await self._wake.wait()
            await asyncio.sleep(self._gather_s)
            self._wake.clear()
            try:
                await self.flush()
                delay = 0.1
            except Exception as exc:  # the announcer must outlive any failure
                log.warning("announcing order events failed, retrying: %r", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                self._wake.set()


def order_event(
    order_no: str, state: str, office: str, window: str, **extra: Any
) -> dict[str, Any]:
    return {"order_no": order_no, "state": state, "office": office, "window": window, **extra}
