"""/healthz while wrong sign-ins arrive at a steady rate: the event loop's share of login load.

    .venv/bin/python tests/bench/login_load.py [--rate 50] [--probes 300] [--workers 1]

A throwaway embedded PostgreSQL, migrated; the real service in this process on 127.0.0.1 (as the
test does), lockout and address throttling switched off so that every attempt costs a password
hash; one real user. Times ``--probes``/2 health checks alone, then ``--probes`` while wrong
passwords arrive at ``--rate`` a second, first for a locked user (the control: no hash), then for
the real one, and prints one line per phase (``healthz_loaded`` p99 is the one to read: target
under 20 ms; ``healthz_control`` shows what the machine gives the same load without hashing).
Loopback only, bounded.
"""
# ruff: noqa: E402 - the path fix below must come before the project's imports

from __future__ import annotations

import sys
from pathlib import Path

# run as a script, this file's folder comes first on sys.path: put the project root there
ROOT = Path(__file__).resolve().parents[2]
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(ROOT)

import argparse
import os
from typing import Any

import asyncpg

from clearing.db.embedded import EmbeddedPostgres
from clearing.db.migrate import migrate
from clearing.db.pool import init_connection
from clearing.service import principals
from tests.bench.scratch import in_scratch
from tests.integration import login_load
from tests.integration.service_harness import running_service
from tests.integration.wechat_harness import running_wechat_sim


async def bench(args: argparse.Namespace, root: Path) -> int:
    pg = EmbeddedPostgres(root / "pg")
    pg.start()
    try:
        dsn = pg.dsn("postgres")
        conn = await asyncpg.connect(dsn)
        try:
            await init_connection(conn)
            await migrate(conn)
            for username in ("bench.clerk", "bench.locked"):
                await principals.add(
                    conn,
                    kind="staff",
                    username=username,
                    display_name="压测",
                    role="clerk",
                    office="HALL1",
                    password="Bench-pass-1",
                )
            await conn.execute(
                "INSERT INTO login_locks (username, locked_until)"
                " VALUES ('bench.locked', now() + interval '1 hour')"
            )
        finally:
            await conn.close()
        off: dict[str, Any] = {"login_max_failures": 10**9, "login_address_max_failures": 10**9}
        async with (
            running_wechat_sim(root / "wechat") as sim,
            running_service(
                dsn, root, sim, workers=0, password_hash_workers=args.workers, **off
            ) as svc,
        ):
            figures = await login_load.measure(
                svc.base_url,
                "bench.clerk",
                control_username="bench.locked",
                rate=args.rate,
                probes=args.probes,
            )
    finally:
        pg.destroy()
    print(f"cpus {os.cpu_count()}")
    print(f"password_hash_workers {args.workers}")
    for line in figures.lines():
        print(line)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="tests/bench/login_load.py", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--rate", type=float, default=50.0, help="wrong sign-ins a second")
    ap.add_argument("--probes", type=int, default=300, help="health checks under load")
    ap.add_argument("--workers", type=int, default=1, help="password hash threads")
    args = ap.parse_args(argv)
    if args.rate <= 0 or args.probes < 10 or args.workers < 1:
        ap.error("--rate must be positive, --probes at least 10, --workers at least 1")
    return in_scratch("tj-bench-login-", lambda root: bench(args, root))


if __name__ == "__main__":
    raise SystemExit(main())
