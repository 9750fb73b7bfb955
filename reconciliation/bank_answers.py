"""Import what the bank sends back — pain.002 status reports and camt.053 statements of our
collection account — and apply it to settlement instructions and the ledger.

Each file is imported once per name, in one transaction: a file that cannot be read changes
nothing. Statement entries are applied once each, by the bank's AcctSvcrRef, so a re-closed
day's statement (the same entries again) posts nothing new.

On the collection account's statement:
- a debit carrying one of our EndToEndIds books that instruction (if the pain.002 did not);
- a credit that returns one of our transfers (RtrInf, or bank transaction code …/RRTN) returns it;
- any other credit is money coming in (an acquirer's settlement): debit ``bank:collection``,
  credit the acquirer's receivable when the payer account is a known acquirer settlement
  account, else ``bank_unapplied`` until reconciliation says whose it is;
- a debit we did not instruct is recorded, not posted: reconciliation raises it.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from clearing.db import Conn
from clearing.service import settlement_answers as answers
from reconciliation.camt import Statement, parse_camt
from reconciliation.camt_entries import Entry
from reconciliation.pain002 import StatusReport
from reconciliation.pain002 import parse as parse_pain002

log = logging.getLogger(__name__)

ACCEPTED = frozenset({"ACCP", "ACSP", "ACTC", "ACWC", "PDNG", "RCVD"})


def kind_of(name: str, data: bytes) -> str:
    head = data[:2048]
    if name.startswith("pain.002") or b"pain.002" in head:
        return "pain.002"
    if name.startswith("camt.05") or b"camt.05" in head:
        return "camt"
    raise ValueError(f"{name}: neither a pain.002 status report nor a camt statement")


async def import_file(
    conn: Conn,
    *,
    bank: str,
    name: str,
    data: bytes,
    collection_account: str,
    acquirer_accounts: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Apply one file from the bank; a summary of what it did (``{"skipped": True}`` for a
    name imported before). Raises on a file that cannot be read, having changed nothing."""
    kind = kind_of(name, data)
    parsed: StatusReport | list[Statement] = (
        parse_pain002(data) if kind == "pain.002" else list(parse_camt(data).statements)
    )
    now = datetime.now(UTC)
    async with conn.transaction():
        new = await conn.fetchval(
            "INSERT INTO bank_inbound_files (bank, name, kind, sha256) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (bank, name) DO NOTHING RETURNING id",
            bank,
            name,
            kind,
            hashlib.sha256(data).hexdigest(),
        )
        if new is None:
            return {"skipped": True}
        if isinstance(parsed, StatusReport):
            summary = await _status_report(conn, parsed, now)
        else:
            summary = {"statements": 0}
            for st in parsed:
                if st.account != collection_account:
                    continue  # beneficiaries' statements are for reconciliation, not for us here
                summary["statements"] += 1
                await _balances(conn, bank, name, st)
                for key, n in (
                    await _statement(conn, bank, st, now, acquirer_accounts or {})
                ).items():
                    summary[key] = summary.get(key, 0) + n
        await answers.refresh_batches(conn)
        await conn.execute("UPDATE bank_inbound_files SET summary = $2 WHERE id = $1", new, summary)
    log.info("bank file imported", extra={"file": name, "kind": kind, **summary})
    return summary


async def _status_report(conn: Conn, report: StatusReport, now: datetime) -> dict[str, Any]:
    counts = {"accepted": 0, "booked": 0, "rejected": 0}
    if not report.transactions and report.group_status == "RJCT":
        counts["rejected"] = await answers.file_rejected(
            conn, report.original_msg_id, report.group_reason_code, report.group_reason_text, now
        )
        return counts
    for tx in report.transactions:
        e2e = tx.original_end_to_end_id
        if not e2e:
            continue
        if tx.status == "ACSC":
            counts["booked"] += await answers.booked(conn, e2e, now, tx.amount_fen)
        elif tx.status in ACCEPTED:
            counts["accepted"] += await answers.accepted(conn, e2e, now)
        elif tx.status == "RJCT":
            counts["rejected"] += await answers.rejected(
                conn, e2e, tx.reason_code, tx.reason_text, now
            )
    return counts


# the EndToEndId we give each instruction (clearing.service.settlement): msg id + E + sequence
_OUR_E2E = re.compile(r"TJ[A-Z0-9]{2,10}[0-9]{11}E[0-9]{4}")


def _our_reference(entry: Entry, detail: Any) -> str | None:
    """Our EndToEndId, from Refs where the bank puts it, else from the remittance text or the
    entry's additional information (banks that drop structured references)."""
    if detail is not None and detail.end_to_end_id:
        return str(detail.end_to_end_id)
    texts = [*(detail.unstructured if detail is not None else ()), entry.additional_info or ""]
    for text in texts:
        found = _OUR_E2E.search(text)
        if found:
            return found.group(0)
    return None


