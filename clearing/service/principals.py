"""Staff users and API clients, and how a request proves who it comes from."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from clearing import security
from clearing.db import Conn
from clearing.db.rows import row_into
from clearing.domain import passwords
from clearing.errors import Conflict, Forbidden, InvalidRequest, Unauthenticated
from clearing.service import audit

ROLES = ("clerk", "supervisor", "finance", "admin", "auditor")
SESSION_TTL = timedelta(hours=10)  # one working day at the window
SESSION_IDLE = timedelta(minutes=30)  # 等保 8.1.4.1 b: idle connections are logged out


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
    # a password handed out by an administrator: nothing but the change until it is changed
    must_change_password: bool = False

    @property
    def actor(self) -> str:
        return f"{'user' if self.kind == 'staff' else 'client'}:{self.username}"


def require_role(who: Principal, roles: Collection[str], detail: str, detail_zh: str) -> None:
    """ROLE_FORBIDDEN, saying who may do it, unless ``who`` holds one of ``roles``."""
    if who.role not in roles:
        raise Forbidden("ROLE_FORBIDDEN", detail, detail_zh)


_COLUMNS = "id, kind, username, display_name, role, office, window_code, must_change_password"


def from_row(row: asyncpg.Record) -> Principal:
    return row_into(Principal, row, window=row["window_code"])


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
    check_rules: bool = True,
) -> tuple[Principal, str | None]:
    """Create a staff user (with a password) or an API client (returns its token, shown once).

    ``must_change_password``: the password is a temporary one, handed out by an administrator,
    and the user must choose their own at first sign-in. ``check_rules=False`` only for the demo's
    seeded users, whose passwords are printed on screen anyway.
    """
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
        if not password or len(password) < passwords.MIN_LENGTH:
            raise InvalidRequest("WEAK_PASSWORD", passwords.RULE_EN, passwords.RULE_ZH)
        if check_rules:
            passwords.check(password, username)
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
                must_change_password and kind == "staff",
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
        p = from_row(row)
        if password_hash is not None:
            await conn.execute(
                "INSERT INTO password_history (principal_id, password_hash) VALUES ($1, $2)",
                p.id,
                password_hash,
            )
        await audit.record(
            conn,
            actor,
            "principal.created",
            username,
            {
                "kind": kind,
                "role": role,
                "office": office,
                "window": window,
                "must_change_password": p.must_change_password,
            },
        )
    return p, token


# a session is found by its token while it is younger than SESSION_TTL and was used within the
# idle time; the same statement slides its idle clock, writing at most once a minute per session
_WHO = (  # the column list is a constant
    "WITH s AS (SELECT principal_id FROM sessions WHERE token_hash = $1"  # noqa: S608
    "   AND expires_at > now()"
    "   AND last_seen_at > now() - $2::interval),"
    " touch AS (UPDATE sessions SET last_seen_at = now() WHERE token_hash = $1"
    "   AND last_seen_at < now() - interval '1 minute' AND $3 AND EXISTS (SELECT 1 FROM s))"
    f" SELECT {_COLUMNS} FROM principals p WHERE NOT p.disabled AND (p.token_hash = $1"
    " OR p.id = (SELECT principal_id FROM s))"
)


async def authenticate(
    conn: Conn, token: str, idle: timedelta = SESSION_IDLE, *, active: bool = True
) -> Principal:
    """The principal of a bearer token or live session; ``active=False`` (a screen refreshing
    itself while nobody touches it) leaves the session's idle clock running."""
    row = await conn.fetchrow(_WHO, security.token_hash(token), idle, active)
    if row is None:
        raise Unauthenticated("TOKEN_INVALID", "unknown or expired token", "登录已失效，请重新登录")
    return from_row(row)


async def logout(conn: Conn, token: str) -> None:
    await conn.execute(
        "UPDATE sessions SET expires_at = now() WHERE token_hash = $1", security.token_hash(token)
    )
