"""`tongjiao reconcile` as finance staff run it by hand: progress on standard error, the run as
one JSON object on standard output; a second run of the same day finds the same."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import asyncpg

from tests.integration import factories as f


async def _reconcile(dsn: str, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGJIAO_")}
    env.update({"TONGJIAO_DATABASE_URL": dsn, "TONGJIAO_LOG_JSON": "false"})
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "clearing", "reconcile", *args,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    return int(proc.returncode or 0), out.decode(), err.decode()


async def test_reconcile_prints_progress_and_the_run(pool: asyncpg.Pool, db_dsn: str) -> None:
    async with pool.acquire() as conn:
        o = await f.order(conn, await f.staff(conn), [100_00])
        otn = await f.attempt(conn, str(o["order_no"]))
    await f.capture(pool, f.notice(otn, 100_00))
    code, out, err = await _reconcile(db_dsn, "--date", "today", "--no-fetch")
    assert code == 0, err
    run = json.loads(out)
    assert run["state"] == "DONE"
    assert "reconciling" in err and "payments:" in err
    # nothing was fetched, so no bill: our payment is not compared (no channel bill staged)
    assert run["stats"]["our_payments"] == 0
    code, out2, err = await _reconcile(db_dsn, "--date", "today", "--no-fetch")
    assert code == 0, err
    assert json.loads(out2)["id"] == run["id"] + 1
    code, _, err = await _reconcile(db_dsn, "--date", "not-a-date")
    assert code == 2 and "is not YYYY-MM-DD" in err and "Traceback" not in err
