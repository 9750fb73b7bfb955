"""The task queue on real PostgreSQL: leases, retries with backoff, dead tasks, no double runs."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from clearing.metrics import Metrics
from clearing.workers.runner import PermanentFailure, Reschedule, TaskRunner, backoff


async def _add(pool: asyncpg.Pool, kind: str, n: int = 1, max_attempts: int = 8) -> list[int]:
    rows = await pool.fetch(
        "INSERT INTO tasks (kind, payload, max_attempts)"
        " SELECT $1, jsonb_build_object('i', g), $3 FROM generate_series(1, $2) g RETURNING id",
        kind,
        n,
        max_attempts,
    )
    return [r["id"] for r in rows]


async def _task(pool: asyncpg.Pool, task_id: int) -> asyncpg.Record:
    row = await pool.fetchrow("SELECT * FROM tasks WHERE id = $1", task_id)
    assert row is not None
    return row


async def _make_due(pool: asyncpg.Pool, kind: str) -> None:
    await pool.execute("UPDATE tasks SET run_at = now() WHERE kind = $1 AND state = 'READY'", kind)


async def test_two_workers_never_run_one_task_twice(pool: asyncpg.Pool) -> None:
    ids = await _add(pool, "t.count", 200)
    seen: Counter[int] = Counter()

    async def handler(payload: dict[str, Any]) -> None:
        seen[payload["i"]] += 1
        await asyncio.sleep(0)

    runners = [TaskRunner(pool, {"t.count": handler}, Metrics(), worker_id=f"w{i}", batch=7)
               for i in range(3)]  # fmt: skip
    while sum(seen.values()) < len(ids):
        counts = await asyncio.gather(*(r.run_once() for r in runners))
        assert sum(counts) > 0
    assert set(seen.values()) == {1} and len(seen) == 200
    async with pool.acquire() as conn:
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM tasks WHERE kind = 't.count' AND state = 'DONE'"
            )
            == 200
        )


async def test_failures_retry_with_backoff_then_succeed(pool: asyncpg.Pool) -> None:
    (task_id,) = await _add(pool, "t.flaky")
    calls = 0

    async def handler(_payload: dict[str, Any]) -> None:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionError("bank down")

    runner = TaskRunner(pool, {"t.flaky": handler}, Metrics(), worker_id="w")
    await runner.run_once()
    row = await _task(pool, task_id)
    assert (row["state"], row["attempts"]) == ("READY", 1)
    assert "bank down" in row["last_error"]
    wait = await pool.fetchval("SELECT run_at - now() FROM tasks WHERE id = $1", task_id)
    assert timedelta(seconds=0.5) < wait <= timedelta(seconds=2.1)
    assert await runner.run_once() == 0  # not due yet
    for _ in range(2):
        await _make_due(pool, "t.flaky")
        await runner.run_once()
    row = await _task(pool, task_id)
    assert (row["state"], calls) == ("DONE", 3)


async def test_a_task_that_keeps_failing_ends_dead_and_is_counted(pool: asyncpg.Pool) -> None:
    (task_id,) = await _add(pool, "t.doomed", max_attempts=3)
    metrics = Metrics()

    async def handler(_payload: dict[str, Any]) -> None:
        raise ValueError("no such account")

    runner = TaskRunner(pool, {"t.doomed": handler}, metrics, worker_id="w")
    for _ in range(3):
        await _make_due(pool, "t.doomed")
        await runner.run_once()
    row = await _task(pool, task_id)
    assert (row["state"], row["attempts"]) == ("DEAD", 3)
    assert metrics.tasks_run.labels("t.doomed", "dead")._value.get() == 1


async def test_permanent_failure_is_dead_at_once(pool: asyncpg.Pool) -> None:
    (task_id,) = await _add(pool, "t.permanent")

    async def handler(_payload: dict[str, Any]) -> None:
        raise PermanentFailure("payment not in suspense")

    await TaskRunner(pool, {"t.permanent": handler}, Metrics(), worker_id="w").run_once()
    assert (await _task(pool, task_id))["state"] == "DEAD"


async def test_reschedule_does_not_count_as_failure(pool: asyncpg.Pool) -> None:
    (task_id,) = await _add(pool, "t.poll")

    async def handler(_payload: dict[str, Any]) -> Reschedule:
        return Reschedule(timedelta(seconds=30))

    runner = TaskRunner(pool, {"t.poll": handler}, Metrics(), worker_id="w")
    for _ in range(3):
        await _make_due(pool, "t.poll")
        await runner.run_once()
    row = await _task(pool, task_id)
    assert (row["state"], row["attempts"]) == ("READY", 0)


async def test_a_dead_workers_lease_expires_and_another_takes_over(pool: asyncpg.Pool) -> None:
    (task_id,) = await _add(pool, "t.lease")
    ran: list[str] = []
    holding = asyncio.Event()

    async def hang(_payload: dict[str, Any]) -> None:
        holding.set()
        await asyncio.sleep(3600)

    async def ok(_payload: dict[str, Any]) -> None:
        ran.append("second")

    crashed = TaskRunner(pool, {"t.lease": hang}, Metrics(), worker_id="crashed",
                         lease=timedelta(seconds=2))  # fmt: skip
    job = asyncio.create_task(crashed.run_once())
    await asyncio.wait_for(holding.wait(), 30)  # it has taken the lease and is working
    job.cancel()  # the worker process "dies" holding the lease
    with pytest.raises(asyncio.CancelledError):
        await job
    second = TaskRunner(pool, {"t.lease": ok}, Metrics(), worker_id="second")
    assert await second.run_once() == 0  # the lease still holds
    deadline = asyncio.get_running_loop().time() + 30
    while await second.run_once() == 0:  # until the dead worker's lease runs out
        assert asyncio.get_running_loop().time() < deadline, "the lease never expired"
        await asyncio.sleep(0.05)
    row = await _task(pool, task_id)
    assert (row["state"], row["attempts"], ran) == ("DONE", 2, ["second"])


def test_backoff_grows_and_is_jittered() -> None:
    first = [backoff(1).total_seconds() for _ in range(50)]
    fifth = [backoff(5).total_seconds() for _ in range(50)]
    assert all(1.0 <= s <= 2.0 for s in first)
    assert all(16.0 <= s <= 32.0 for s in fifth)
    assert len(set(first)) > 1
    assert backoff(50).total_seconds() <= 600
