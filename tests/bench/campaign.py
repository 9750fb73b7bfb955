"""The fault campaign: thousands of payments on every channel against the real deployment while
service nodes are SIGKILLed, the database leader dies, and the outside parties misbehave; then a
settlement cut-off and a reconciliation run, and the books are checked.

    .venv/bin/python tests/bench/campaign.py [--payments 10000] [--service-kills 20]
        [--failovers 2] [--concurrency 8] [--case-every 2] [--dir var/cluster-campaign] [--keep]

It starts its own cluster (``ops/cluster up`` in ``--dir``, data from an earlier run purged) and
stops it at the end (``--keep`` leaves it running for a look). Progress every 15 s; a summary
table at the end; exit 1 when any check fails. docs/ops/campaign.md says how to read it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from clearing.cluster import members as mb  # noqa: E402
from clearing.cluster.layout import SERVICE_NODES, Layout  # noqa: E402
from clearing.config import Settings  # noqa: E402
from clearing.domain import times  # noqa: E402
from reconciliation import engine_bank  # noqa: E402
from tests.cluster import books  # noqa: E402
from tests.cluster.traffic import WAYS, Traffic  # noqa: E402

CHANNELS = ("wechatpay", "alipay", "unionpay", "pos")
# callbacks misbehave the whole time: a fifth of delivery rounds dropped, every one sent twice,
# bursts sent newest first, each delayed
CALLBACK_FAULTS: dict[str, dict[str, Any]] = {
    "wechatpay": {"drop_callbacks": 0.2, "duplicate_callbacks": 1, "reorder_callbacks": True,
                  "delay_callbacks_s": 0.5},
    "alipay": {"drop_callbacks": 0.2, "duplicate_callbacks": 1, "reorder_callbacks": True,
               "delay_callbacks_s": 0.5},
    "unionpay": {"drop_callbacks": 0.2, "duplicate_callbacks": 1, "reorder_callbacks": 3,
                 "reorder_hold_s": 1.0, "delay_callbacks_s": 0.5},
    "pos": {"drop_callbacks": 0.2, "duplicate_callbacks": 1, "reorder_callbacks": 3,
            "reorder_hold_s": 1.0, "delay_callbacks_s": 0.5},
}  # fmt: skip
# storms, in turn: the next calls answer 5xx; then every answer comes after the client's timeout
# (5 s for channels and authorities) for a few seconds
STORM_5XX: dict[str, dict[str, Any]] = {
    **{c: {"api_5xx": 2} for c in CHANNELS},
    "tax": {"api_5xx": 2},
    "fiscal": {"api_5xx": 2},
    "bank": {"inbox_5xx": 2, "outbox_5xx": 2},
}
STORM_SLOW: dict[str, dict[str, Any]] = {
    **{c: {"api_delay_s": 6.0} for c in CHANNELS},
    "tax": {"api_delay_s": 6.0},
    "fiscal": {"api_delay_s": 6.0},
    "bank": {"delay_s": 40.0},
}
SLOW_OFF: dict[str, dict[str, Any]] = {
    name: {k: 0.0 for k in knobs} for name, knobs in STORM_SLOW.items()
}
# what reconciliation must find: these and nothing else
FEE_PPM = 6000  # Alipay charges 0.6 % on a few payments where the contract says nothing
FEE_PAYMENTS = 3
STRAY_CREDIT_FEN = 123_45  # money on the collection account from someone nobody knows
STRAY_PAYER = "某某商贸有限公司"
# who settles each channel's money into the collection account (settlement_acquirer_accounts)
ACQUIRERS = {
    "wechatpay": "财付通支付科技有限公司",
    "alipay": "支付宝（中国）网络技术有限公司",
    "unionpay": "中国银联股份有限公司",
    "pos": "银联商务股份有限公司",
}


def say(text: str) -> None:
    print(text, flush=True)


@dataclass
class Stats:
    started: float = field(default_factory=time.monotonic)
    service_kills: int = 0
    failovers: int = 0
    storms: int = 0
    failed_payments: list[str] = field(default_factory=list)
    failover_s: list[float] = field(default_factory=list)
    restart_s: list[float] = field(default_factory=list)

    def clock(self) -> str:
        t = int(time.monotonic() - self.started)
        return f"{t // 60:02d}:{t % 60:02d}"


def cluster(d: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / "ops" / "cluster"), "--dir", str(d), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def node_env(lay: Layout, node: str) -> dict[str, str]:
    """The environment ``ops/cluster up`` gave the node: what it is restarted with, and what the
    command-line tools (settle, reconcile) need to reach the same database and outside parties."""
    pid = lay.pids[node]
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(x.split("=", 1) for x in raw.decode().split("\0") if "=" in x)


async def set_faults(
    s: aiohttp.ClientSession, lay: Layout, knobs: dict[str, dict[str, Any]]
) -> None:
    for name, values in knobs.items():
        async with s.put(f"{lay.sims[name]}/sim/faults", json=values) as r:
            assert r.status == 200, f"{name} faults {values}: {r.status} {await r.text()}"


async def reset_faults(s: aiohttp.ClientSession, lay: Layout) -> None:
    for name in (*CHANNELS, "tax", "fiscal", "bank"):
        async with s.delete(f"{lay.sims[name]}/sim/faults") as r:
            assert r.status == 200, await r.text()


async def storms(
    s: aiohttp.ClientSession, lay: Layout, st: Stats, stop: asyncio.Event, every_s: float
) -> None:
    """5xx bursts and timeout windows at every channel, both authorities and the bank, in turn."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)
        if stop.is_set():
            return
        if st.storms % 2 == 0:
            await set_faults(s, lay, STORM_5XX)
        else:
            await set_faults(s, lay, STORM_SLOW)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 8)
            await set_faults(s, lay, SLOW_OFF)
        st.storms += 1