async def _balances(conn: Conn, bank: str, name: str, st: Statement) -> None:
    """The statement's booked opening and closing balances as the bank stated them; the day's
    statement published again replaces its row (it must be the same)."""
    by_type = {b.type: b for b in st.balances}
    opening = by_type.get("OPBD") or by_type.get("PRCD")
    closing = by_type.get("CLBD")
    day = (closing.date if closing else None) or next(
        (e.booking_date for e in st.entries if e.booking_date), None
    )
    if day is None:
        return
    await conn.execute(
        "INSERT INTO bank_statement_balances (bank, account_no, statement_date, opening_fen,"
        " closing_fen, violations, file_name) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT (bank, account_no, statement_date) DO UPDATE SET opening_fen ="
        " EXCLUDED.opening_fen, closing_fen = EXCLUDED.closing_fen, violations ="
        " EXCLUDED.violations, file_name = EXCLUDED.file_name, imported_at = now()",
        bank,
        st.account,
        day,
        opening.amount if opening else None,
        closing.amount if closing else None,
        list(st.violations),
        name,
    )


def _is_return(entry: Entry) -> bool:
    code = entry.bank_transaction_code
    return any(d.return_reason for d in entry.details) or (
        code is not None and code.subfamily == "RRTN"
    )


async def _statement(
    conn: Conn, bank: str, st: Statement, now: datetime, acquirers: Mapping[str, str]
) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in st.entries:
        if entry.status not in (None, "BOOK"):
            continue
        ref = entry.account_servicer_ref or next(
            (d.account_servicer_ref for d in entry.details if d.account_servicer_ref), None
        )
        if ref is None:
            counts["without_reference"] = counts.get("without_reference", 0) + 1
            continue
        seen = await conn.fetchval(
            "SELECT 1 FROM bank_statement_entries"
            " WHERE bank = $1 AND account_no = $2 AND acct_svcr_ref = $3",
            bank,
            st.account,
            ref,
        )
        if seen:
            counts["seen"] = counts.get("seen", 0) + 1
            continue
        detail = entry.details[0] if entry.details else None
        e2e = _our_reference(entry, detail)
        applied, entry_id = await _apply(
            conn, entry, e2e=e2e, detail=detail, ref=ref, now=now, acquirers=acquirers
        )
        # no ON CONFLICT: two imports racing on the same entry fail one whole file, which the
        # next poll imports again, rather than post an entry twice
        await conn.execute(
            "INSERT INTO bank_statement_entries (bank, account_no, acct_svcr_ref, booking_date,"
            " amount_fen, end_to_end_id, counterparty, remittance, applied_as, entry_id)"
            " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
            bank,
            st.account,
            ref,
            entry.booking_date,
            entry.amount,
            e2e,
            (detail.debtor_name if entry.amount > 0 else detail.creditor_name) if detail else None,
            " ".join(detail.unstructured) if detail else None,
            applied,
            entry_id,
        )
        counts[applied.lower()] = counts.get(applied.lower(), 0) + 1
    return counts


async def _apply(
    conn: Conn,
    entry: Entry,
    *,
    e2e: str | None,
    detail: Any,
    ref: str,
    now: datetime,
    acquirers: Mapping[str, str],
) -> tuple[str, int | None]:
    """What one new statement entry means, and the journal entry it posted (if its own)."""
    ours = e2e is not None and await conn.fetchval(
        "SELECT 1 FROM settlement_instructions WHERE end_to_end_id = $1", e2e
    )
    if entry.amount < 0:
        if ours and e2e is not None:
            await answers.booked(conn, e2e, now, -entry.amount)
            return "SETTLEMENT", None
        return "UNMATCHED_DEBIT", None
    if ours and e2e is not None and _is_return(entry):
        reason = next((d.return_reason for d in entry.details if d.return_reason), None)
        await answers.returned(conn, e2e, reason, now)
        return "RETURN", None
    payer = detail.debtor_account if detail else None
    payer_name = detail.debtor_name if detail else None
    # known by its settlement account number, or (a bank that omits it) by its name
    provider = acquirers.get(payer or "") or acquirers.get(payer_name or "")
    credit_to = f"receivable:{provider}" if provider else "bank_unapplied"
    entry_id = await answers.post(
        conn,
        "BANK_CREDIT",
        f"money in {ref} from {payer or payer_name or 'unknown'}",
        [("bank:collection", entry.amount), (credit_to, -entry.amount)],
    )
    return "CREDIT", entry_id
