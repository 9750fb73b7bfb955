"""Clearing throughput against pgbench TPC-B, on the same PostgreSQL server in the same run.

    .venv/bin/python tests/bench/clearing.py [--clients 8] [--seconds 10] [--orders N]

1. A throwaway embedded PostgreSQL, migrated and seeded with the demo catalogue; N orders of
   ``--lines`` lines with an OPEN WeChat Pay attempt each, written in bulk (untimed).
2. The real service as separate processes (``tongjiao serve --workers 0``, so no background work
   competes), ``--servers`` of them on their own ports.
3. One signed, encrypted TRANSACTION.SUCCESS notification per order, built by the simulator's own
   code (``sim_delivery.payment_notification``, ``crypto.response_headers``) just before timing,
   so that every Wechatpay-Timestamp is fresh.
4. ``--warmup`` captures, then ``ANALYZE`` (see README.md: plans cached on an empty ledger).
5. Timed: ``--clients`` aiohttp sessions POST them to ``/notify/wechatpay`` for ``--seconds``.
   Every capture is then checked: order CLEARED, one payment and one CAPTURE entry each, every
   entry balanced, the receivable equal to what was paid. A run that fails a check exits 1.
6. pgbench TPC-B (scale 10, ``-M prepared``) on the same server with the same client count.

Prints the run's context (including CPU milliseconds per capture and per TPC-B transaction, by
process: service, postgres, client), then ``clearing_per_s``, ``clearing_p50_ms``,
``clearing_p99_ms``, ``pgbench_tps`` and ``ratio`` (clearing_per_s / pgbench_tps), one
``name value`` per line.

With ``--cluster`` the same run then measures the same again against the local deployment
(``ops/cluster up`` in ``--cluster-dir``, purged first and stopped after): three PostgreSQL 15
members under Patroni with strict synchronous replication, reached through HAProxy, so that every
commit waits for the synchronous standby. The cluster's own service nodes and simulators are
stopped for the measurement (the bench's service processes are the only clients); pgbench runs
through HAProxy too. The same figures follow with a ``cluster_`` prefix, and
``cluster_vs_single`` (captures per second on the cluster over those on the single node).
"""
# ruff: noqa: E402 - the path fix below must come before the project's imports

from __future__ import annotations

import sys
from pathlib import Path

# run as a script, this file's folder comes first on sys.path and its name would hide the
# ``clearing`` package: put the project root there instead
ROOT = Path(__file__).resolve().parents[2]
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(ROOT)

import argparse
import asyncio
import base64
import itertools
import os
import random
import re
import resource
import secrets
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import asyncpg

from adapters.wechatpay import crypto
from adapters.wechatpay.keys import (
    PLATFORM_DIR,
    PlatformKeys,
    generate_keyset,
    load_platform_keys,
)
from adapters.wechatpay.sim_delivery import payment_notification
from adapters.wechatpay.sim_state import BEIJING, Order, SimState, rfc3339
from clearing.db.embedded import EmbeddedPostgres, bin_dir
from clearing.db.migrate import migrate
from clearing.db.pool import ensure_database, init_connection
from clearing.domain.orders import attempt_no, new_order_no
from clearing.security import PiiCipher
from clearing.service import catalogue, principals
from tests.bench import capture_profile
from tests.procs import Processes, cpu_seconds, tree_cpu_seconds

ITEMS = ["DEED_TAX", "REG_FEE", "MAINT_FUND", "VAT", "IIT", "STAMP_DUTY", "LAND_TRANSFER"]
BENEFICIARY = {
    "DEED_TAX": "TREASURY",
    "VAT": "TREASURY",
    "IIT": "TREASURY",
    "STAMP_DUTY": "TREASURY",
    "REG_FEE": "FISCAL_NONTAX",
    "LAND_TRANSFER": "FISCAL_NONTAX",
    "MAINT_FUND": "FUND_CUSTODY",
}
MAX_SKEW_S = 300  # what the service's verifier allows


@dataclass(frozen=True)
class Trade:
    order_no: str
    out_trade_no: str
    total_fen: int


@dataclass
class Prepared:
    trade: Trade
    transaction_id: str
    headers: dict[str, str]
    body: bytes
    wire: bytes = b""

    def build_wire(self, netloc: str, path: str) -> None:
        """The whole HTTP/1.1 request as bytes, built before timing."""
        lines = [f"POST {path} HTTP/1.1", f"Host: {netloc}", f"Content-Length: {len(self.body)}"]
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        self.wire = ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


