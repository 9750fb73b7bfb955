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


def _statement(e2e: str, amount_fen: int, ref: str) -> bytes:
    yuan = f"{amount_fen // 100}.{amount_fen % 100:02d}"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
 <BkToCstmrStmt>
  <GrpHdr><MsgId>S-{ref}</MsgId><CreDtTm>2026-11-26T18:00:00+08:00</CreDtTm></GrpHdr>
  <Stmt>
   <Id>{ACCOUNT}-20261126</Id><CreDtTm>2026-11-26T18:00:00+08:00</CreDtTm>
   <Acct><Id><Othr><Id>{ACCOUNT}</Id></Othr></Id><Ccy>CNY</Ccy></Acct>
   <Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="CNY">{yuan}</Amt>
    <CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-26</Dt></Dt></Bal>
   <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="CNY">0.00</Amt>
    <CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-26</Dt></Dt></Bal>
   <Ntry><Amt Ccy="CNY">{yuan}</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
    <BookgDt><Dt>2026-11-26</Dt></BookgDt><ValDt><Dt>2026-11-26</Dt></ValDt>
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
