"""A long fuzzing campaign against /api/v1, on demand (the test suite runs a short one).

    .venv/bin/python tests/bench/fuzz_api.py [--per-operation 800] [--seed N] [--only REGEX]

The real service in-process on a throwaway embedded PostgreSQL, with the WeChat Pay, tax, fiscal
and fund simulators, as in tests/integration/test_fuzz_api.py; schemathesis draws
``--per-operation`` cases for each operation of the service's own OpenAPI document (half against
the schema, half from it), each sent as one of the seven callers (every staff role, an API
client, nobody). Every answer is checked: no 5xx, and status, content type and body as the
document says. Prints ``cases``, ``failures``, ``seconds`` and the answers by status, then one
line per distinct failure with the request that caused it; exits 1 when there is any.
"""
# ruff: noqa: E402 - the path fix below must come before the project's imports

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(ROOT)

import argparse
import asyncio
import re
import tempfile

import asyncpg

from clearing.db.embedded import EmbeddedPostgres
from clearing.db.migrate import migrate
from clearing.db.pool import init_connection
from clearing.service import catalogue
from tests.integration.fuzzing import callers, deployed_service, fuzz


async def _prepare(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
        await init_connection(conn)
        await catalogue.seed_demo(conn)
    finally:
        await conn.close()


async def campaign(args: argparse.Namespace, root: Path) -> int:
    pg = EmbeddedPostgres(root / "pg")
    pg.start()
    try:
        dsn = pg.dsn()
        await _prepare(dsn)
        async with deployed_service(dsn, root / "svc") as svc:
            status, document = await svc.request("GET", "/api/v1/openapi.json")
            assert status == 200, document
            tokens = await callers(svc)
            only = re.compile(args.only)
            result = await asyncio.to_thread(
                fuzz,
                svc.base_url,
                document,
                tokens,
                per_operation=args.per_operation,
                seed=args.seed,
                only=lambda label: bool(only.search(label)),
                progress=(lambda line: print(f"# {line}", flush=True)) if args.verbose else None,
            )
    finally:
        pg.destroy()
    print(f"cases {result.cases}")
    print(f"failures {len(result.failures)}")
    print(f"seconds {result.seconds:.0f}")
    for status, n in sorted(result.by_status.items()):
        print(f"status_{status} {n}")
    for finding in result.distinct():
        print(f"FAILED {finding}")
    return 1 if result.failures else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="tests/bench/fuzz_api.py", description=__doc__.split("\n")[0])
    ap.add_argument("--per-operation", type=int, default=800, help="cases per operation")
    ap.add_argument("--seed", type=int, default=None, help="repeat a campaign (default: random)")
    ap.add_argument("--only", default="", help="operations whose 'METHOD /path' matches")
    ap.add_argument("-v", "--verbose", action="store_true", help="a line per operation")
    args = ap.parse_args(argv)
    if args.per_operation < 2:
        ap.error("--per-operation at least 2")
    root = Path(tempfile.mkdtemp(prefix="tj-bench-fuzz-"))
    return asyncio.run(campaign(args, root))


if __name__ == "__main__":
    sys.exit(main())
