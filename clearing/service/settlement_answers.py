"""What the bank's answers do to an instruction, and the ledger entries they post.

Every transition is a guarded ``UPDATE … WHERE state IN (…)``: an answer applied twice (a
republished pain.002, a re-closed day's statement) finds nothing to move and posts nothing.

    PENDING ──ACCP──▶ ACCEPTED ──ACSC / statement debit──▶ BOOKED ──return──▶ RETURNED
       └──────────────RJCT──────────────▶ REJECTED

BOOKED posts debit ``payable:<beneficiary>`` / credit ``bank:collection``; RETURNED posts the
reverse. REJECTED and RETURNED release the instruction's lines for the next cut-off; when the
bank's reason is about the account (wrong number, closed, name mismatch) the beneficiary's
payouts are held until a second person approves a corrected account.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import asyncpg

from clearing.db import Conn
from clearing.domain.display import name
from clearing.service import audit

log = logging.getLogger(__name__)

# reasons that say the beneficiary account is wrong: pay nothing more there until it is corrected
ACCOUNT_REASONS = frozenset(
    {"AC01", "AC02", "AC03", "AC04", "AC06", "AC13", "BE01", "RC10", "MD07"}
)


async def post(conn: Conn, kind: str, memo: str, legs: list[tuple[str, int]]) -> int:
    """One balanced journal entry: ``legs`` are (account code, signed fen; debit positive). An
    unknown account code is an error, never a leg silently left out."""
    entry_id: int = await conn.fetchval(
        "INSERT INTO journal_entries (kind, memo) VALUES ($1, $2) RETURNING id", kind, memo
    )
    posted = await conn.fetchval(
        "WITH ins AS (INSERT INTO postings (entry_id, account_id, amount_fen)"
        " SELECT $1, a.id, x.amount FROM unnest($2::text[], $3::bigint[]) AS x(code, amount)"
        " JOIN ledger_accounts a ON a.code = x.code RETURNING 1) SELECT count(*) FROM ins",
        entry_id,
        [code for code, _ in legs],
        [amount for _, amount in legs],
    )
    if posted != len(legs):
        missing = [code for code, _ in legs]
        raise ValueError(f"journal entry {kind!r} names an account that does not exist: {missing}")
    return entry_id


async def _release(conn: Conn, instruction_id: int, at: datetime) -> int:
    """Give the instruction's lines back to the next cut-off; how many."""
    rows = await conn.fetch(
        "UPDATE settlement_items SET released_at = $2"
        " WHERE instruction_id = $1 AND released_at IS NULL RETURNING order_id, line_no",
        instruction_id,
        at,
    )
    await conn.executemany(
        "UPDATE order_lines SET settled_at = NULL WHERE order_id = $1 AND line_no = $2",
        [(r["order_id"], r["line_no"]) for r in rows],
    )
    return len(rows)


async def accepted(conn: Conn, e2e: str, at: datetime) -> bool:
    done = await conn.fetchval(
        "UPDATE settlement_instructions SET state = 'ACCEPTED', answered_at = $2"
        " WHERE end_to_end_id = $1 AND state = 'PENDING' RETURNING id",
        e2e,
        at,
    )
    return done is not None


async def booked(conn: Conn, e2e: str, at: datetime, amount_fen: int | None = None) -> bool:
    """The bank paid the instruction out of our collection account; False when it was already
    booked, is unknown, or states another amount (then nothing is posted and an alert is
    logged)."""
    row = await conn.fetchrow(
        "SELECT id, beneficiary_code, amount_fen, state FROM settlement_instructions"
        " WHERE end_to_end_id = $1 FOR UPDATE",
        e2e,
    )
    if row is None or row["state"] not in ("PENDING", "ACCEPTED"):
        return False
    if amount_fen is not None and amount_fen != row["amount_fen"]:
        log.error(
            "bank booked another amount than instructed",
            extra={"end_to_end_id": e2e, "instructed": row["amount_fen"], "booked": amount_fen},
        )
        return False
    entry = await post(
        conn,
        "SETTLEMENT",
        f"paid out {e2e}",
        [
            (f"payable:{row['beneficiary_code']}", row["amount_fen"]),
            ("bank:collection", -row["amount_fen"]),
        ],
    )
    await conn.execute(
        "UPDATE settlement_instructions SET state = 'BOOKED', answered_at = $2, entry_id = $3"
        " WHERE id = $1",
        row["id"],
        at,
        entry,
    )
    await _settle_orders(conn, row["id"], e2e)
    return True


async def _settle_orders(conn: Conn, instruction_id: int, e2e: str) -> None:
    """Orders whose last line this payout was (and whose legs are confirmed) are SETTLED."""
    settled = await conn.fetch(
        "SELECT order_no FROM tj_settle_orders(ARRAY(SELECT order_id FROM settlement_items"
        " WHERE instruction_id = $1 AND released_at IS NULL))",
        instruction_id,
    )
    # one audit row per order, written in one statement: an instruction may carry many orders
    await conn.execute(
        "INSERT INTO audit_log (actor, action, object_type, object_id, detail)"
        " SELECT 'system:settlement', 'order.settled', 'order', o, jsonb_build_object("
        " 'end_to_end_id', $2::text) FROM unnest($1::text[]) AS o",
        [r["order_no"] for r in settled],
        e2e,
    )