@dataclass
class Server:
    """Where a run measures: the embedded single node, or the cluster through HAProxy."""

    name: str
    admin_dsn: str
    dsn: Callable[[str], str]  # of a database on it
    postmasters: Callable[[], list[int]]  # whose process trees' CPU is the database's
    pgbench: str  # the pgbench binary
    pgbench_env: dict[str, str] = field(default_factory=dict)


def _embedded(pg: EmbeddedPostgres) -> Server:
    return Server(
        "single",
        pg.dsn(),
        pg.dsn,
        lambda: [pg.postmaster_pid() or 0],
        str(bin_dir() / "pgbench"),
        {"PGHOST": str(pg.socket_dir), "PGPORT": str(pg.port), "PGUSER": "postgres"},
    )


# ---------------------------------------------------------------- setup (untimed)


async def _seed_orders(dsn: str, cipher: PiiCipher, n: int, lines: int) -> list[Trade]:
    """N orders of ``lines`` lines, each with an OPEN WeChat Pay attempt, in a few statements."""
    conn = await asyncpg.connect(dsn)
    await init_connection(conn)
    try:
        await migrate(conn)
        await catalogue.seed_demo(conn)
        clerk, _ = await principals.add(
            conn,
            kind="staff",
            username=f"bench{secrets.token_hex(3)}",
            display_name="压测",
            role="clerk",
            office="HALL1",
            password="Bench-" + secrets.token_urlsafe(16),
        )
        now = datetime.now(UTC)
        rng = random.Random(n)  # amounts, not secrets
        trades: list[Trade] = []
        line_rows: list[tuple[str, int, str, str, int, str]] = []
        for _ in range(n):
            order_no = new_order_no(now)
            amounts = [rng.randint(1, 50_000_000) for _ in range(lines)]
            for j, amount in enumerate(amounts, start=1):
                item = ITEMS[(j - 1) % len(ITEMS)]
                line_rows.append((order_no, j, item, BENEFICIARY[item], amount, f"REF{j}"))
            trades.append(Trade(order_no, attempt_no(order_no, 1), sum(amounts)))
        # every row carries the same sealed payer; only the capture path is measured here
        name_enc = cipher.encrypt("张三", "orders.payer_name")
        id_enc = cipher.encrypt("11010519491231002X", "orders.payer_id")
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO orders (order_no, case_no, office, window_no, payer_name_enc,"
                " payer_id_enc, payer_id_masked, total_fen, state, created_by, expires_at)"
                " SELECT o, 'BENCH-' || o, 'HALL1', 'W01', $3, $4, '110105********002X', t,"
                "        'PAYING', $5, $6"
                "   FROM unnest($1::text[], $2::bigint[]) AS x(o, t)",
                [t.order_no for t in trades],
                [t.total_fen for t in trades],
                name_enc,
                id_enc,
                clerk.id,
                now + timedelta(hours=2),
            )
            await conn.execute(
                "INSERT INTO order_lines (order_id, line_no, item_code, beneficiary_code,"
                " amount_fen, reference)"
                " SELECT o.id, x.l, x.i, x.b, x.a, x.r FROM unnest($1::text[], $2::int[],"
                " $3::text[], $4::text[], $5::bigint[], $6::text[]) AS x(o, l, i, b, a, r)"
                " JOIN orders o ON o.order_no = x.o",
                *map(list, zip(*line_rows, strict=True)),
            )
            await conn.execute(
                "INSERT INTO payment_attempts (order_id, provider, out_trade_no, state, code_url,"
                " expires_at) SELECT o.id, 'wechatpay', x.a, 'OPEN', 'weixin://wxpay/bizpayurl',"
                " o.expires_at FROM unnest($1::text[], $2::text[]) AS x(o, a)"
                " JOIN orders o ON o.order_no = x.o",
                [t.order_no for t in trades],
                [t.out_trade_no for t in trades],
            )
        await conn.execute("VACUUM ANALYZE")
        return trades
    finally:
        await conn.close()


