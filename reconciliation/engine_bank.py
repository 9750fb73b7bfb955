"""The bank passes: our collection account's statement lines and settlement instructions.

Statement lines were applied when the bank's files were imported (``reconciliation.bank_answers``);
here what they could not explain becomes a finding, and each acquirer's settlement credit is
matched one-to-many: one credit against the acquirer's bill of the settled day, net of refunds and
fees. An exact match books the fees and closes the acquirer's receivable for that money (rule
``acquirer_net``, confidence 100, recorded once per credit).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

from clearing.db import Conn
from clearing.domain.money import format_yuan
from clearing.service.settlement_answers import post
from reconciliation.engine import Finding, PassResult

_NET = """
SELECT coalesce(sum(CASE kind WHEN 'PAYMENT' THEN amount_fen ELSE -amount_fen END), 0) AS net,
       coalesce(sum((abs(fee_millifen) + 500) / 1000)
                FILTER (WHERE kind = 'PAYMENT'), 0) AS fees,
       count(*) AS lines
  FROM recon_bill_lines
 WHERE business_date = $1 AND provider = $2 AND kind IN ('PAYMENT', 'REFUND')
"""


async def statement(
    conn: Conn,
    day: date,
    *,
    bank: str,
    account: str,
    acquirers: Mapping[str, str],
    lag_days: int,
) -> PassResult:
    out = PassResult()
    rows = await conn.fetch(
        "SELECT acct_svcr_ref, amount_fen, counterparty, applied_as, end_to_end_id, entry_id"
        " FROM bank_statement_entries WHERE bank = $1 AND account_no = $2 AND booking_date = $3",
        bank,
        account,
        day,
    )
    source = f"bank:{bank}"
    explained = 0
    for r in rows:
        if r["applied_as"] in ("SETTLEMENT", "RETURN"):
            explained += 1
        elif r["applied_as"] == "UNMATCHED_DEBIT":
            out.findings.append(
                Finding(
                    "STATEMENT_DEBIT_UNMATCHED",
                    source,
                    r["acct_svcr_ref"],
                    r["end_to_end_id"],
                    None,
                    r["amount_fen"],
                    {"counterparty": r["counterparty"]},
                )
            )
        elif r["applied_as"] == "CREDIT":
            provider = acquirers.get(r["counterparty"] or "")
            if provider is None:
                out.findings.append(
                    Finding(
                        "STATEMENT_CREDIT_UNMATCHED",
                        source,
                        r["acct_svcr_ref"],
                        None,
                        None,
                        r["amount_fen"],
                        {"counterparty": r["counterparty"]},
                    )
                )
                continue
            settled = day - timedelta(days=lag_days)
            net = await conn.fetchrow(_NET, settled, provider)
            assert net is not None
            expected = int(net["net"]) - int(net["fees"])
            if int(r["amount_fen"]) != expected:
                out.findings.append(
                    Finding(
                        "ACQUIRER_CREDIT_MISMATCH",
                        source,
                        r["acct_svcr_ref"],
                        f"{provider}:{settled}",
                        expected,
                        r["amount_fen"],
                        {"provider": provider, "bill_lines": net["lines"]},
                    )
                )
                continue
            explained += 1
            await _book_acquirer_fees(
                conn, day, r["acct_svcr_ref"], provider=provider, settled=settled, net=net
            )
    out.stats["statement_lines"] = len(rows)
    out.stats["statement_lines_explained"] = explained
    out.findings.extend(await _drift(conn, day, bank=bank, account=account))
    return out


def _yuan(fen: int | None) -> str:
    return format_yuan(fen) if fen is not None else "—"


async def _drift(conn: Conn, day: date, *, bank: str, account: str) -> list[Finding]:
    """The day's statement must add up, and open where the one before closed."""
    rows = await conn.fetch(
        "SELECT statement_date, opening_fen, closing_fen, violations, lag(closing_fen) OVER"
        " (ORDER BY statement_date) AS previous_closing, lag(statement_date) OVER"
        " (ORDER BY statement_date) AS previous_date FROM bank_statement_balances"
        " WHERE bank = $1 AND account_no = $2 AND statement_date <= $3"
        " ORDER BY statement_date DESC LIMIT 1",
        bank,
        account,
        day,
    )
    found: list[Finding] = []
    for r in rows:
        if r["statement_date"] != day:
            continue
        source = f"bank:{bank}"
        arithmetic = [v for v in r["violations"] if "does not balance" in v]
        if arithmetic:
            found.append(
                Finding(
                    "BALANCE_DRIFT",
                    source,
                    f"{account}:{day}",
                    None,
                    r["opening_fen"],
                    r["closing_fen"],
                    {
                        "why": "对账单不平：期初余额加当日已记账发生额不等于期末余额"
                        f"（期初 {_yuan(r['opening_fen'])}，期末 {_yuan(r['closing_fen'])}）"
                    },
                )
            )
        previous = r["previous_closing"]
        if previous is not None and r["opening_fen"] is not None and previous != r["opening_fen"]:
            found.append(
                Finding(
                    "BALANCE_DRIFT",
                    source,
                    f"{account}:{day}:continuity",
                    None,
                    previous,
                    r["opening_fen"],
                    {
                        "why": f"期初余额 {_yuan(r['opening_fen'])} 与上一期"
                        f"（{r['previous_date']}）对账单期末余额 {_yuan(previous)} 不一致"
                    },
                )
            )
    return found