async def rejected(
    conn: Conn, e2e: str, reason_code: str | None, reason_text: str | None, at: datetime
) -> bool:
    """The bank refused the instruction: its lines go back to the next cut-off, and an account
    reason holds the beneficiary's payouts until the account is corrected."""
    row = await conn.fetchrow(
        "UPDATE settlement_instructions SET state = 'REJECTED', reason_code = $2,"
        " reason_text = $3, answered_at = $4"
        " WHERE end_to_end_id = $1 AND state IN ('PENDING', 'ACCEPTED')"
        " RETURNING id, beneficiary_code, amount_fen",
        e2e,
        reason_code,
        reason_text,
        at,
    )
    if row is None:
        return False
    if reason_code == "AM05":
        # the bank says this EndToEndId was paid before: never put its lines out again by hand
        log.error("bank reports the instruction as a duplicate", extra={"end_to_end_id": e2e})
    else:
        await _release(conn, row["id"], at)
    await _hold_if_account(conn, row["beneficiary_code"], reason_code, reason_text, e2e)
    await _answered(conn, "rejected", e2e, row, reason_code, reason=reason_text)
    return True


async def returned(conn: Conn, e2e: str, reason_code: str | None, at: datetime) -> bool:
    """A paid instruction came back (退汇): the payable is restored and its lines released."""
    row = await conn.fetchrow(
        "SELECT id, beneficiary_code, amount_fen FROM settlement_instructions"
        " WHERE end_to_end_id = $1 AND state = 'BOOKED' FOR UPDATE",
        e2e,
    )
    if row is None:
        return False
    entry = await post(
        conn,
        "SETTLEMENT_RETURN",
        f"returned {e2e} ({reason_code or 'no reason'})",
        [
            ("bank:collection", row["amount_fen"]),
            (f"payable:{row['beneficiary_code']}", -row["amount_fen"]),
        ],
    )
    await conn.execute(
        "UPDATE settlement_instructions SET state = 'RETURNED', reason_code = $2,"
        " answered_at = $3, return_entry_id = $4 WHERE id = $1",
        row["id"],
        reason_code,
        at,
        entry,
    )
    await _release(conn, row["id"], at)
    # a return always says the account cannot take money: hold until it is corrected
    await _hold(conn, row["beneficiary_code"], f"付款 {e2e} 被退汇{_reason(reason_code, None)}")
    await _answered(conn, "returned", e2e, row, reason_code)
    return True


async def _answered(
    conn: Conn, what: str, e2e: str, row: asyncpg.Record, reason_code: str | None, **detail: Any
) -> None:
    """The bank's ``what`` (rejected, returned) of one instruction, logged and audited."""
    beneficiary, amount_fen = row["beneficiary_code"], row["amount_fen"]
    log.warning(
        f"settlement instruction {what}",
        extra={"end_to_end_id": e2e, "reason": reason_code, "beneficiary": beneficiary},
    )
    await audit.record(
        conn,
        "bank",
        f"settlement.instruction_{what}",
        e2e,
        {"reason_code": reason_code, **detail, "amount_fen": amount_fen},
        object_type="settlement_instruction",
    )


async def file_rejected(
    conn: Conn, msg_id: str, reason_code: str | None, reason_text: str | None, at: datetime
) -> int:
    """The bank refused a whole file (signature, totals): every instruction still waiting in it
    is rejected and its lines go to the next cut-off; no beneficiary is held for it."""
    rows = await conn.fetch(
        "UPDATE settlement_instructions i SET state = 'REJECTED', reason_code = $2,"
        " reason_text = $3, answered_at = $4 FROM settlement_batches b"
        " WHERE b.id = i.batch_id AND b.msg_id = $1 AND i.state IN ('PENDING', 'ACCEPTED')"
        " RETURNING i.id",
        msg_id,
        reason_code,
        reason_text,
        at,
    )
    for r in rows:
        await _release(conn, r["id"], at)
    if rows:
        log.error(
            "bank refused a settlement file",
            extra={"msg_id": msg_id, "reason": reason_code, "instructions": len(rows)},
        )
        await audit.record(
            conn,
            "bank",
            "settlement.file_rejected",
            msg_id,
            {"reason_code": reason_code, "reason": reason_text, "instructions": len(rows)},
            object_type="settlement_batch",
        )
    return len(rows)


async def _hold_if_account(
    conn: Conn, beneficiary: str, code: str | None, text: str | None, e2e: str
) -> None:
    if code in ACCOUNT_REASONS:
        await _hold(conn, beneficiary, f"付款 {e2e} 被银行拒绝{_reason(code, text)}")


def _reason(code: str | None, text: str | None) -> str:
    """The bank's reason as finance staff read it: its name, with the code the bank's letter
    quotes; the bank's own words only for a code without a name."""
    if not code:
        return f"：{text}" if text else ""
    named = name("bank_reason", code)
    return f"：{named}（{code}）" if named != code else f"：{code} {text or ''}".rstrip()


async def _hold(conn: Conn, beneficiary: str, why: str) -> None:
    await conn.execute(
        "UPDATE beneficiaries SET payout_hold = $2 WHERE code = $1 AND payout_hold IS NULL",
        beneficiary,
        why[:200],
    )


async def refresh_batches(conn: Conn) -> None:
    """Batches whose every instruction has an answer are ANSWERED; CLOSED when all are final
    (booked and statement-confirmed or released)."""
    await conn.execute(
        "UPDATE settlement_batches b SET state = 'ANSWERED'"
        " WHERE b.state IN ('FILES_WRITTEN', 'DELIVERED') AND NOT EXISTS ("
        "   SELECT 1 FROM settlement_instructions i WHERE i.batch_id = b.id"
        "    AND i.state = 'PENDING')"
    )