def _prepare(keys: PlatformKeys, trades: list[Trade], notify_url: str) -> list[Prepared]:
    """Sealed and signed as the simulator seals and signs them (sim_delivery)."""
    state = SimState(keys, public_base_url="", retry_scale=1.0, notify_timeout_s=5.0, seed=None)
    out = []
    for t in trades:
        now = datetime.now(BEIJING)
        order = Order(
            out_trade_no=t.out_trade_no,
            description="不动产登记税费 BENCH",
            total_fen=t.total_fen,
            notify_url=notify_url,
            attach=t.order_no,
            time_expire=None,
            request={},
            pr=secrets.token_urlsafe(8),
            created_at=now,
            state="SUCCESS",
            transaction_id=state.new_transaction_id(now),
            paid_fen=t.total_fen,
            success_time=rfc3339(now),
            openid="o" + secrets.token_urlsafe(21),
        )
        note = payment_notification(state, order, now)
        headers = crypto.response_headers(
            private_key=keys.private_key,
            serial=keys.public_key_id,
            body=note.payload,
            timestamp=int(time.time()),
            nonce=crypto.new_nonce(),
        )
        headers["Content-Type"] = "application/json"
        assert order.transaction_id is not None
        out.append(Prepared(t, order.transaction_id, headers, note.payload))
    return out


# ---------------------------------------------------------------- the timed phase


@dataclass
class Outcome:
    sent: list[Prepared]
    latencies_s: list[float]
    failures: list[str]
    elapsed_s: float


async def _client(
    url: str,
    work: list[Prepared],
    cursor: itertools.count[int],
    until: float,
    out: Outcome,
    rate: float | None = None,
    start: float = 0.0,
) -> None:
    # One keep-alive connection per client, as one acquirer connection would be. The requests are
    # raw HTTP/1.1 bytes built before timing, so the client spends as little of the two shared
    # cores as pgbench's C client does, and the figure is the service's.
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        while time.perf_counter() < until:
            i = next(cursor)
            if i >= len(work):
                return
            p = work[i]
            t0 = time.perf_counter()
            if rate is not None:
                # open loop: request i is due at start + i/rate whether or not the service kept
                # up; its latency counts from then, so queueing behind a slow answer shows
                # (no coordinated omission)
                due = start + i / rate
                if due >= until:
                    return
                if due > t0:
                    await asyncio.sleep(due - t0)
                t0 = due
            writer.write(p.wire)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = _content_length(head)
            if length:
                await reader.readexactly(length)
            out.latencies_s.append(time.perf_counter() - t0)
            out.sent.append(p)
            if status != 204:
                out.failures.append(f"{p.trade.out_trade_no}: HTTP {status}")
    finally:
        writer.close()


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            return int(line[15:])
    return 0


async def _run(
    urls: list[str],
    work: list[Prepared],
    clients: int,
    seconds: float,
    rate: float | None = None,
) -> Outcome:
    out = Outcome([], [], [], 0.0)
    for i, p in enumerate(work):
        parts = urlsplit(urls[i % len(urls)])
        p.build_wire(parts.netloc, parts.path)
    cursor = itertools.count()
    start = time.perf_counter()
    await asyncio.gather(
        *(
            _client(urls[c % len(urls)], work, cursor, start + seconds, out, rate, start)
            for c in range(clients)
        )
    )
    out.elapsed_s = time.perf_counter() - start
    return out


