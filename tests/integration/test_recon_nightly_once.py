"""Every service node runs the nightly schedule; the day is still reconciled once (before, a
node that found the day not yet done waited for the other's run, then ran it again)."""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta

import asyncpg

from clearing.domain.times import BEIJING
from reconciliation.runs import Options, Sources, nightly


async def test_two_nodes_reconcile_yesterday_once(pool: asyncpg.Pool) -> None:
    options = Options(bank="SFBK", collection_account="6217000010000000009", fetch=False)
    stop = asyncio.Event()
    # three nodes whose schedules fire together (their clocks agree, their checks coincide)
    nodes = [
        asyncio.create_task(
            nightly(pool, lambda: (Sources(), options), time(0, 0), stop, check_s=0.2)
        )
        for _ in range(3)
    ]
    yesterday = datetime.now(BEIJING).date() - timedelta(days=1)
    try:
        async with asyncio.timeout(60):
            while True:
                done = await pool.fetchval(
                    "SELECT count(*) FROM recon_runs WHERE business_date = $1"
                    " AND started_by = 'system:nightly' AND state = 'DONE'",
                    yesterday,
                )
                if done:
                    break
                await asyncio.sleep(0.1)
        # long enough for the other node's next checks
        await asyncio.sleep(1.5)
    finally:
        stop.set()
        await asyncio.gather(*nodes)
    runs = await pool.fetchval(
        "SELECT count(*) FROM recon_runs WHERE business_date = $1"
        " AND started_by = 'system:nightly'",
        yesterday,
    )
    assert runs == 1
