"""Request and response bodies of /api/v1/admin: accounts, offices, windows, API clients."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from clearing.api.models import _In

Role = Literal["clerk", "supervisor", "finance", "admin", "auditor"]
ClientRole = Literal["clerk", "supervisor", "finance", "auditor"]
OfficeKind = Literal["hall", "centre", "branch"]
USERNAME = r"^[a-z0-9][a-z0-9_.-]{1,63}$"
OFFICE_CODE = r"^[A-Za-z0-9_-]{1,32}$"
WINDOW_CODE = r"^[A-Za-z0-9_-]{1,16}$"
TERMINAL_ID = r"^[A-Za-z0-9]{1,16}$"


class _Patch(_In):
    @model_validator(mode="after")
    def _something(self) -> _Patch:
        if not self.model_fields_set:
            raise ValueError("say what to change")
        return self


class UserIn(_In):
    username: str = Field(pattern=USERNAME, description="sign-in name: small letters, digits")
    display_name: str = Field(min_length=1, max_length=50, description="姓名, shown on screens")
    role: Role
    office: str | None = Field(default=None, pattern=OFFICE_CODE)
    window: str | None = Field(
        default=None, pattern=WINDOW_CODE, description="the window a clerk works at"
    )


class UserPatch(_Patch):
    """Only the fields sent change; ``window: null`` takes the window away."""

    display_name: str | None = Field(default=None, min_length=1, max_length=50)
    role: Role | None = None
    office: str | None = Field(default=None, pattern=OFFICE_CODE)
    window: str | None = Field(default=None, pattern=WINDOW_CODE)
    disabled: bool | None = None


class UserOut(BaseModel):
    username: str
    kind: str
    display_name: str
    role: str
    office: str | None
    window: str | None
    disabled: bool
    must_change_password: bool
    created_at: str


class UserList(BaseModel):
    users: list[UserOut]


class UserCreated(BaseModel):
    user: UserOut
    temporary_password: str = Field(
        description="shown once; the user must change it at the first sign-in"
    )


class ClientIn(_In):
    username: str = Field(pattern=USERNAME)
    display_name: str = Field(min_length=1, max_length=50)
    role: ClientRole
    office: str | None = Field(default=None, pattern=OFFICE_CODE)


class ClientPatch(_Patch):
    display_name: str | None = Field(default=None, min_length=1, max_length=50)
    role: ClientRole | None = None
    office: str | None = Field(default=None, pattern=OFFICE_CODE)
    disabled: bool | None = None


class ClientCreated(BaseModel):
    client: UserOut
    token: str = Field(description="the bearer token, shown once")


def _outlet(max_length: int, what: str) -> Any:
    """What an office of kind branch (a bank outlet) names besides its own name; optional."""
    return Field(
        default=None,
        min_length=1,
        max_length=max_length,
        description=f"a bank outlet (kind branch): {what}",
    )


class OfficeIn(_In):
    code: str = Field(pattern=OFFICE_CODE, description="never changes once created")
    name: str = Field(min_length=1, max_length=100)
    kind: OfficeKind = "hall"
    partner_bank: str | None = _outlet(50, "the partner bank, e.g. 中国建设银行")
    branch_name: str | None = _outlet(100, "the branch it stands in, e.g. 示范市分行城东支行")


class OfficePatch(_Patch):
    """Only the fields sent change; a type other than branch clears the bank and branch."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    kind: OfficeKind | None = None
    active: bool | None = None
    partner_bank: str | None = _outlet(50, "the partner bank, e.g. 中国建设银行")
    branch_name: str | None = _outlet(100, "the branch it stands in, e.g. 示范市分行城东支行")


class WindowOut(BaseModel):
    office: str
    code: str
    name: str
    terminal_id: str | None
    active: bool


class OfficeOut(BaseModel):
    code: str
    name: str
    kind: str
    kind_zh: str
    active: bool
    partner_bank: str | None = None
    branch_name: str | None = None
    windows: list[WindowOut] = Field(default_factory=list)


class OfficeList(BaseModel):
    offices: list[OfficeOut]


class WindowIn(_In):
    code: str = Field(pattern=WINDOW_CODE, description="never changes once created")
    name: str = Field(min_length=1, max_length=50, description="e.g. 窗口一")
    terminal_id: str | None = Field(
        default=None, pattern=TERMINAL_ID, description="the card terminal at this window"
    )


class WindowPatch(_Patch):
    name: str | None = Field(default=None, min_length=1, max_length=50)
    terminal_id: str | None = Field(default=None, pattern=TERMINAL_ID)
    active: bool | None = None


class WindowList(BaseModel):
    windows: list[WindowOut]
