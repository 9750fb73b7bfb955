"""What finance staff read each morning about a business day, as plain data: money received and
refunded, split by fee item, beneficiary, channel, office and window, with the check that every
split adds up to the day; the day's settlement; its reconciliation; the ledger balances that
matter; the runs of the day and a trend over the days before.

Business days are Beijing dates: a day is the half-open interval [00:00, 24:00) +08:00, passed
to SQL as two timestamptz bounds so that no session time zone is involved. Amounts are int fen.
Call the functions inside ``snapshot(conn)`` so that the sums the checks compare come from one
view of the database, not from before and after a capture that lands in between.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from asyncpg import Record
from asyncpg.transaction import Transaction

from clearing.db import Conn
from clearing.domain import times
from clearing.domain.display import name
from clearing.service import shift_split
from clearing.service.shift_split import ShiftSplit
from reconciliation.ratings import BadRating, RatingCount
from reconciliation.ratings import bad as bad_ratings_of
from reconciliation.ratings import counts as rating_counts

BEIJING = times.BEIJING
OPEN_STATES = ("OPEN", "ASSIGNED")
# a bad day should still print: beyond this many open discrepancies the list says how many more
OPEN_LIST_LIMIT = 500


@dataclass(frozen=True, slots=True)
class Total:
    count: int
    amount_fen: int


@dataclass(frozen=True, slots=True)
class Row:  # one line of a by-dimension table: what (code and name), how many, how much
    key: str
    name: str
    count: int
    amount_fen: int


@dataclass(frozen=True, slots=True)
class Check:  # one split's total against the day's; the difference is split minus day
    dimension: str
    total_fen: int
    expected_fen: int
    difference_fen: int
    agrees: bool


@dataclass(frozen=True, slots=True)
class Batch:
    msg_id: str
    bank: str
    seq: int
    state: str
    cutoff_at: datetime
    instruction_count: int
    line_count: int
    total_fen: int


@dataclass(frozen=True, slots=True)
class Settlement:
    batches: list[Batch]
    instructions: list[Row]  # by state: key = state
    total_fen: int
    paid_out_fen: int  # instructions the bank booked


@dataclass(frozen=True, slots=True)
class Run:
    id: int
    state: str
    started_by: str
    started_at: datetime
    finished_at: datetime | None
    duration_s: int | None
    stats: dict[str, Any]
    error: str | None


@dataclass(frozen=True, slots=True)
class DiscrepancyCount:  # discrepancies of the day of one type in one state
    type: str
    state: str
    count: int


@dataclass(frozen=True, slots=True)
class OpenDiscrepancy:
    id: int
    type: str
    state: str
    source: str
    reference: str
    our_ref: str | None
    amount_fen: int | None
    their_amount_fen: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Recon:
    latest: Run | None
    counts: list[DiscrepancyCount]
    open: list[OpenDiscrepancy]
    open_total: int  # may exceed len(open), see OPEN_LIST_LIMIT


@dataclass(frozen=True, slots=True)
class Balance:  # a ledger account when the day ended, signed as postings are (debit > 0)
    code: str
    name: str
    kind: str
    balance_fen: int


@dataclass(frozen=True, slots=True)
class DailyReport:
    day: date
    received: Total  # payments cleared (split) with paid_at on the day
    refunded: Total  # refunds whose reversal was posted on the day
    net_fen: int
    suspense: Total  # money received on the day that went to suspense, to be returned
    by_item: list[Row]
    by_beneficiary: list[Row]
    by_channel: list[Row]
    refunds_by_channel: list[Row]
    by_office: list[Row]  # count: orders, as by_window (other splits count lines)
    by_window: list[Row]  # key: office, name: window number
    checks: list[Check]
    settlement: Settlement
    recon: Recon
    balances: list[Balance]
    # 好差评 given on the day (reconciliation.ratings)
    ratings: list[RatingCount] = field(default_factory=list)
    bad_ratings: list[BadRating] = field(default_factory=list)
    # by kind of office (offices.kind: hall, centre, branch = 银行网点 of 同城通办); count: orders
    by_office_kind: list[Row] = field(default_factory=list)
    office_kinds: dict[str, str] = field(default_factory=dict)  # office code → its kind
    # 日结: the shifts closed on the day by office and kind (clearing.service.shift_split)
    shifts: ShiftSplit = field(default_factory=ShiftSplit)


@dataclass(frozen=True, slots=True)
class TrendDay:
    day: date
    received_count: int
    received_fen: int
    run_state: str | None
    open_discrepancies: int | None  # at the end of the day's latest run; None without a run
    auto_match_ratio: Decimal | None  # 0..1, from the run's stats when it says


def bounds(day: date) -> tuple[datetime, datetime]:
    """The Beijing business day as [start, end) instants."""
    return times.day_bounds(day)


def snapshot(conn: Conn) -> Transaction:
    """A read-only REPEATABLE READ transaction: every query of a report sees the same data."""
    return conn.transaction(isolation="repeatable_read", readonly=True)


# lines of the orders paid on the day; an order has one CLEARED payment (another goes to suspense)
_BY_ITEM = """
SELECT l.item_code, f.name_zh AS item_name, l.beneficiary_code, b.name AS beneficiary_name,
       count(*) AS n, sum(l.amount_fen)::bigint AS fen
  FROM payments p JOIN order_lines l ON l.order_id = p.order_id
  JOIN fee_items f ON f.code = l.item_code JOIN beneficiaries b ON b.code = l.beneficiary_code
 WHERE p.outcome = 'CLEARED' AND p.paid_at >= $1 AND p.paid_at < $2
 GROUP BY 1, 2, 3, 4 ORDER BY 1, 3
