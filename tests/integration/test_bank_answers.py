"""Bank files imported once, whatever the bank does: a statement whose only reference to our
instruction is in the remittance text still books it; the same statement under another name
books nothing twice; a truncated file changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest

from clearing.service import settlement
from reconciliation.bank_answers import import_file
from tests.integration import factories as f

ACCOUNT = "6217000010000000009"


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _statement(
    e2e: str,
    amount_fen: int,
    ref: str,
    *,
    day: str = "2026-11-26",
    opening: int | None = None,
    closing: int = 0,
) -> bytes:
    yuan = _yuan(amount_fen)
    opening_yuan = _yuan(amount_fen if opening is None else opening)
    closing_yuan = _yuan(closing)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
 <BkToCstmrStmt>
  <GrpHdr><MsgId>S-{ref}</MsgId><CreDtTm>2026-11-26T18:00:00+08:00</CreDtTm></GrpHdr>
  <Stmt>
   <Id>{ACCOUNT}-20261126</Id><CreDtTm>2026-11-26T18:00:00+08:00</CreDtTm>
   <Acct><Id><Othr><Id>{ACCOUNT}</Id></Othr></Id><Ccy>CNY</Ccy></Acct>
   <Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="CNY">{opening_yuan}</Amt>
    <CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>{day}</Dt></Dt></Bal>
   <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="CNY">{closing_yuan}</Amt>
    <CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>{day}</Dt></Dt></Bal>
   <Ntry><Amt Ccy="CNY">{yuan}</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
    <BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt>
    <AcctSvcrRef>{ref}</AcctSvcrRef>
    <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd><SubFmlyCd>DMCT</SubFmlyCd></Fmly></Domn></BkTxCd>
    <NtryDtls><TxDtls><RmtInf><Ustrd>代付 {e2e} 税费通缴清分</Ustrd></RmtInf></TxDtls></NtryDtls>
   </Ntry>
  </Stmt>
 </BkToCstmrStmt>
</Document>""".encode()


@pytest.fixture
async def instruction(pool: asyncpg.Pool) -> tuple[str, int]:
    async with pool.acquire() as conn:
        o = await f.order(conn, await f.staff(conn), [250_00], items=["DEED_TAX"])
        otn = await f.attempt(conn, str(o["order_no"]))
    await f.capture(pool, f.notice(otn, 250_00))
    async with pool.acquire() as conn:
        batch = await settlement.cutoff(
            conn, bank="SFBK", now=datetime.now(UTC), every_account=True, actor="test"
        )
        row = await conn.fetchrow(
            "SELECT end_to_end_id, amount_fen FROM settlement_instructions WHERE batch_id = $1",
            batch,
        )
    assert row is not None
    return str(row["end_to_end_id"]), int(row["amount_fen"])


async def test_reference_in_remittance_text_only_books_once(
    pool: asyncpg.Pool, instruction: tuple[str, int]
) -> None:
    e2e, amount = instruction
    data = _statement(e2e, amount, "BK0001")
    async with pool.acquire() as conn:
        first = await import_file(
            conn, bank="SFBK", name="camt.053_a.xml", data=data, collection_account=ACCOUNT
        )
        again = await import_file(
            conn, bank="SFBK", name="camt.053_a.xml", data=data, collection_account=ACCOUNT
        )
        copy = await import_file(
            conn, bank="SFBK", name="camt.053_b.xml", data=data, collection_account=ACCOUNT
        )
        state = await conn.fetchval(
            "SELECT state FROM settlement_instructions WHERE end_to_end_id = $1", e2e
        )
        posted = await conn.fetchval(
            "SELECT count(*) FROM journal_entries WHERE kind = 'SETTLEMENT' AND memo = $1",
            f"paid out {e2e}",
        )
    assert first == {"statements": 1, "settlement": 1}
    assert again == {"skipped": True}
    assert copy == {"statements": 1, "seen": 1}
    assert (state, posted) == ("BOOKED", 1)


async def test_a_truncated_file_changes_nothing(
    pool: asyncpg.Pool, instruction: tuple[str, int]
) -> None:
    e2e, amount = instruction
    data = _statement(e2e, amount, "BK0002")[:-200]
    async with pool.acquire() as conn:
        with pytest.raises(Exception, match="line"):
            await import_file(
                conn, bank="SFBK", name="camt.053_cut.xml", data=data, collection_account=ACCOUNT
            )
        imported = await conn.fetchval(
            "SELECT count(*) FROM bank_inbound_files WHERE name = 'camt.053_cut.xml'"
        )
        state = await conn.fetchval(
            "SELECT state FROM settlement_instructions WHERE end_to_end_id = $1", e2e
        )
    assert (imported, state) == (0, "PENDING")


async def test_a_statement_that_does_not_add_up_or_follow_on_is_balance_drift(
    pool: asyncpg.Pool, instruction: tuple[str, int]
) -> None:
    from datetime import date

    from reconciliation.runs import Options, Sources, reconcile

    e2e, amount = instruction
    # the 24th closes at 1,000.00; the 25th opens at 900.00 and then does not add up either
    first = _statement(
        "nobody", 100_00, "BK0024", day="2026-11-24", opening=1100_00, closing=1000_00
    )
    second = _statement(e2e, amount, "BK0025", day="2026-11-25", opening=900_00, closing=5_00)
    async with pool.acquire() as conn:
        await import_file(
            conn, bank="SFBK", name="camt.053_24.xml", data=first, collection_account=ACCOUNT
        )
        await import_file(
            conn, bank="SFBK", name="camt.053_25.xml", data=second, collection_account=ACCOUNT
        )
    options = Options(bank="SFBK", collection_account=ACCOUNT, fetch=False)
    await reconcile(pool, date(2026, 11, 25), Sources(), options, actor="test")
    async with pool.acquire() as conn:
        drift = {
            r["reference"]: (r["amount_fen"], r["their_amount_fen"])
            for r in await conn.fetch(
                "SELECT reference, amount_fen, their_amount_fen FROM discrepancies"
                " WHERE type = 'BALANCE_DRIFT'"
            )
        }
    assert drift == {
        f"{ACCOUNT}:2026-11-25": (900_00, 5_00),
        f"{ACCOUNT}:2026-11-25:continuity": (1000_00, 900_00),
    }


async def test_an_entry_naming_an_unknown_account_is_refused_whole(pool: asyncpg.Pool) -> None:
    from clearing.service.settlement_answers import post

    async with pool.acquire() as conn:
        before = await conn.fetchval("SELECT count(*) FROM postings")
        with pytest.raises(ValueError, match="does not exist"):
            async with conn.transaction():
                await post(
                    conn, "ADJUSTMENT", "typo", [("suspense", 100), ("payable:NOBODY", -100)]
                )
        assert await conn.fetchval("SELECT count(*) FROM postings") == before
