"""Settlement survives SIGKILL: during batch creation (``tongjiao settle`` killed mid-cut-off and
between the cut-off and its files) and during delivery (the service killed while pushing files
to the bank). After a restart: the same batches and references, each line in one instruction,
each instruction booked by the bank once, each payout posted once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from adapters.bank.simulator import prepare_tls
from clearing import wiring
from clearing.config import Settings
from clearing.service import settlement
from clearing.settlement import pain001
from tests.integration import factories as f
from tests.integration.bank_harness import KEY_ID, running_bank_sim
from tests.procs import ROOT, Processes, child_env

pytestmark = pytest.mark.slow

ITEMS = ["DEED_TAX", "MAINT_FUND", "REG_FEE"]


async def _paid_lines(pool: asyncpg.Pool, orders: int) -> None:
    async with pool.acquire() as conn:
        who = await f.staff(conn)
    for i in range(orders):
        amounts = [10_00 + i, 20_00 + i, 80_00]
        async with pool.acquire() as conn:
            o = await f.order(conn, who, amounts, items=ITEMS)
            otn = await f.attempt(conn, str(o["order_no"]))
        assert (await f.capture(pool, f.notice(otn, sum(amounts)))).outcome == "CLEARED"


async def _invariants(pool: asyncpg.Pool) -> dict[str, Any]:
    """Every paid line of this database in exactly one live instruction, every batch written."""
    row = await pool.fetchrow(
        "SELECT"
        " (SELECT count(*) FROM order_lines l JOIN orders o ON o.id = l.order_id"
        "   WHERE o.state IN ('CLEARED', 'SETTLED')) AS paid,"
        " (SELECT count(*) FROM settlement_items WHERE released_at IS NULL) AS live,"
        " (SELECT count(*) FROM (SELECT order_id, line_no FROM settlement_items"
        "   WHERE released_at IS NULL GROUP BY 1, 2 HAVING count(*) > 1) d) AS doubled,"
        " (SELECT count(*) FROM order_lines WHERE settled_at IS NULL) AS unsettled,"
        " (SELECT count(*) FROM settlement_batches) AS batches,"
        " (SELECT count(*) FROM settlement_batches WHERE state = 'CREATED') AS unwritten,"
        " (SELECT coalesce(sum(total_fen), 0) FROM settlement_batches) AS batched_fen,"
        " (SELECT coalesce(sum(amount_fen), 0) FROM settlement_items) AS items_fen"
    )
    assert row is not None
    assert (row["live"], row["doubled"], row["unsettled"]) == (row["paid"], 0, 0)
    assert row["unwritten"] == 0
    assert row["batched_fen"] == row["items_fen"]
    return dict(row)


def _settle_cmd(dsn: str, var: Path, key: Path) -> subprocess.Popen[bytes]:
    env = child_env(
        {
            "TONGJIAO_DATABASE_URL": dsn,
            "TONGJIAO_VAR_DIR": str(var),
            "TONGJIAO_SETTLEMENT_KEY_FILE": str(key),
            "TONGJIAO_SETTLEMENT_KEY_ID": KEY_ID,
        }
    )
    return subprocess.Popen(
        [sys.executable, "-m", "clearing", "settle", "--cutoff", "now"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


async def test_sigkill_during_batch_creation(
    pool: asyncpg.Pool, db_dsn: str, tmp_path: Path
) -> None:
    from clearing.settlement.signing import generate_keypair

    key, _ = generate_keypair("ed25519", tmp_path / "keys", KEY_ID)
    hits = {"mid-cutoff": 0, "before-files": 0, "clean": 0}
    watch = await asyncpg.connect(db_dsn)
    try:
        for _ in range(3):
            await _paid_lines(pool, 120)
            proc = _settle_cmd(db_dsn, tmp_path / "var", key)
            deadline = time.monotonic() + 30
            # kill the moment the cut-off is running in the database, or its batch is committed
            # without files, whichever we see first
            while proc.poll() is None and time.monotonic() < deadline:
                running = await watch.fetchval(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE query LIKE 'SELECT tj_settlement_cutoff%' AND state = 'active'"
                )
                unwritten = await watch.fetchval(
                    "SELECT count(*) FROM settlement_batches WHERE state = 'CREATED'"
                )
                if running or unwritten:
                    os.killpg(proc.pid, signal.SIGKILL)
                    hits["mid-cutoff" if running else "before-files"] += 1
                    break
                await asyncio.sleep(0.001)
            else:
                hits["clean"] += 1
            proc.wait(30)
            # the next run finishes what the killed one left, and cuts off what is still due
            again = _settle_cmd(db_dsn, tmp_path / "var", key)
            out, err = again.communicate(timeout=60)
            assert again.returncode == 0, err.decode()
            # it printed the path of every file it wrote, one per line, and they are there
            printed = out.decode().split()
            assert all(Path(p).is_file() for p in printed), printed
            assert "cut-off for SFBK" in err.decode()
            await _invariants(pool)
    finally:
        await watch.close()
    assert hits["mid-cutoff"] + hits["before-files"] >= 1, hits
    # the files on disk are exactly what the recorded batches say, byte for byte
    settings = Settings(var_dir=tmp_path / "var", settlement_key_file=key, settlement_key_id=KEY_ID)
    setup = wiring.settlement_setup(settings)
    async with pool.acquire() as conn:
        batches = await conn.fetch("SELECT id, business_date FROM settlement_batches")
        for b in batches:
            batch = await settlement.load_batch(conn, b["id"], setup.debtor)
            name = f"TJ_SFBK_{b['business_date']:%Y%m%d}_{batch.sequence:03d}.pain001.xml"
            assert (setup.folder(b["business_date"]) / name).read_bytes() == pain001.render(batch)


async def test_sigkill_during_delivery_pays_nothing_twice(
    pool: asyncpg.Pool, db_dsn: str, tmp_path: Path
) -> None:
    tls = prepare_tls(tmp_path / "bank" / "tls")
    await _paid_lines(pool, 20)
    async with running_bank_sim(tmp_path / "bank") as bank, Processes(tmp_path / "procs") as procs:
        from tests.integration.wechat_harness import running_wechat_sim

        async with running_wechat_sim(tmp_path / "wechat") as wechat:
            svc = await procs.service(
                db_dsn,
                tmp_path / "wechat",
                sim_url=wechat.base_url,
                workers=1,
                env={
                    "TONGJIAO_SETTLEMENT_DELIVERY": "push",
                    "TONGJIAO_SETTLEMENT_DIR": str(tmp_path / "files"),
                    "TONGJIAO_SETTLEMENT_KEY_FILE": str(tmp_path / "bank/keys" / f"{KEY_ID}.key"),
                    "TONGJIAO_SETTLEMENT_KEY_ID": KEY_ID,
                    "TONGJIAO_BANK_BASE_URL": bank.exchange_url,
                    "TONGJIAO_BANK_TLS_DIR": str(tls.directory),
                    "TONGJIAO_BANK_POLL_S": "0.3",
                    "TONGJIAO_TASK_LEASE_S": "2",
                },
            )
            # every answer of the bank's inbox takes a while: the push is under way for seconds
            await bank.set_faults(delay_s=0.4)
            async with pool.acquire() as conn:
                batch_id = await settlement.cutoff(
                    conn, bank="SFBK", now=datetime.now(UTC), every_account=True, actor="test"
                )
            assert batch_id is not None
            deadline = time.monotonic() + 30
            while not (await bank.control("GET", "/sim/files"))[1].get("files"):
                assert time.monotonic() < deadline, "nothing reached the bank"
                await asyncio.sleep(0.02)
            svc.kill()
            state = await pool.fetchval(
                "SELECT state FROM settlement_batches WHERE id = $1", batch_id
            )
            assert state == "FILES_WRITTEN"  # killed mid-delivery
            await bank.set_faults(delay_s=0)
            await svc.restart()

            async def booked() -> int:
                n: int = await pool.fetchval(
                    "SELECT count(*) FROM settlement_instructions"
                    " WHERE batch_id = $1 AND state = 'BOOKED'",
                    batch_id,
                )
                return n

            deadline = time.monotonic() + 45
            while await booked() < 3:
                assert time.monotonic() < deadline, "the batch was not booked after the restart"
                await asyncio.sleep(0.2)
            bookings = [b for b in await bank.bookings() if b.get("end_to_end_id")]
    e2e = [b["end_to_end_id"] for b in bookings]
    assert len(e2e) == len(set(e2e)) == 3  # each instruction booked by the bank exactly once
    posted = await pool.fetchval(
        "SELECT count(*) FROM journal_entries WHERE kind = 'SETTLEMENT'"
        " AND memo = ANY(SELECT 'paid out ' || end_to_end_id FROM settlement_instructions"
        "                 WHERE batch_id = $1)",
        batch_id,
    )
    assert posted == 3  # one payout entry per instruction, whatever was pushed twice
    await _invariants(pool)
