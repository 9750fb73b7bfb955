"""The capture batcher sends what arrived in one turn of the event loop as one transaction."""

from __future__ import annotations

import asyncio

import asyncpg

from clearing.metrics import Metrics
from clearing.service.batching import CaptureBatcher
from tests.integration import factories as f


def _batches(metrics: Metrics) -> tuple[float, float]:
    count = metrics.registry.get_sample_value("tongjiao_capture_batch_size_count") or 0.0
    total = metrics.registry.get_sample_value("tongjiao_capture_batch_size_sum") or 0.0
    return count, total


async def test_notifications_of_one_turn_travel_in_one_batch(pool: asyncpg.Pool) -> None:
    metrics = Metrics()
    # slots to spare: before, each of these took a free slot and went alone
    batcher = CaptureBatcher(pool, metrics=metrics, max_inflight=4)
    async with pool.acquire() as conn:
        notices = await f.open_notices(conn, [100, 200, 300, 400])
    results = await asyncio.gather(*(batcher.capture(n, "notify") for n in notices))
    assert [r.outcome for r in results] == ["CLEARED"] * 4
    assert _batches(metrics) == (1.0, 4.0)
    await batcher.close()


async def test_a_lone_notification_is_sent_at_once(pool: asyncpg.Pool) -> None:
    metrics = Metrics()
    batcher = CaptureBatcher(pool, metrics=metrics)
    async with pool.acquire() as conn:
        o = await f.order(conn, await f.staff(conn), [700])
        notice = f.notice(await f.attempt(conn, str(o["order_no"])), 700)
    # nothing else arrives: the batch of one leaves without waiting for company
    result = await asyncio.wait_for(batcher.capture(notice, "notify"), 30)
    assert (result.outcome, result.first_time) == ("CLEARED", True)
    assert _batches(metrics) == (1.0, 1.0)
    await batcher.close()
