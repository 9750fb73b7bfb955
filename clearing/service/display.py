"""The citizen's screen (客显屏): pairing a screen to one window, and what the window shows on it.

A screen is paired with a six-digit code that a clerk asks for at the window and that lives a
few minutes; pairing spends the code and gives the screen a credential of its own (a random
token, its hash kept here, as staff sessions are) that names one office and window and nothing
else. Pairing the window again revokes the screen before. The clerk's screen says which order is
on display at its window (``set_current``); the citizen's screen reads only that, through
``screen_view``, with the payer's name masked and no ID number at all.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from clearing import security
from clearing.db import Conn
from clearing.errors import Forbidden, InvalidRequest, Unauthenticated
from clearing.service import audit
from clearing.service.orders import no_order
from clearing.service.principals import Principal

CODE_TTL = timedelta(minutes=5)
CHANNEL = "tj_order_events"
# who may pair a window's screen and say what it shows: the people who work the window
STAFF_ROLES = ("clerk", "supervisor", "admin")


@dataclass(frozen=True)
class Device:
    id: int
    office: str
    window: str


def staff_office(who: Principal, office: str | None) -> str:
    """The office a window belongs to: a clerk's or supervisor's own; an administrator names it."""
    if who.office is not None:
        if office not in (None, "", who.office):
            raise Forbidden(
                "OFFICE_FORBIDDEN", "you can only manage your own office", "只能管理本大厅的窗口"
            )
        return who.office
    if not office:
        raise InvalidRequest("OFFICE_REQUIRED", "give the office", "请指定办事大厅")
    return office


async def issue_code(
    conn: Conn, who: Principal, office: str, window: str, now: datetime
) -> tuple[str, datetime]:
    """A fresh pairing code for the window (the one before it stops working)."""
    expires = now + CODE_TTL
    async with conn.transaction():
        await conn.execute(
            "DELETE FROM display_pairing_codes WHERE expires_at <= $1"
            " OR (office = $2 AND window_no = $3)",
            now,
            office,
            window,
        )
        for _ in range(20):
            code = f"{secrets.randbelow(1_000_000):06d}"
            try:
                async with conn.transaction():  # a savepoint: a taken code is tried again
                    await conn.execute(
                        "INSERT INTO display_pairing_codes"
                        " (code, office, window_no, issued_by, expires_at)"
                        " VALUES ($1, $2, $3, $4, $5)",
                        code,
                        office,
                        window,
                        who.id,
                        expires,
                    )
            except asyncpg.UniqueViolationError as exc:
                if exc.constraint_name == "display_pairing_codes_code_key":
                    continue
                raise
            return code, expires
    raise RuntimeError("no free pairing code after 20 tries")  # a million codes, a few live


_BAD_CODE = InvalidRequest(
    "PAIRING_CODE_INVALID",
    "unknown or expired pairing code",
    "配对码无效或已过期，请向窗口工作人员索取新的配对码",
)


async def pair(conn: Conn, code: str, now: datetime) -> tuple[str, Device]:
    """Spend a pairing code: the screen's new credential (shown once) and what it is bound to."""
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        raise _BAD_CODE
    token = security.new_token()
    async with conn.transaction():
        row = await conn.fetchrow(
            "DELETE FROM display_pairing_codes WHERE code = $1 AND expires_at > $2"
            " RETURNING office, window_no, issued_by,"
            " (SELECT username FROM principals WHERE id = issued_by) AS issuer",
            code,
            now,
        )
        if row is None:
            raise _BAD_CODE
        office, window = row["office"], row["window_no"]
        replaced = await conn.fetchval(
            "WITH r AS (UPDATE display_devices SET revoked_at = $3 WHERE office = $1"
            " AND window_no = $2 AND revoked_at IS NULL RETURNING 1) SELECT count(*) FROM r",
            office,
            window,
            now,
        )
        device_id = await conn.fetchval(
            "INSERT INTO display_devices (token_hash, office, window_no, paired_by, paired_at)"
            " VALUES ($1, $2, $3, $4, $5) RETURNING id",
            security.token_hash(token),
            office,
            window,
            row["issued_by"],
            now,
        )
        await audit.record(
            conn,
            f"user:{row['issuer']}",
            "display.paired",
            f"{office}/{window}",
            {"device_id": device_id, "replaced": replaced},
        )
    return token, Device(device_id, office, window)


