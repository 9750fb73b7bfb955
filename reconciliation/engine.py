"""The matching passes of one business day, each one SQL statement over staged and own records.

A pass returns statistics and *findings*: what does not match, as (type, source, reference, …).
``findings.record`` turns them into discrepancies (one row per type/source/reference, whatever
the number of runs) and closes those of the day a run no longer finds.

Passes (D is a Beijing business day; ``lo``/``hi`` its bounds):
- acquirers, payments: the staged bill lines of D against our payments of D, a full outer join
  on (provider, transaction id) — exact amount and the fee we expect, else a finding; a line
  whose payment was recorded on another day, or a payment whose line is in another day's bill,
  is a match across the cut-off, not a finding;
- acquirers, refunds: bill refund lines against our succeeded refunds, by refund id;
- duplicates: an order paid more than once, until the extra money is back with the payer;
- authorities: the legs we hold confirmed against each authority's list of D, and legs still
  unconfirmed a grace period after payment;
- the bank: statement lines of our collection account nobody explains, acquirers' settlement
  credits against their bills (net of refunds and fees), instructions the bank refused or
  returned until their lines are paid again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from clearing.db import Conn

# a payment this close to midnight may be in the next day's bill: a timing difference, not 短款
TIMING_WINDOW = timedelta(minutes=15)
# an authority has this long after payment to confirm a leg before it is a finding
CONFIRM_GRACE = timedelta(minutes=30)


@dataclass(frozen=True)
class Finding:
    type: str
    source: str
    reference: str
    our_ref: str | None = None
    amount_fen: int | None = None
    their_amount_fen: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class PassResult:
    stats: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)


_PAYMENTS = """
WITH b AS (
    SELECT provider, provider_txn_id, out_trade_no, amount_fen, fee_millifen, occurred_at
      FROM recon_bill_lines bl
     WHERE business_date = $1 AND kind = 'PAYMENT'
       AND (provider, provider_txn_id) NOT IN (
            SELECT provider, provider_txn_id FROM recon_bill_lines
             WHERE business_date = $1 AND kind = 'REVERSAL')
), p AS (
    SELECT provider, provider_txn_id, out_trade_no, amount_fen, paid_at
      FROM payments WHERE paid_at >= $2 AND paid_at < $3
       AND provider = ANY($5::text[])
), j AS (
    SELECT coalesce(b.provider, p.provider) AS provider,
           coalesce(b.provider_txn_id, p.provider_txn_id) AS txn,
           coalesce(b.out_trade_no, p.out_trade_no) AS out_trade_no,
           b.amount_fen AS theirs, p.amount_fen AS ours, abs(b.fee_millifen) AS fee,
           b.occurred_at, p.paid_at,
           (b.amount_fen = p.amount_fen AND abs(b.fee_millifen)
               = (p.amount_fen * coalesce(($4::jsonb ->> b.provider)::bigint, 0) + 500) / 1000)
               AS exact
      FROM b FULL OUTER JOIN p
        ON b.provider = p.provider AND b.provider_txn_id = p.provider_txn_id
)
SELECT count(*) FILTER (WHERE exact) AS matched,
       count(*) FILTER (WHERE theirs IS NOT NULL) AS bill_lines,
       count(*) FILTER (WHERE ours IS NOT NULL) AS payments,
       coalesce(jsonb_agg(jsonb_build_object(
           'provider', provider, 'txn', txn, 'out_trade_no', out_trade_no, 'theirs', theirs,
           'ours', ours, 'fee', fee, 'paid_at', paid_at, 'occurred_at', occurred_at))
         FILTER (WHERE exact IS NOT TRUE), '[]') AS odd
  FROM j
