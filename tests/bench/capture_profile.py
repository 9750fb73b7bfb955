"""What one capture costs PostgreSQL, in counts: rows written and index entries, by table, and
(with ``--profile``) every statement the capture runs, with calls and time per capture.

Counts hold up on a shared, loaded machine where throughput does not: they say what a change
saves whatever else runs beside the benchmark. Used by ``tests/bench/clearing.py``.

- Rows and index entries come from ``pg_stat_user_tables`` (inserted, updated, of which HOT):
  every inserted row and every non-HOT update adds one entry to each index on the table; a
  partial index only when its predicate holds, so those are counted apart ("up to").
- Statements come from ``pg_stat_statements`` with ``track = all`` (statements inside PL/pgSQL
  functions and triggers too) and functions from ``track_functions = pl``; both need the
  library preloaded, so ``--profile`` configures the throwaway server before it starts. The
  extension costs a few per cent of the database's CPU: read CPU figures from a run without it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import asyncpg

PROFILE_CONF = (
    "\n# tests/bench/clearing.py --profile\n"
    "shared_preload_libraries = 'pg_stat_statements'\n"
    "pg_stat_statements.track = all\n"
    "pg_stat_statements.max = 2000\n"
    "track_functions = pl\n"
)


def configure_profile(data_dir: Path) -> None:
    with (data_dir / "postgresql.conf").open("a") as conf:
        conf.write(PROFILE_CONF)


_TABLES = """
SELECT s.relname, s.n_tup_ins, s.n_tup_upd, s.n_tup_hot_upd, s.n_tup_del,
       (SELECT count(*) FROM pg_index i WHERE i.indrelid = s.relid AND i.indpred IS NULL)
           AS full_idx,
       (SELECT count(*) FROM pg_index i WHERE i.indrelid = s.relid AND i.indpred IS NOT NULL)
           AS partial_idx
  FROM pg_stat_user_tables s
"""


COMMITS = "(commits)"


@dataclass(frozen=True)
class TableCounts:
    ins: int
    upd: int
    hot: int
    full_idx: int
    partial_idx: int


async def table_counts(dsn: str) -> dict[str, TableCounts]:
    # backends publish their counters when idle, at most once a second: wait for the last ones
    await asyncio.sleep(1.5)
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(_TABLES)
        # commits in this database (the benchmark's own few statements are noise)
        commits = await conn.fetchval(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        )
    finally:
        await conn.close()
    counts = {
        r["relname"]: TableCounts(
            r["n_tup_ins"], r["n_tup_upd"], r["n_tup_hot_upd"], r["full_idx"], r["partial_idx"]
        )
        for r in rows
    }
    counts[COMMITS] = TableCounts(commits, 0, 0, 0, 0)
    return counts


def print_writes(before: dict[str, TableCounts], after: dict[str, TableCounts], n: int) -> None:
    """Per capture, by table: rows inserted, updated (HOT), index entries written. Counted per
    payment recorded in the window, which is one per capture: the window's edges can hold a few
    captures of the warm-up, which a division by the timed captures would smear over the rest."""
    paid = after["payments"].ins - before["payments"].ins if "payments" in after else 0
    n = paid or n
    total_rows = total_idx = total_partial = 0.0
    commits = after[COMMITS].ins - before[COMMITS].ins
    # a batch of captures is one transaction; the announcer's NOTIFY transactions count too
    print(f"capture_transactions_per_capture {commits / n:.3f}")
    for name in sorted(after):
        if name == COMMITS:
            continue
        a, b = after[name], before.get(name, TableCounts(0, 0, 0, 0, 0))
        ins, upd, hot = a.ins - b.ins, a.upd - b.upd, a.hot - b.hot
        if not (ins or upd):
            continue
        touched = ins + upd - hot  # rows that got new index entries
        idx, partial = touched * a.full_idx / n, touched * a.partial_idx / n
        total_rows += (ins + upd) / n
        total_idx += idx
        total_partial += partial
        print(
            f"writes {name} inserted {ins / n:.2f} updated {upd / n:.2f} (hot {hot / n:.2f})"
            f" index_entries {idx:.2f} (+ up to {partial:.2f} partial)"
        )
    print(f"capture_rows_written {total_rows:.2f}")
    print(f"capture_index_entries {total_idx:.2f}")
    print(f"capture_index_entries_partial_max {total_partial:.2f}")


async def reset_statements(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        await conn.execute("SELECT pg_stat_statements_reset(), pg_stat_reset()")
    finally:
        await conn.close()


async def print_statements(dsn: str, n: int, top: int = 25) -> None:
    """Every statement by total time, per capture; then the PL/pgSQL functions (triggers too)."""
    await asyncio.sleep(1.5)
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT calls, rows, total_exec_time, toplevel,"
            "       regexp_replace(query, '\\s+', ' ', 'g') AS q"
            "  FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database"
            "   WHERE datname = current_database()) ORDER BY total_exec_time DESC LIMIT $1",
            top,
        )
        funcs = await conn.fetch(
            "SELECT funcname, calls, total_time, self_time FROM pg_stat_user_functions"
            " ORDER BY total_time DESC"
        )
    finally:
        await conn.close()
    print("# statements per capture: calls rows ms (top-level or nested) query")
    nested_calls = 0.0
    for r in rows:
        if not r["toplevel"]:
            nested_calls += r["calls"] / n
        print(
            f"stmt {r['calls'] / n:6.2f} {r['rows'] / n:6.2f} {r['total_exec_time'] / n:7.4f}"
            f" {'top' if r['toplevel'] else 'nested'} {r['q'][:150]}"
        )
    print(f"capture_nested_statements {nested_calls:.2f}")
    print("# functions per capture: calls total_ms self_ms name")
    for f in funcs:
        print(
            f"func {f['calls'] / n:6.2f} {f['total_time'] / n:7.4f} {f['self_time'] / n:7.4f}"
            f" {f['funcname']}"
        )
