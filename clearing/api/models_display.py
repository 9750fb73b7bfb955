"""Bodies of /api/v1/display: pairing the citizen's screen, what it shows, the rating."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from clearing.domain.ratings import REASON_MAX

WINDOW = r"^[A-Za-z0-9_-]{1,16}$"  # as the window screen accepts a window number
OFFICE = r"^[A-Za-z0-9_-]{1,32}$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ScreenWindowIn(_In):
    # a window of the caller's office; administrators, who have none, name the office
    window: str = Field(pattern=WINDOW)
    office: str | None = Field(default=None, pattern=OFFICE)


class CodeIn(ScreenWindowIn):
    """Ask for a pairing code for a window; administrators name the office."""


class CodeOut(BaseModel):
    code: str = Field(description="six digits, typed once on the citizen's screen")
    office: str
    window: str
    expires_at: str


class PairIn(_In):
    code: str = Field(min_length=1, max_length=16)


class PairOut(BaseModel):
    office: str
    window: str


class CurrentIn(ScreenWindowIn):
    """The order the clerk has open at the window; null when the clerk moved on."""

    order_no: str | None = Field(default=None, pattern=r"^[0-9A-Za-z]{8,32}$")


class StatusOut(BaseModel):
    office: str
    window: str
    paired: bool
    paired_at: str | None
    order_no: str | None


class RatingIn(_In):
    order_no: str = Field(pattern=r"^[0-9A-Za-z]{8,32}$")
    grade: Literal[
        "very_satisfied", "satisfied", "basically_satisfied", "dissatisfied", "very_dissatisfied"
    ]
    # bounded again, in characters, by clearing.domain.ratings; here only against huge bodies
    reason: str | None = Field(default=None, max_length=REASON_MAX * 4)


class RatingOut(BaseModel):
    order_no: str
    grade: str
    grade_zh: str
    rated_at: str