async def _book_acquirer_fees(
    conn: Conn, day: date, ref: str, *, provider: str, settled: date, net: object
) -> None:
    """Record the one-to-many match once; the fees it reveals are booked with it."""
    fees = int(net["fees"])  # type: ignore[index]
    match_id = await conn.fetchval(
        "INSERT INTO recon_matches (business_date, rule, confidence, state, external_ref,"
        " internal_ref, amount_fen, detail) VALUES ($1, 'acquirer_net', 100, 'AUTO', $2, $3,"
        " $4, $5) ON CONFLICT (rule, external_ref, internal_ref) DO NOTHING RETURNING id",
        day,
        ref,
        f"{provider}:{settled}",
        int(net["net"]) - fees,  # type: ignore[index]
        {"fees_fen": fees, "bill_lines": int(net["lines"])},  # type: ignore[index]
    )
    if match_id is not None and fees > 0:
        await post(
            conn,
            "ADJUSTMENT",
            f"{provider} fees of {settled} (statement {ref})",
            [("acquirer_fees", fees), (f"receivable:{provider}", -fees)],
        )


async def instructions(conn: Conn) -> PassResult:
    """Instructions the bank refused or returned, until every line of theirs is paid again."""
    out = PassResult()
    rows = await conn.fetch(
        "SELECT i.end_to_end_id, i.beneficiary_code, i.amount_fen, i.state, i.reason_code,"
        "       b.business_date, b.bank"
        "  FROM settlement_instructions i JOIN settlement_batches b ON b.id = i.batch_id"
        " WHERE i.state IN ('REJECTED', 'RETURNED') AND EXISTS ("
        "   SELECT 1 FROM settlement_items s WHERE s.instruction_id = i.id AND NOT EXISTS ("
        "     SELECT 1 FROM settlement_items n JOIN settlement_instructions ni"
        "       ON ni.id = n.instruction_id"
        "      WHERE n.order_id = s.order_id AND n.line_no = s.line_no"
        "        AND n.released_at IS NULL AND ni.state = 'BOOKED'))"
    )
    for r in rows:
        out.findings.append(
            Finding(
                "SETTLEMENT_REJECTED",
                f"bank:{r['bank']}",
                r["end_to_end_id"],
                r["beneficiary_code"],
                r["amount_fen"],
                None,
                {
                    "state": r["state"],
                    "reason_code": r["reason_code"],
                    "batch_date": str(r["business_date"]),
                },
            )
        )
    return out
