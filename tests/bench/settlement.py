"""Settlement at scale: 100,000 cleared payments → one cut-off → the batch's signed files.

    .venv/bin/python tests/bench/settlement.py [--payments 100000] [--lines 3]

1. A throwaway embedded PostgreSQL, migrated and seeded; ``--payments`` orders of ``--lines``
   lines with an OPEN WeChat Pay attempt each, written in bulk, then every one captured through
   ``tj_capture`` (the real split: payment, balanced journal entry, order CLEARED) — untimed.
2. Timed, as ``tongjiao settle --cutoff now`` does it: the cut-off (one SQL call gathering every
   paid line into one instruction per beneficiary), then the files — pain.001 (checked against
   the official XSD after timing), the 批量代付 file, one detail CSV per beneficiary — each with
   its SHA-256 and Ed25519 signature, written to disk.
3. Checked after timing: every line in exactly one instruction, instruction totals equal to the
   payables, the pain.001 valid.

Prints ``name value`` lines: ``cutoff_s``, ``files_s``, ``total_s``, ``payments_per_s``,
``lines_per_s``, ``instructions_per_s`` and ``target_s 30`` (the issue's bound on this machine).
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

from adapters.iso20022.schemas import validate
from clearing.db.embedded import EmbeddedPostgres
from clearing.db.pool import init_connection
from clearing.security import PiiCipher
from clearing.service import settlement
from clearing.settlement.model import DebtorAccount
from clearing.settlement.signing import generate_keypair, load_signer
from tests.bench.clearing import _seed_orders
from tests.bench.scratch import in_scratch

CHUNK = 5_000


async def _capture_all(dsn: str, trades: list[object]) -> float:
    """Capture every seeded order through tj_capture, server-side, in chunks (untimed)."""
    started = time.perf_counter()
    conn = await asyncpg.connect(dsn)
    await init_connection(conn)
    try:
        for i in range(0, len(trades), CHUNK):
            part = trades[i : i + CHUNK]
            await conn.execute(
                "SELECT tj_capture('wechatpay', 'BENCH' || x.a, x.a, x.t, now(), 'notify')"
                "  FROM unnest($1::text[], $2::bigint[]) AS x(a, t)",
                [t.out_trade_no for t in part],  # type: ignore[attr-defined]
                [t.total_fen for t in part],  # type: ignore[attr-defined]
            )
            print(f"# captured {min(i + CHUNK, len(trades))}/{len(trades)}", flush=True)
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return time.perf_counter() - started


async def bench(args: argparse.Namespace, root: Path) -> int:
    pg = EmbeddedPostgres(root / "pg")
    pg.start()
    try:
        dsn = pg.dsn()
        cipher = PiiCipher(os.urandom(32))
        print(f"# seeding {args.payments} orders of {args.lines} lines", flush=True)
        trades = await _seed_orders(dsn, cipher, args.payments, args.lines)
        capture_s = await _capture_all(dsn, trades)
        key, _ = generate_keypair("ed25519", root / "keys", "bench")
        setup = settlement.SettlementSetup(
            bank="SFBK",
            debtor=DebtorAccount("6217000010000000009", "示范市不动产登记中心", "313100000013"),
            signer=load_signer(key, "bench", "ed25519"),
            out_dir=root / "files",
        )
        conn = await asyncpg.connect(dsn)
        await init_connection(conn)
        try:
            t0 = time.perf_counter()
            batch_id = await settlement.cutoff(
                conn, bank="SFBK", now=datetime.now(UTC), every_account=True, actor="bench"
            )
            t1 = time.perf_counter()
            assert batch_id is not None
            paths = await settlement.write_files(conn, batch_id, setup)
            t2 = time.perf_counter()
            row = await conn.fetchrow(
                "SELECT instruction_count, line_count, total_fen FROM settlement_batches"
                " WHERE id = $1",
                batch_id,
            )
            problems = await conn.fetchval(
                "SELECT (SELECT count(*) FROM order_lines WHERE settled_at IS NULL)"
                " + (SELECT count(*) FROM (SELECT i.id FROM settlement_instructions i"
                "     JOIN settlement_items s ON s.instruction_id = i.id"
                "    GROUP BY i.id, i.amount_fen HAVING sum(s.amount_fen) <> i.amount_fen) d)"
                " + (SELECT count(*) - count(DISTINCT (order_id, line_no)) FROM settlement_items)"
            )
        finally:
            await conn.close()
    finally:
        pg.destroy()
    assert row is not None
    (pain,) = [p for p in paths if p.name.endswith(".pain001.xml")]
    errors = validate(pain.read_bytes())
    total = t2 - t0
    size = sum(p.stat().st_size for p in paths)
    print(f"payments {args.payments}")
    print(f"lines {row['line_count']}")
    print(f"instructions {row['instruction_count']}")
    print(f"files {len(paths)}")
    print(f"files_bytes {size}")
    print(f"setup_capture_s {capture_s:.2f}")
    print(f"cutoff_s {t1 - t0:.3f}")
    print(f"files_s {t2 - t1:.3f}")
    print(f"total_s {total:.3f}")
    print(f"payments_per_s {args.payments / total:.0f}")
    print(f"lines_per_s {row['line_count'] / total:.0f}")
    print(f"instructions_per_s {row['instruction_count'] / total:.2f}")
    print("target_s 30")
    if problems or errors:
        print(f"FAILED: {problems} bookkeeping problems, pain.001 errors: {errors[:3]}")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="tests/bench/settlement.py", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--payments", type=int, default=100_000, help="cleared payments to settle")
    ap.add_argument("--lines", type=int, default=3, help="lines (beneficiary splits) per payment")
    args = ap.parse_args(argv)
    if min(args.payments, args.lines) < 1:
        ap.error("counts must be positive")
    return in_scratch("tj-bench-settle-", lambda root: bench(args, root))


if __name__ == "__main__":
    raise SystemExit(main())
