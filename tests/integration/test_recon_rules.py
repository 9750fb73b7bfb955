"""Matching by rule when references fail: the channel's line and our payment that are one payment
under two transaction ids. A sure pair (same order reference, amount and minute) is matched at
once and recorded with its rule and confidence; an unsure one leaves one discrepancy that waits
for a person, and confirming the match closes it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import asyncpg

from clearing.ports import BillRecord
from reconciliation import cases
from reconciliation.runs import Options, Sources, reconcile
from reconciliation.stage import stage_bill
from tests.integration import factories as f

BEIJING = timezone(timedelta(hours=8))


async def _paid(pool: asyncpg.Pool, amount: int, txn: str) -> tuple[str, datetime]:
    async with pool.acquire() as conn:
        o = await f.order(conn, await f.staff(conn), [amount])
        otn = await f.attempt(conn, str(o["order_no"]))
    notice = f.notice(otn, amount, txn)
    await f.capture(pool, notice)
    return otn, notice.paid_at


async def test_a_sure_pair_matches_and_an_unsure_one_waits_for_a_person(
    pool: asyncpg.Pool,
) -> None:
    day = datetime.now(BEIJING).date()
    sure_otn, sure_at = await _paid(pool, 123_45, "4200000000000000000000000001")
    _, unsure_at = await _paid(pool, 678_90, "4200000000000000000000000002")
    bill = [
        # our order reference, but the channel re-issued its transaction id
        BillRecord("wechatpay", "PAYMENT", sure_at, sure_otn, "REISSUED-0001", 123_45),
        # neither reference ours: the same amount a few seconds later is all we have
        BillRecord(
            "wechatpay", "PAYMENT", unsure_at + timedelta(seconds=20), "X-UNKNOWN", "OTHER-2",
            678_90,
        ),
    ]  # fmt: skip
    async with pool.acquire() as conn:
        await stage_bill(conn, day, "wechatpay", bill)
    options = Options(bank="SFBK", collection_account="6217000010000000009", fetch=False)
    run = await reconcile(pool, day, Sources(), options, actor="test")
    assert (run["stats"]["rule_matched"], run["stats"]["rule_proposed"]) == (1, 1)
    async with pool.acquire() as conn:
        matches = {
            r["external_ref"]: dict(r)
            for r in await conn.fetch(
                "SELECT * FROM recon_matches WHERE rule = 'amount_time_reference'"
            )
        }
        open_ = await conn.fetch(
            "SELECT id, type, reference, detail FROM discrepancies WHERE state = 'OPEN'"
        )
    sure, unsure = matches["wechatpay:REISSUED-0001"], matches["wechatpay:OTHER-2"]
    assert (sure["state"], sure["confidence"]) == ("AUTO", 100)
    assert unsure["state"] == "PROPOSED" and unsure["confidence"] < 90
    # one discrepancy for the unsure pair (not a 长款 and a 短款), pointing at the proposal
    assert [(d["type"], d["reference"]) for d in open_] == [("LONG", "OTHER-2")]
    assert open_[0]["detail"]["match_id"] == unsure["id"]
    # a person confirms it: the discrepancy closes, and the next run keeps it closed
    async with pool.acquire() as conn:
        who = await f.staff(conn, role="finance")
        await cases.decide_match(conn, who, unsure["id"], confirm=True)
        assert (
            await conn.fetchval("SELECT state FROM discrepancies WHERE id = $1", open_[0]["id"])
            == "RESOLVED"
        )
    await reconcile(pool, day, Sources(), options, actor="test")
    async with pool.acquire() as conn:
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM discrepancies WHERE state IN ('OPEN', 'ASSIGNED')"
            )
            == 0
        )


async def test_a_bill_not_yet_produced_is_a_timing_difference_not_a_shortfall(
    pool: asyncpg.Pool,
) -> None:
    day = datetime.now(BEIJING).date()
    _, paid_at = await _paid(pool, 55_00, "4200000000000000000000000055")
    async with pool.acquire() as conn:
        await stage_bill(conn, day, "wechatpay", [])  # the channel's bill is empty so far
    options = Options(bank="SFBK", collection_account="6217000010000000009", fetch=False)
    await reconcile(pool, day, Sources(), options, actor="test")
    row = await pool.fetchrow(
        "SELECT type, detail FROM discrepancies WHERE reference = $1",
        "4200000000000000000000000055",
    )
    assert row is not None and row["type"] == "TIMING", row
    # the bill arrives with the payment in it: the next run closes the difference
    async with pool.acquire() as conn:
        otn = await conn.fetchval(
            "SELECT out_trade_no FROM payments WHERE provider_txn_id = $1",
            "4200000000000000000000000055",
        )
        await stage_bill(
            conn,
            day,
            "wechatpay",
            [
                BillRecord(
                    "wechatpay", "PAYMENT", paid_at, otn, "4200000000000000000000000055", 55_00
                )
            ],
        )
    await reconcile(pool, day, Sources(), options, actor="test")
    state = await pool.fetchval(
        "SELECT state FROM discrepancies WHERE reference = $1", "4200000000000000000000000055"
    )
    assert state == "RESOLVED"


async def test_an_authority_that_booked_another_amount_is_a_finding(pool: asyncpg.Pool) -> None:
    from clearing.ports import LegConfirmation
    from reconciliation.stage import stage_confirmations

    day = datetime.now(BEIJING).date()
    async with pool.acquire() as conn:
        o = await f.order(conn, await f.staff(conn), [900_00], items=["DEED_TAX"])
        otn = await f.attempt(conn, str(o["order_no"]))
    notice = f.notice(otn, 900_00)
    await f.capture(pool, notice)
    async with pool.acquire() as conn:
        # the bureau confirmed the leg (as LegConfirmer records it) ...
        await conn.execute(
            "UPDATE order_lines l SET confirm_state = 'CONFIRMED', proof_no = 'WS1'"
            " FROM orders o WHERE o.id = l.order_id AND o.order_no = $1",
            o["order_no"],
        )
        # ... but its own list says it booked one yuan less
        await stage_confirmations(
            conn, day, "tax", [LegConfirmation("REF0", "WS1", notice.paid_at, {}, 899_00)]
        )
    options = Options(bank="SFBK", collection_account="6217000010000000009", fetch=False)
    await reconcile(pool, day, Sources(), options, actor="test")
    row = await pool.fetchrow(
        "SELECT type, amount_fen, their_amount_fen FROM discrepancies"
        " WHERE source = 'tax' AND reference = 'REF0'"
    )
    assert row is not None and dict(row) == {
        "type": "AMOUNT_MISMATCH",
        "amount_fen": 900_00,
        "their_amount_fen": 899_00,
    }
