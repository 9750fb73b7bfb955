"""After a fault: is every paid order cleared exactly once, is any acknowledged payment missing,
do the books balance, was every task done once, is the audit chain whole?"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from clearing.cluster.layout import Layout
from tests.cluster.traffic import Paid


async def wait_all_cleared(conn: asyncpg.Connection, paid: list[Paid], within_s: float) -> None:
    """Callbacks retried by WeChat and the poller bring every paid order in; wait for them."""
    want = [p.out_trade_no for p in paid]
    deadline = time.monotonic() + within_s
    while True:
        missing = await conn.fetchval(
            "SELECT count(*) FROM unnest($1::text[]) AS w(otn)"
            " WHERE NOT EXISTS (SELECT 1 FROM payments p WHERE p.out_trade_no = w.otn)",
            want,
        )
        if missing == 0:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{missing} paid orders never recorded within {within_s}s")
        await asyncio.sleep(1)


async def exactly_once(conn: asyncpg.Connection, paid: list[Paid]) -> None:
    rows = await conn.fetch(
        "SELECT o.order_no, o.state, count(p.id) AS payments,"
        "       count(p.id) FILTER (WHERE p.outcome = 'CLEARED') AS cleared,"
        "       count(DISTINCT p.entry_id) AS entries"
        "  FROM orders o LEFT JOIN payments p ON p.order_id = o.id"
        " WHERE o.order_no = ANY($1::text[]) GROUP BY o.order_no, o.state",
        [p.order_no for p in paid],
    )
    assert len(rows) == len(paid)
    wrong = [dict(r) for r in rows if (r["payments"], r["cleared"], r["entries"]) != (1, 1, 1)]
    assert not wrong, f"orders not cleared exactly once: {wrong}"
    states = {r["state"] for r in rows}
    assert states <= {"CLEARED", "SETTLED"}, states


async def ledger_balanced(conn: asyncpg.Connection) -> None:
    unbalanced = await conn.fetch(
        "SELECT entry_id, sum(amount_fen) FROM postings GROUP BY entry_id"
        " HAVING sum(amount_fen) <> 0"
    )
    assert not unbalanced, f"journal entries that do not balance: {unbalanced}"
    assert await conn.fetchval("SELECT coalesce(sum(amount_fen), 0) FROM postings") == 0


async def tasks_done_once(conn: asyncpg.Connection, paid: list[Paid], within_s: float) -> None:
    """Every paid leg confirmed to its authority by exactly one task, and no task dead."""
    orders = [p.order_no for p in paid]
    deadline = time.monotonic() + within_s
    while True:
        open_legs = await conn.fetchval(
            "SELECT count(*) FROM order_lines l JOIN orders o ON o.id = l.order_id"
            " WHERE o.order_no = ANY($1::text[]) AND l.reference IS NOT NULL"
            "   AND l.confirm_state IS DISTINCT FROM 'CONFIRMED'",
            orders,
        )
        if open_legs == 0:
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"{open_legs} legs not confirmed within {within_s}s")
        await asyncio.sleep(1)
    dup = await conn.fetch(
        "SELECT dedupe_key, count(*) FROM tasks WHERE kind = 'leg.confirm'"
        " GROUP BY dedupe_key HAVING count(*) <> 1"
    )
    assert not dup, f"legs confirmed by more than one task: {dup}"
    dead = await conn.fetch("SELECT id, kind, last_error FROM tasks WHERE state = 'DEAD'")
    assert not dead, f"dead tasks: {dead}"


async def acknowledged_but_lost(
    conn: asyncpg.Connection, s: aiohttp.ClientSession, sim: str, paid: list[Paid]
) -> tuple[list[str], int]:
    """Payments WeChat was told (200) we had recorded, that the database no longer held: found
    missing, or recorded again later by the poller (source ``query``) after the acknowledgement.
    This is the RPO in payments; it must be empty. Also how many callbacks were acknowledged."""
    lost = []
    n_acked = 0
    for p in paid:
        async with s.get(f"{sim}/sim/orders/{p.out_trade_no}") as r:
            order: dict[str, Any] = await r.json()
        acked = [
            datetime.fromisoformat(a["at"])
            for n in order.get("notifications", [])
            for a in n["attempts"]
            if a.get("status") in (200, 204) and a["kind"] in ("notify", "duplicate")
        ]
        if not acked:
            continue
        n_acked += 1
        row = await conn.fetchrow(
            "SELECT source, recorded_at FROM payments WHERE out_trade_no = $1", p.out_trade_no
        )
        if row is None or (row["source"] == "query" and row["recorded_at"] > min(acked)):
            lost.append(p.out_trade_no)
    return lost, n_acked


def audit_verify(lay: Layout, node: str | None) -> str:
    """``tongjiao audit verify`` against the cluster: with the witness of ``node``, or none."""
    env = dict(os.environ)
    env["TONGJIAO_DATABASE_URL"] = lay.dsn()
    env["TONGJIAO_VAR_DIR"] = str(lay.node_dir(node) if node else lay.app_dir)
    args = [sys.executable, "-m", "clearing", "audit", "verify"]
    if node is None:
        args.append("--no-witness")
    proc = subprocess.run(
        args, env=env, capture_output=True, text=True, timeout=120, cwd=Path.cwd()
    )
    assert proc.returncode == 0, f"audit verify failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


# --- the fault campaign's books (tests/bench/campaign.py): figures, not assertions, so that a
# long run reports every check at the end instead of stopping at the first


@dataclass
class MoneyCheck:
    """What the channels hold against what we recorded, for a set of orders."""

    orders: int = 0
    kept_at_channels: int = 0  # trades whose money a channel holds (paid, not given back)
    recorded: int = 0  # of those, recorded by us (a payments row)
    lost: list[str] = field(default_factory=list)  # money a channel holds, unknown to us
    doubled: list[str] = field(default_factory=list)  # orders paid (or cleared) more than once
    unpaid: list[str] = field(default_factory=list)  # orders with no money anywhere
    not_cleared: list[str] = field(default_factory=list)  # paid, but the order is not CLEARED


def judge_money(
    orders: dict[str, str],
    attempts: list[tuple[str, str]],
    kept: set[str],
    payments: list[tuple[str, str, str]],
) -> MoneyCheck:
    """``orders``: order → its state; ``attempts``: (order, out_trade_no) of every attempt we
    made; ``kept``: the out_trade_nos whose money a channel holds; ``payments``: (order,
    out_trade_no, outcome) as we recorded them. A payment is lost when the channel holds it and
    we have no record; an order is doubled when channels hold its money twice or we cleared it
    twice (a second payment in suspense, refunded, is neither)."""
    out = MoneyCheck(orders=len(orders))
    recorded = {otn for _, otn, _ in payments}
    kept_by_order: dict[str, int] = {}
    for order_no, otn in attempts:
        if otn in kept:
            kept_by_order[order_no] = kept_by_order.get(order_no, 0) + 1
            out.kept_at_channels += 1
            if otn in recorded:
                out.recorded += 1
            else:
                out.lost.append(otn)
    cleared_by_order: dict[str, int] = {}
    for order_no, _, outcome in payments:
        if outcome == "CLEARED":
            cleared_by_order[order_no] = cleared_by_order.get(order_no, 0) + 1
    for order_no, state in sorted(orders.items()):
        held, cleared = kept_by_order.get(order_no, 0), cleared_by_order.get(order_no, 0)
        if held > 1 or cleared > 1:
            out.doubled.append(order_no)
        if held == 0 and cleared == 0:
            out.unpaid.append(order_no)
        elif state not in ("CLEARED", "SETTLED"):
            out.not_cleared.append(order_no)
    return out


async def channel_vs_books(
    conn: asyncpg.Connection,
    s: aiohttp.ClientSession,
    sims: dict[str, str],
    order_nos: list[str],
    *,
    parallel: int = 16,
) -> MoneyCheck:
    """Ask each channel's simulator about every attempt we ever made for these orders."""
    from tests.cluster.traffic import channel_kept

    orders = {
        r["order_no"]: r["state"]
        for r in await conn.fetch(
            "SELECT order_no, state FROM orders WHERE order_no = ANY($1::text[])", order_nos
        )
    }
    rows = await conn.fetch(
        "SELECT o.order_no, a.provider, a.out_trade_no FROM payment_attempts a"
        " JOIN orders o ON o.id = a.order_id WHERE o.order_no = ANY($1::text[])",
        order_nos,
    )
    payments = [
        (r["order_no"], r["out_trade_no"], r["outcome"])
        for r in await conn.fetch(
            "SELECT o.order_no, p.out_trade_no, p.outcome FROM payments p"
            " JOIN orders o ON o.id = p.order_id WHERE o.order_no = ANY($1::text[])",
            order_nos,
        )
    ]
    gate = asyncio.Semaphore(parallel)
    kept: set[str] = set()

    async def ask(provider: str, otn: str) -> None:
        async with gate:
            for _ in range(5):
                try:
                    async with s.get(f"{sims[provider]}/sim/orders/{otn}") as r:
                        if r.status == 404:
                            return  # the channel never heard of it (its create failed)
                        if r.status == 200:
                            if channel_kept(provider, await r.json()):
                                kept.add(otn)
                            return
                except (aiohttp.ClientError, OSError, TimeoutError):
                    pass
                await asyncio.sleep(0.5)
            raise AssertionError(f"the {provider} simulator does not answer about {otn}")

    await asyncio.gather(*(ask(r["provider"], r["out_trade_no"]) for r in rows))
    attempts = [(r["order_no"], r["out_trade_no"]) for r in rows]
    return judge_money(orders, attempts, kept, payments)


