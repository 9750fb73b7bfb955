"""Request and response bodies of the receipt routes: checking a receipt's verification code,
and the prints (the original and each 补打) of an order's receipt. Amounts are integer fen."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class ReprintIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # checked by the service, so that a missing reason is REPRINT_REASON_REQUIRED, in Chinese
    reason: str | None = Field(default=None, description="why the receipt is reprinted, ≤200")


class LineStandingOut(BaseModel):
    line_no: int
    item_name: str
    beneficiary_name: str
    reference: str
    amount_fen: int
    refunded_fen: int
    refunded: bool


class ReceiptCheckOut(BaseModel):
    """Whether a receipt's verification code (from its QR) is genuine and still holds; once the
    code is known to be ours, each line of the order as it stands now."""

    valid: bool
    code: str = Field(
        description="RECEIPT_VALID, RECEIPT_PARTLY_REFUNDED, RECEIPT_NO_LONGER_VALID,"
        " RECEIPT_SIGNATURE_INVALID, RECEIPT_MISMATCH, RECEIPT_ORDER_UNKNOWN"
    )
    message: str
    message_zh: str
    order_no: str | None = None
    total_fen: int | None = None
    state: str | None = None
    receipt_no: str | None = Field(default=None, description="the print the code names")
    reprint_no: int | None = Field(default=None, description="0 original, n the n-th 补打")
    reprints: int | None = Field(default=None, description="reprints of this order so far")
    paid_fen: int | None = Field(default=None, description="net paid now")
    lines: list[LineStandingOut] | None = None


class ReceiptPrintOut(BaseModel):
    """One print of an order's receipt: the original (reprint_no 0) or a 补打."""

    receipt_no: str
    order_no: str
    print_no: int
    reprint_no: int
    reason: str | None
    printed_by: str
    printed_at: datetime
    paid_fen: int
    refunded_fen: int
    verify_url: str = Field(description="what its QR code holds (≤ 80 characters)")
    receipt_url: str = Field(description="the printable page of this print")
    pdf_url: str | None = Field(description="the PDF; only for the latest print")


class ReceiptPrintList(BaseModel):
    prints: list[ReceiptPrintOut]