"""
# with the kind of office (登记大厅, 银行网点…); an order's office is always a row of offices
# since migration 0020, the LEFT JOIN only keeps a line that would otherwise vanish from the sums
_BY_WINDOW = """
SELECT o.office, o.window_no, coalesce(f.kind, 'hall') AS office_kind,
       count(DISTINCT o.id) AS n, sum(l.amount_fen)::bigint AS fen
  FROM payments p JOIN orders o ON o.id = p.order_id JOIN order_lines l ON l.order_id = o.id
  LEFT JOIN offices f ON f.code = o.office
 WHERE p.outcome = 'CLEARED' AND p.paid_at >= $1 AND p.paid_at < $2
 GROUP BY 1, 2, 3 ORDER BY 1, 2
"""
_BY_CHANNEL = """
SELECT provider, outcome, count(*) AS n, sum(amount_fen)::bigint AS fen FROM payments
 WHERE paid_at >= $1 AND paid_at < $2 GROUP BY 1, 2 ORDER BY 1, 2
"""
_REFUNDS = """
SELECT p.provider, count(*) AS n, sum(r.amount_fen)::bigint AS fen
  FROM refund_requests r JOIN journal_entries e ON e.id = r.entry_id
  JOIN payments p ON p.id = r.payment_id
 WHERE r.state = 'SUCCEEDED' AND e.created_at >= $1 AND e.created_at < $2
 GROUP BY 1 ORDER BY 1
"""
_BATCHES = """
SELECT msg_id, bank, seq, state, cutoff_at, instruction_count, line_count, total_fen
  FROM settlement_batches WHERE business_date = $1 ORDER BY bank, seq
"""
_INSTRUCTIONS = """
SELECT i.state, count(*) AS n, sum(i.amount_fen)::bigint AS fen
  FROM settlement_instructions i JOIN settlement_batches b ON b.id = i.batch_id
 WHERE b.business_date = $1 GROUP BY 1 ORDER BY 1
"""
_RUNS = """
SELECT id, state, started_by, started_at, finished_at, stats, error
  FROM recon_runs WHERE business_date = $1 ORDER BY id
"""
_COUNTS = """
SELECT type, state, count(*) AS n FROM discrepancies WHERE business_date = $1
 GROUP BY 1, 2 ORDER BY 1, 2
"""
_OPEN = """
SELECT id, type, state, source, reference, our_ref, amount_fen, their_amount_fen, created_at
  FROM discrepancies WHERE business_date = $1 AND state = ANY($2::text[])
 ORDER BY type, source, id LIMIT $3
"""
# postings by their posting time: the balance as it stood when the day ended
_BALANCES = """
SELECT a.code, a.name, a.kind, coalesce(sum(p.amount_fen), 0)::bigint AS fen
  FROM ledger_accounts a
  LEFT JOIN postings p ON p.account_id = a.id AND p.created_at < $1
 WHERE a.code LIKE 'payable:%' OR a.code LIKE 'receivable:%'
    OR a.code IN ('bank:collection', 'suspense', 'bank_unapplied')
 GROUP BY a.id ORDER BY a.code
"""
_TREND_RECEIVED = """
SELECT (paid_at AT TIME ZONE 'Asia/Shanghai')::date AS day, count(*) AS n,
       sum(amount_fen)::bigint AS fen
  FROM payments WHERE outcome = 'CLEARED' AND paid_at >= $1 AND paid_at < $2 GROUP BY 1
