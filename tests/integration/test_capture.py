"""Capture and split on real PostgreSQL: exact split, exactly once, suspense for the rest."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration import factories as f


async def _postings(pool: asyncpg.Pool, order_no: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT a.code, p.amount_fen, p.line_no, e.kind FROM postings p"
        " JOIN ledger_accounts a ON a.id = p.account_id"
        " JOIN journal_entries e ON e.id = p.entry_id"
        " JOIN orders o ON o.id = e.order_id WHERE o.order_no = $1 ORDER BY p.id",
        order_no,
    )


async def _state(pool: asyncpg.Pool, order_no: str) -> str:
    async with pool.acquire() as conn:
        return str(await conn.fetchval("SELECT state FROM orders WHERE order_no = $1", order_no))


async def test_capture_splits_each_line_to_its_beneficiary(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        who = await f.staff(conn)
        o = await f.order(
            conn, who, [350_000_00, 80_00, 12_345_67], items=["DEED_TAX", "REG_FEE", "MAINT_FUND"]
        )
        otn = await f.attempt(conn, str(o["order_no"]))
    total = 350_000_00 + 80_00 + 12_345_67
    result = await f.capture(pool, f.notice(otn, total))
    assert (result.outcome, result.order_state, result.first_time) == ("CLEARED", "CLEARED", True)
    rows = await _postings(pool, str(o["order_no"]))
    assert [(r["code"], r["amount_fen"]) for r in rows] == [
        ("receivable:wechatpay", total),
        ("payable:TREASURY", -350_000_00),
        ("payable:FISCAL_NONTAX", -80_00),
        ("payable:FUND_CUSTODY", -12_345_67),
    ]
    assert await _state(pool, str(o["order_no"])) == "CLEARED"


async def test_same_transaction_twice_changes_nothing(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        o = await f.order(conn, await f.staff(conn), [100])
        otn = await f.attempt(conn, str(o["order_no"]))
    n = f.notice(otn, 100)
    first = await f.capture(pool, n)
    again = await f.capture(pool, n, source="query")
    assert again.first_time is False
    assert (again.payment_id, again.outcome, again.order_state) == (
        first.payment_id,
        first.outcome,
        first.order_state,
    )
    assert len(await _postings(pool, str(o["order_no"]))) == 2


async def test_fifty_concurrent_deliveries_make_one_payment_and_one_entry(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        o = await f.order(conn, await f.staff(conn), [500_00, 1])
        otn = await f.attempt(conn, str(o["order_no"]))
    n = f.notice(otn, 500_01)
    results = await asyncio.gather(*(f.capture(pool, n) for _ in range(50)))
    assert sum(r.first_time for r in results) == 1
    assert {r.payment_id for r in results} == {results[0].payment_id}
    async with pool.acquire() as conn:
        payments = await conn.fetchval(
            "SELECT count(*) FROM payments WHERE provider_txn_id = $1", n.provider_txn_id
        )
        entries = await conn.fetchval(
            "SELECT count(*) FROM journal_entries e JOIN orders o ON o.id = e.order_id"
            " WHERE o.order_no = $1",
            o["order_no"],
        )
    assert (payments, entries) == (1, 1)


async def test_wrong_amount_goes_to_suspense_and_splits_nothing(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        o = await f.order(conn, await f.staff(conn), [1000_00])
        otn = await f.attempt(conn, str(o["order_no"]))
    result = await f.capture(pool, f.notice(otn, 999_99))
    assert (result.outcome, result.reason, result.order_state) == (
        "SUSPENSE",
        "AMOUNT_MISMATCH",
        "EXCEPTION",
    )
    rows = await _postings(pool, str(o["order_no"]))
    assert [(r["code"], r["amount_fen"]) for r in rows] == [
        ("receivable:wechatpay", 999_99),
        ("suspense", -999_99),
    ]
    task = await pool.fetchval(
        "SELECT count(*) FROM tasks WHERE kind = 'payment.refund'"
        " AND (payload->>'payment_id')::bigint = $1",
        result.payment_id,
    )
    assert task == 1


async def test_payment_for_a_cancelled_order_goes_to_suspense(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        who = await f.staff(conn)
        o = await f.order(conn, who, [700])
        otn = await f.attempt(conn, str(o["order_no"]))
        await conn.execute(
            "UPDATE payment_attempts SET state = 'CLOSED' WHERE out_trade_no = $1", otn
        )
        from clearing.service import orders

        await orders.mark_cancelled(conn, who, str(o["order_no"]), "客户放弃")
    result = await f.capture(pool, f.notice(otn, 700))
    assert (result.outcome, result.reason, result.order_state) == (
        "SUSPENSE",
        "ORDER_NOT_OPEN",
        "EXCEPTION",
    )


async def test_second_payment_of_a_paid_order_is_parked_and_order_stays_cleared(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        o = await f.order(conn, await f.staff(conn), [300])
        first = await f.attempt(conn, str(o["order_no"]), 1)
        second = await f.attempt(conn, str(o["order_no"]), 2)
    assert (await f.capture(pool, f.notice(first, 300))).outcome == "CLEARED"
    again = await f.capture(pool, f.notice(second, 300))
    assert (again.outcome, again.reason, again.order_state) == (
        "SUSPENSE",
        "ALREADY_PAID",
        "CLEARED",
    )


async def test_payment_for_an_unknown_order_is_parked(pool: asyncpg.Pool) -> None:
    result = await f.capture(pool, f.notice("TJ20260101UNKNOWN00P01", 5000))
    assert (result.outcome, result.reason, result.order_no) == ("SUSPENSE", "ORDER_UNKNOWN", None)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(amounts=st.lists(st.integers(min_value=1, max_value=10**10), min_size=1, max_size=20))
async def test_any_lines_split_exactly_and_balance(pool: asyncpg.Pool, amounts: list[int]) -> None:
    async with pool.acquire() as conn:
        o = await f.order(conn, await f.staff(conn), amounts)
        otn = await f.attempt(conn, str(o["order_no"]))
    await f.capture(pool, f.notice(otn, sum(amounts)))
    rows = await _postings(pool, str(o["order_no"]))
    assert sum(r["amount_fen"] for r in rows) == 0
    credits = sorted((r["line_no"], -r["amount_fen"]) for r in rows if r["line_no"] is not None)
    assert credits == list(enumerate(amounts, start=1))


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE postings SET amount_fen = amount_fen + 1 WHERE id = (SELECT min(id) FROM postings)",
        "DELETE FROM postings WHERE id = (SELECT min(id) FROM postings)",
        "TRUNCATE postings CASCADE",
        "UPDATE journal_entries SET memo = 'x' WHERE id = (SELECT min(id) FROM journal_entries)",
        "DELETE FROM journal_entries WHERE id = (SELECT max(id) FROM journal_entries)",
    ],
)
async def test_posted_entries_cannot_be_changed(pool: asyncpg.Pool, sql: str) -> None:
    async with pool.acquire() as conn:
        o = await f.order(conn, await f.staff(conn), [100])
        await f.capture(pool, f.notice(await f.attempt(conn, str(o["order_no"])), 100))
        before = await conn.fetchval("SELECT sum(amount_fen) || '/' || count(*) FROM postings")
        with pytest.raises(asyncpg.PostgresError, match="append-only"):
            await conn.execute(sql)
        assert (
            await conn.fetchval("SELECT sum(amount_fen) || '/' || count(*) FROM postings") == before
        )


async def test_an_unbalanced_entry_is_refused_at_commit(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        n_before = await conn.fetchval("SELECT count(*) FROM journal_entries")
        with pytest.raises(asyncpg.CheckViolationError) as caught:
            async with conn.transaction():
                entry = await conn.fetchval(
                    "INSERT INTO journal_entries (kind, memo)"
                    " VALUES ('ADJUSTMENT', 'x') RETURNING id"
                )
                await conn.execute(
                    "INSERT INTO postings (entry_id, account_id, amount_fen) SELECT $1, id, 100"
                    " FROM ledger_accounts WHERE code = 'suspense'",
                    entry,
                )
        assert caught.value.constraint_name == "journal_entry_balanced"
        assert await conn.fetchval("SELECT count(*) FROM journal_entries") == n_before


async def test_postings_cannot_be_added_to_a_committed_entry(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        o = await f.order(conn, await f.staff(conn), [100])
        await f.capture(pool, f.notice(await f.attempt(conn, str(o["order_no"])), 100))
        entry = await conn.fetchval("SELECT max(id) FROM journal_entries")
        with pytest.raises(asyncpg.ForeignKeyViolationError) as caught:
            # a balanced pair, but smuggled into an entry that is already on the books
            await conn.execute(
                "INSERT INTO postings (entry_id, account_id, amount_fen)"
                " SELECT $1, id, CASE code WHEN 'suspense' THEN 5 ELSE -5 END"
                " FROM ledger_accounts WHERE code IN ('suspense', 'refunds_payable')",
                entry,
            )
        assert caught.value.constraint_name == "postings_valid"


async def test_postings_need_a_real_account_and_entry(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        for sql in (
            "INSERT INTO postings (entry_id, account_id, amount_fen) VALUES ($1, 999999, 1),"
            " ($1, 999999, -1)",
            "INSERT INTO postings (entry_id, account_id, amount_fen) VALUES ($1 + 1000, 1, 1),"
            " ($1 + 1000, 1, -1)",
        ):
            with pytest.raises(asyncpg.ForeignKeyViolationError):
                async with conn.transaction():
                    entry = await conn.fetchval(
                        "INSERT INTO journal_entries (kind) VALUES ('ADJUSTMENT') RETURNING id"
                    )
                    await conn.execute(sql, entry)


async def test_ledger_accounts_are_never_deleted_or_renamed(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(asyncpg.PostgresError, match="append-only"):
            await conn.execute("DELETE FROM ledger_accounts WHERE code = 'suspense'")
        with pytest.raises(asyncpg.PostgresError, match="never change"):
            await conn.execute("UPDATE ledger_accounts SET code = 'x' WHERE code = 'suspense'")


async def test_batched_captures_each_get_their_own_outcome(pool: asyncpg.Pool) -> None:
    from clearing.service.batching import CaptureBatcher

    batcher = CaptureBatcher(pool, max_inflight=1)
    async with pool.acquire() as conn:
        notices = await f.open_notices(conn, [100, 200, 300, 400])
    dup = notices[0]
    # order within a batch is by transaction id, so this one must not depend on arrival order
    wrong = f.notice("TJ20260101NOSUCHORDP01", 1)
    results = await asyncio.gather(
        *(batcher.capture(n, "notify") for n in [*notices, dup, dup, wrong])
    )
    assert [r.outcome for r in results[:4]] == ["CLEARED"] * 4
    assert results[4].payment_id == results[5].payment_id == results[0].payment_id
    assert sum(r.first_time for r in results[:6]) == 4
    assert (results[6].outcome, results[6].reason) == ("SUSPENSE", "ORDER_UNKNOWN")
    await batcher.close()


async def test_one_bad_notification_does_not_fail_its_batch(pool: asyncpg.Pool) -> None:
    from clearing.service.batching import CaptureBatcher

    batcher = CaptureBatcher(pool, max_inflight=1)
    async with pool.acquire() as conn:
        o = await f.order(conn, await f.staff(conn), [500])
        good = f.notice(await f.attempt(conn, str(o["order_no"])), 500)
    bad = f.notice("TJ20260101BAD0000P01", 500, txn="x" * 8)
    bad = type(bad)(**{**bad.__dict__, "provider": "nosuchacquirer"})
    # the first capture occupies the only slot, so the next two travel in one batch
    blocker = f.notice("TJ20260101BLOCKERP01", 1)
    results = await asyncio.gather(
        batcher.capture(blocker, "notify"),
        batcher.capture(good, "notify"),
        batcher.capture(bad, "notify"),
        return_exceptions=True,
    )
    assert isinstance(results[2], asyncpg.ForeignKeyViolationError)
    assert getattr(results[1], "outcome", None) == "CLEARED"
    await batcher.close()
