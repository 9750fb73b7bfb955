"""Findings become discrepancies: one row per (type, source, reference) however many runs see
it; a run closes what it no longer finds, and re-checks what earlier days left open.

A discrepancy closed by a person stays closed when a run sees the same record again (the
person decided it); one closed by a run opens again if a later run finds it again.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from clearing.db import Conn
from reconciliation.engine import Finding

# types a run for a day decides entirely: those of that day not found again are closed
DAY_TYPES = (
    "LONG",
    "SHORT",
    "TIMING",
    "AMOUNT_MISMATCH",
    "FEE_MISMATCH",
    "REFUND_MISMATCH",
    "DUPLICATE",
    "UNCONFIRMED_LEG",
    "UNKNOWN_CONFIRMATION",
    "STATEMENT_CREDIT_UNMATCHED",
    "STATEMENT_DEBIT_UNMATCHED",
    "ACQUIRER_CREDIT_MISMATCH",
    "BALANCE_DRIFT",
)
# types a run checks across all days (what it finds is the whole truth)
GLOBAL_TYPES = ("SETTLEMENT_REJECTED",)

_UPSERT = """
INSERT INTO discrepancies (business_date, type, source, reference, our_ref, amount_fen,
                           their_amount_fen, detail, first_run_id, last_run_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
ON CONFLICT (type, source, reference) DO UPDATE SET
    last_run_id = EXCLUDED.last_run_id,
    amount_fen = EXCLUDED.amount_fen,
    their_amount_fen = EXCLUDED.their_amount_fen,
    detail = EXCLUDED.detail,
    state = CASE WHEN discrepancies.state = 'RESOLVED'
                  AND discrepancies.resolved_by = 'system:recon' THEN 'OPEN'
                 ELSE discrepancies.state END,
    resolution = CASE WHEN discrepancies.state = 'RESOLVED'
                       AND discrepancies.resolved_by = 'system:recon' THEN NULL
                      ELSE discrepancies.resolution END,
    resolved_at = CASE WHEN discrepancies.state = 'RESOLVED'
                        AND discrepancies.resolved_by = 'system:recon' THEN NULL
                       ELSE discrepancies.resolved_at END,
    resolved_by = CASE WHEN discrepancies.state = 'RESOLVED'
                        AND discrepancies.resolved_by = 'system:recon' THEN NULL
                       ELSE discrepancies.resolved_by END
RETURNING (xmax = 0) AS inserted
"""

_CLOSE = """
UPDATE discrepancies SET state = 'RESOLVED', resolved_by = 'system:recon',
       resolved_at = now(), resolution = '第 ' || $1 || ' 次对账已匹配，自动解决'
 WHERE state IN ('OPEN', 'ASSIGNED')
   AND ((business_date = $2 AND type = ANY($3::text[])) OR type = ANY($4::text[]))
   AND NOT ((type, source, reference) IN (
        SELECT * FROM unnest($5::text[], $6::text[], $7::text[])))
RETURNING id
"""

# what closes a discrepancy a run for an earlier day left open, now that more is known
_RECHECK = """
UPDATE discrepancies d SET state = 'RESOLVED', resolved_by = 'system:recon',
       resolved_at = now(), resolution = '第 ' || $1 || ' 次对账补到记录，自动解决'
 WHERE d.state IN ('OPEN', 'ASSIGNED') AND d.business_date < $2 AND (
    (d.type IN ('TIMING', 'SHORT') AND EXISTS (SELECT 1 FROM recon_bill_lines b
        WHERE b.business_date BETWEEN d.business_date AND d.business_date + 3
          AND b.provider = d.source AND b.provider_txn_id = d.reference AND b.kind = 'PAYMENT'))
 OR (d.type = 'LONG' AND EXISTS (SELECT 1 FROM payments p
        WHERE p.provider = d.source AND p.provider_txn_id = d.reference))
 OR (d.type = 'UNCONFIRMED_LEG' AND EXISTS (SELECT 1 FROM order_lines l
        WHERE l.reference = d.reference AND l.confirm_state = 'CONFIRMED')
     AND EXISTS (SELECT 1 FROM recon_confirmation_lines c
        WHERE c.authority = d.source AND c.reference = d.reference))
 OR (d.type = 'DUPLICATE' AND EXISTS (SELECT 1 FROM payments p JOIN refunds f
        ON f.payment_id = p.id AND f.state = 'SUCCESS'
        WHERE p.provider = d.source AND p.provider_txn_id = d.reference)))
RETURNING id
"""


async def record(conn: Conn, run_id: int, day: date, findings: Iterable[Finding]) -> dict[str, int]:
    """Write this run's findings and close what it no longer finds; counts of each."""
    found = list(findings)
    new = 0
    for f in found:
        inserted = await conn.fetchval(
            _UPSERT,
            day,
            f.type,
            f.source,
            f.reference,
            f.our_ref,
            f.amount_fen,
            f.their_amount_fen,
            f.detail,
            run_id,
        )
        new += bool(inserted)
    closed = await conn.fetch(
        _CLOSE,
        str(run_id),
        day,
        list(DAY_TYPES),
        list(GLOBAL_TYPES),
        [f.type for f in found],
        [f.source for f in found],
        [f.reference for f in found],
    )
    rechecked = await conn.fetch(_RECHECK, str(run_id), day)
    return {
        "findings": len(found),
        "discrepancies_new": new,
        "discrepancies_closed": len(closed) + len(rechecked),
    }