"""


async def payments(
    conn: Conn, day: date, lo: datetime, hi: datetime, fee_ppm: dict[str, int]
) -> PassResult:
    """Bill payment lines of ``day`` against our payments of ``day``."""
    # the channels whose bill of the day is staged: only their payments can be compared
    staged_lines = {
        r["source"].removeprefix("bill:"): int(r["records"])
        for r in await conn.fetch(
            "SELECT source, records FROM recon_sources"
            " WHERE business_date = $1 AND source LIKE 'bill:%'",
            day,
        )
    }
    staged = list(staged_lines)
    row = await conn.fetchrow(_PAYMENTS, day, lo, hi, json.dumps(fee_ppm), staged)
    assert row is not None
    out = PassResult(
        stats={
            "payments_matched": row["matched"],
            "bill_payment_lines": row["bill_lines"],
            "our_payments": row["payments"],
        }
    )
    odd = row["odd"] if isinstance(row["odd"], list) else json.loads(row["odd"])
    # the few odd rows are looked up in one statement each way, not one query per row
    theirs_only = [o for o in odd if o["ours"] is None]
    ours_only = [o for o in odd if o["theirs"] is None]
    recorded = {
        (r["provider"], r["provider_txn_id"]): r["amount_fen"]
        for r in await conn.fetch(
            "SELECT provider, provider_txn_id, amount_fen FROM payments"
            " WHERE (provider, provider_txn_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))",
            [o["provider"] for o in theirs_only],
            [o["txn"] for o in theirs_only],
        )
    }
    billed = {
        (r["provider"], r["provider_txn_id"])
        for r in await conn.fetch(
            # across the cut-off: the bills of the days around this one
            "SELECT provider, provider_txn_id FROM recon_bill_lines WHERE kind = 'PAYMENT'"
            " AND business_date BETWEEN $3::date - 3 AND $3::date + 3"
            " AND (provider, provider_txn_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))",
            [o["provider"] for o in ours_only],
            [o["txn"] for o in ours_only],
            day,
        )
    }
    across = 0
    for o in odd:
        theirs, ours = o["theirs"], o["ours"]
        key = dict(source=o["provider"], reference=o["txn"], our_ref=o["out_trade_no"])
        if theirs is not None and ours is not None:
            if theirs != ours:
                out.findings.append(
                    Finding("AMOUNT_MISMATCH", amount_fen=ours, their_amount_fen=theirs, **key)
                )
            else:
                expected = (ours * fee_ppm.get(o["provider"], 0) + 500) // 1000
                out.findings.append(
                    Finding(
                        "FEE_MISMATCH",
                        amount_fen=expected,
                        their_amount_fen=o["fee"],
                        detail={"unit": "millifen"},
                        **key,
                    )
                )
        elif theirs is not None:
            elsewhere = recorded.get((o["provider"], o["txn"]))
            if elsewhere is None:
                out.findings.append(Finding("LONG", their_amount_fen=theirs, **key))
            elif elsewhere != theirs:
                out.findings.append(
                    Finding("AMOUNT_MISMATCH", amount_fen=elsewhere, their_amount_fen=theirs, **key)
                )
            else:
                across += 1
        elif (o["provider"], o["txn"]) in billed:
            across += 1
        else:
            paid_at = datetime.fromisoformat(o["paid_at"])
            # an empty bill is one the channel has not produced yet (a card terminal whose batch
            # is still open, a bill published later in the morning): wait, it is not 短款
            empty = staged_lines.get(o["provider"], 0) == 0
            kind = "TIMING" if empty or hi - paid_at <= TIMING_WINDOW else "SHORT"
            # staff read it on /finance: in Chinese, like every word of a discrepancy
            detail = {"why": "该渠道当日账单尚无记录，暂按跨日在途处理"} if empty else {}
            out.findings.append(Finding(kind, amount_fen=ours, detail=detail, **key))
    out.stats["matched_across_days"] = across
    return out


_REFUNDS = """
WITH b AS (
    SELECT provider, coalesce(provider_refund_id, out_refund_no) AS ref, out_refund_no,
           amount_fen
      FROM recon_bill_lines WHERE business_date = $1 AND kind = 'REFUND'
), r AS (
    SELECT p.provider, coalesce(f.provider_refund_id, f.out_refund_no) AS ref, f.out_refund_no,
           f.amount_fen
      FROM refunds f JOIN payments p ON p.id = f.payment_id
     WHERE f.state = 'SUCCESS' AND f.updated_at >= $2 AND f.updated_at < $3
       AND p.provider IN (SELECT substr(source, 6) FROM recon_sources
                           WHERE business_date = $1 AND source LIKE 'bill:%')
)
SELECT coalesce(b.provider, r.provider) AS provider, coalesce(b.ref, r.ref) AS ref,
       coalesce(b.out_refund_no, r.out_refund_no) AS out_refund_no,
       b.amount_fen AS theirs, r.amount_fen AS ours
  FROM b FULL OUTER JOIN r
    ON b.provider = r.provider AND (b.ref = r.ref OR b.out_refund_no = r.out_refund_no)
