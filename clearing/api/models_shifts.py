"""Bodies of order search, order timelines, shifts (日结/交班) and the office's day (轧账)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from clearing.api.models import OrderOut


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OrderSearchIn(_In):
    """Every key is optional and they combine; the ID number travels in the body, never in a URL
    (URLs end up in access logs)."""

    order_no: str | None = Field(default=None, max_length=32, description="缴费单号")
    case_no: str | None = Field(default=None, max_length=64, description="业务受理号")
    payer_id: str | None = Field(
        default=None, max_length=20, description="payer's ID number, matched by its keyed hash"
    )
    date_from: date | None = Field(default=None, description="Beijing date, inclusive")
    date_to: date | None = Field(default=None, description="Beijing date, inclusive")
    state: str | None = Field(default=None, max_length=16, description="order state, e.g. CLEARED")
    channel: str | None = Field(default=None, max_length=16, description="wechatpay, alipay, …")
    window: str | None = Field(default=None, max_length=16)
    office: str | None = Field(
        default=None, max_length=32, description="window staff: only their own office"
    )
    page: int = Field(default=1, ge=1, le=100_000)
    page_size: int = Field(default=20, ge=1, le=100)


class OrderHit(BaseModel):
    order_no: str
    case_no: str
    office: str
    window: str
    payer_id_masked: str
    total_fen: int
    total_display: str
    state: str
    state_zh: str
    channel: str | None
    channel_zh: str | None
    created_by: str
    created_at: str


class OrderSearchOut(BaseModel):
    total: int
    page: int
    page_size: int
    pages: int
    orders: list[OrderHit]


class TimelineEvent(BaseModel):
    at: str
    kind: str = Field(description="machine-readable event kind, e.g. payment.cleared")
    title: str = Field(description="what happened, in Chinese")
    detail: str
    who: str = Field(description="display name of the person, channel or authority")


class OrderTimelineOut(BaseModel):
    order: OrderOut
    events: list[TimelineEvent]
    receipt_url: str = Field(description="the printable receipt (补打 opens it)")


class ChannelSum(BaseModel):
    channel: str
    count: int
    amount_fen: int


class ShiftCounts(BaseModel):
    """What a shift counts: a count and a sum in fen for each kind of act. A model shows them
    after its own leading fields by naming this base before the base that holds those:
    pydantic lists the last base's fields first, and the answers' field order must not move."""

    orders_count: int
    orders_fen: int
    received_count: int
    received_fen: int
    cancelled_count: int
    cancelled_fen: int
    refunds_count: int
    refunds_fen: int


class _ByChannel(ShiftCounts):
    by_channel: list[ChannelSum]
    refunds_by_channel: list[ChannelSum]


class _ShiftHead(BaseModel):
    id: int | None = Field(description="null while the shift is open")
    state: str = Field(description="OPEN (live numbers) or CLOSED (frozen at close)")
    clerk: str
    username: str
    office: str
    window: str
    opened_at: str | None
    closed_at: str | None


class ShiftOut(_ByChannel, _ShiftHead):  # no docstring: it would enter the OpenAPI schema
    pass


class ShiftCloseIn(_In):
    window: str = Field(min_length=1, max_length=16, description="the window being handed over")


class _OpenHead(BaseModel):
    clerk: str
    window: str
    opened_at: str


class OpenShift(_ByChannel, _OpenHead):  # a window not yet handed over
    pass


class ShiftList(BaseModel):
    office: str
    date: str
    shifts: list[ShiftOut]
    open_shifts: list[OpenShift] = Field(description="supervisors: windows not yet handed over")


class DayChannel(BaseModel):
    channel: str
    channel_zh: str
    shifts_count: int
    shifts_fen: int
    ledger_count: int
    ledger_fen: int
    difference_fen: int = Field(description="shifts minus ledger")


class DayClosed(BaseModel):
    closed_at: str
    closed_by: str
    shifts_count: int
    shifts_fen: int
    ledger_fen: int
    difference_fen: int
    by_channel: list[DayChannel]
    note: str | None


class OfficeDayOut(BaseModel):
    office: str
    date: str
    shifts_count: int
    shifts_fen: int = Field(description="received, as the closed shifts counted it")
    ledger_fen: int = Field(description="received, as the ledger booked it")
    difference_fen: int = Field(description="shifts minus ledger; 0 when the day balances")
    by_channel: list[DayChannel]
    closed_shifts: int
    open_shifts: list[OpenShift]
    closed: DayClosed | None = Field(description="the 轧账 as stored, once made")


class OfficeDayCloseIn(_In):
    note: str | None = Field(
        default=None, max_length=500, description="required when the day does not balance"
    )