@dataclass
class LegsCheck:
    legs: int = 0
    confirmed: int = 0
    unconfirmed: list[str] = field(default_factory=list)
    missing_at_authority: list[str] = field(default_factory=list)
    twice_at_authority: list[str] = field(default_factory=list)
    tasks_twice: int = 0


def judge_legs(
    ours: list[tuple[str, str, str | None]], theirs: dict[str, list[str]], tasks_twice: int
) -> LegsCheck:
    """``ours``: (authority, reference, confirm_state) of each leg; ``theirs``: each authority's
    list of confirmed references. Exactly once: confirmed here, listed there once."""
    out = LegsCheck(legs=len(ours), tasks_twice=tasks_twice)
    counts: dict[tuple[str, str], int] = {}
    for authority, refs in theirs.items():
        for ref in refs:
            counts[(authority, ref)] = counts.get((authority, ref), 0) + 1
    for authority, ref, state in ours:
        if state == "CONFIRMED":
            out.confirmed += 1
        else:
            out.unconfirmed.append(f"{authority}:{ref}")
        n = counts.get((authority, ref), 0)
        if n == 0:
            out.missing_at_authority.append(f"{authority}:{ref}")
        elif n > 1:
            out.twice_at_authority.append(f"{authority}:{ref}")
    return out


