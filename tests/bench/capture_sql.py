"""PostgreSQL's CPU per capture for the capture SQL alone, at a fixed batch size.

    .venv/bin/python tests/bench/capture_sql.py [--batch 8] [--orders 8000]

No service and no concurrency: one connection sends the service's own batch statement
(``clearing.service.batching._MANY``) for ``--batch`` notifications at a time, and the backend's
CPU time (``/proc``) is divided by the captures. What the full benchmark cannot show on a shared
machine — where load changes batch sizes and therefore the cost per capture — this holds still:
compare two versions of the SQL with it. Prints ``pg_backend_cpu_ms_per_capture``.
"""
# ruff: noqa: E402 - the path fix below must come before the project's imports

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(ROOT)

import argparse
import os
import time
from datetime import UTC, datetime

import asyncpg

from clearing.db.embedded import EmbeddedPostgres
from clearing.db.pool import ensure_database, init_connection
from clearing.security import PiiCipher
from clearing.service.batching import _MANY
from tests.bench.clearing import Trade, _seed_orders
from tests.bench.scratch import in_scratch
from tests.procs import cpu_seconds

WARM = 1200  # captured first, then ANALYZE, as the full benchmark does


async def _send(conn: asyncpg.Connection, trades: list[Trade], batch: int, tag: str) -> None:
    for i in range(0, len(trades), batch):
        part, now = trades[i : i + batch], datetime.now(UTC)
        await conn.fetch(
            _MANY,
            ["wechatpay"] * len(part),
            [f"{tag}{i + j}" for j in range(len(part))],
            [t.out_trade_no for t in part],
            [t.total_fen for t in part],
            [now] * len(part),
            ["notify"] * len(part),
            [None] * len(part),
            [{}] * len(part),
        )


async def bench(batch: int, orders: int, root: Path) -> None:
    pg = EmbeddedPostgres(root / "pg")
    pg.start()
    try:
        await ensure_database(pg.dsn(), "tongjiao")
        dsn = pg.dsn("tongjiao")
        trades = await _seed_orders(dsn, PiiCipher(os.urandom(32)), orders, 3)
        conn = await asyncpg.connect(dsn)
        await init_connection(conn)
        try:
            await _send(conn, trades[:WARM], batch, "W")
            await conn.execute("ANALYZE")
        finally:
            await conn.close()
        conn = await asyncpg.connect(dsn)  # a fresh backend: plans made on the analyzed ledger
        await init_connection(conn)
        try:
            pid = await conn.fetchval("SELECT pg_backend_pid()")
            c0, t0 = cpu_seconds(pid), time.perf_counter()
            await _send(conn, trades[WARM:], batch, "T")
            c1, t1 = cpu_seconds(pid), time.perf_counter()
        finally:
            await conn.close()
        n = len(trades) - WARM
        print(f"batch {batch}")
        print(f"captures {n}")
        print(f"pg_backend_cpu_ms_per_capture {(c1 - c0) / n * 1e3:.3f}")
        print(f"wall_ms_per_capture {(t1 - t0) / n * 1e3:.3f}")
    finally:
        pg.destroy()


def main() -> int:
    ap = argparse.ArgumentParser(prog="tests/bench/capture_sql.py", description=__doc__)
    ap.add_argument("--batch", type=int, default=8, help="notifications per statement")
    ap.add_argument("--orders", type=int, default=8000, help="orders seeded (the first warm up)")
    args = ap.parse_args()
    if args.batch < 1 or args.orders <= WARM:
        ap.error(f"--batch must be positive and --orders above {WARM}")

    async def run(root: Path) -> int:
        await bench(args.batch, args.orders, root)
        return 0

    return in_scratch("tj-capture-sql-", run)


if __name__ == "__main__":
    raise SystemExit(main())
