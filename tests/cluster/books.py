"""After a fault: is every paid order cleared exactly once, is any acknowledged payment missing,
do the books balance, was every task done once, is the audit chain whole?"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
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
