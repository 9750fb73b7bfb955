"""Signing in, changing one's password, and an administrator's unlock (等保三级 8.1.4.1).

A sign-in is refused, in this order, when its address has failed too often lately (429), when the
name is locked (423), or when the password is wrong (401, and the fifth consecutive failure locks
the name: 423). Failures and locks are kept by the name as typed, known or not, and an unknown name
is checked against a dummy hash: from outside, a name that exists and one that does not answer
alike and take as long. Every sign-in, failure, lock, unlock and password change is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import NoReturn

import asyncpg

from clearing import security
from clearing.config import Settings
from clearing.db import Conn
from clearing.domain import passwords
from clearing.errors import InvalidRequest, Locked, NotFound, TooManyRequests, Unauthenticated
from clearing.service import audit
from clearing.service.hashpool import HashPool
from clearing.service.principals import SESSION_TTL, Principal, from_row

BEIJING = timezone(timedelta(hours=8))
ADDRESS_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class LoginPolicy:
    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=30)
    address_max_failures: int = 50

    @classmethod
    def of(cls, s: Settings) -> LoginPolicy:
        return cls(
            max_failures=s.login_max_failures,
            lockout=timedelta(minutes=s.login_lockout_minutes),
            address_max_failures=s.login_address_max_failures,
        )

    def locked(self, until: datetime) -> Locked:
        minutes = int(self.lockout.total_seconds() // 60)
        at = until.astimezone(BEIJING).strftime("%H:%M")
        return Locked(
            "ACCOUNT_LOCKED",
            f"{self.max_failures} failed sign-ins in a row: the user is locked until {at}"
            " Beijing time, or until an administrator unlocks it",
            f"连续{self.max_failures}次登录失败，账号已锁定{minutes}分钟（至{at}），"
            "请稍后再试或联系系统管理员解锁",
            locked_until=until.isoformat(),
        )


_PRECHECK = (
    "SELECT (SELECT count(*) FROM login_failures WHERE address = $2"
    "   AND at > now() - $3::interval) AS address_failures,"
    " (SELECT locked_until FROM login_locks WHERE username = $1 AND locked_until > now())"
    "   AS locked_until,"
    " p.id, p.kind, p.username, p.display_name, p.role, p.office, p.window_code,"
    " p.must_change_password,"
    " p.password_hash"
    " FROM (SELECT 1) one LEFT JOIN principals p"
    "   ON p.username = $1 AND p.kind = 'staff' AND NOT p.disabled"
)


async def sign_in(
    pool: asyncpg.Pool,
    hasher: HashPool,
    policy: LoginPolicy,
    *,
    username: str,
    password: str,
    address: str,
) -> tuple[Principal, str]:
    """A new session's principal and token, or the reason there is none."""
    name = username.strip().lower()
    # under a flood the cheapest answer comes first: not even a query while the hash pool is full
    hasher.refuse_if_full()
    async with pool.acquire() as conn:
        row = await conn.fetchrow(_PRECHECK, name, address, ADDRESS_WINDOW)
        assert row is not None
        if row["address_failures"] >= policy.address_max_failures:
            raise TooManyRequests(
                "LOGIN_RATE_LIMITED",
                "too many failed sign-ins from this address; try again later",
                "此地址登录失败次数过多，请稍后再试",
            )
        if row["locked_until"] is not None:
            await _audit(conn, name, "session.login_failed", address, reason="locked")
            raise policy.locked(row["locked_until"])
    # the connection is given back while the hash runs: it takes far longer than any query
    if not await hasher.check(password, row["password_hash"]):
        reason = "wrong_password" if row["id"] is not None else "unknown_user"
        await _failed(pool, policy, name, address, reason)
    token = security.new_token()
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("DELETE FROM login_failures WHERE username = $1", name)
        await conn.execute("DELETE FROM login_locks WHERE username = $1", name)
        await conn.execute(
            "INSERT INTO sessions (token_hash, principal_id, expires_at)"
            " VALUES ($1, $2, now() + $3::interval)",
            security.token_hash(token),
            row["id"],
            SESSION_TTL,
        )
        await _audit(conn, name, "session.login", address)
    return from_row(row), token


async def _audit(conn: Conn, name: str, action: str, address: str, **detail: object) -> None:
    await audit.record(
        conn, f"user:{name}", action, name, {"address": address, **detail}, object_type="principal"
    )