def kill_service_node(lay: Layout, node: str, st: Stats) -> None:
    """SIGKILL, a moment down (HAProxy notices), the same command started again; ready again."""
    env = node_env(lay, node)
    pid = lay.pids[node]
    os.kill(pid, signal.SIGKILL)
    assert mb.wait_for(lambda: not mb.alive(pid), 10, step=0.1), f"{node} outlived SIGKILL"
    time.sleep(2)
    t = time.monotonic()
    mb.spawn(lay, node, [sys.executable, "-m", "clearing", "serve"], env=env)
    url = f"http://127.0.0.1:{lay.ports.node_http[node]}/readyz"
    if not mb.wait_for(lambda: mb.http_json(url, timeout=3)[0] == 200, 300, step=0.5):
        raise RuntimeError(f"{node} not ready again after its restart; see {lay.log_dir}")
    st.restart_s.append(time.monotonic() - t)
    st.service_kills += 1


def fail_over(lay: Layout, st: Stats) -> None:
    """The leader's machine dies (Patroni and postmaster SIGKILLed): Patroni promotes the
    synchronous standby once the leader key expires. The old leader then rejoins as a replica."""
    old = mb.leader(lay)
    assert old is not None, "no leader to kill"
    t = time.monotonic()
    mb.kill_member(lay, old)
    if not mb.wait_for(lambda: mb.leader(lay) not in (None, old), 180, step=0.5):
        raise RuntimeError(f"no new leader after {old} was killed")
    st.failover_s.append(time.monotonic() - t)
    st.failovers += 1
    mb.start_member(lay, old)
    if not mb.wait_for(lambda: mb.healthy(lay), 300, step=1.0):
        raise RuntimeError(f"{old} did not rejoin: {mb.members_state(lay)}")


