"""The task runner: lease due tasks with FOR UPDATE SKIP LOCKED, run them, record the outcome.

A task that raises is retried with exponential backoff and jitter until ``max_attempts``, then
marked DEAD (visible in metrics and logs, and left for a person). A handler may instead return
``Reschedule`` to run again later without counting a failure (polling). A worker that dies holding
a lease loses it when the lease expires; another worker picks the task up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg

from clearing.db import Conn
from clearing.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reschedule:
    after: timedelta


class PermanentFailure(Exception):
    """The task can never succeed: mark it DEAD at once."""


Handler = Callable[[dict[str, Any]], Awaitable[Reschedule | None]]

_LEASE = """
UPDATE tasks t SET state = 'LEASED', attempts = t.attempts + 1, leased_by = $1,
       lease_until = now() + $2::interval, updated_at = now()
 WHERE t.id IN (SELECT id FROM tasks
                 WHERE state IN ('READY', 'LEASED') AND run_at <= now()
                   AND (state = 'READY' OR lease_until < now())
                   AND kind = ANY($4::text[])
                 ORDER BY run_at LIMIT $3 FOR UPDATE SKIP LOCKED)
RETURNING t.id, t.kind, t.payload, t.attempts, t.max_attempts
"""


def backoff(attempts: int, base_s: float = 2.0, cap_s: float = 600.0) -> timedelta:
    """Exponential backoff with full jitter between half and the whole step."""
    step = min(cap_s, base_s * (2 ** max(0, attempts - 1)))
    return timedelta(seconds=step * (0.5 + random.random() / 2))  # noqa: S311 - jitter, not crypto


class TaskRunner:
    def __init__(
        self,
        pool: asyncpg.Pool,
        handlers: Mapping[str, Handler],
        metrics: Metrics,
        *,
        worker_id: str,
        batch: int = 8,
        lease: timedelta = timedelta(seconds=60),
        idle_s: float = 0.25,
    ) -> None:
        self.pool = pool
        self.handlers = handlers
        self.metrics = metrics
        self.worker_id = worker_id
        self.batch = batch
        self.lease = lease
        self.idle_s = idle_s

    async def run_once(self) -> int:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                _LEASE, self.worker_id, self.lease, self.batch, list(self.handlers)
            )
        if rows:
            await asyncio.gather(*(self._run(dict(r)) for r in rows))
        return len(rows)

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                n = await self.run_once()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("task lease failed, retrying: %r", exc)
                n = 0
            if n == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.idle_s)

    async def _run(self, task: dict[str, Any]) -> None:
        kind = task["kind"]
        try:
            outcome = await self.handlers[kind](task["payload"])
        except PermanentFailure as exc:
            await self._dead(task, exc)
            return
        except Exception as exc:
            if task["attempts"] >= task["max_attempts"]:
                await self._dead(task, exc)
            else:
                delay = backoff(task["attempts"])
                log.warning(
                    "task failed id=%s kind=%s attempt=%s retry_in=%.1fs error=%r",
                    task["id"],
                    kind,
                    task["attempts"],
                    delay.total_seconds(),
                    exc,
                )
                await self._finish(task, "READY", delay, repr(exc)[:500])
                self.metrics.tasks_run.labels(kind, "retry").inc()
            return
        if isinstance(outcome, Reschedule):
            await self._finish(task, "READY", outcome.after, None, reset_attempts=True)
            self.metrics.tasks_run.labels(kind, "rescheduled").inc()
        else:
            await self._finish(task, "DONE", None, None)
            self.metrics.tasks_run.labels(kind, "done").inc()

    async def _dead(self, task: dict[str, Any], exc: BaseException) -> None:
        log.error(
            "task dead id=%s kind=%s attempts=%s error=%r",
            task["id"],
            task["kind"],
            task["attempts"],
            exc,
        )
        await self._finish(task, "DEAD", None, repr(exc)[:500])
        self.metrics.tasks_run.labels(task["kind"], "dead").inc()

    async def _finish(
        self,
        task: dict[str, Any],
        state: str,
        delay: timedelta | None,
        error: str | None,
        *,
        reset_attempts: bool = False,
    ) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(
                "UPDATE tasks SET state = $3, run_at = CASE WHEN $4::interval IS NULL THEN run_at"
                " ELSE now() + $4::interval END, last_error = $5, lease_until = NULL,"
                " attempts = CASE WHEN $6 THEN 0 ELSE attempts END, updated_at = now()"
                " WHERE id = $1 AND leased_by = $2 AND state = 'LEASED'",
                task["id"],
                self.worker_id,
                state,
                delay,
                error,
                reset_attempts,
            )


_BACKLOG = """
SELECT kind, state, count(*) AS n,
       coalesce(extract(epoch FROM now() - min(run_at) FILTER (WHERE run_at <= now())), 0)
           AS oldest
  FROM tasks WHERE state IN ('READY', 'LEASED', 'DEAD') GROUP BY kind, state