"""
# open at the end of the day's latest run: found by then, and not closed before it finished
_TREND_RUNS = """
SELECT DISTINCT ON (r.business_date) r.business_date AS day, r.state, r.stats,
       (SELECT count(*) FROM discrepancies d
         WHERE d.business_date = r.business_date AND d.first_run_id <= r.id
           AND (d.state = ANY($3::text[])
                OR (r.finished_at IS NOT NULL AND d.resolved_at > r.finished_at))) AS open_n
  FROM recon_runs r WHERE r.business_date BETWEEN $1 AND $2
 ORDER BY r.business_date, r.id DESC
"""


# The run's stats are the reconciliation engine's (reconciliation.runs: auto_match_ratio, and
# payments_matched of bill_payment_lines), and its keys may grow: read what is there, by these
# names or ones like them, and never fail a report for a missing key.
_RATIO_KEYS = ("auto_match_ratio", "auto_matched_ratio", "match_ratio")
_MATCHED_KEYS = ("payments_matched", "auto_matched", "matched")
_TOTAL_KEYS = ("bill_payment_lines", "total", "records", "compared", "items")
_OPEN_KEYS = ("open_discrepancies", "discrepancies_open", "open")


def stats_dict(raw: object) -> dict[str, Any]:
    """A run's stats as a dict (the jsonb codec decodes it; plain JSON text is read too)."""
    data = json.loads(raw) if isinstance(raw, str) else raw
    return dict(data) if isinstance(data, dict) else {}


def _first(stats: dict[str, Any], keys: tuple[str, ...]) -> Decimal | None:
    for value in (stats.get(k) for k in keys):
        # JSON numbers only; Decimal(str(x)) keeps a float's shortest decimal form
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = Decimal(str(value))
            if number.is_finite() and number >= 0:
                return number
    return None


def auto_match_ratio(stats: dict[str, Any]) -> Decimal | None:
    """Matched automatically / compared, 0..1: as the run states it, else matched / total at the
    top level, else summed over per-source dicts; None when the run does not say."""
    if (stated := _first(stats, _RATIO_KEYS)) is not None:
        return min(stated, Decimal(1))
    parts = [stats] if _first(stats, _TOTAL_KEYS) is not None else list(stats.values())
    pairs = [
        (_first(p, _MATCHED_KEYS), _first(p, _TOTAL_KEYS)) for p in parts if isinstance(p, dict)
    ]
    known = [(m, t) for m, t in pairs if m is not None and t is not None]
    total = sum((t for _, t in known), Decimal(0))
    return min(sum((m for m, _ in known), Decimal(0)) / total, Decimal(1)) if total else None


def open_at_end(stats: dict[str, Any], counted: int) -> int:
    """Open discrepancies when the run ended: as the run recorded it, else as counted."""
    stated = _first(stats, _OPEN_KEYS)
    return int(stated) if stated is not None and stated == int(stated) else counted


def _rollup(rows: list[tuple[str, str, int, int]]) -> list[Row]:
    acc: dict[tuple[str, str], list[int]] = {}
    for key, label, count, fen in rows:
        slot = acc.setdefault((key, label), [0, 0])
        slot[0] += count
        slot[1] += fen
    return [Row(k, n, c, f) for (k, n), (c, f) in sorted(acc.items())]


def _channel(r: Record) -> Row:
    return Row(r["provider"], name("channel", r["provider"]), r["n"], r["fen"])


def _check(dimension: str, rows: list[Row], expected: int) -> Check:
    total = sum(r.amount_fen for r in rows)
    return Check(dimension, total, expected, total - expected, total == expected)


async def _settlement(conn: Conn, day: date) -> Settlement:
    batches = [Batch(**dict(r)) for r in await conn.fetch(_BATCHES, day)]
    by_state = [
        Row(r["state"], r["state"], r["n"], r["fen"]) for r in await conn.fetch(_INSTRUCTIONS, day)
    ]
    paid_out = sum(r.amount_fen for r in by_state if r.key == "BOOKED")
    return Settlement(batches, by_state, sum(b.total_fen for b in batches), paid_out)


async def _recon(conn: Conn, day: date) -> Recon:
    all_runs = await runs(conn, day)
    counts = [
        DiscrepancyCount(r["type"], r["state"], r["n"]) for r in await conn.fetch(_COUNTS, day)
    ]
    rows = await conn.fetch(_OPEN, day, list(OPEN_STATES), OPEN_LIST_LIMIT)
    open_total = sum(c.count for c in counts if c.state in OPEN_STATES)
    listed = [OpenDiscrepancy(**dict(r)) for r in rows]
    return Recon(all_runs[-1] if all_runs else None, counts, listed, open_total)