async def device(conn: Conn, token: str | None) -> Device:
    """The screen a credential belongs to, while it is not revoked."""
    row = None
    if token:
        row = await conn.fetchrow(
            "SELECT id, office, window_no FROM display_devices"
            " WHERE token_hash = $1 AND revoked_at IS NULL",
            security.token_hash(token),
        )
    if row is None:
        raise Unauthenticated(
            "DISPLAY_NOT_PAIRED", "this screen is not paired to a window", "本屏尚未配对窗口"
        )
    return Device(row["id"], row["office"], row["window_no"])


async def still_paired(conn: Conn, device_id: int) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT revoked_at IS NULL FROM display_devices WHERE id = $1", device_id
        )
    )


async def revoke(conn: Conn, who: Principal, office: str, window: str) -> int:
    """Unpair the window's screen; how many credentials stopped working (0 or 1)."""
    async with conn.transaction():
        n = await conn.fetchval(
            "WITH r AS (UPDATE display_devices SET revoked_at = now() WHERE office = $1"
            " AND window_no = $2 AND revoked_at IS NULL RETURNING 1) SELECT count(*) FROM r",
            office,
            window,
        )
        if n:
            await audit.record(conn, who, "display.revoked", f"{office}/{window}")
            await announce(conn, office, window)
    return int(n)


async def status(conn: Conn, office: str, window: str) -> dict[str, Any]:
    """For the clerk: whether a screen is paired and which order it shows."""
    row = await conn.fetchrow(
        "SELECT (SELECT paired_at FROM display_devices WHERE office = $1 AND window_no = $2"
        "         AND revoked_at IS NULL) AS paired_at,"
        "       (SELECT o.order_no FROM display_windows d JOIN orders o ON o.id = d.order_id"
        "         WHERE d.office = $1 AND d.window_no = $2) AS order_no",
        office,
        window,
    )
    assert row is not None
    paired_at = row["paired_at"]
    return {
        "office": office,
        "window": window,
        "paired": paired_at is not None,
        "paired_at": paired_at.isoformat() if paired_at else None,
        "order_no": row["order_no"],
    }


async def announce(conn: Conn, office: str, window: str) -> None:
    """Tell the window's screen to read again. The key is ``display_window``, not ``window``:
    the clerk's own event stream (filtered by ``window``) has no use for it."""
    event = {"type": "display", "office": office, "display_window": window}
    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, json.dumps(event))


async def set_current(
    conn: Conn, who: Principal, office: str, window: str, order_no: str | None
) -> None:
    """The order the clerk has open at the window (None: the clerk moved on)."""
    async with conn.transaction():
        order_id = None
        if order_no is not None:
            order_id = await conn.fetchval(
                "SELECT id FROM orders WHERE order_no = $1 AND office = $2", order_no, office
            )
            if order_id is None:
                # another office's order is absent here too
                raise no_order(order_no)
        await conn.execute(
            "INSERT INTO display_windows (office, window_no, order_id, clerk_id)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (office, window_no) DO UPDATE"
            " SET order_id = excluded.order_id, clerk_id = excluded.clerk_id, updated_at = now()",
            office,
            window,
            order_id,
            who.id,
        )
        await announce(conn, office, window)


async def current_order_no(conn: Conn, office: str, window: str) -> str | None:
    value = await conn.fetchval(
        "SELECT o.order_no FROM display_windows d JOIN orders o ON o.id = d.order_id"
        " WHERE d.office = $1 AND d.window_no = $2",
        office,
        window,
    )
    return str(value) if value is not None else None