async def _failed(
    pool: asyncpg.Pool, policy: LoginPolicy, name: str, address: str, reason: str
) -> NoReturn:
    """Count a failure against the name; the one that reaches the limit locks it. Always raises."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO login_failures (username, address) VALUES ($1, $2)", name, address
        )
        run = await conn.fetchval(
            "SELECT count(*) FROM login_failures WHERE username = $1 AND at > now() - $2::interval",
            name,
            policy.lockout,
        )
        await _audit(conn, name, "session.login_failed", address, reason=reason)
        if run >= policy.max_failures:
            until = await conn.fetchval(
                "INSERT INTO login_locks (username, locked_until) VALUES ($1, now() + $2::interval)"
                " ON CONFLICT (username) DO UPDATE"
                " SET locked_at = now(), locked_until = EXCLUDED.locked_until"
                " RETURNING locked_until",
                name,
                policy.lockout,
            )
            await _audit(conn, name, "session.locked", address, failures=run)
            locked = policy.locked(until)
        else:
            locked = None
    if locked is not None:
        raise locked
    left = policy.max_failures - run
    minutes = int(policy.lockout.total_seconds() // 60)
    raise Unauthenticated(
        "LOGIN_FAILED",
        f"wrong username or password; {left} more failures lock it",
        f"用户名或密码错误（再错{left}次，账号将锁定{minutes}分钟）",
        attempts_left=left,
    )


async def change_password(
    pool: asyncpg.Pool,
    hasher: HashPool,
    policy: LoginPolicy,
    *,
    who: Principal,
    token: str,
    current: str,
    new: str,
    address: str,
) -> None:
    """Set a password of the user's own choosing; the user's other sessions end."""
    async with pool.acquire() as conn:
        stored = await conn.fetchval("SELECT password_hash FROM principals WHERE id = $1", who.id)
        recent = await conn.fetch(
            "SELECT password_hash FROM password_history WHERE principal_id = $1"
            " ORDER BY set_at DESC, id DESC LIMIT $2",
            who.id,
            passwords.HISTORY,
        )
    if not await hasher.check(current, stored):
        try:
            await _failed(pool, policy, who.username, address, "wrong_current_password")
        except Unauthenticated as exc:
            # still signed in: the session stands, only the change is refused
            raise InvalidRequest(
                "CURRENT_PASSWORD_WRONG",
                "the current password is wrong",
                "当前密码不正确",
                attempts_left=exc.fields.get("attempts_left"),
            ) from exc
    passwords.check(new, who.username)
    # the current one too: an administrator's reset may not have entered the history
    hashes = dict.fromkeys([stored, *(r["password_hash"] for r in recent)])
    for old in hashes:
        if await hasher.check(new, old):
            raise InvalidRequest(
                "PASSWORD_REUSED",
                f"the new password is one of the last {passwords.HISTORY}",
                f"新密码不得与最近{passwords.HISTORY}次使用过的密码相同",
            )
    new_hash = await hasher.hash(new)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "UPDATE principals SET password_hash = $2, must_change_password = false,"
            " password_changed_at = now() WHERE id = $1",
            who.id,
            new_hash,
        )
        await conn.execute(
            "INSERT INTO password_history (principal_id, password_hash) VALUES ($1, $2)",
            who.id,
            new_hash,
        )
        await conn.execute(
            "DELETE FROM password_history WHERE principal_id = $1 AND id NOT IN"
            " (SELECT id FROM password_history WHERE principal_id = $1"
            "  ORDER BY set_at DESC, id DESC LIMIT $2)",
            who.id,
            passwords.HISTORY,
        )
        ended = await conn.fetchval(
            "WITH e AS (UPDATE sessions SET expires_at = now() WHERE principal_id = $1"
            " AND token_hash <> $2 AND expires_at > now() RETURNING 1) SELECT count(*) FROM e",
            who.id,
            security.token_hash(token),
        )
        await _audit(
            conn,
            who.username,
            "password.changed",
            address,
            was_forced=who.must_change_password,
            other_sessions_ended=ended,
        )


async def unlock(conn: Conn, admin: Principal, username: str, request_id: str | None) -> bool:
    """Lift a lock and forget the failures; whether there was a lock in force."""
    async with conn.transaction():
        if not await conn.fetchval("SELECT 1 FROM principals WHERE username = $1", username):
            raise NotFound("USER_NOT_FOUND", f"no user {username}", "用户不存在")
        was_locked = await conn.fetchval(
            "WITH d AS (DELETE FROM login_locks WHERE username = $1 RETURNING locked_until)"
            " SELECT coalesce(bool_or(locked_until > now()), false) FROM d",
            username,
        )
        await conn.execute("DELETE FROM login_failures WHERE username = $1", username)
        await audit.record(
            conn,
            admin,
            "principal.unlocked",
            username,
            {"was_locked": was_locked},
            request_id=request_id,
        )
    return bool(was_locked)
