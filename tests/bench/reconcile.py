"""Reconciliation at scale: 1,000,000 acquirer bill lines against 1,000,000 payments.

    .venv/bin/python tests/bench/reconcile.py [--lines 1000000] [--planted 400]

1. Untimed: a throwaway embedded PostgreSQL, migrated and seeded; ``--lines`` payments of one
   business day written in bulk, and the acquirer's bill for that day written as a CSV file with
   ``--planted`` discrepancies in it: lines the channel has and we do not (长款), payments missing
   from the bill (短款), amounts that differ, fees we did not agree to — in equal parts.
2. Timed, ours: the bill file staged with COPY into ``recon_bill_lines``, then the day's run
   without fetching (``reconciliation.runs.reconcile``, ``fetch=False``): every pass, findings
   recorded as discrepancies.
3. Timed, the baseline, in the same run on the same server: COPY of the same file into a plain
   table, and one SQL full outer join on the transaction id counting what does not match.
4. Checked: every planted discrepancy found, of the right type, and nothing else.

Prints ``name value`` lines: ``ours_s``, ``baseline_s``, ``ratio`` (ours / baseline),
``peak_rss_mib`` (this process), ``found`` / ``planted``, and the targets (60 s, 1024 MiB, 2).
"""
# ruff: noqa: E402 - the path fix below must come before the project's imports

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(ROOT)

import argparse
import random
import resource
import time
from datetime import date, datetime, timedelta, timezone

import asyncpg

from clearing.db.embedded import EmbeddedPostgres
from clearing.db.migrate import migrate
from clearing.db.pool import create_pool, init_connection
from clearing.service import catalogue
from reconciliation.runs import Options, Sources, reconcile
from reconciliation.stage import stage_bill_file
from tests.bench.scratch import in_scratch

BEIJING = timezone(timedelta(hours=8))
DAY = date(2026, 11, 25)
KINDS = ("LONG", "SHORT", "AMOUNT_MISMATCH", "FEE_MISMATCH")


def _write_bill(path: Path, n: int, planted: int, seed: int) -> dict[str, set[str]]:
    """The payments' twin bill as CSV (COPY format), with ``planted`` differences; which ids."""
    rng = random.Random(seed)  # amounts and choices, not secrets
    special = rng.sample(range(n), planted)
    plan = {kind: set() for kind in KINDS}
    for i, idx in enumerate(special):
        plan[KINDS[i % len(KINDS)]].add(f"T{idx:010d}")
    lo = datetime.combine(DAY, datetime.min.time(), BEIJING) + timedelta(hours=1)
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            txn = f"T{i:010d}"
            amount = 1_000 + (i * 7919) % 9_000_000
            fee = 0
            if txn in plan["SHORT"]:
                continue
            at = (lo + timedelta(seconds=i % 70_000)).isoformat()
            if txn in plan["LONG"]:
                # besides this payment's own line, one the channel has and we never heard of
                f.write(
                    f"{DAY}\twechatpay\tPAYMENT\t{at}\tQ{i:010d}\tX{i:010d}\t\\N\t\\N\t500\t0\n"
                )
            if txn in plan["AMOUNT_MISMATCH"]:
                amount += 1
            if txn in plan["FEE_MISMATCH"]:
                fee = 6_000
            f.write(
                f"{DAY}\twechatpay\tPAYMENT\t{at}\tO{i:010d}\t{txn}\t\\N\t\\N\t{amount}\t{fee}\n"
            )
    plan["LONG"] = {"X" + t[1:] for t in plan["LONG"]}
    return plan


async def _seed(dsn: str, n: int) -> None:
    conn = await asyncpg.connect(dsn)
    await init_connection(conn)
    try:
        await migrate(conn)
        await catalogue.seed_demo(conn)
        lo = datetime.combine(DAY, datetime.min.time(), BEIJING) + timedelta(hours=1)
        async with conn.transaction():
            entry = await conn.fetchval(
                "INSERT INTO journal_entries (kind, memo) VALUES ('CAPTURE', 'bench') RETURNING id"
            )
            await conn.execute(
                "INSERT INTO postings (entry_id, account_id, amount_fen)"
                " SELECT $1, id, CASE code WHEN 'suspense' THEN -1 ELSE 1 END"
                "   FROM ledger_accounts WHERE code IN ('suspense', 'receivable:wechatpay')",
                entry,
            )
            # every payment points at one balanced entry: only the matching is measured here
            await conn.execute(
                "INSERT INTO payments (provider, provider_txn_id, out_trade_no, amount_fen,"
                " outcome, source, paid_at, entry_id)"
                " SELECT 'wechatpay', 'T' || lpad(i::text, 10, '0'), 'O' || lpad(i::text, 10, '0'),"
                "        1000 + (i::bigint * 7919) % 9000000, 'CLEARED', 'notify',"
                "        $1::timestamptz + make_interval(secs => i % 70000), $2"
                "   FROM generate_series(0, $3 - 1) AS i",
                lo,
                entry,
                n,
            )
        await conn.execute("VACUUM ANALYZE payments")
    finally:
        await conn.close()