async def daily(conn: Conn, day: date) -> DailyReport:
    """The report of one business day (see the module docstring for what each part means)."""
    start, end = bounds(day)
    lines = await conn.fetch(_BY_ITEM, start, end)
    by_item = _rollup([(r["item_code"], r["item_name"], r["n"], r["fen"]) for r in lines])
    by_beneficiary = _rollup(
        [(r["beneficiary_code"], r["beneficiary_name"], r["n"], r["fen"]) for r in lines]
    )
    windows = await conn.fetch(_BY_WINDOW, start, end)
    by_window = [Row(r["office"], r["window_no"], r["n"], r["fen"]) for r in windows]
    by_office = _rollup([(w.key, w.key, w.count, w.amount_fen) for w in by_window])
    office_kinds = {r["office"]: r["office_kind"] for r in windows}
    kinds = [r["office_kind"] for r in windows]
    by_office_kind = _rollup(
        [(k, name("office_kind", k), r["n"], r["fen"]) for k, r in zip(kinds, windows, strict=True)]
    )
    payments = await conn.fetch(_BY_CHANNEL, start, end)
    by_channel = [_channel(r) for r in payments if r["outcome"] == "CLEARED"]
    suspense = [r for r in payments if r["outcome"] == "SUSPENSE"]
    refunds = [_channel(r) for r in await conn.fetch(_REFUNDS, start, end)]
    received = Total(sum(r.count for r in by_channel), sum(r.amount_fen for r in by_channel))
    refunded = Total(sum(r.count for r in refunds), sum(r.amount_fen for r in refunds))
    checks = [
        _check("按收费项目", by_item, received.amount_fen),
        _check("按收款单位", by_beneficiary, received.amount_fen),
        _check("按支付渠道", by_channel, received.amount_fen),
        _check("按大厅", by_office, received.amount_fen),
        _check("按网点类型", by_office_kind, received.amount_fen),
        _check("按窗口", by_window, received.amount_fen),
    ]
    balances = [
        Balance(r["code"], r["name"], r["kind"], r["fen"]) for r in await conn.fetch(_BALANCES, end)
    ]
    return DailyReport(
        day=day,
        received=received,
        refunded=refunded,
        net_fen=received.amount_fen - refunded.amount_fen,
        suspense=Total(sum(r["n"] for r in suspense), sum(r["fen"] for r in suspense)),
        by_item=by_item,
        by_beneficiary=by_beneficiary,
        by_channel=by_channel,
        refunds_by_channel=refunds,
        by_office=by_office,
        by_window=by_window,
        checks=checks,
        settlement=await _settlement(conn, day),
        recon=await _recon(conn, day),
        balances=balances,
        ratings=await rating_counts(conn, start, end),
        bad_ratings=await bad_ratings_of(conn, start, end),
        by_office_kind=by_office_kind,
        office_kinds=office_kinds,
        shifts=await shift_split.of_day(conn, day),
    )


async def runs(conn: Conn, day: date) -> list[Run]:
    """Every reconciliation run of the business day, oldest first."""
    out = []
    for r in await conn.fetch(_RUNS, day):
        done = r["finished_at"]
        secs = int((done - r["started_at"]).total_seconds()) if done else None
        out.append(Run(**{**dict(r), "stats": stats_dict(r["stats"]), "duration_s": secs}))
    return out


async def trend(conn: Conn, end_day: date, days: int = 30) -> list[TrendDay]:
    """One entry per business day, the ``days`` days up to and including ``end_day``."""
    if not 1 <= days <= 366:
        raise ValueError("days must be between 1 and 366")
    first = end_day - timedelta(days=days - 1)
    start, _ = bounds(first)
    _, end = bounds(end_day)
    received = {r["day"]: r for r in await conn.fetch(_TREND_RECEIVED, start, end)}
    run_rows = await conn.fetch(_TREND_RUNS, first, end_day, list(OPEN_STATES))
    latest = {r["day"]: r for r in run_rows}
    out = []
    for day in (first + timedelta(days=i) for i in range(days)):
        money, run = received.get(day), latest.get(day)
        stats = stats_dict(run["stats"]) if run else {}
        out.append(
            TrendDay(
                day,
                money["n"] if money else 0,
                money["fen"] if money else 0,
                run["state"] if run else None,
                open_at_end(stats, run["open_n"]) if run else None,
                auto_match_ratio(stats),
            )
        )
    return out
