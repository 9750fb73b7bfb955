"""tj_capture_batch (migration 0028): a batch of captures writes exactly what tj_capture writes
one by one, decides duplicates and second payments the same way, and stays exactly-once when
batches race over the same acquirer transactions."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from clearing.ports import PaymentNotice
from clearing.service.batching import _MANY
from clearing.service.payments import CaptureResult
from tests.integration import factories as f


async def _batch(conn: asyncpg.Connection, notices: list[PaymentNotice]) -> list[CaptureResult]:
    rows = await conn.fetch(
        _MANY,
        [n.provider for n in notices],
        [n.provider_txn_id for n in notices],
        [n.out_trade_no for n in notices],
        [n.amount_fen for n in notices],
        [n.paid_at for n in notices],
        ["notify"] * len(notices),
        ["rid-batch"] * len(notices),
        [dict(n.details) for n in notices],
    )
    return [CaptureResult(**dict(r)) for r in rows]


async def _written(conn: asyncpg.Connection, order_no: str) -> dict[str, Any]:
    """Everything a capture wrote about one order, without ids and times."""
    oid = await conn.fetchval("SELECT id FROM orders WHERE order_no = $1", order_no)
    return {
        "order": dict(
            await conn.fetchrow(
                "SELECT state, exception_reason, cleared_at IS NOT NULL AS cleared"
                " FROM orders WHERE id = $1",
                oid,
            )
        ),
        "postings": [
            tuple(r)
            for r in await conn.fetch(
                "SELECT e.kind, e.memo LIKE 'wechatpay %', a.code, p.amount_fen, p.line_no,"
                " p.order_id = $1 FROM postings p JOIN journal_entries e ON e.id = p.entry_id"
                " JOIN ledger_accounts a ON a.id = p.account_id WHERE e.order_id = $1"
                " ORDER BY p.line_no NULLS FIRST",
                oid,
            )
        ],
        "payments": [
            tuple(r)
            for r in await conn.fetch(
                "SELECT outcome, reason, source, amount_fen, details, attempt_id IS NOT NULL,"
                " entry_id IS NOT NULL FROM payments WHERE order_id = $1",
                oid,
            )
        ],
        "attempts": [
            r["state"]
            for r in await conn.fetch(
                "SELECT state FROM payment_attempts WHERE order_id = $1 ORDER BY id", oid
            )
        ],
        "lines": [
            r["confirm_state"]
            for r in await conn.fetch(
                "SELECT confirm_state FROM order_lines WHERE order_id = $1 ORDER BY line_no", oid
            )
        ],
        "tasks": sorted(
            (r["kind"], sorted(r["payload"]), r["max_attempts"])
            for r in await conn.fetch(
                "SELECT t.kind, t.payload, t.max_attempts FROM tasks t"
                " WHERE (t.payload->>'order_id')::bigint = $1 OR (t.payload->>'attempt_id')::bigint"
                "   IN (SELECT id FROM payment_attempts WHERE order_id = $1)",
                oid,
            )
        ),
        "audit": [
            (r["actor"], r["action"], r["object_type"], r["detail"])
            for r in await conn.fetch(
                "SELECT actor, action, object_type, detail - 'payment_id' - 'provider_txn_id'"
                " AS detail FROM audit_log WHERE object_id = $1 AND action LIKE 'payment.%'",
                order_no,
            )
        ],
    }


async def test_a_batch_writes_exactly_what_single_captures_write(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        who = await f.staff(conn)
        single = await f.order(conn, who, [120_00, 35_00, 8_00])
        batched = [await f.order(conn, who, [120_00, 35_00, 8_00]) for _ in range(3)]
        for o in (single, *batched):
            # a second QR the citizen did not use: capture queues its closing
            await f.attempt(conn, str(o["order_no"]), seq=2)
        one = await f.capture(
            pool, f.notice(await f.attempt(conn, str(single["order_no"])), 163_00)
        )
        notices = [f.notice(await f.attempt(conn, str(o["order_no"])), 163_00) for o in batched]
        results = await _batch(conn, notices)
        assert [(r.outcome, r.order_state, r.first_time) for r in results] == [
            ("CLEARED", "CLEARED", True)
        ] * 3
        assert [r.order_no for r in results] == [o["order_no"] for o in batched]
        assert one.outcome == "CLEARED"
        want = await _written(conn, str(single["order_no"]))
        assert want["tasks"] and want["audit"] and len(want["postings"]) == 4
        for o in batched:
            assert await _written(conn, str(o["order_no"])) == want
        audit_rid = await conn.fetch(
            "SELECT request_id FROM audit_log WHERE object_id = ANY($1::text[])"
            " AND action = 'payment.cleared'",
            [str(o["order_no"]) for o in batched],
        )
        assert {r["request_id"] for r in audit_rid} == {"rid-batch"}


async def test_duplicates_and_rivals_in_one_batch_are_decided_one_by_one(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        who = await f.staff(conn)
        a, b, c = [await f.order(conn, who, [500]) for _ in range(3)]
        na = f.notice(await f.attempt(conn, str(a["order_no"])), 500)
        # order b paid twice over two channels' transactions, order c paid the wrong amount
        otn_b = await f.attempt(conn, str(b["order_no"]))
        nb1, nb2 = f.notice(otn_b, 500, txn="4200000001"), f.notice(otn_b, 500, txn="4200000002")
        nc = f.notice(await f.attempt(conn, str(c["order_no"])), 499)
        results = await _batch(conn, [na, na, nb1, nb2, nc])
        got = [(r.outcome, r.reason, r.first_time) for r in results]
        assert got[0] == ("CLEARED", None, True)
        assert got[1] == ("CLEARED", None, False) and results[1].payment_id == results[0].payment_id
        # in the batch's order: the first transaction clears b, the second is not needed
        assert got[2] == ("CLEARED", None, True)
        assert got[3] == ("SUSPENSE", "ALREADY_PAID", True)
        assert got[4] == ("SUSPENSE", "AMOUNT_MISMATCH", True)
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM payments p JOIN orders o ON o.id = p.order_id"
                " WHERE o.order_no = $1",
                a["order_no"],
            )
            == 1
        )


async def test_racing_batches_record_each_transaction_once(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        who = await f.staff(conn)
        orders = [await f.order(conn, who, [700, 300]) for _ in range(12)]
        notices = [f.notice(await f.attempt(conn, str(o["order_no"])), 1000) for o in orders]
    notices.sort(key=lambda n: (n.provider, n.provider_txn_id))  # as the batcher sends them

    async def send(part: list[PaymentNotice]) -> list[CaptureResult]:
        async with pool.acquire() as c:
            return await _batch(c, part)

    # three batches over overlapping halves of the same transactions, at the same time
    runs = await asyncio.gather(send(notices), send(notices[:6]), send(notices[6:]))
    by_txn: dict[str, list[CaptureResult]] = {}
    for part, results in zip((notices, notices[:6], notices[6:]), runs, strict=True):
        for n, r in zip(part, results, strict=True):
            by_txn.setdefault(n.provider_txn_id, []).append(r)
    for results in by_txn.values():
        assert [r.first_time for r in results].count(True) == 1
        assert {r.payment_id for r in results} == {results[0].payment_id}
        assert {r.outcome for r in results} == {"CLEARED"}
    async with pool.acquire() as conn:
        ids = await conn.fetchval(
            "SELECT array_agg(id) FROM orders WHERE order_no = ANY($1::text[])",
            [o["order_no"] for o in orders],
        )
        for table in ("payments", "journal_entries"):
            n = await conn.fetchval(
                f"SELECT count(*) FROM {table} WHERE order_id = ANY($1::bigint[])", ids
            )
            assert n == 12, table
