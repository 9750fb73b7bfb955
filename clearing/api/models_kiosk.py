"""Bodies of /api/v1/kiosk (the self-service kiosk) and /api/v1/admin/kiosks (registering one)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

OFFICE = r"^[A-Za-z0-9_-]{1,32}$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class KioskIn(_In):
    """Register a kiosk for one office; the answer carries its one-time enrolment code."""

    office: str = Field(pattern=OFFICE)
    name: str = Field(min_length=1, max_length=50, description="e.g. 一楼自助缴费机1")


class KioskOut(BaseModel):
    id: int
    name: str
    office: str
    state: Literal["pending", "code_expired", "active", "revoked"]
    state_zh: str
    created_by: str
    created_at: datetime
    enrolled_at: datetime | None
    last_seen_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None


class KioskCreated(KioskOut):
    enrol_code: str = Field(description="shown once; typed on the kiosk within 24 hours")


class KioskList(BaseModel):
    kiosks: list[KioskOut]


class EnrolIn(_In):
    code: str = Field(min_length=1, max_length=32)


class EnrolOut(BaseModel):
    name: str
    office: str


class LookupIn(_In):
    """Either the 业务受理号 and the ID's last six characters, or what the scanner read from a
    payment notice's QR code (its /m/ link)."""

    case_no: str | None = Field(default=None, min_length=1, max_length=64)
    id_tail: str | None = Field(default=None, min_length=1, max_length=6)
    notice: str | None = Field(default=None, min_length=1, max_length=300)

    @model_validator(mode="after")
    def _one_way(self) -> LookupIn:
        by_case = self.case_no is not None and self.id_tail is not None
        if by_case == (self.notice is not None):
            raise ValueError("give case_no and id_tail, or notice")
        return self


class KioskPayIn(_In):
    """Scan our QR with a phone (``qr``), or show a payment code to the kiosk's scanner
    (``code``)."""

    method: Literal["qr", "code"] = "qr"
    channel: Literal["wechatpay", "alipay", "unionpay"] | None = Field(
        default=None, description="for qr (default wechatpay)"
    )
    auth_code: str | None = Field(
        default=None, pattern=r"^\d{16,24}$", description="the payment code, for method=code"
    )

    @model_validator(mode="after")
    def _code_needs_code(self) -> KioskPayIn:
        if self.method == "code" and self.auth_code is None:
            raise ValueError("method=code needs auth_code")
        return self


class KioskReceiptOut(BaseModel):
    receipt_no: str
    order_no: str
    paid_fen: int
    printed_at: datetime
    verify_url: str = Field(description="the receipt's short link (/v/{code}), also as a QR")
    qr_svg_url: str
