"""Request and response bodies of /api/v1. The OpenAPI document is generated from these."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from clearing.api.inputs import Day, LineNo
from clearing.domain.money import MoneyError, parse_yuan


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LineIn(_In):
    item_code: str = Field(pattern=r"^[A-Z0-9_]{2,32}$", description="fee item code, e.g. DEED_TAX")
    amount_fen: StrictInt | None = Field(
        default=None, description="amount in fen (integer); give this or `amount`"
    )
    amount: str | None = Field(
        default=None,
        description='amount in yuan as a decimal string, e.g. "1234.50"; give this or `amount_fen`',
        examples=["1234.50"],
    )
    reference: str | None = Field(
        default=None,
        max_length=64,
        description="the authority's reference: e-tax voucher, payment code, fund notice number",
    )

    @model_validator(mode="after")
    def _one_amount(self) -> LineIn:
        if (self.amount_fen is None) == (self.amount is None):
            raise ValueError("give exactly one of amount_fen and amount")
        if self.amount is not None:
            try:
                self.amount_fen = parse_yuan(self.amount)
            except MoneyError as exc:
                raise ValueError(f"{exc.code}: {exc}") from exc
            self.amount = None
        return self


class MatterIn(_In):
    kind: Literal["residential", "non_residential"]
    extra_certificates: int = Field(default=0, ge=0, le=99)
    exemption: str | None = Field(default=None, max_length=40)


class CaseRefsIn(_In):
    """What the authorities need to say what a case owes; amounts come from them."""

    declaration_no: str | None = Field(default=None, max_length=40, description="tax 申报号")
    payment_codes: list[str] = Field(default_factory=list, max_length=10, description="缴款码")
    fund_notice: str | None = Field(default=None, max_length=40)
    property_unit: str | None = Field(default=None, max_length=40, description="不动产单元号")
    matters: list[MatterIn] = Field(default_factory=list, max_length=10)


class OrderIn(_In):
    case_no: str = Field(
        min_length=1, max_length=64, description="real-estate case number (业务受理号)"
    )
    office: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$", description="registration office code")
    window: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{1,16}$",
        description="window code; a clerk's orders take the window they are assigned to"
        " (another one is refused with WINDOW_MISMATCH), a supervisor names one",
    )
    payer_name: str = Field(min_length=1, max_length=100)
    payer_id: str = Field(min_length=15, max_length=20, description="resident ID or credit code")
    lines: list[LineIn] | None = Field(default=None, min_length=1, max_length=200)
    case: CaseRefsIn | None = Field(
        default=None, description="references to look up instead of typed lines"
    )
    manual_reason: str | None = Field(
        default=None,
        max_length=200,
        description="why amounts are typed by hand (`lines`): a supervisor-only, audited exception",
    )

    @model_validator(mode="after")
    def _lines_or_case(self) -> OrderIn:
        if (self.lines is None) == (self.case is None):
            raise ValueError("give exactly one of lines and case")
        if self.case is not None and self.manual_reason is not None:
            raise ValueError("manual_reason goes with typed lines only")
        return self


class LookupIn(_In):
    payer_name: str = Field(min_length=1, max_length=100)
    payer_id: str = Field(min_length=15, max_length=20)
    case: CaseRefsIn


class DueItemOut(BaseModel):
    authority: str
    item_code: str
    reference: str
    amount_fen: int
    details: dict[str, Any]


class LookupFailure(BaseModel):
    authority: str
    reference: str
    code: str
    message: str
    message_zh: str
    kind: Literal["refused", "timeout", "unavailable"] = Field(
        description="refused: the authority's final answer; timeout, unavailable: no answer"
    )
    retryable: bool = Field(description="whether asking this authority again can help")
    order_no: str | None = Field(
        default=None, description="for ALREADY_PAID: the order that paid it, where known"
    )


class HeldWarning(BaseModel):
    """A reference of the case that another order already holds (live or paid)."""

    authority: str
    reference: str
    order_no: str
    order_state: str
    message_zh: str


class LookupOut(BaseModel):
    items: list[DueItemOut]
    failures: list[LookupFailure]
    warnings: list[HeldWarning] = Field(default_factory=list)
    total_fen: int


class LineOut(BaseModel):
    line_no: int
    item_code: str
    item_name: str
    beneficiary_code: str
    beneficiary_name: str
    amount_fen: int
    reference: str | None
    # the authority's confirmation of this leg: PENDING, CONFIRMED (with its proof) or REFUSED
    confirm_state: str | None = None
    proof_no: str | None = None


class AttemptOut(BaseModel):
    provider: str
    out_trade_no: str
    state: str
    method: str = "qr"
    terminal_id: str | None = None
    code_url: str | None
    created_at: str | None
    expires_at: str | None
    # why a FAILED attempt failed, in Chinese, when the channel said (余额不足, 密码错误)
    failure_zh: str | None = None


class PaymentOut(BaseModel):
    provider: str
    provider_txn_id: str
    amount_fen: int
    outcome: Literal["CLEARED", "SUSPENSE"]
    reason: str | None
    paid_at: str | None
    # the channel's facts: masked card number, RRN, terminal, batch, trace, bank
    details: dict[str, Any] = Field(default_factory=dict)


class OrderOut(BaseModel):
    order_no: str
    case_no: str
    office: str
    window: str
    payer_name: str
    payer_id_masked: str
    total_fen: int
    total_display: str = Field(description="¥1,234.56")
    total_capital: str = Field(description="the total in Chinese capital characters (大写)")
    state: str
    state_zh: str
    exception_reason: str | None
    created_by: str
    created_by_name: str = Field(description="the clerk's name, as receipts and screens show it")
    created_at: str | None
    expires_at: str | None
    cleared_at: str | None
    lines: list[LineOut]
    attempts: list[AttemptOut]
    payments: list[PaymentOut]


class OrderSummary(BaseModel):
    order_no: str
    case_no: str
    window: str
    payer_id_masked: str
    total_fen: int
    state: str
    state_zh: str
    created_at: str | None
    cleared_at: str | None


class OrderList(BaseModel):
    orders: list[OrderSummary]


class CancelIn(_In):
    reason: str = Field(min_length=1, max_length=200)


class PaymentIn(_In):
    """How the citizen pays: scan our QR (``qr``), show a payment code to the clerk's scanner
    (``code``: the channel follows from the code) or present a card at the window's terminal
    (``card``)."""

    method: Literal["qr", "code", "card"] = "qr"
    channel: Literal["wechatpay", "alipay", "unionpay", "pos"] | None = Field(
        default=None, description="for qr (default wechatpay) and card (default pos)"
    )
    auth_code: str | None = Field(
        default=None, pattern=r"^\d{16,24}$", description="the payment code, for method=code"
    )
    terminal_id: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9]{4,16}$", description="for method=card"
    )

    @model_validator(mode="after")
    def _fits_method(self) -> PaymentIn:
        if self.method == "code" and not self.auth_code:
            raise ValueError("method code needs auth_code")
        if self.method == "card" and not self.terminal_id:
            raise ValueError("method card needs terminal_id")
        if self.method != "code" and self.auth_code:
            raise ValueError("auth_code goes with method code only")
        return self


class AttemptStarted(BaseModel):
    provider: str
    method: str
    out_trade_no: str
    # OPEN (waiting for the citizen), SUCCEEDED (paid and split), SUSPENSE (paid, not split)
    state: str
    expires_at: str
    code_url: str | None = None
    qr_svg_url: str | None = None
    terminal_id: str | None = None
    order_state: str | None = None
    message_zh: str | None = None


class LoginIn(_In):
    username: str = Field(min_length=2, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class Me(BaseModel):
    username: str
    display_name: str
    role: str
    office: str | None
    office_name: str | None = Field(default=None, description="the office's display name")
    window: str | None = Field(default=None, description="the assigned window's code")
    window_name: str | None = Field(default=None, description="the window's display name")
    terminal_id: str | None = Field(
        default=None, description="the card terminal at the assigned window"
    )
    must_change_password: bool = Field(
        default=False, description="a temporary password: only POST /api/v1/me/password works"
    )
    home: str = Field(description="the page this role starts on after signing in")


class PasswordChangeIn(_In):
    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(
        min_length=1,
        max_length=200,
        description="8+ characters of 3 of 4 classes, not one of the last 5 passwords",
    )


class UnlockOut(BaseModel):
    username: str
    was_locked: bool = Field(description="false: there was no lock in force, only failures")


class LoginOut(BaseModel):
    token: str
    user: Me


class FeeItemOut(BaseModel):
    code: str
    name_zh: str
    kind: str
    beneficiary_code: str
    beneficiary_name: str


class FeeItemList(BaseModel):
    items: list[FeeItemOut]


class Problem(BaseModel):
    """RFC 9457 problem details, with our stable ``code`` and a Chinese message for staff."""

    type: str = "about:blank"
    title: str
    status: int
    code: str
    detail: str
    detail_zh: str
    request_id: str | None = None
    errors: list[dict[str, object]] | None = None


class RefundIn(_In):
    lines: list[LineNo] | None = Field(
        default=None,
        max_length=200,
        description="line numbers to refund; omit for every line not yet refunded",
    )
    reason: str = Field(min_length=1, max_length=200)


class DecisionIn(_In):
    note: str | None = Field(default=None, max_length=200)


class RefundLineOut(BaseModel):
    line_no: int
    amount_fen: int


class RefundOut(BaseModel):
    id: int
    order_no: str
    amount_fen: int
    reason: str
    # REQUESTED, REJECTED, APPROVED, PROCESSING, ABNORMAL, SUCCEEDED, FAILED
    state: str
    requested_by: str
    decided_by: str | None
    decision_note: str | None
    out_refund_no: str
    lines: list[RefundLineOut]
    created_at: str


class RefundList(BaseModel):
    refunds: list[RefundOut]


class FeeScheduleIn(_In):
    effective_from: Day
    residential_fen: StrictInt = Field(ge=0, le=10_000_000)
    non_residential_fen: StrictInt = Field(ge=0, le=10_000_000)
    extra_certificate_fen: StrictInt = Field(ge=0, le=1_000_000)
    exemptions: list[str] = Field(default_factory=list, max_length=10)
    basis: str = Field(min_length=4, max_length=500, description="the published document")


class FeeScheduleOut(BaseModel):
    version: int
    effective_from: date
    residential_fen: int
    non_residential_fen: int
    extra_certificate_fen: int
    exemptions: list[str]
    basis: str | None = None
    created_by: str | None = None
    created_at: str | None = None


class FeeScheduleList(BaseModel):
    schedules: list[FeeScheduleOut]