"""


async def refunds(conn: Conn, day: date, lo: datetime, hi: datetime) -> PassResult:
    """Refund lines of the bills against the refunds the channels confirmed to us."""
    out = PassResult()
    matched = 0
    for r in await conn.fetch(_REFUNDS, day, lo, hi):
        if r["theirs"] == r["ours"]:
            matched += 1
            continue
        if r["ours"] is None:
            # a refund the channel made that we did not ask for, or recorded on another day
            known = await conn.fetchval(
                "SELECT amount_fen FROM refunds"
                " WHERE out_refund_no = $1 OR provider_refund_id = $2",
                r["out_refund_no"],
                r["ref"],
            )
            if known == r["theirs"]:
                matched += 1
                continue
        out.findings.append(
            Finding(
                "REFUND_MISMATCH",
                r["provider"],
                r["ref"],
                r["out_refund_no"],
                r["ours"],
                r["theirs"],
            )
        )
    out.stats["refunds_matched"] = matched
    return out


_DUPLICATES = """
SELECT p.provider, p.provider_txn_id, o.order_no, p.amount_fen,
       EXISTS (SELECT 1 FROM refunds f WHERE f.payment_id = p.id AND f.state = 'SUCCESS')
           AS returned
  FROM payments p JOIN orders o ON o.id = p.order_id
 WHERE p.outcome = 'SUSPENSE' AND p.reason = 'ALREADY_PAID'
   AND p.paid_at >= $1 AND p.paid_at < $2
"""


async def duplicates(conn: Conn, lo: datetime, hi: datetime) -> PassResult:
    """An order paid twice: a finding until the second payment is back with the payer."""
    out = PassResult()
    for r in await conn.fetch(_DUPLICATES, lo, hi):
        if r["returned"]:
            out.stats["duplicates_returned"] = out.stats.get("duplicates_returned", 0) + 1
            continue
        out.findings.append(
            Finding(
                "DUPLICATE",
                r["provider"],
                r["provider_txn_id"],
                r["order_no"],
                r["amount_fen"],
                r["amount_fen"],
                {"refund": "pending"},
            )
        )
    return out


_LEGS = """
WITH ours AS (
    SELECT CASE f.kind WHEN 'tax' THEN 'tax' WHEN 'nontax' THEN 'fiscal' ELSE 'fund' END
               AS authority, l.reference, l.proof_no, l.amount_fen, o.order_no,
           l.confirm_state, p.paid_at
      FROM order_lines l JOIN orders o ON o.id = l.order_id
      JOIN fee_items f ON f.code = l.item_code
      JOIN LATERAL (SELECT min(paid_at) AS paid_at FROM payments
                     WHERE order_id = o.id AND outcome = 'CLEARED') p ON true
     WHERE l.reference IS NOT NULL AND p.paid_at >= $2 AND p.paid_at < $3
       AND o.state IN ('CLEARED', 'SETTLED', 'EXCEPTION')
), theirs AS (
    SELECT authority, reference, proof_no, amount_fen FROM recon_confirmation_lines
     WHERE business_date = $1
)
SELECT coalesce(o.authority, t.authority) AS authority,
       coalesce(o.reference, t.reference) AS reference, o.order_no, o.confirm_state,
       o.paid_at, o.amount_fen AS ours, t.amount_fen AS theirs, o.proof_no AS our_proof,
       t.proof_no AS their_proof
  FROM ours o FULL OUTER JOIN theirs t
    ON o.authority = t.authority AND o.reference = t.reference
