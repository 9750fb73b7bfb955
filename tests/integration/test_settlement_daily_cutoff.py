"""A daily account is cut once per business day, at its cut-off in Beijing time (issue 10,
item 4): the scheduled clock runs every minute, and the evening's payments must not each make a
batch of their own. Real PostgreSQL; payments captured as the service captures them, each then
dated to the moment the scenario says it was paid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import asyncpg
import pytest

from clearing.service import settlement
from tests.integration import factories as f

BEIJING = timezone(timedelta(hours=8))
BANK = "SFBK"


def bj(day: int, hh: int, mm: int, ss: int = 0) -> datetime:
    """A moment in March 2030, Beijing time."""
    return datetime(2030, 3, day, hh, mm, ss, tzinfo=BEIJING)


async def _paid_at(pool: asyncpg.Pool, at: datetime, item: str = "DEED_TAX") -> str:
    async with pool.acquire() as conn:
        o = await f.order(conn, await f.staff(conn), [100_00], items=[item])
        otn = await f.attempt(conn, str(o["order_no"]))
    assert (await f.capture(pool, f.notice(otn, 100_00))).outcome == "CLEARED"
    await pool.execute("UPDATE orders SET cleared_at = $2 WHERE order_no = $1", o["order_no"], at)
    return str(o["order_no"])


async def _tick(pool: asyncpg.Pool, now: datetime) -> list[str]:
    """One run of the scheduled clock: the orders in the batch it cut (none: no batch)."""
    async with pool.acquire() as conn:
        batch_id = await settlement.cutoff(
            conn, bank=BANK, now=now, every_account=False, actor="system:cutoff"
        )
        if batch_id is None:
            return []
        rows = await conn.fetch(
            "SELECT DISTINCT o.order_no FROM settlement_items s"
            " JOIN settlement_instructions i ON i.id = s.instruction_id"
            " JOIN orders o ON o.id = s.order_id WHERE i.batch_id = $1 ORDER BY 1",
            batch_id,
        )
    return [r["order_no"] for r in rows]


async def _settled(pool: asyncpg.Pool, order_no: str) -> bool:
    async with pool.acquire() as conn:
        return bool(
            await conn.fetchval(
                "SELECT bool_and(l.settled_at IS NOT NULL) FROM order_lines l"
                " JOIN orders o ON o.id = l.order_id WHERE o.order_no = $1",
                order_no,
            )
        )


@pytest.fixture(autouse=True)
async def _schedules(pool: asyncpg.Pool) -> None:
    # every account daily at 15:30 Beijing time, as the demo's accounts say (每日 15:30 截止);
    # earlier tests' lines are out of the way (settled), each test starts on its own day
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE beneficiaries SET settle_mode = 'daily', cutoff_local = '15:30',"
            " cut_through = NULL"
        )
        await conn.execute("UPDATE order_lines SET settled_at = now() WHERE settled_at IS NULL")


async def test_one_batch_per_business_day_and_the_evening_waits_for_tomorrow(
    pool: asyncpg.Pool,
) -> None:
    before = await _paid_at(pool, bj(14, 15, 20))
    # the clock ran at 15:30 and cut what was paid before it
    assert await _tick(pool, bj(14, 15, 29)) == []
    assert await _tick(pool, bj(14, 15, 30, 20)) == [before]
    # the incident: payments at 15:31 and into the night (23:29 Beijing is 15:29 UTC), each
    # followed by a clock run; none of them may make a batch
    evening = []
    for hh, mm in ((15, 31), (18, 5), (23, 29), (23, 31), (23, 37)):
        evening.append(await _paid_at(pool, bj(14, hh, mm)))
        assert await _tick(pool, bj(14, hh, mm, 30)) == [], f"a batch was cut at {hh}:{mm}"
    # across midnight: 23:59 on the 14th and 00:01 on the 15th (still the 14th in UTC) both
    # belong to the 15th's cut-off
    late = await _paid_at(pool, bj(14, 23, 59))
    early = await _paid_at(pool, bj(15, 0, 1))
    assert early and bj(15, 0, 1).astimezone(UTC).day == 14
    for now in (bj(15, 0, 2), bj(15, 9, 0), bj(15, 15, 29, 59)):
        assert await _tick(pool, now) == []
    # the money is still in our account that evening and the next morning: a refund is a refund
    # from the payable, not a claim on a beneficiary already paid
    assert not any([await _settled(pool, no) for no in [*evening, late, early]])
    # one paid just before the next cut-off goes with it, one just after waits another day
    just_before = await _paid_at(pool, bj(15, 15, 29, 59))
    just_after = await _paid_at(pool, bj(15, 15, 30, 1))
    cut = await _tick(pool, bj(15, 15, 30, 30))
    assert cut == sorted([*evening, late, early, just_before])
    assert await _tick(pool, bj(15, 15, 45)) == []
    assert not await _settled(pool, just_after)
    dates = await pool.fetch(
        "SELECT business_date FROM settlement_batches WHERE cutoff_at >= $1 ORDER BY id",
        bj(14, 0, 0),
    )
    assert [str(r["business_date"]) for r in dates] == ["2030-03-14", "2030-03-15"]


async def test_a_missed_cutoff_is_caught_up_without_taking_the_evening(
    pool: asyncpg.Pool,
) -> None:
    # the service was down at 15:30 on the 20th and came back at 21:00
    afternoon = await _paid_at(pool, bj(20, 14, 0))
    evening = await _paid_at(pool, bj(20, 20, 0))
    assert await _tick(pool, bj(20, 21, 0)) == [afternoon]
    assert await _tick(pool, bj(20, 21, 1)) == []
    # down again at the next cut-off; back the following morning, before that day's cut-off
    assert await _tick(pool, bj(22, 9, 0)) == [evening]


async def test_real_time_accounts_are_cut_at_once_even_in_the_evening(
    pool: asyncpg.Pool,
) -> None:
    await pool.execute(
        "UPDATE beneficiaries SET settle_mode = 'realtime' WHERE code = 'FUND_CUSTODY'"
    )
    first = await _paid_at(pool, bj(25, 22, 0), item="MAINT_FUND")
    daily = await _paid_at(pool, bj(25, 22, 0))
    assert await _tick(pool, bj(25, 22, 0, 10)) == [first]
    second = await _paid_at(pool, bj(25, 22, 5), item="MAINT_FUND")
    assert await _tick(pool, bj(25, 22, 5, 10)) == [second]
    assert not await _settled(pool, daily)


async def test_by_hand_every_account_is_cut_up_to_now(pool: asyncpg.Pool) -> None:
    # tongjiao settle --cutoff now: whatever the schedule says
    evening = await _paid_at(pool, bj(27, 20, 0))
    async with pool.acquire() as conn:
        batch = await settlement.cutoff(
            conn, bank=BANK, now=bj(27, 20, 1), every_account=True, actor="cli"
        )
    assert batch is not None and await _settled(pool, evening)
