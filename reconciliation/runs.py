"""One reconciliation run of one business day: fetch, stage, match, record, recover.

    run = await reconcile(pool, day, sources, options, progress=print)

- One run of a day at a time: a second one waits on the day's advisory lock, then finds
  everything already recorded (re-running changes nothing but the run's own row).
- Fetching: each channel's bill and each authority's list through its adapter, staged with
  COPY (replacing the day's previous copy); the bank's outbox (statements) is read first, when
  a reader is given. A source that cannot be fetched keeps its previous copy, and the run says so.
- Matching: ``engine`` and ``engine_bank`` passes in one transaction; ``findings.record``.
- Recovery: money paid at a channel but unknown to us (长款) is asked of the channel and, if
  paid, captured through the normal capture path; the next run finds it matched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import asyncpg

from clearing.channels import Channel
from clearing.db import Conn
from clearing.domain import times
from clearing.ports import Authority
from clearing.service.payments import settle_by_query
from reconciliation import engine, engine_bank, findings
from reconciliation.stage import stage_bill, stage_confirmations

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


@dataclass
class Sources:
    """Where the day's outside records come from."""

    acquirers: Mapping[str, Channel] = field(default_factory=dict)
    authorities: Mapping[str, Authority] = field(default_factory=dict)
    # reads the bank's outbox into bank_statement_entries (``SettlementWork.poll_once``)
    read_bank: Callable[[], Awaitable[int]] | None = None


@dataclass(frozen=True)
class Options:
    bank: str
    collection_account: str
    acquirer_accounts: Mapping[str, str] = field(default_factory=dict)
    fee_ppm: Mapping[str, int] = field(default_factory=dict)
    settle_lag_days: int = 1
    fetch: bool = True
    recover: bool = True
    # how long an authority is given to confirm a paid leg before it is a finding
    confirm_grace: timedelta = engine.CONFIRM_GRACE


def day_bounds(day: date) -> tuple[datetime, datetime]:
    return times.day_bounds(day)


async def _fetch(conn: Conn, day: date, sources: Sources, say: Progress) -> dict[str, Any]:
    stats: dict[str, Any] = {"fetch_errors": []}

    async def read(source: str, step: Awaitable[str], failed: str) -> None:
        """One source's step, said when done; a source that fails is noted in the run's
        statistics and the run goes on with what it has."""
        try:
            say(f"{source}: {await step}")
        except Exception as exc:
            stats["fetch_errors"].append(f"{source}: {exc!r}")
            say(f"{source}: {failed.format(exc=exc)}")

    async def bank(read_bank: Callable[[], Awaitable[int]]) -> str:
        return f"{await read_bank()} new files from the outbox"

    async def bill(name: str, channel: Channel) -> str:
        lines = await stage_bill(conn, day, name, await channel.daily_bill(day))
        return f"bill of {day} staged, {lines} lines"

    async def confirmations(name: str, authority: Authority) -> str:
        lines = await stage_confirmations(conn, day, name, await authority.daily_confirmations(day))
        return f"confirmations of {day} staged, {lines} lines"

    if sources.read_bank is not None:
        await read(
            "bank",
            bank(sources.read_bank),
            "outbox not read ({exc!r}); using what was imported before",
        )
    kept = "not fetched ({exc!r}); keeping the previous copy"
    for name, channel in sources.acquirers.items():
        await read(name, bill(name, channel), "bill " + kept)
    for name, authority in sources.authorities.items():
        await read(name, confirmations(name, authority), "confirmations " + kept)
    return stats


async def _match(conn: Conn, run_id: int, day: date, opt: Options, say: Progress) -> dict[str, Any]:
    lo, hi = day_bounds(day)
    stats: dict[str, Any] = {}
    found: list[engine.Finding] = []
    async with conn.transaction():
        passes = [
            ("payments", engine.payments(conn, day, lo, hi, dict(opt.fee_ppm))),
            ("refunds", engine.refunds(conn, day, lo, hi)),
            ("duplicates", engine.duplicates(conn, lo, hi)),
            (
                "legs",
                engine.legs(conn, day, lo, hi, now=datetime.now(UTC), grace=opt.confirm_grace),
            ),
            (
                "statement",
                engine_bank.statement(
                    conn,
                    day,
                    bank=opt.bank,
                    account=opt.collection_account,
                    acquirers=opt.acquirer_accounts,
                    lag_days=opt.settle_lag_days,
                ),
            ),
            ("instructions", engine_bank.instructions(conn)),
        ]
        for name, running in passes:
            result = await running
            stats.update(result.stats)
            found.extend(result.findings)
            say(f"{name}: {result.stats} → {len(result.findings)} findings")
        found, by_rule = await engine.tolerance(conn, day, run_id, found)
        stats.update(by_rule)
        stats.update(await findings.record(conn, run_id, day, found))
    by_type: dict[str, int] = {}
    for f in found:
        by_type[f.type] = by_type.get(f.type, 0) + 1
    stats["findings_by_type"] = by_type
    matched = int(stats.get("payments_matched", 0))
    lines = int(stats.get("bill_payment_lines", 0))
    stats["auto_match_ratio"] = round(matched / lines, 4) if lines else None
    return stats


