"""The case-system simulator on 127.0.0.1, subscribed to our webhooks, and workers sending them.

    async with running_casesys() as sim, sending(pool, scale=0.001):
        sub, secret = await subscribe(pool, sim)
        ...
        await sim.wait_events(3)

The simulator is served in-process on an ephemeral port (the real HTTP path, the real checks);
``sending`` runs task runners with the real ``webhook.deliver`` handler on the test's pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web

from adapters.casesys.simulator import WEBHOOK_PATH, create_simulator_app
from clearing.domain.webhooks import EVENT_TYPES
from clearing.metrics import Metrics
from clearing.service import webhooks
from clearing.service.principals import Principal
from clearing.workers.runner import TaskRunner
from clearing.workers.webhooks import WebhookSender
from tests.integration.factories import CIPHER
from tests.integration.serving import SimControl, serving

ADMIN = Principal(id=0, kind="staff", username="webhook-admin", display_name="管理员", role="admin",
                  office=None)  # fmt: skip


@dataclass
class CaseSys(SimControl):
    base_url: str
    app: web.Application
    session: aiohttp.ClientSession

    @property
    def url(self) -> str:
        return self.base_url + WEBHOOK_PATH

    async def events(self) -> dict[str, Any]:
        return dict(await self.answered("GET", "/sim/events"))

    async def set_secrets(self, *secrets: str) -> None:
        await self.answered("PUT", "/sim/secrets", {"secrets": list(secrets)})

    async def wait_events(self, count: int, within_s: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + within_s
        while True:
            seen = await self.events()
            if len(seen["events"]) >= count:
                return seen
            assert time.monotonic() < deadline, f"{len(seen['events'])} of {count} events came"
            await asyncio.sleep(0.05)

    async def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        async with self.session.post(self.url, data=body, headers=headers) as resp:
            return resp.status, await resp.json(content_type=None)


@asynccontextmanager
async def running_casesys() -> AsyncIterator[CaseSys]:
    async with (
        serving(lambda _base_url: create_simulator_app()) as (base_url, app),
        aiohttp.ClientSession() as session,
    ):
        yield CaseSys(base_url, app, session)


async def subscribe(
    pool: asyncpg.Pool, sim: CaseSys, types: tuple[str, ...] = EVENT_TYPES
) -> tuple[int, str]:
    """The only active subscription: the simulator's URL, its secret given to the simulator."""
    async with pool.acquire() as conn:
        # the subscriptions of earlier tests: disabled as an admin does (what they had queued
        # becomes dead letters now, not whenever a later test's worker comes to it)
        for earlier in await webhooks.subscriptions(conn, ADMIN):
            if earlier.active:
                await webhooks.disable(conn, ADMIN, earlier.id)
        sub, secret = await webhooks.create(
            conn, ADMIN, CIPHER, name_="不动产登记业务系统", url=sim.url, event_types=list(types)
        )
    await sim.set_secrets(secret)
    return sub.id, secret


@asynccontextmanager
async def sending(
    pool: asyncpg.Pool, *, scale: float = 0.001, workers: int = 1, timeout_s: float = 5.0
) -> AsyncIterator[list[TaskRunner]]:
    """Task runners that send webhooks (and nothing else) until the block ends."""
    session = aiohttp.ClientSession()
    sender = WebhookSender(pool, session, CIPHER, timeout_s=timeout_s, schedule_scale=scale)
    runners = [
        TaskRunner(pool, {"webhook.deliver": sender}, Metrics(), worker_id=f"hook{i}", idle_s=0.02)
        for i in range(workers)
    ]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(r.run_forever(stop)) for r in runners]
    try:
        yield runners
    finally:
        stop.set()
        for t in tasks:
            t.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
        await session.close()


@asynccontextmanager
async def subscribed(
    pool: asyncpg.Pool, **sending_options: Any
) -> AsyncIterator[tuple[CaseSys, int, str]]:
    """The case system's simulator as the only active subscription, and webhooks being sent
    (``sending(pool, **sending_options)``), for the block: (simulator, subscription, secret)."""
    async with running_casesys() as sim, sending(pool, **sending_options):
        sub_id, secret = await subscribe(pool, sim)
        yield sim, sub_id, secret


async def delivery_states(pool: asyncpg.Pool, sub_id: int) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT d.id, d.state, d.attempts, e.type, e.event_id, o.order_no"
        " FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_row"
        " JOIN orders o ON o.id = d.order_id WHERE d.subscription_id = $1 ORDER BY d.id",
        sub_id,
    )


async def wait_deliveries(
    pool: asyncpg.Pool, sub_id: int, done: Any, within_s: float = 30.0
) -> list[asyncpg.Record]:
    """Wait until ``done(rows)`` holds for the subscription's deliveries."""
    deadline = time.monotonic() + within_s
    while True:
        rows = await delivery_states(pool, sub_id)
        if done(rows):
            return rows
        assert time.monotonic() < deadline, [(r["state"], r["attempts"]) for r in rows]
        await asyncio.sleep(0.05)