_LEG_REFS = """
SELECT CASE f.kind WHEN 'tax' THEN 'tax' WHEN 'nontax' THEN 'fiscal' ELSE 'fund' END AS authority,
       l.reference, l.confirm_state
  FROM order_lines l JOIN orders o ON o.id = l.order_id JOIN fee_items f ON f.code = l.item_code
 WHERE o.order_no = ANY($1::text[]) AND l.reference IS NOT NULL
"""


async def legs_report(
    conn: asyncpg.Connection,
    s: aiohttp.ClientSession,
    sims: dict[str, str],
    order_nos: list[str],
    within_s: float,
) -> LegsCheck:
    """Waits for the legs to be confirmed, then compares with the authorities' own lists."""
    deadline = time.monotonic() + within_s
    while True:
        ours = [
            (r["authority"], r["reference"], r["confirm_state"])
            for r in await conn.fetch(_LEG_REFS, order_nos)
        ]
        if all(st == "CONFIRMED" for _, _, st in ours) or time.monotonic() > deadline:
            break
        await asyncio.sleep(2)
    theirs: dict[str, list[str]] = {}
    async with s.get(f"{sims['tax']}/sim/confirmations") as r:
        theirs["tax"] = [c["TaxVouNo"] for c in await r.json()]
    async with s.get(f"{sims['fiscal']}/sim/confirmations") as r:
        theirs["fiscal"] = [c["payment_code"] for c in await r.json()]
    twice = await conn.fetchval(
        "SELECT count(*) FROM (SELECT dedupe_key FROM tasks WHERE kind = 'leg.confirm'"
        " GROUP BY dedupe_key HAVING count(*) <> 1) x"
    )
    return judge_legs([x for x in ours if x[0] in theirs], theirs, int(twice))


