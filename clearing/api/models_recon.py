"""Request and response bodies of the reconciliation routes: discrepancies, their comments, the
adjusting entries one person proposes and another approves, and the matches rules propose.
Amounts are integer fen; an adjustment's legs are ``[account code, signed fen]``, debit
positive, summing to zero."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AssignIn(_In):
    username: str = Field(max_length=64, description="an active finance or admin user")


class CommentIn(_In):
    body: str = Field(min_length=1, max_length=2000)


class ReasonIn(_In):
    reason: str = Field(max_length=500, description="why it is resolved or void; 2-500 chars")


class AdjustmentIn(_In):
    legs: list[tuple[str, StrictInt]] = Field(
        max_length=20,
        description="[[account code, signed fen], …]: debit positive, at least two legs, one per"
        " account, summing to zero",
        examples=[[["recon_writeoff", 100], ["suspense", -100]]],
    )
    memo: str = Field(max_length=200, description="the entry's memo, 2-200 chars")


class CommentOut(BaseModel):
    id: int
    author: str
    author_name: str
    body: str
    created_at: datetime


class AdjustmentOut(BaseModel):
    id: int
    discrepancy_id: int
    legs: list[tuple[str, int]]
    memo: str
    state: str = Field(description="REQUESTED, POSTED or REJECTED")
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    entry_id: int | None = Field(description="the journal entry posted on approval")


class MatchOut(BaseModel):
    id: int
    business_date: date
    rule: str
    confidence: int = Field(description="0-100")
    state: str = Field(description="AUTO, PROPOSED, CONFIRMED or REJECTED")
    external_ref: str
    internal_ref: str
    amount_fen: int
    detail: dict[str, Any]
    decided_by: str | None
    decided_at: datetime | None


class DiscrepancyOut(BaseModel):
    id: int
    business_date: date
    type: str = Field(description="LONG, SHORT, TIMING, AMOUNT_MISMATCH, DUPLICATE, …")
    source: str = Field(description="wechatpay, tax, bank:SFBK, ledger …")
    reference: str = Field(description="the record's own id at its source")
    our_ref: str | None
    amount_fen: int | None = Field(description="ours")
    their_amount_fen: int | None = Field(description="theirs")
    difference_fen: int | None = Field(description="theirs minus ours, when both are known")
    state: str = Field(description="OPEN, ASSIGNED, RESOLVED or VOID")
    assigned_to: str | None
    assigned_to_name: str | None
    resolution: str | None = Field(
        description="what closed it, in Chinese: the run that matched it, the adjusting entry, the"
        " confirmed match, or the person's reason"
    )
    resolved_by: str | None
    resolved_at: datetime | None
    first_run_id: int
    last_run_id: int
    created_at: datetime
    pending_adjustments: int = Field(description="adjustments waiting for a decision")


class DiscrepancyDetail(DiscrepancyOut):
    detail: dict[str, Any] = Field(description="what the run found, as the engine recorded it")
    comments: list[CommentOut]
    adjustments: list[AdjustmentOut]
    matches: list[MatchOut] = Field(description="the rule match it waits for, if any")


class DiscrepancyCounts(BaseModel):
    by_type: dict[str, int] = Field(description="per type, under the date, source, state filters")
    by_state: dict[str, int] = Field(description="per state, under the date, source, type filters")


class DiscrepancyList(BaseModel):
    items: list[DiscrepancyOut]
    total: int
    page: int
    page_size: int
    counts: DiscrepancyCounts


class LedgerAccountOut(BaseModel):
    code: str
    name: str
    kind: str


class LedgerAccountList(BaseModel):
    accounts: list[LedgerAccountOut]