"""


async def refresh_gauges(conn: Conn, metrics: Metrics) -> None:
    rows = await conn.fetch(_BACKLOG)
    metrics.task_backlog.clear()
    metrics.task_oldest_seconds.clear()
    oldest: dict[str, float] = {}
    for r in rows:
        metrics.task_backlog.labels(r["kind"], r["state"]).set(r["n"])
        if r["state"] != "DEAD":
            oldest[r["kind"]] = max(oldest.get(r["kind"], 0.0), float(r["oldest"]))
    for kind, age in oldest.items():
        metrics.task_oldest_seconds.labels(kind).set(age)
    suspense = await conn.fetchval(
        "SELECT -coalesce(sum(p.amount_fen), 0) FROM postings p"
        " JOIN ledger_accounts a ON a.id = p.account_id WHERE a.code = 'suspense'"
    )
    metrics.suspense_fen.set(int(suspense))
    await _settlement_and_recon_gauges(conn, metrics)
    await _webhook_gauges(conn, metrics)
    await database_gauges(conn, metrics)


async def _webhook_gauges(conn: Conn, metrics: Metrics) -> None:
    """Events on their way to the case system, and dead letters (every state, 0 included, so
    that an alert on them resolves)."""
    counts = {"PENDING": 0, "WAITING": 0, "DEAD": 0}
    for r in await conn.fetch(
        "SELECT state, count(*) AS n FROM webhook_deliveries WHERE state <> 'DELIVERED'"
        " GROUP BY state"
    ):
        counts[r["state"]] = int(r["n"])
    for state, n in counts.items():
        metrics.webhook_deliveries.labels(state).set(n)


# the standbys as the primary sees them; the LSN columns need pg_monitor (or superuser): without
# it they read NULL and only the counts are reported (docs/ops/monitoring.md)
_REPLICATION = """
SELECT coalesce(application_name, client_addr::text, pid::text) AS standby, sync_state,
       pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) AS lag_bytes,
       coalesce(extract(epoch FROM replay_lag), 0) AS lag_s
  FROM pg_stat_replication WHERE state = 'streaming'
"""


async def database_gauges(conn: Conn, metrics: Metrics) -> None:
    """Is the database this node reaches a writable primary, and how far behind are its standbys.

    Asked of PostgreSQL, not of Patroni: what matters is what this node's connections reach
    (through HAProxy or a multi-host DSN), and a single server without Patroni answers too."""
    row = await conn.fetchrow(
        "SELECT pg_is_in_recovery() AS standby,"
        " current_setting('transaction_read_only') = 'on' AS read_only"
    )
    assert row is not None
    writable = not row["standby"] and not row["read_only"]
    metrics.db_writable.set(1 if writable else 0)
    metrics.db_replication_lag_bytes.clear()
    metrics.db_replication_lag_seconds.clear()
    if row["standby"]:
        metrics.db_replicas_streaming.set(0)
        metrics.db_replicas_sync.set(0)
        return
    streaming = sync = 0
    for r in await conn.fetch(_REPLICATION):
        streaming += 1
        sync += r["sync_state"] in ("sync", "quorum")
        if r["lag_bytes"] is not None:
            metrics.db_replication_lag_bytes.labels(r["standby"]).set(float(r["lag_bytes"]))
            metrics.db_replication_lag_seconds.labels(r["standby"]).set(float(r["lag_s"]))
    metrics.db_replicas_streaming.set(streaming)
    metrics.db_replicas_sync.set(sync)


async def _settlement_and_recon_gauges(conn: Conn, metrics: Metrics) -> None:
    metrics.discrepancies_open.clear()
    metrics.discrepancy_oldest_seconds.clear()
    for r in await conn.fetch(
        "SELECT type, count(*) AS n, extract(epoch FROM now() - min(created_at)) AS age"
        " FROM discrepancies WHERE state IN ('OPEN', 'ASSIGNED') GROUP BY type"
    ):
        metrics.discrepancies_open.labels(r["type"]).set(r["n"])
        metrics.discrepancy_oldest_seconds.labels(r["type"]).set(float(r["age"]))
    age = await conn.fetchval(
        "SELECT extract(epoch FROM now() - max(finished_at)) FROM recon_runs WHERE state = 'DONE'"
    )
    if age is not None:
        metrics.last_recon_run_age_seconds.set(float(age))
    metrics.settlement_instructions.clear()
    for r in await conn.fetch(
        "SELECT state, count(*) AS n FROM settlement_instructions GROUP BY state"
    ):
        metrics.settlement_instructions.labels(r["state"]).set(r["n"])
    held = await conn.fetchval("SELECT count(*) FROM beneficiaries WHERE payout_hold IS NOT NULL")
    metrics.payouts_held.set(int(held))
    # files written that the bank has not fetched (pull) or we have not pushed yet
    undelivered = await conn.fetchrow(
        "SELECT count(*) AS n,"
        " coalesce(extract(epoch FROM now() - min(coalesce(f.written, b.created_at))), 0) AS age"
        " FROM settlement_batches b LEFT JOIN LATERAL ("
        "   SELECT min(created_at) AS written FROM settlement_files WHERE batch_id = b.id"
        " ) f ON true"
        " WHERE b.state = 'FILES_WRITTEN'"
    )
    assert undelivered is not None
    metrics.settlement_undelivered.set(int(undelivered["n"]))
    metrics.settlement_undelivered_oldest_seconds.set(float(undelivered["age"]))