async def _ours(dsn: str, bill: Path) -> tuple[float, dict[str, set[str]]]:
    pool = await create_pool(dsn, min_size=1, max_size=2)
    try:
        t0 = time.perf_counter()
        async with pool.acquire() as conn:
            await stage_bill_file(conn, DAY, "wechatpay", bill)
        staged = time.perf_counter()
        print(f"# staged in {staged - t0:.2f}s", flush=True)
        options = Options(bank="SFBK", collection_account="6217000010000000009", fetch=False)
        run = await reconcile(
            pool, DAY, Sources(), options, actor="bench", progress=lambda t: print(f"#   {t}")
        )
        elapsed = time.perf_counter() - t0
        print(f"# matched in {elapsed - (staged - t0):.2f}s", flush=True)
        assert run["state"] == "DONE", run
        found: dict[str, set[str]] = {kind: set() for kind in KINDS}
        async with pool.acquire() as conn:
            for r in await conn.fetch("SELECT type, reference FROM discrepancies"):
                found.setdefault(r["type"], set()).add(r["reference"])
        return elapsed, found
    finally:
        await pool.close()


async def _baseline(dsn: str, bill: Path) -> tuple[float, int]:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE baseline_bill (business_date date, provider text, kind text,"
            " occurred_at timestamptz, out_trade_no text, provider_txn_id text, out_refund_no"
            " text, provider_refund_id text, amount_fen bigint, fee_millifen bigint)"
        )
        t0 = time.perf_counter()
        await conn.copy_to_table("baseline_bill", source=bill, format="text")
        odd = await conn.fetchval(
            "SELECT count(*) FROM baseline_bill b FULL OUTER JOIN payments p"
            " ON b.provider_txn_id = p.provider_txn_id"
            " WHERE b.provider_txn_id IS NULL OR p.provider_txn_id IS NULL"
            "    OR b.amount_fen <> p.amount_fen OR b.fee_millifen <> 0"
        )
        return time.perf_counter() - t0, int(odd)
    finally:
        await conn.close()


async def bench(args: argparse.Namespace, root: Path) -> int:
    pg = EmbeddedPostgres(root / "pg")
    pg.start()
    try:
        dsn = pg.dsn()
        print(f"# seeding {args.lines} payments and writing the bill", flush=True)
        await _seed(dsn, args.lines)
        bill = root / "bill.tsv"
        plan = _write_bill(bill, args.lines, args.planted, seed=args.lines)
        print("# timing ours", flush=True)
        ours_s, found = await _ours(dsn, bill)
        print("# timing the baseline", flush=True)
        base_s, odd = await _baseline(dsn, bill)
    finally:
        pg.destroy()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    missed = {
        k: sorted(plan[k] - found.get(k, set()))[:3] for k in KINDS if plan[k] - found.get(k, set())
    }
    extra = {k: len(v - plan.get(k, set())) for k, v in found.items() if v - plan.get(k, set())}
    print(f"lines {args.lines}")
    print(f"planted {sum(len(v) for v in plan.values())}")
    print(f"found {sum(len(found.get(k, set()) & plan[k]) for k in KINDS)}")
    print(f"baseline_odd_rows {odd}")
    print(f"ours_s {ours_s:.2f}")
    print(f"baseline_s {base_s:.2f}")
    print(f"ratio {ours_s / base_s:.2f}")
    print(f"peak_rss_mib {peak:.0f}")
    print("target_s 60")
    print("target_rss_mib 1024")
    print("target_ratio 2")
    if missed or extra:
        print(f"FAILED: missed {missed}, unexpected {extra}")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="tests/bench/reconcile.py", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--lines", type=int, default=1_000_000, help="payments, and bill lines")
    ap.add_argument("--planted", type=int, default=400, help="discrepancies planted in the bill")
    args = ap.parse_args(argv)
    if args.lines < 10 or not 0 < args.planted < args.lines // 2:
        ap.error("--lines at least 10, --planted between 1 and half of --lines")
    return in_scratch("tj-bench-recon-", lambda root: bench(args, root))


if __name__ == "__main__":
    raise SystemExit(main())