"""


async def legs(
    conn: Conn,
    day: date,
    lo: datetime,
    hi: datetime,
    *,
    now: datetime,
    grace: timedelta = CONFIRM_GRACE,
) -> PassResult:
    """Legs paid on ``day`` against what each authority says it confirmed on ``day``."""
    out = PassResult()
    matched = 0
    for r in await conn.fetch(_LEGS, day, lo, hi):
        if r["order_no"] is None:
            # on the authority's list but not a leg of ours paid that day: perhaps another day
            known = await conn.fetchval(
                "SELECT 1 FROM order_lines WHERE reference = $1 AND confirm_state = 'CONFIRMED'",
                r["reference"],
            )
            if known:
                matched += 1
            else:
                out.findings.append(
                    Finding(
                        "UNKNOWN_CONFIRMATION",
                        r["authority"],
                        r["reference"],
                        their_amount_fen=r["theirs"],
                        detail={"proof_no": r["their_proof"]},
                    )
                )
            continue
        listed = r["their_proof"] is not None or await conn.fetchval(
            "SELECT 1 FROM recon_confirmation_lines WHERE authority = $1 AND reference = $2",
            r["authority"],
            r["reference"],
        )
        if r["confirm_state"] == "CONFIRMED" and listed:
            if r["theirs"] is not None and r["theirs"] != r["ours"]:
                # the authority booked another amount than the leg we paid it
                out.findings.append(
                    Finding(
                        "AMOUNT_MISMATCH",
                        r["authority"],
                        r["reference"],
                        r["order_no"],
                        r["ours"],
                        r["theirs"],
                        {"proof_no": r["their_proof"]},
                    )
                )
                continue
            matched += 1
            continue
        if r["confirm_state"] != "CONFIRMED" and now - r["paid_at"] < grace:
            continue  # still within the time an authority is given
        out.findings.append(
            Finding(
                "UNCONFIRMED_LEG",
                r["authority"],
                r["reference"],
                r["order_no"],
                r["ours"],
                r["theirs"],
                {"confirm_state": r["confirm_state"], "listed": bool(listed)},
            )
        )
    out.stats["legs_matched"] = matched
    return out


# a rule match at or above this confidence is taken; below it, it waits for a person
AUTO_CONFIDENCE = 90


def _score(long: Finding, short: Finding, at: dict[tuple[str, str], datetime]) -> int:
    """How sure we are that the channel's unknown line and our unbilled payment are one:
    the same amount is required (50), the same order reference is strong (+30), and the
    closer in time the better (+20 within a minute, +10 within ten)."""
    if long.source != short.source or long.their_amount_fen != short.amount_fen:
        return 0
    score = 50
    if long.our_ref and long.our_ref == short.our_ref:
        score += 30
    gap = abs(at[(long.source, long.reference)] - at[(short.source, short.reference)])
    if gap <= timedelta(minutes=1):
        score += 20
    elif gap <= timedelta(minutes=10):
        score += 10
    return score if score > 60 else 0


async def tolerance(
    conn: Conn, day: date, run_id: int, found: list[Finding]
) -> tuple[list[Finding], dict[str, int]]:
    """Pair 长款 and 短款 of the same channel and day that are one payment under two ids (a
    channel that re-issued its transaction id, a reference lost on the way). Each pair is a
    recorded match with its rule and confidence; a sure one closes both findings, an unsure
    one leaves one finding that waits for a person to confirm or reject the match."""
    longs = [f for f in found if f.type == "LONG"]
    shorts = [f for f in found if f.type in ("SHORT", "TIMING")]
    if not longs or not shorts:
        return found, {}
    at: dict[tuple[str, str], datetime] = {}
    for r in await conn.fetch(
        "SELECT provider, provider_txn_id, occurred_at AS at FROM recon_bill_lines"
        " WHERE business_date = $1 AND provider_txn_id = ANY($2::text[])",
        day,
        [f.reference for f in longs],
    ):
        at[(r["provider"], r["provider_txn_id"])] = r["at"]
    for r in await conn.fetch(
        "SELECT provider, provider_txn_id, paid_at AS at FROM payments"
        " WHERE provider_txn_id = ANY($1::text[])",
        [f.reference for f in shorts],
    ):
        at[(r["provider"], r["provider_txn_id"])] = r["at"]
    keep = list(found)
    stats = {"rule_matched": 0, "rule_proposed": 0}
    for long in longs:
        scored = [(s, _score(long, s, at)) for s in shorts if s in keep]
        best = max(scored, key=lambda p: p[1], default=None)
        if best is None or best[1] == 0:
            continue
        short, confidence = best
        sure = confidence >= AUTO_CONFIDENCE
        match = await conn.fetchrow(
            "INSERT INTO recon_matches (business_date, rule, confidence, state, external_ref,"
            " internal_ref, amount_fen, detail, run_id)"
            " VALUES ($1, 'amount_time_reference', $2, $3, $4, $5, $6, $7, $8)"
            " ON CONFLICT (rule, external_ref, internal_ref) DO UPDATE SET run_id = $8"
            " RETURNING id, state",
            day,
            confidence,
            "AUTO" if sure else "PROPOSED",
            f"{long.source}:{long.reference}",
            f"{short.source}:{short.reference}",
            short.amount_fen,
            {"their_out_trade_no": long.our_ref, "our_out_trade_no": short.our_ref},
            run_id,
        )
        assert match is not None
        match_id, state = match["id"], match["state"]
        if state == "REJECTED":
            continue  # a person said these two are not one payment
        sure = sure or state == "CONFIRMED"
        keep.remove(short)
        if sure:
            keep.remove(long)
            stats["rule_matched"] += 1
            continue
        stats["rule_proposed"] += 1
        keep.remove(long)
        keep.append(
            Finding(
                long.type,
                long.source,
                long.reference,
                long.our_ref,
                short.amount_fen,
                long.their_amount_fen,
                {
                    **long.detail,
                    "match_id": match_id,
                    "confidence": confidence,
                    "candidate": short.reference,
                },
            )
        )
    return keep, stats