async def payouts_report(conn: asyncpg.Connection, order_nos: list[str]) -> dict[str, int]:
    """Every paid line owed to a payable beneficiary: in how many live settlement items (one
    instruction each), and the instructions' states."""
    row = await conn.fetchrow(
        "WITH l AS (SELECT l.order_id, l.line_no,"
        "   (SELECT count(*) FROM settlement_items s WHERE s.order_id = l.order_id"
        "     AND s.line_no = l.line_no AND s.released_at IS NULL) AS live"
        "  FROM order_lines l JOIN orders o ON o.id = l.order_id"
        "  JOIN beneficiaries b ON b.code = l.beneficiary_code"
        " WHERE o.order_no = ANY($1::text[]) AND o.state IN ('CLEARED', 'SETTLED')"
        "   AND b.bank_code IS NOT NULL AND b.payout_hold IS NULL AND b.active"
        "   AND NOT EXISTS (SELECT 1 FROM refunded_lines r"
        "                    WHERE r.order_id = l.order_id AND r.line_no = l.line_no))"
        " SELECT count(*) AS lines, count(*) FILTER (WHERE live = 1) AS once,"
        "        count(*) FILTER (WHERE live = 0) AS none,"
        "        count(*) FILTER (WHERE live > 1) AS many FROM l",
        order_nos,
    )
    assert row is not None
    out = {k: int(row[k]) for k in ("lines", "once", "none", "many")}
    for r in await conn.fetch(
        "SELECT state, count(*) AS n FROM settlement_instructions GROUP BY 1"
    ):
        out[f"instructions_{r['state'].lower()}"] = int(r["n"])
    out["batches"] = int(await conn.fetchval("SELECT count(*) FROM settlement_batches"))
    return out


async def ledger_report(conn: asyncpg.Connection) -> tuple[int, int]:
    """(journal entries that do not balance, the sum of every posting): both 0 when balanced."""
    unbalanced = await conn.fetchval(
        "SELECT count(*) FROM (SELECT entry_id FROM postings GROUP BY entry_id"
        " HAVING sum(amount_fen) <> 0) x"
    )
    total = await conn.fetchval("SELECT coalesce(sum(amount_fen), 0) FROM postings")
    return int(unbalanced), int(total)


@dataclass(frozen=True)
class Expected:
    """A discrepancy the campaign injected on purpose: its type and source, and what names it
    (our out_trade_no, or the amount when only the bank's reference would)."""

    type: str
    source: str
    our_ref: str | None = None
    amount_fen: int | None = None

    def matches(self, found: dict[str, Any]) -> bool:
        return (
            found["type"] == self.type
            and found["source"] == self.source
            and (self.our_ref is None or found.get("our_ref") == self.our_ref)
            and (
                self.amount_fen is None
                or self.amount_fen in (found.get("their_amount_fen"), found.get("amount_fen"))
            )
        )


def compare_findings(
    expected: list[Expected], found: list[dict[str, Any]]
) -> tuple[list[Expected], list[dict[str, Any]]]:
    """(injected but not found, found but not injected): both empty when reconciliation found
    exactly what was injected. Each finding answers for at most one expectation."""
    left = list(found)
    missing = []
    for e in expected:
        hit = next((f for f in left if e.matches(f)), None)
        if hit is None:
            missing.append(e)
        else:
            left.remove(hit)
    return missing, left
