"""What an administrator does to staff accounts and API clients; every change audited.

The rules:
- an administrator bound to an office manages that office's accounts only, and cannot take an
  account out of it (office scope, as everywhere else);
- nobody changes their own role, office, window or standing, nor resets their own password: a
  second administrator does that (the four-eyes rule of the finance side, applied to access);
- a reset password and a new account's first password are made here, shown once, and must be
  changed at the next sign-in (``must_change_password``); the old sessions end at once.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from typing import Any

import asyncpg

from clearing import security
from clearing.db import Conn
from clearing.db.rows import row_into
from clearing.errors import Forbidden, InvalidRequest, NotFound
from clearing.service import audit, principals
from clearing.service.places import check_office_scope, require_in_service
from clearing.service.principals import Principal

WINDOW_ROLES = ("clerk", "supervisor")
# an integration acts at a window or reads; it never administers
CLIENT_ROLES = ("clerk", "supervisor", "finance", "auditor")
_ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")


@dataclass(frozen=True)
class Account:
    username: str
    kind: str
    display_name: str
    role: str
    office: str | None
    window: str | None
    disabled: bool
    must_change_password: bool
    created_at: str


def temporary_password() -> str:
    """12 characters with a capital, a small letter and a digit, none easily misread aloud."""
    while True:
        pw = "".join(secrets.choice(_ALPHABET) for _ in range(12))
        if (
            any(c.isupper() for c in pw)
            and any(c.islower() for c in pw)
            and any(c.isdigit() for c in pw)
        ):
            return pw


_SELECT = (
    "SELECT username, kind, display_name, role, office, window_code, disabled,"
    " must_change_password, created_at FROM principals"
)


def _account(r: asyncpg.Record) -> Account:
    return row_into(Account, r, window=r["window_code"], created_at=r["created_at"].isoformat())


async def list_accounts(conn: Conn, who: Principal, kind: str) -> list[Account]:
    rows = await conn.fetch(
        _SELECT + " WHERE kind = $1 AND ($2::text IS NULL OR office = $2) ORDER BY username",
        kind,
        who.office,
    )
    return [_account(r) for r in rows]


async def _load(conn: Conn, who: Principal, username: str, kind: str) -> Account:
    row = await conn.fetchrow(_SELECT + " WHERE username = $1 FOR UPDATE", username)
    if row is None or row["kind"] != kind:
        raise NotFound("USER_NOT_FOUND", f"no account {username}", "账号不存在")
    account = _account(row)
    check_office_scope(who, account.office)
    return account


def _not_self(who: Principal, username: str, what_zh: str) -> None:
    if who.username == username:
        raise Forbidden(
            "SELF_CHANGE_FORBIDDEN",
            "an administrator cannot change their own access; another administrator does",
            f"不能{what_zh}自己的账号，请由另一位管理员办理",
        )


async def _check_place(conn: Conn, role: str, office: str | None, window: str | None) -> None:
    if office is not None:
        await require_in_service(conn, office)
    if role in WINDOW_ROLES and office is None:
        raise InvalidRequest(
            "OFFICE_REQUIRED",
            "clerks and supervisors belong to an office",
            "窗口人员须指定办事大厅",
        )
    if window is not None:
        if role not in WINDOW_ROLES:
            raise InvalidRequest(
                "WINDOW_NOT_FOR_ROLE",
                "only clerks and supervisors work at a window",
                "只有窗口人员和值班主任可以分配窗口",
            )
        if not await conn.fetchval(
            "SELECT 1 FROM windows WHERE office_code = $1 AND code = $2 AND active", office, window
        ):
            raise InvalidRequest(
                "WINDOW_UNKNOWN",
                f"office {office} has no window {window} in service",
                "该办事大厅没有这个在用窗口",
            )


async def create(
    conn: Conn,
    who: Principal,
    kind: str,
    *,
    username: str,
    display_name: str,
    role: str,
    office: str | None,
    window: str | None = None,
) -> tuple[Account, str]:
    """A staff account (``kind`` "staff") with a one-time password to change at the first
    sign-in, or an API client ("client"); the secret is shown once."""
    if kind == "client" and role not in CLIENT_ROLES:
        raise InvalidRequest(
            "CLIENT_ROLE_INVALID",
            f"an API client's role is one of {', '.join(CLIENT_ROLES)}",
            "接口客户端不能拥有管理员角色",
        )
    check_office_scope(who, office)
    await _check_place(conn, role, office, window)
    password = temporary_password() if kind == "staff" else None
    async with conn.transaction():
        _, token = await principals.add(
            conn,
            kind=kind,
            username=username,
            display_name=display_name,
            role=role,
            office=office,
            window=window,
            password=password,
            must_change_password=password is not None,
            actor=who.actor,
        )
        account = await _load(conn, who, username, kind)
    secret = password or token
    assert secret is not None
    return account, secret


async def _end_sessions(conn: Conn, username: str) -> None:
    await conn.execute(
        "UPDATE sessions SET expires_at = now() WHERE expires_at > now()"
        " AND principal_id = (SELECT id FROM principals WHERE username = $1)",
        username,
    )


# what an edit may change; the audit row names those that moved
_EDITABLE = ("display_name", "role", "office", "window", "disabled")


async def update(
    conn: Conn,
    who: Principal,
    username: str,
    *,
    kind: str,
    changes: dict[str, Any],
    request_id: str | None = None,
) -> Account:
    """Change name, role, office, window or standing (``disabled``). A new office without a
    window clears the old window, which belonged to the old office."""
    async with conn.transaction():
        before = await _load(conn, who, username, kind)
        if set(changes) - {"display_name"}:
            _not_self(who, username, "修改")
        old = {k: getattr(before, k) for k in _EDITABLE}
        new = {**old, **changes}
        if "office" in changes and "window" not in changes and new["office"] != before.office:
            new["window"] = None
        if kind == "client" and new["role"] not in CLIENT_ROLES:
            raise InvalidRequest(
                "CLIENT_ROLE_INVALID",
                "an API client cannot administer",
                "接口客户端不能拥有管理员角色",
            )
        if new["role"] not in WINDOW_ROLES and "window" not in changes:
            new["window"] = None  # a window belongs to window staff only
        check_office_scope(who, new["office"])
        await _check_place(conn, new["role"], new["office"], new["window"])
        await conn.execute(
            "UPDATE principals SET display_name = $2, role = $3, office = $4, window_code = $5,"
            " disabled = $6 WHERE username = $1",
            username,
            new["display_name"],
            new["role"],
            new["office"],
            new["window"],
            new["disabled"],
        )
        if new["disabled"] or new["role"] != before.role or new["office"] != before.office:
            # what the old sessions were allowed to do no longer holds
            await _end_sessions(conn, username)
        await audit.record(
            conn,
            who,
            f"{'principal' if kind == 'staff' else 'client'}.updated",
            username,
            audit.changed(old, new),
            object_type="principal",
            request_id=request_id,
        )
        return await _load(conn, who, username, kind)


async def reset_password(
    conn: Conn, who: Principal, username: str, request_id: str | None = None
) -> tuple[Account, str]:
    """A new one-time password; the user must choose their own at the next sign-in."""
    _not_self(who, username, "重置")
    password = temporary_password()
    account = await _replace_secret(
        conn,
        who,
        username,
        "staff",
        update="UPDATE principals SET password_hash = $2, must_change_password = true"
        " WHERE username = $1",
        hashed=security.hash_password(password),
        action="principal.password_reset",
        request_id=request_id,
    )
    return account, password


async def rotate_token(
    conn: Conn, who: Principal, username: str, request_id: str | None = None
) -> tuple[Account, str]:
    """A new bearer token for an API client; the old one stops working at once."""
    token = security.new_token()
    account = await _replace_secret(
        conn,
        who,
        username,
        "client",
        update="UPDATE principals SET token_hash = $2 WHERE username = $1",
        hashed=security.token_hash(token),
        action="client.token_rotated",
        request_id=request_id,
    )
    return account, token


async def _replace_secret(
    conn: Conn,
    who: Principal,
    username: str,
    kind: str,
    *,
    update: str,
    hashed: str | bytes,
    action: str,
    request_id: str | None,
) -> Account:
    """Store a new secret's hash (``update`` takes the username and the hash), audited; a
    person's sessions end with their old password (a client's token is its only credential)."""
    async with conn.transaction():
        await _load(conn, who, username, kind)
        await conn.execute(update, username, hashed)
        if kind == "staff":
            await _end_sessions(conn, username)
        await audit.record(
            conn, who, action, username, object_type="principal", request_id=request_id
        )
        return await _load(conn, who, username, kind)
