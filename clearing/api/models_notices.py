"""Request and response bodies of the payment notice routes (缴费通知书 and its SMS)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class NoticeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # checked by the service, so that a bad number is PHONE_INVALID, in Chinese
    phone: str | None = Field(
        default=None,
        max_length=32,
        description="a mainland mobile number to send the link to by SMS (needs Idempotency-Key)",
    )


class NoticeSmsOut(BaseModel):
    state: str = Field(description="SENDING, SENT, FAILED or UNKNOWN (may have been sent)")
    state_zh: str
    phone_masked: str
    provider: str | None
    serial_no: str | None = Field(description="the provider's SerialNo of a sent message")
    code: str | None = Field(description="the provider's answer code (Ok, or its error code)")
    message_zh: str | None = Field(description="why it was not sent, for the window")


class NoticeOut(BaseModel):
    notice_id: int
    order_no: str
    link: str = Field(description="the mobile payment page of this order (QR code and SMS)")
    link_expires_at: datetime
    pdf_url: str
    issued_by: str
    issued_by_name: str
    issued_at: datetime
    replayed: bool = Field(description="an earlier answer to the same Idempotency-Key")
    sms: NoticeSmsOut | None


class NoticeList(BaseModel):
    notices: list[NoticeOut]