def plan(n: int, kills: int, failovers: int) -> list[tuple[int, str]]:
    """At how many payments each fault strikes: spread evenly over the run, never two at once."""
    events = [(n * (k + 1) // (kills + 1), "kill") for k in range(kills)]
    events += [(n * (2 * f + 1) // (2 * failovers), "failover") for f in range(failovers)]
    return sorted(events)


async def faults(
    lay: Layout, traffic: Traffic, st: Stats, events: list[tuple[int, str]], stop: asyncio.Event
) -> None:
    for at, kind in events:
        while len(traffic.paid) < at and not stop.is_set():
            await asyncio.sleep(0.5)
        if stop.is_set():
            return
        try:
            await _strike(lay, st, kind)
        except Exception as exc:  # reported; the check of the count fails, the campaign goes on
            say(f"[{st.clock()}] the {kind} did not complete: {exc!r}")


async def _strike(lay: Layout, st: Stats, kind: str) -> None:
    if kind == "kill":
        node = SERVICE_NODES[st.service_kills % len(SERVICE_NODES)]
        say(f"[{st.clock()}] SIGKILL {node} (service kill {st.service_kills + 1})")
        await asyncio.to_thread(kill_service_node, lay, node, st)
    else:
        say(f"[{st.clock()}] SIGKILL the leader {mb.leader(lay)} (failover {st.failovers + 1})")
        await asyncio.to_thread(fail_over, lay, st)
        say(
            f"[{st.clock()}] new leader {mb.leader(lay)} after {st.failover_s[-1]:.1f} s; old one rejoined"
        )


async def progress(
    traffic: Traffic, st: Stats, n: int, args: argparse.Namespace, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 15)
        done = len(traffic.paid)
        rate = done / max(1.0, time.monotonic() - st.started)
        say(
            f"[{st.clock()}] paid {done}/{n} ({rate:.1f}/s)  service kills"
            f" {st.service_kills}/{args.service_kills}  failovers {st.failovers}/{args.failovers}"
            f"  storms {st.storms}  re-sent {traffic.retries}  failed {len(st.failed_payments)}"
        )


async def drive(
    lay: Layout, s: aiohttp.ClientSession, args: argparse.Namespace, st: Stats
) -> Traffic:
    traffic = Traffic(lay, s)
    n = args.payments
    counter = iter(range(n))
    stop = asyncio.Event()

    async def worker() -> None:
        for i in counter:
            provider, method = WAYS[i % len(WAYS)]
            try:
                await traffic.pay_way(i, provider, method, from_case=i % args.case_every == 0)
            except Exception as exc:  # counted and reported; the campaign goes on
                st.failed_payments.append(f"{i} {provider}/{method}: {exc!r}"[:300])

    bg = [
        asyncio.create_task(storms(s, lay, st, stop, args.storm_every)),
        asyncio.create_task(progress(traffic, st, n, args, stop)),
    ]
    fault_task = asyncio.create_task(
        faults(lay, traffic, st, plan(n, args.service_kills, args.failovers), stop)
    )
    try:
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        stop.set()
        await fault_task
    finally:
        stop.set()
        for t in bg:
            t.cancel()
        await asyncio.gather(*bg, return_exceptions=True)
        if not fault_task.done():
            fault_task.cancel()
    return traffic


async def inject(
    lay: Layout, s: aiohttp.ClientSession, traffic: Traffic, n: int
) -> list[books.Expected]:
    """The discrepancies reconciliation must find: a fee the contract does not have on a few
    Alipay payments (bill side), and a credit from a stranger on the collection account
    (statement side)."""
    expected = []
    await set_faults(s, lay, {"alipay": {"fee_rate_ppm": FEE_PPM}})
    for k in range(FEE_PAYMENTS):
        p = await traffic.pay_way(n + k, "alipay", "qr", from_case=False)
        expected.append(books.Expected("FEE_MISMATCH", "alipay", our_ref=p.out_trade_no))
    await set_faults(s, lay, {"alipay": {"fee_rate_ppm": 0}})
    body = {"account": Settings().settlement_account_no, "amount_fen": STRAY_CREDIT_FEN,
            "payer_name": STRAY_PAYER}  # fmt: skip
    async with s.post(f"{lay.sims['bank']}/sim/credit", json=body) as r:
        assert r.status == 201, await r.text()
    expected.append(
        books.Expected(
            "STATEMENT_CREDIT_UNMATCHED",
            f"bank:{Settings().settlement_bank}",
            amount_fen=STRAY_CREDIT_FEN,
        )
    )
    return expected


async def until(conn: asyncpg.Connection, sql: str, what: str, within_s: float, *args: Any) -> None:
    deadline = time.monotonic() + within_s
    while not await conn.fetchval(sql, *args):
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(1)


def tool(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clearing", *args],
        env=env, capture_output=True, text=True, timeout=1800, cwd=ROOT,
    )  # fmt: skip


async def settle_and_reconcile(
    lay: Layout, s: aiohttp.ClientSession, conn: asyncpg.Connection
) -> dict[str, Any]:
    """The terminals close their batches and today's bills are read (a first reconciliation
    run); each acquirer settles the day's net into the collection account, as it would; a
    cut-off pays every beneficiary; the bank fetches, answers and closes its day; then the
    reconciliation of today, as ``tongjiao reconcile`` runs it, with the statement."""
    today = datetime.now(times.BEIJING).date()
    env = node_env(lay, SERVICE_NODES[0])
    env.update(
        {
            "TONGJIAO_SETTLEMENT_ACQUIRER_ACCOUNTS": json.dumps(
                {name: provider for provider, name in ACQUIRERS.items()}, ensure_ascii=False
            ),
            # the acquirers settle today's bill today (not the next day, as in production)
            "TONGJIAO_RECON_SETTLE_LAG_DAYS": "0",
        }
    )
    async with s.post(f"{lay.sims['pos']}/sim/settle", json={}) as r:
        assert r.status == 200, await r.text()
    proc = await asyncio.to_thread(tool, env, "reconcile", "--date", today.isoformat())
    assert proc.returncode == 0, proc.stderr[-2000:]
    # what each acquirer owes: its bill's payments, less refunds and fees, as the engine sums it
    for provider, name in ACQUIRERS.items():
        net = await conn.fetchrow(engine_bank._NET, today, provider)
        assert net is not None
        amount = int(net["net"]) - int(net["fees"])
        if amount > 0:
            body = {"account": Settings().settlement_account_no, "amount_fen": amount,
                    "payer_name": name}  # fmt: skip
            async with s.post(f"{lay.sims['bank']}/sim/credit", json=body) as r:
                assert r.status == 201, await r.text()
            say(f"  {provider} settles {amount / 100:,.2f} yuan ({net['lines']} bill lines)")
    proc = await asyncio.to_thread(tool, env, "settle", "--cutoff", "now")
    assert proc.returncode == 0, proc.stderr[-2000:]
    say("  " + " / ".join(ln for ln in proc.stderr.splitlines() if not ln.startswith("{"))[-300:])
    async with s.post(f"{lay.sims['bank']}/sim/fetch", json={}) as r:
        assert r.status == 200, await r.text()
    await until(
        conn,
        "SELECT NOT EXISTS (SELECT 1 FROM settlement_instructions WHERE state = 'PENDING')",
        "the bank's answers to every instruction",
        600,
    )
    async with s.post(f"{lay.sims['bank']}/sim/close-day", json={"date": today.isoformat()}) as r:
        assert r.status in (200, 201), await r.text()
    await until(
        conn,
        "SELECT EXISTS (SELECT 1 FROM bank_statement_balances WHERE statement_date = $1)",
        "the bank's statement of today",
        600,
        today,
    )
    proc = await asyncio.to_thread(tool, env, "reconcile", "--date", today.isoformat())
    assert proc.returncode == 0, proc.stderr[-2000:]
    run: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return run


@dataclass
class Check:
    name: str
    ok: bool
    figure: str


def table(checks: list[Check]) -> str:
    w = max(len(c.name) for c in checks)
    rows = [f"  {'check':<{w}}  result  figure", f"  {'-' * w}  ------  ------"]
    rows += [f"  {c.name:<{w}}  {'ok' if c.ok else 'FAILED':<6}  {c.figure}" for c in checks]
    return "\n".join(rows)


async def check_all(
    lay: Layout, s: aiohttp.ClientSession, traffic: Traffic, st: Stats, args: argparse.Namespace
) -> list[Check]:
    conn = await asyncpg.connect(lay.dsn())
    try:
        # the callbacks still in flight, the poller and the task workers finish their work
        await books.wait_all_cleared(conn, [p for p in traffic.paid if p.out_trade_no], 900)
        expected = await inject(lay, s, traffic, args.payments)
        order_nos = sorted({p.order_no for p in traffic.paid})
        say(f"[{st.clock()}] every payment recorded; checking legs, settling, reconciling")
        legs = await books.legs_report(conn, s, lay.sims, order_nos, 900)
        run = await settle_and_reconcile(lay, s, conn)
        money = await books.channel_vs_books(conn, s, lay.sims, order_nos)
        payouts = await books.payouts_report(conn, order_nos)
        unbalanced, total = await books.ledger_report(conn)
        dead = [
            f"{r['kind']} {r['dedupe_key']}: {(r['last_error'] or '')[:120]}"
            for r in await conn.fetch(
                "SELECT kind, dedupe_key, last_error FROM tasks WHERE state = 'DEAD' ORDER BY id"
            )
        ]
        found = [
            dict(r)
            for r in await conn.fetch(
                "SELECT type, source, reference, our_ref, amount_fen, their_amount_fen"
                " FROM discrepancies WHERE business_date = $1 AND state IN ('OPEN', 'ASSIGNED')"
                " ORDER BY type, reference",
                date.fromisoformat(str(run["business_date"])),
            )
        ]
    finally:
        await conn.close()
    audits = []
    for node in SERVICE_NODES:
        try:
            out = await asyncio.to_thread(books.audit_verify, lay, node)
            audits.append(
                (node, "PROBLEM" not in out, out.strip().splitlines()[-1] if out.strip() else "")
            )
        except AssertionError as exc:
            audits.append((node, False, str(exc)[-300:]))
    missing, unexpected = books.compare_findings(expected, found)
    stats = run.get("stats") or {}
    if isinstance(stats, str):
        stats = json.loads(stats)
    by_type = stats.get("findings_by_type", {})
    made = len(traffic.paid) - FEE_PAYMENTS
    return [
        Check("payments made", not st.failed_payments and made == args.payments,
              f"{made} of {args.payments} paid (and {FEE_PAYMENTS} injected),"
              f" {len(st.failed_payments)} gave up; {traffic.retries} requests re-sent"),
        Check("service nodes SIGKILLed and restarted", st.service_kills == args.service_kills,
              f"{st.service_kills} (ready again after {_span(st.restart_s)} s)"),
        Check("leader failovers", st.failovers == args.failovers,
              f"{st.failovers} (new leader after {_span(st.failover_s)} s)"),
        Check("fault storms (5xx, timeouts)", st.storms > 0, f"{st.storms}"),
        Check("payments lost", not money.lost,
              f"{len(money.lost)} of {money.kept_at_channels} held by the channels {money.lost[:5]}"),
        Check("payments doubled", not money.doubled, f"{len(money.doubled)} {money.doubled[:5]}"),
        Check("orders unpaid or not cleared", not money.unpaid and not money.not_cleared,
              f"{len(money.unpaid)} unpaid, {len(money.not_cleared)} not cleared of {money.orders}"),
        Check("legs confirmed exactly once",
              legs.confirmed == legs.legs and not legs.missing_at_authority
              and not legs.twice_at_authority and legs.tasks_twice == 0,
              f"{legs.confirmed}/{legs.legs} confirmed; at the authorities {len(legs.missing_at_authority)}"
              f" missing, {len(legs.twice_at_authority)} twice; {legs.tasks_twice} legs with two tasks"),
        Check("payouts in exactly one instruction",
              payouts["lines"] > 0 and payouts["once"] == payouts["lines"],
              f"{payouts['once']}/{payouts['lines']} lines ({payouts['none']} in none,"
              f" {payouts['many']} in several); {payouts['batches']} batches; "
              + ", ".join(f"{k[13:]} {v}" for k, v in payouts.items() if k.startswith("instructions_"))),
        Check("ledger balanced", unbalanced == 0 and total == 0,
              f"{unbalanced} unbalanced entries, postings sum {total}"),
        Check("no dead tasks", not dead, f"{len(dead)} {dead[:3]}"),
        *(Check(f"audit chain intact ({node})", ok, text) for node, ok, text in audits),
        Check("reconciliation = injected", run.get("state") == "DONE" and not missing and not unexpected,
              f"run {run.get('id')} {run.get('state')}: found {by_type}; injected"
              f" {len(expected)}, missing {[(e.type, e.our_ref or e.amount_fen) for e in missing]},"
              f" unexpected {[(f['type'], f['source'], f['reference']) for f in unexpected][:8]}"),
    ]  # fmt: skip


def _span(xs: list[float]) -> str:
    return f"{min(xs):.1f}–{max(xs):.1f}" if xs else "-"


async def campaign(args: argparse.Namespace) -> int:
    d = args.dir.resolve()
    st = Stats()
    if not args.reuse:
        say(f"==> a fresh cluster in {d} (ops/cluster up)")
        cluster(d, "down", "--purge")
        proc = cluster(d, "up", "--sim-retry-scale", "0.05")
        if proc.returncode != 0:
            say(proc.stdout[-3000:] + proc.stderr[-3000:])
            return 1
    lay = Layout.load_or_new(d)
    up_s = time.monotonic() - st.started
    st.started = time.monotonic()  # the clock and the rates count from the first payment
    say(f"[{st.clock()}] cluster up in {up_s:.0f} s: leader {mb.leader(lay)}, nodes {', '.join(SERVICE_NODES)};"
        f" {args.payments} payments over {len(WAYS)} ways, {args.service_kills} service kills,"
        f" {args.failovers} failovers")  # fmt: skip
    try:
        async with aiohttp.ClientSession() as s:
            await set_faults(s, lay, CALLBACK_FAULTS)
            traffic = await drive(lay, s, args, st)
            await reset_faults(s, lay)
            say(
                f"[{st.clock()}] traffic done: {len(traffic.paid)} paid; faults off, waiting for the books"
            )
            try:
                checks = await check_all(lay, s, traffic, st, args)
            except Exception:
                import traceback

                traceback.print_exc()
                say(f"[{st.clock()}] FAILED: the books could not be checked (above)")
                return 1
        for line in st.failed_payments[:10]:
            say(f"  gave up: {line}")
        by_way: dict[str, int] = {}
        for p in traffic.paid:
            by_way[f"{p.provider}/{p.method}"] = by_way.get(f"{p.provider}/{p.method}", 0) + 1
        say(f"\n[{st.clock()}] payments by way: {by_way}\n")
        say(table(checks))
        failed = [c.name for c in checks if not c.ok]
        say(f"\n{'ALL CHECKS PASSED' if not failed else 'FAILED: ' + ', '.join(failed)}"
            f" in {st.clock()} (mm:ss)")  # fmt: skip
        return 1 if failed else 0
    finally:
        if not args.keep:
            cluster(d, "down", timeout=300)
            say("cluster stopped (ops/cluster down); data and logs kept in " + str(d))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--payments", type=int, default=10_000)
    ap.add_argument("--service-kills", type=int, default=20)
    ap.add_argument("--failovers", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=8, help="payments in flight at once")
    ap.add_argument("--case-every", type=int, default=2,
                    help="every Nth order is for an authorities' case (legs to confirm);"
                         " the others are lines a supervisor typed")  # fmt: skip
    ap.add_argument("--storm-every", type=float, default=40.0, help="seconds between fault storms")
    ap.add_argument("--dir", type=Path, default=ROOT / "var" / "cluster-campaign")
    ap.add_argument("--reuse", action="store_true", help="use the cluster running in --dir")
    ap.add_argument("--keep", action="store_true", help="leave the cluster running afterwards")
    args = ap.parse_args(argv)
    return asyncio.run(campaign(args))


if __name__ == "__main__":
    sys.exit(main())
