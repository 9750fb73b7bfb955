"""Response bodies of /api/v1/reports: the daily reconciliation report and the trend, as data.

They mirror the dataclasses of ``reconciliation.reports`` (the page, the XLSX and the CSV read the
same ones); the routes validate what they send through these models, so the OpenAPI document
describes exactly what a program receives. Amounts are integer fen; balances are signed as
postings are (debit positive) and carry the side a ledger prints (借/贷/平).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from clearing.api.models_shifts import ShiftCounts


class _Out(BaseModel):
    # a field the report gains must be described here too: refused loudly, never dropped
    model_config = ConfigDict(extra="forbid")


class TotalOut(_Out):
    count: int
    amount_fen: int


class RowOut(_Out):
    key: str
    name: str
    count: int
    amount_fen: int


class CheckOut(_Out):
    dimension: str
    total_fen: int
    expected_fen: int
    difference_fen: int = Field(description="the split's total minus the day's")
    agrees: bool


class BatchOut(_Out):
    msg_id: str
    bank: str
    seq: int
    state: str
    cutoff_at: datetime
    instruction_count: int
    line_count: int
    total_fen: int


class SettlementOut(_Out):
    batches: list[BatchOut]
    instructions: list[RowOut] = Field(description="by state: key is the state")
    total_fen: int
    paid_out_fen: int = Field(description="instructions the bank booked")


class RunOut(_Out):
    id: int
    state: str
    started_by: str
    started_at: datetime
    finished_at: datetime | None
    duration_s: int | None
    stats: dict[str, Any]
    error: str | None


class DiscrepancyCountOut(_Out):
    type: str
    state: str
    count: int


class OpenDiscrepancyOut(_Out):
    id: int
    type: str
    state: str
    source: str
    reference: str
    our_ref: str | None
    amount_fen: int | None
    their_amount_fen: int | None
    created_at: datetime


class ReconOut(_Out):
    latest: RunOut | None
    counts: list[DiscrepancyCountOut]
    open: list[OpenDiscrepancyOut]
    open_total: int = Field(description="may exceed the length of `open`, which is capped")


class BalanceOut(_Out):
    code: str
    name: str
    kind: str
    balance_fen: int = Field(description="signed as postings are: debit positive")
    direction: str = Field(description="借 (debit), 贷 (credit) or 平 (nil)")


class RatingCountOut(_Out):
    office: str
    window: str
    clerk: str = Field(description="display name (username)")
    very_satisfied: int
    satisfied: int
    basically_satisfied: int
    dissatisfied: int
    very_dissatisfied: int


class BadRatingOut(_Out):
    order_no: str
    office: str
    window: str
    clerk: str
    grade: str
    grade_zh: str
    reason: str | None
    rated_at: datetime


class _ShiftSumHead(_Out):
    key: str = Field(description="office code; the kind for a kind's subtotal; empty for the total")
    kind: str = Field(description="hall, centre or branch (银行网点); empty for the total")
    shifts: int


class ShiftSumOut(ShiftCounts, _ShiftSumHead):
    day_closed: bool | None = Field(description="offices only: the office's day closed (轧账)")
    day_difference_fen: int | None = Field(description="offices only: shifts minus ledger")


class ShiftSplitOut(_Out):
    """日结: the shifts closed on the day, per office, per kind of office, and in all."""

    offices: list[ShiftSumOut]
    by_kind: list[ShiftSumOut]
    total: ShiftSumOut | None


class DailyReportOut(_Out):
    """税费通缴对账日报 of one Beijing business day."""

    date: date
    generated_at: datetime
    received: TotalOut
    refunded: TotalOut
    net_fen: int
    suspense: TotalOut
    by_item: list[RowOut]
    by_beneficiary: list[RowOut]
    by_channel: list[RowOut]
    refunds_by_channel: list[RowOut]
    by_office: list[RowOut]
    by_window: list[RowOut] = Field(description="key: office, name: window number")
    by_office_kind: list[RowOut] = Field(
        description="by kind of office: key hall, centre or branch (银行网点, 同城通办)"
    )
    office_kinds: dict[str, str] = Field(description="each office of by_office: its kind")
    shifts: ShiftSplitOut
    checks: list[CheckOut]
    settlement: SettlementOut
    recon: ReconOut
    balances: list[BalanceOut]
    ratings: list[RatingCountOut] = Field(
        description="好差评 given on the day, per window and clerk"
    )
    bad_ratings: list[BadRatingOut] = Field(description="差评 of the day, to be called back")
    runs: list[RunOut]


class TrendDayOut(_Out):
    date: date
    received_count: int
    received_fen: int
    run_state: str | None
    open_discrepancies: int | None = Field(description="after the day's latest run; null without")
    auto_match_ratio: float | None = Field(description="0..1, from the run's statistics")


class TrendOut(_Out):
    end_date: date
    days: list[TrendDayOut]
