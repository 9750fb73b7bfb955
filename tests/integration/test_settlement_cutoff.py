"""Cut-off on real PostgreSQL: every paid line lands in exactly one instruction, even with
cut-offs racing; the batch's files are valid, signed, and the same bytes when written again."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import asyncpg
import pytest

from adapters.iso20022.schemas import validate
from clearing.service import settlement
from clearing.settlement.model import DebtorAccount
from clearing.settlement.signing import Verifier, generate_keypair, load_signer
from tests.integration import factories as f

BEIJING = timezone(timedelta(hours=8))
BANK = "SFBK"
DEBTOR = DebtorAccount("6217000010000000009", "示范市不动产登记中心", "313100000013")


async def _unsettled(pool: asyncpg.Pool) -> int:
    n: int = await pool.fetchval(
        "SELECT count(*) FROM order_lines l JOIN orders o ON o.id = l.order_id"
        " WHERE l.settled_at IS NULL AND o.state IN ('CLEARED', 'SETTLED')"
    )
    return n


@pytest.fixture
def setup(tmp_path: Path) -> settlement.SettlementSetup:
    key, _ = generate_keypair("ed25519", tmp_path / "keys", "tj-settle-test")
    return settlement.SettlementSetup(
        bank=BANK,
        debtor=DEBTOR,
        signer=load_signer(key, "tj-settle-test", "ed25519"),
        out_dir=tmp_path / "out",
    )


async def test_one_instruction_per_beneficiary_with_every_line(
    pool: asyncpg.Pool, setup: settlement.SettlementSetup, tmp_path: Path
) -> None:
    await f.paid(pool, [350_000_00, 80_00], ["DEED_TAX", "REG_FEE"])
    await f.paid(pool, [1_234_56, 90_00, 3_000_00], ["VAT", "REG_FEE", "MAINT_FUND"])
    async with pool.acquire() as conn:
        batch_id = await settlement.cutoff(
            conn, bank=BANK, now=datetime.now(UTC), every_account=True, actor="test"
        )
        assert batch_id is not None
        rows = await conn.fetch(
            "SELECT beneficiary_code, amount_fen, end_to_end_id FROM settlement_instructions"
            " WHERE batch_id = $1 ORDER BY seq",
            batch_id,
        )
        assert {r["beneficiary_code"]: r["amount_fen"] for r in rows} == {
            "FISCAL_NONTAX": 80_00 + 90_00,
            "FUND_CUSTODY": 3_000_00,
            "TREASURY": 350_000_00 + 1_234_56,
        }
        assert len({r["end_to_end_id"] for r in rows}) == 3
        # nothing left: a second cut-off makes no batch
        again = await settlement.cutoff(
            conn, bank=BANK, now=datetime.now(UTC), every_account=True, actor="test"
        )
        assert again is None
        paths = await settlement.write_files(conn, batch_id, setup)
        state = await conn.fetchval("SELECT state FROM settlement_batches WHERE id = $1", batch_id)
    assert state == "FILES_WRITTEN"
    assert await _unsettled(pool) == 0
    by_name = {p.name: p for p in paths}
    (pain,) = [p for n, p in by_name.items() if n.endswith(".pain001.xml")]
    data = pain.read_bytes()
    assert validate(data) == []
    assert b"<NbOfTxs>3</NbOfTxs>" in data
    assert b"<CtrlSum>354404.56</CtrlSum>" in data  # 350000 + 80 + 1234.56 + 90 + 3000 元
    # every file is signed and the signature verifies with our public key
    verifier = Verifier.from_files(
        {"tj-settle-test": ("ed25519", tmp_path / "keys" / "tj-settle-test.pub")}
    )
    for name, path in by_name.items():
        if name.endswith((".sig", ".sha256")):
            continue
        verifier.verify(path.read_bytes(), by_name[name + ".sig"].read_bytes(), file_name=name)
    # written again (as after a crash): the same file, byte for byte
    async with pool.acquire() as conn:
        await settlement.write_files(conn, batch_id, setup)
    assert pain.read_bytes() == data


async def test_daily_accounts_wait_for_their_cutoff_time(
    pool: asyncpg.Pool, setup: settlement.SettlementSetup
) -> None:
    order_no = await f.paid(pool, [500_00], ["DEED_TAX"])
    # paid at 09:00 Beijing time on a day to come; its account is cut daily at 15:30
    morning = datetime.now(BEIJING).replace(hour=10, minute=0) + timedelta(days=1)
    evening = morning.replace(hour=16)
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE orders SET cleared_at = $2 WHERE order_no = $1",
            order_no,
            morning.replace(hour=9),
        )
        assert (
            await settlement.cutoff(conn, bank=BANK, now=morning, every_account=False, actor="t")
        ) is None
        assert (
            await settlement.cutoff(conn, bank=BANK, now=evening, every_account=False, actor="t")
        ) is not None
    assert await _unsettled(pool) == 0


async def test_racing_cutoffs_never_put_a_line_in_two_instructions(
    pool: asyncpg.Pool, setup: settlement.SettlementSetup
) -> None:
    for i in range(30):
        await f.paid(pool, [1_00 + i, 2_00 + i], ["DEED_TAX", "MAINT_FUND"])

    async def one() -> int | None:
        async with pool.acquire() as conn:
            return await settlement.cutoff(
                conn, bank=BANK, now=datetime.now(UTC), every_account=True, actor="race"
            )

    made = [b for b in await asyncio.gather(*(one() for _ in range(6))) if b is not None]
    assert len(made) == 1
    async with pool.acquire() as conn:
        live = await conn.fetchval(
            "SELECT count(*) FROM settlement_items WHERE released_at IS NULL"
            " AND instruction_id IN (SELECT id FROM settlement_instructions WHERE batch_id = $1)",
            made[0],
        )
        doubled = await conn.fetchval(
            "SELECT count(*) FROM (SELECT order_id, line_no FROM settlement_items"
            " GROUP BY 1, 2 HAVING count(*) > 1) d"
        )
    assert (live, doubled) == (60, 0)
    assert await _unsettled(pool) == 0
