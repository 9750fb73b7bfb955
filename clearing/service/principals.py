"""Staff users and API clients, and how a request proves who it comes from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from clearing import security
from clearing.db import Conn
from clearing.errors import Conflict, InvalidRequest, Unauthenticated
from clearing.service import audit

ROLES = ("clerk", "supervisor", "finance", "admin", "auditor")
SESSION_TTL = timedelta(hours=10)  # one working day at the window


@dataclass(frozen=True)
class Principal:
    id: int
    kind: str
    username: str
    display_name: str
    role: str
    office: str | None
    # the window a clerk works at (clearing.service.places); the server puts it on their orders
    window: str | None = None
    must_change_password: bool = False

    @property
    def actor(self) -> str:
        return f"{'user' if self.kind == 'staff' else 'client'}:{self.username}"


_COLUMNS = "id, kind, username, display_name, role, office, window_code, must_change_password"


def _principal(row: asyncpg.Record) -> Principal:
    return Principal(
        id=row["id"],
        kind=row["kind"],
        username=row["username"],
        display_name=row["display_name"],
        role=row["role"],
        office=row["office"],
        window=row["window_code"],
        must_change_password=row["must_change_password"],
    )


async def add(
    conn: Conn,
    *,
    kind: str,
    username: str,
    display_name: str,
    role: str,
    office: str | None,
    password: str | None = None,
    actor: str = "system:cli",
    window: str | None = None,
    must_change_password: bool = False,
) -> tuple[Principal, str | None]:
    """Create a staff user (with a password) or an API client (returns its token, shown once)."""
    if role not in ROLES:
        raise InvalidRequest("INVALID_ROLE", f"role must be one of {', '.join(ROLES)}", "角色无效")
    if role in ("clerk", "supervisor") and not office:
        raise InvalidRequest(
            "OFFICE_REQUIRED",
            "clerks and supervisors belong to an office",
            "窗口人员须指定办事大厅",
        )
    token: str | None = None
    password_hash = token_hash = None
    if kind == "staff":
        if not password or len(password) < 8:
            raise InvalidRequest(
                "WEAK_PASSWORD", "password must have at least 8 characters", "密码至少8位"
            )
        password_hash = security.hash_password(password)
    else:
        token = security.new_token()
        token_hash = security.token_hash(token)
    async with conn.transaction():
        try:
            row = await conn.fetchrow(
                "INSERT INTO principals (kind, username, display_name, role, office,"  # noqa: S608
                " password_hash, token_hash, window_code, must_change_password)"
                f" VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) RETURNING {_COLUMNS}",
                kind,
                username,
                display_name,
                role,
                office,
                password_hash,
                token_hash,
                window,
                must_change_password,
            )
        except asyncpg.ForeignKeyViolationError as exc:
            raise InvalidRequest(
                "WINDOW_UNKNOWN",
                f"office {office} has no window {window}",
                "该办事大厅没有这个窗口",
            ) from exc
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "principals_username_key":
                raise Conflict("USERNAME_TAKEN", f"user {username} exists", "用户名已存在") from exc
            raise
        except asyncpg.CheckViolationError as exc:
            raise InvalidRequest(
                "INVALID_PRINCIPAL", f"invalid user ({exc.constraint_name})", "用户信息无效"
            ) from exc
        assert row is not None
        p = _principal(row)
        await audit.record(
            conn,
            actor=actor,
            action="principal.created",
            object_type="principal",
            object_id=username,
            detail={"kind": kind, "role": role, "office": office, "window": window},
        )
    return p, token


_BAD_LOGIN = Unauthenticated("LOGIN_FAILED", "wrong username or password", "用户名或密码错误")


async def login(conn: Conn, username: str, password: str) -> tuple[Principal, str]:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS}, password_hash FROM principals"  # noqa: S608
        " WHERE username = $1 AND kind = 'staff' AND NOT disabled",
        username,
    )
    if row is None or not security.check_password(password, row["password_hash"]):
        raise _BAD_LOGIN
    token = security.new_token()
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO sessions (token_hash, principal_id, expires_at)"
            " VALUES ($1, $2, now() + $3::interval)",
            security.token_hash(token),
            row["id"],
            SESSION_TTL,
        )
        await audit.record(
            conn,
            actor=f"user:{username}",
            action="session.login",
            object_type="principal",
            object_id=username,
        )
    return _principal(row), token


_WHO = (
    f"SELECT {_COLUMNS} FROM principals p WHERE NOT p.disabled AND (p.token_hash = $1"  # noqa: S608
    " OR p.id = (SELECT principal_id FROM sessions WHERE token_hash = $1 AND expires_at > now()))"
)


async def authenticate(conn: Conn, token: str) -> Principal:
    row = await conn.fetchrow(_WHO, security.token_hash(token))
    if row is None:
        raise Unauthenticated("TOKEN_INVALID", "unknown or expired token", "登录已失效，请重新登录")
    return _principal(row)


async def logout(conn: Conn, token: str) -> None:
    await conn.execute(
        "UPDATE sessions SET expires_at = now() WHERE token_hash = $1", security.token_hash(token)
    )