async def _recover(
    pool: asyncpg.Pool, conn: Conn, day: date, sources: Sources, say: Progress
) -> int:
    """长款: ask the channel about each payment only it knows; capture what it says is paid."""
    rows = await conn.fetch(
        "SELECT source, our_ref FROM discrepancies WHERE type = 'LONG' AND business_date = $1"
        " AND state IN ('OPEN', 'ASSIGNED')",
        day,
    )
    recovered = 0
    for r in rows:
        channel = sources.acquirers.get(r["source"])
        if channel is None or not r["our_ref"]:
            continue
        try:
            _, captured = await settle_by_query(pool, channel, r["our_ref"])
        except Exception as exc:
            say(f"recover {r['our_ref']}: the channel could not be asked ({exc!r})")
            continue
        if captured is not None:
            recovered += 1
            say(f"recovered {r['our_ref']} from {r['source']}: {captured.outcome}")
    return recovered


async def reconcile(
    pool: asyncpg.Pool,
    day: date,
    sources: Sources,
    options: Options,
    *,
    actor: str = "system:recon",
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run the reconciliation of ``day``; its ``recon_runs`` row as a dict."""
    say: Progress = progress or (lambda _text: None)
    async with pool.acquire() as conn:
        # one run of a day at a time, across processes; released with the session at the end
        lock = day.toordinal()
        say(f"reconciling {day}: waiting for any other run of this day ...")
        await conn.execute("SELECT pg_advisory_lock(hashtext('tj_recon'), $1)", lock)
        try:
            run_id: int = await conn.fetchval(
                "INSERT INTO recon_runs (business_date, started_by) VALUES ($1, $2) RETURNING id",
                day,
                actor,
            )
            try:
                stats: dict[str, Any] = {}
                if options.fetch:
                    stats.update(await _fetch(conn, day, sources, say))
                stats.update(await _match(conn, run_id, day, options, say))
                if options.recover:
                    stats["recovered"] = await _recover(pool, conn, day, sources, say)
            except Exception as exc:
                await conn.execute(
                    "UPDATE recon_runs SET state = 'FAILED', finished_at = clock_timestamp(),"
                    " error = $2 WHERE id = $1",
                    run_id,
                    repr(exc)[:500],
                )
                raise
            row = await conn.fetchrow(
                "UPDATE recon_runs SET state = 'DONE', finished_at = clock_timestamp(),"
                " stats = $2 WHERE id = $1 RETURNING *",
                run_id,
                stats,
            )
            assert row is not None
            open_now = await conn.fetchval(
                "SELECT count(*) FROM discrepancies WHERE state IN ('OPEN', 'ASSIGNED')"
            )
            say(f"run {run_id} done: {stats.get('findings', 0)} findings, {open_now} open in all")
            log.info("reconciliation run done", extra={"run_id": run_id, "day": str(day)})
            return dict(row)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtext('tj_recon'), $1)", lock)


async def nightly(
    pool: asyncpg.Pool,
    make_sources: Callable[[], tuple[Sources, Options]],
    at: time,
    stop: Any,
    *,
    check_s: float = 60.0,
) -> None:
    """The service's own schedule: once Beijing time passes ``at``, yesterday is reconciled (once
    a day; a run that failed is tried again at the next check)."""
    while not stop.is_set():
        now = datetime.now(times.BEIJING)
        yesterday = now.date() - timedelta(days=1)
        if now.time() >= at:
            try:
                await _nightly_once(pool, make_sources, yesterday)
            except Exception as exc:
                log.warning("nightly reconciliation of %s failed: %r", yesterday, exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), check_s)


async def _nightly_once(
    pool: asyncpg.Pool, make_sources: Callable[[], tuple[Sources, Options]], day: date
) -> None:
    """Every service node runs this schedule: the node that takes the day's lock runs it, the
    others skip it (they do not wait and run it again), and whoever comes later sees it done."""
    async with pool.acquire() as conn:
        key = day.toordinal()
        if not await conn.fetchval(
            "SELECT pg_try_advisory_lock(hashtext('tj_recon_nightly'), $1)", key
        ):
            return
        try:
            done = await conn.fetchval(
                "SELECT 1 FROM recon_runs WHERE business_date = $1 AND state = 'DONE'"
                " AND started_by = 'system:nightly'",
                day,
            )
            if not done:
                sources, options = make_sources()
                await reconcile(pool, day, sources, options, actor="system:nightly")
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtext('tj_recon_nightly'), $1)", key)