async def _analyze(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("ANALYZE")
        # the seeding's dirty pages are written now, not by a checkpoint inside the timed phase
        # (pgbench's side gets the same after its -i)
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


# ---------------------------------------------------------------- checks


async def _verify(dsn: str, sent: list[Prepared]) -> list[str]:
    """Everything that is wrong with the ledger after the run (nothing, one hopes)."""
    problems: list[str] = []
    conn = await asyncpg.connect(dsn)
    try:
        orders = [p.trade.order_no for p in sent]
        rows = await conn.fetch(
            "SELECT o.order_no, o.state, p.provider_txn_id, p.outcome, p.amount_fen,"
            " (SELECT count(*) FROM journal_entries e WHERE e.order_id = o.id"
            "   AND e.kind = 'CAPTURE') AS captures"
            " FROM orders o LEFT JOIN payments p ON p.order_id = o.id"
            " WHERE o.order_no = ANY($1::text[])",
            orders,
        )
        by_order = {r["order_no"]: r for r in rows}
        if len(rows) != len(sent):
            problems.append(f"{len(rows)} payment rows for {len(sent)} notifications")
        for p in sent:
            r = by_order.get(p.trade.order_no)
            if r is None:
                problems.append(f"{p.trade.order_no}: no payment")
                continue
            got = (r["state"], r["outcome"], r["provider_txn_id"], r["amount_fen"], r["captures"])
            want = ("CLEARED", "CLEARED", p.transaction_id, p.trade.total_fen, 1)
            if got != want:
                problems.append(f"{p.trade.order_no}: {got} != {want}")
        unbalanced = await conn.fetchval(
            "SELECT count(*) FROM (SELECT entry_id FROM postings GROUP BY entry_id"
            " HAVING sum(amount_fen) <> 0) x"
        )
        if unbalanced:
            problems.append(f"{unbalanced} journal entries do not sum to zero")
        paid = sum(p.trade.total_fen for p in sent)
        rows = await conn.fetch("SELECT code, balance_fen FROM account_balances")
        balances: dict[str, int] = {r["code"]: r["balance_fen"] for r in rows}
        if balances["receivable:wechatpay"] != paid:
            problems.append(f"receivable {balances['receivable:wechatpay']} != paid {paid}")
        payable = sum(v for k, v in balances.items() if k.startswith("payable:"))
        if payable != -paid:
            problems.append(f"payables {payable} != -{paid}")
        if balances["suspense"] != 0:
            problems.append(f"suspense holds {balances['suspense']}")
        total = await conn.fetchval("SELECT count(*) FROM payments")
        if total != len(sent):
            problems.append(f"{total} payments in all for {len(sent)} notifications")
    finally:
        await conn.close()
    return problems[:20]


# ---------------------------------------------------------------- pgbench


@dataclass(frozen=True)
class Pgbench:
    tps: float
    postgres_cpu_ms: float  # per transaction
    client_cpu_ms: float


def _pgbench(server: Server, clients: int, seconds: float, scale: int) -> Pgbench:
    env = dict(os.environ, **server.pgbench_env)
    exe = server.pgbench
    subprocess.run(  # a fixed binary, no shell
        [exe, "-i", "-q", "-s", str(scale), "pgbench"], env=env, check=True, capture_output=True
    )
    psql = str(Path(exe).with_name("psql"))
    subprocess.run([psql, "-q", "-c", "CHECKPOINT", "pgbench"], env=env, check=True)
    postmasters = server.postmasters()
    pg0, ch0 = sum(map(tree_cpu_seconds, postmasters)), _cpu(resource.RUSAGE_CHILDREN)
    run = subprocess.run(
        [exe, "-M", "prepared", "-c", str(clients), "-j", "2", "-T", str(int(seconds)), "pgbench"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    time.sleep(0.3)  # until the postmaster has reaped the backends, and counted their time
    pg1, ch1 = sum(map(tree_cpu_seconds, postmasters)), _cpu(resource.RUSAGE_CHILDREN)
    tps = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", run.stdout)
    txns = re.search(r"number of transactions actually processed: (\d+)", run.stdout)
    if tps is None or txns is None:
        raise RuntimeError(f"unexpected pgbench output:\n{run.stdout}\n{run.stderr}")
    n = int(txns.group(1))
    return Pgbench(float(tps.group(1)), (pg1 - pg0) / n * 1e3, (ch1 - ch0) / n * 1e3)


# ---------------------------------------------------------------- main


def _cpu(who: int) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Clearing:
    warm: Outcome
    timed: Outcome
    left: int  # prepared notifications the timed phase did not get to
    cpu_ms: dict[str, float]  # per capture: service, postgres, client
    problems: list[str]


async def _clearing(args: argparse.Namespace, root: Path, server: Server) -> Clearing:
    await ensure_database(server.admin_dsn, "tongjiao")
    dsn = server.dsn("tongjiao")
    pii_key = os.urandom(32)
    t0 = time.monotonic()
    trades = await _seed_orders(dsn, PiiCipher(pii_key), args.orders, args.lines)
    print(f"# seeded {len(trades)} orders in {time.monotonic() - t0:.1f}s", flush=True)
    keys_root = root / "keys"
    generate_keyset(keys_root)
    env = {
        "TONGJIAO_PII_KEY": base64.b64encode(pii_key).decode(),
        "TONGJIAO_DB_POOL_MIN": str(args.clients),
        "TONGJIAO_DB_POOL_MAX": str(args.clients + 2),
    }
    root.mkdir(parents=True, exist_ok=True)
    async with Processes(root / "procs") as procs:
        services = [
            await procs.service(
                dsn,
                keys_root,
                sim_url="http://127.0.0.1:9",  # never called: no QR is opened here
                workers=0,
                name=f"service{i}",
                env=env,
            )
            for i in range(args.servers)
        ]
        urls = [s.url + "/notify/wechatpay" for s in services]
        t0 = time.monotonic()
        work = _prepare(load_platform_keys(keys_root / PLATFORM_DIR), trades, urls[0])
        prepared_s = time.monotonic() - t0
        print(f"# prepared {len(work)} notifications in {prepared_s:.1f}s", flush=True)
        if prepared_s + args.seconds > MAX_SKEW_S - 30:
            raise SystemExit("the first notifications would be stale by the end: fewer --orders")

        warm = await _run(urls, work[: args.warmup], args.clients, 60)
        # the service's connections planned their statements on an empty ledger and cached
        # sequential scans; a live ledger has history and statistics (see README.md)
        await _analyze(dsn)
        if args.profile:
            await capture_profile.reset_statements(dsn)
        writes0 = await capture_profile.table_counts(dsn)
        postmasters = server.postmasters()
        svc_pids = [s.pid or 0 for s in services]
        before = (
            sum(cpu_seconds(p) for p in svc_pids),
            sum(map(tree_cpu_seconds, postmasters)),
            _cpu(resource.RUSAGE_SELF),
        )
        timed = await _run(urls, work[len(warm.sent) :], args.clients, args.seconds, args.rate)
        after = (
            sum(cpu_seconds(p) for p in svc_pids),
            sum(map(tree_cpu_seconds, postmasters)),
            _cpu(resource.RUSAGE_SELF),
        )
        n = max(1, len(timed.sent))
        cpu_ms = {
            name: (b - a) / n * 1e3
            for name, a, b in zip(("service", "postgres", "client"), before, after, strict=True)
        }
        capture_profile.print_writes(writes0, await capture_profile.table_counts(dsn), n)
        if args.profile:
            await capture_profile.print_statements(dsn, n)
        problems = warm.failures + timed.failures + await _verify(dsn, warm.sent + timed.sent)
        problems += [f"{s.name} died" for s in services if not s.alive]
    left = len(work) - len(warm.sent) - len(timed.sent)
    return Clearing(warm, timed, left, cpu_ms, problems)


async def bench(args: argparse.Namespace, root: Path) -> int:
    pg = EmbeddedPostgres(root / "pg")
    if args.profile:
        pg.init()
        capture_profile.configure_profile(pg.data_dir)
    pg.start()
    b = None
    try:
        server = _embedded(pg)
        c = await _clearing(args, root, server)
        if args.rate is None:  # at a set rate there is no maximum to compare
            await ensure_database(pg.dsn(), "pgbench")
            b = _pgbench(server, args.clients, args.seconds, args.scale)
    finally:
        pg.destroy()
    print(f"clients {args.clients}")
    print(f"orders {args.orders}")
    print(f"lines_per_order {args.lines}")
    print(f"server_processes {args.servers}")
    print(f"cpus {os.cpu_count()}")
    if b is not None:
        print(f"pgbench_scale {args.scale}")
    if args.rate is not None:
        print(f"target_rate_per_s {args.rate:.1f}")
    failed = _report("", c, b)
    if not args.cluster:
        return failed
    cluster_c, cluster_b = await _on_cluster(args, root)
    print("# the same against the cluster: HAProxy, three members, strict synchronous replication")
    failed |= _report("cluster_", cluster_c, cluster_b)
    if not failed:
        single = len(c.timed.sent) / c.timed.elapsed_s
        on_cluster = len(cluster_c.timed.sent) / cluster_c.timed.elapsed_s
        print(f"cluster_vs_single {on_cluster / single:.3f}")
        if b is not None and cluster_b is not None:
            print(f"cluster_pgbench_vs_single {cluster_b.tps / b.tps:.3f}")
    return failed


def _report(prefix: str, c: Clearing, b: Pgbench | None) -> int:
    """One run's figures, each name prefixed; ``b`` is None at a set ``--rate``."""
    print(f"{prefix}seconds {c.timed.elapsed_s:.2f}")
    print(f"{prefix}warmup {len(c.warm.sent)}")
    print(f"{prefix}captured {len(c.timed.sent)}")
    for name, ms in c.cpu_ms.items():
        print(f"{prefix}capture_cpu_ms_{name} {ms:.3f}")
    if b is not None:
        print(f"{prefix}tpcb_cpu_ms_postgres {b.postgres_cpu_ms:.3f}")
        print(f"{prefix}tpcb_cpu_ms_client {b.client_cpu_ms:.3f}")
    if c.left == 0:
        print("# every prepared notification was sent before the time was up: use more --orders")
    if c.problems:
        print(f"FAILED: the {prefix or 'single-node '}run did not clear what it was sent")
        for p in c.problems[:20]:
            print(f"  {p}")
        return 1
    rate = len(c.timed.sent) / c.timed.elapsed_s
    print(f"{prefix}clearing_per_s {rate:.1f}")
    print(f"{prefix}clearing_p50_ms {statistics.median(c.timed.latencies_s) * 1e3:.2f}")
    print(f"{prefix}clearing_p99_ms {_pct(c.timed.latencies_s, 0.99) * 1e3:.2f}")
    if b is not None:
        print(f"{prefix}pgbench_tps {b.tps:.1f}")
        print(f"{prefix}ratio {rate / b.tps:.3f}")
    return 0


def _ops_cluster(d: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / "ops" / "cluster"), "--dir", str(d), *args],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )


async def _on_cluster(args: argparse.Namespace, root: Path) -> tuple[Clearing, Pgbench | None]:
    """``ops/cluster up`` in its own folder; its nodes and simulators stopped (the bench brings
    its own service processes); the same measurement through HAProxy; ``down`` at the end."""
    from clearing.cluster import members as mb
    from clearing.cluster.layout import MEMBERS, SERVICE_NODES, Layout

    d = args.cluster_dir.resolve()
    _ops_cluster(d, "down", "--purge")
    print(f"# starting the cluster in {d} (ops/cluster up)", flush=True)
    up = _ops_cluster(d, "up")
    if up.returncode != 0:
        raise SystemExit(f"ops/cluster up failed:\n{up.stdout[-3000:]}\n{up.stderr[-3000:]}")
    try:
        lay = Layout.load_or_new(d)
        for name in [*SERVICE_NODES, *(n for n in list(lay.pids) if n.startswith("sim-"))]:
            mb.stop(lay, name, within_s=10)
        admin = lay.dsn(admin=True)
        server = Server(
            "cluster",
            admin,
            lambda db: admin.rsplit("/", 1)[0] + "/" + db,
            lambda: [mb.postmaster_pid(lay, m) or 0 for m in MEMBERS],
            "/usr/lib/postgresql/15/bin/pgbench",
            {
                "PGHOST": "127.0.0.1",
                "PGPORT": str(lay.ports.db_rw),
                "PGUSER": "postgres",
                "PGPASSWORD": lay.secrets.superuser,
            },
        )
        print(f"# leader {mb.leader(lay)}, synchronous standby {mb.sync_standby(lay)}", flush=True)
        c = await _clearing(args, root / "cluster", server)
        if args.rate is not None:
            return c, None
        await ensure_database(admin, "pgbench")
        return c, _pgbench(server, args.clients, args.seconds, args.scale)
    finally:
        _ops_cluster(d, "down")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="tests/bench/clearing.py", description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=8, help="concurrent clients (and pgbench -c)")
    ap.add_argument("--seconds", type=float, default=10.0, help="timed phase (and pgbench -T)")
    ap.add_argument(
        "--orders", type=int, help="orders prepared for the run (default: 3,000/s of --seconds)"
    )
    ap.add_argument("--lines", type=int, default=3, help="lines (beneficiary splits) per order")
    ap.add_argument("--servers", type=int, default=1, help="service processes (clients alternate)")
    ap.add_argument("--warmup", type=int, default=500, help="untimed captures first")
    ap.add_argument("--scale", type=int, default=10, help="pgbench scale factor")
    ap.add_argument(
        "--cluster",
        action="store_true",
        help="then the same against the local cluster through HAProxy (synchronous replication)",
    )
    ap.add_argument("--cluster-dir", type=Path, default=ROOT / "var" / "cluster-bench")
    ap.add_argument(
        "--rate",
        type=float,
        help="captures/s, paced open-loop (latency from each request's scheduled time);"
        " no pgbench then",
    )
    ap.add_argument(
        "--profile",
        action="store_true",
        help="pg_stat_statements and function counts per capture (costs some database CPU)",
    )
    args = ap.parse_args(argv)
    if args.orders is None:
        args.orders = max(10_000, int(args.seconds * 3_000)) + args.warmup
    if args.rate is not None and args.rate <= 0:
        ap.error("--rate must be positive")
    if min(args.clients, args.orders, args.lines, args.servers) < 1 or args.seconds <= 0:
        ap.error("counts and --seconds must be positive")
    if args.warmup >= args.orders:
        ap.error("--warmup must be below --orders")
    root = Path(tempfile.mkdtemp(prefix="tj-bench-"))
    try:
        return asyncio.run(bench(args, root))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
