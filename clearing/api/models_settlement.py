"""Request and response bodies of the settlement routes: beneficiary accounts and their
maker-checker correction, settlement batches, their instructions and files. Amounts are integer
fen (``amount_fen``, ``total_fen``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AccountChangeIn(BaseModel):
    """A corrected account for a beneficiary. Only sizes are checked here; the service checks
    the formats (12-digit 联行号, account number) and answers 422 with the field in Chinese."""

    model_config = ConfigDict(extra="forbid")

    account_no: str = Field(max_length=60, description="6-34 digits, letters or '-'")
    account_name: str = Field(max_length=200, description="户名, as the bank holds it")
    bank_name: str = Field(max_length=200, description="开户行名称")
    bank_code: str = Field(max_length=20, description="开户行联行号 (CNAPS), 12 digits")
    reason: str = Field(max_length=400, description="why, e.g. the bank's letter; 2-200 chars")


class AccountOut(BaseModel):
    account_no: str
    account_name: str
    bank_name: str
    bank_code: str | None


class AccountChangeOut(BaseModel):
    id: int
    beneficiary_code: str
    beneficiary_name: str
    account_no: str
    account_name: str
    bank_name: str
    bank_code: str
    current: AccountOut = Field(description="the beneficiary's account now")
    reason: str
    state: str = Field(description="REQUESTED, APPROVED or REJECTED")
    requested_by: str
    requested_by_name: str
    requested_at: str
    decided_by: str | None
    decided_at: str | None
    note: str | None


class AccountChangeList(BaseModel):
    changes: list[AccountChangeOut]


class BeneficiaryOut(BaseModel):
    code: str
    name: str
    account_kind: str
    active: bool
    account_no: str
    account_name: str
    bank_name: str
    bank_code: str | None = Field(description="12-digit 联行号; none: never paid out")
    settle_mode: str = Field(description="daily or realtime")
    cutoff_local: str = Field(description="Beijing time of the daily cut-off, HH:MM")
    payout_hold: str | None = Field(description="why payouts wait; none when they may go")
    open_change: AccountChangeOut | None


class BeneficiaryList(BaseModel):
    beneficiaries: list[BeneficiaryOut]


class BatchSummary(BaseModel):
    msg_id: str
    bank: str
    business_date: str
    seq: int
    state: str = Field(description="CREATED, FILES_WRITTEN, DELIVERED, ANSWERED or CLOSED")
    cutoff_at: str
    instruction_count: int
    line_count: int
    total_fen: int
    instruction_states: dict[str, int] = Field(
        description="instructions per state: PENDING, ACCEPTED, BOOKED, REJECTED, RETURNED"
    )


class BatchList(BaseModel):
    date: str
    batches: list[BatchSummary]


class InstructionOut(BaseModel):
    seq: int
    end_to_end_id: str
    beneficiary_code: str
    beneficiary_name: str
    creditor_name: str
    creditor_account: str
    creditor_bank_code: str
    creditor_bank_name: str
    amount_fen: int
    line_count: int
    state: str
    reason_code: str | None
    reason_text: str | None
    answered_at: str | None


class FileOut(BaseModel):
    name: str
    kind: str = Field(description="pain001, payout, detail, sha256 or sig")
    size: int
    sha256: str
    created_at: str
    download_url: str


class BatchDetail(BatchSummary):
    execution_date: str
    created_by: str
    created_at: str
    delivered_at: str | None
    instructions: list[InstructionOut]
    files: list[FileOut]
