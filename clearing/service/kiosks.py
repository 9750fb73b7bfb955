"""Self-service kiosks (自助缴费终端): devices an administrator registers for one office.

A kiosk is not a person. An administrator creates it in 系统管理 and gets a one-time enrolment
code (shown once, valid a day); the kiosk's page spends the code and receives a device token of
its own (a random token, its hash kept here, as staff sessions and citizen's screens are). The
token opens only the kiosk's routes (``clearing.api.access.KIOSK``), for orders of its own
office; revoking the kiosk stops it at the next request. Every action is audited as
``kiosk:<id>``.

A citizen finds an order on a kiosk (``clearing.service.kiosk_lookup``); it stays on the kiosk
(``kiosks.order_id``) for ``HOLD`` at most, and the kiosk's later requests (pay, QR, receipt)
name no order, so a kiosk can never reach one it was not given.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from clearing import security
from clearing.db import Conn
from clearing.errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    Unauthenticated,
)
from clearing.service import audit
from clearing.service.places import check_office_scope, require_in_service
from clearing.service.principals import Principal

ENROL_TTL = timedelta(hours=24)
# how long an order found stays on a kiosk: longer than any QR payment, shorter than a queue
HOLD = timedelta(minutes=15)
# an enrolment code: 12 characters without look-alikes (0/O, 1/I/L), typed in groups of four
_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_CODE_LENGTH = 12


@dataclass(frozen=True)
class Kiosk:
    id: int
    name: str
    office: str

    @property
    def actor(self) -> str:
        return f"kiosk:{self.id}"


# --- the administrator's side ------------------------------------------------------------------


def _new_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_LENGTH))


def _code_key(code: str) -> str:
    return re.sub(r"[\s-]", "", code).upper()


def show_code(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


_LIST = """
SELECT k.id, k.name, k.office, k.created_at, k.enrolled_at, k.last_seen_at, k.revoked_at,
       k.enrol_expires_at, k.enrol_code_hash IS NOT NULL AS code_pending,
       c.username AS created_by, r.username AS revoked_by
  FROM kiosks k JOIN principals c ON c.id = k.created_by
  LEFT JOIN principals r ON r.id = k.revoked_by
"""


def _state(row: asyncpg.Record, now: datetime) -> str:
    if row["revoked_at"] is not None:
        return "revoked"
    if row["enrolled_at"] is not None:
        return "active"
    if row["code_pending"] and row["enrol_expires_at"] > now:
        return "pending"
    return "code_expired"


STATE_ZH = {
    "pending": "待启用",
    "code_expired": "启用码已过期",
    "active": "在用",
    "revoked": "已停用",
}


def _out(row: asyncpg.Record, now: datetime) -> dict[str, Any]:
    state = _state(row, now)
    return {
        "id": row["id"],
        "name": row["name"],
        "office": row["office"],
        "state": state,
        "state_zh": STATE_ZH[state],
        "created_by": row["created_by"],
        "created_at": row["created_at"],
        "enrolled_at": row["enrolled_at"],
        "last_seen_at": row["last_seen_at"],
        "revoked_at": row["revoked_at"],
        "revoked_by": row["revoked_by"],
    }


async def listing(conn: Conn, who: Principal, now: datetime) -> list[dict[str, Any]]:
    """Every kiosk (an administrator bound to an office: that office's)."""
    rows = await conn.fetch(
        _LIST + " WHERE $1::text IS NULL OR k.office = $1 ORDER BY k.office, k.id", who.office
    )
    return [_out(r, now) for r in rows]


async def _one(conn: Conn, kiosk_id: int, now: datetime) -> dict[str, Any]:
    row = await conn.fetchrow(_LIST + " WHERE k.id = $1", kiosk_id)
    if row is None:
        raise NotFound("KIOSK_NOT_FOUND", f"no kiosk {kiosk_id}", "自助终端不存在")
    return _out(row, now)


async def create(
    conn: Conn, who: Principal, office: str, name: str, now: datetime
) -> tuple[dict[str, Any], str]:
    """Register a kiosk for ``office``; its one-time enrolment code (shown once) comes back."""
    check_office_scope(who, office)
    name = name.strip()
    if not 1 <= len(name) <= 50:
        raise InvalidRequest(
            "KIOSK_NAME_INVALID", "name the kiosk (1-50 characters)", "请填写终端名称"
        )
    code = _new_code()
    async with conn.transaction():
        await require_in_service(conn, office)
        try:
            kiosk_id = await conn.fetchval(
                "INSERT INTO kiosks (name, office, enrol_code_hash, enrol_expires_at, created_by,"
                " created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                name,
                office,
                security.token_hash(code),
                now + ENROL_TTL,
                who.id,
                now,
            )
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "kiosks_name_key":
                raise Conflict(
                    "KIOSK_NAME_TAKEN",
                    f"office {office} has a kiosk named {name}",
                    "本大厅已有同名的自助终端",
                ) from exc
            raise
        await audit.record(conn, who, "kiosk.created", kiosk_id, {"office": office, "name": name})
        return await _one(conn, kiosk_id, now), show_code(code)


async def revoke(conn: Conn, who: Principal, kiosk_id: int, now: datetime) -> dict[str, Any]:
    """Stop a kiosk: its token and any unspent enrolment code stop working at once."""
    check_office_scope(who, (await _one(conn, kiosk_id, now))["office"])
    async with conn.transaction():
        changed = await conn.fetchval(
            "UPDATE kiosks SET revoked_at = $2, revoked_by = $3, enrol_code_hash = NULL,"
            " order_id = NULL WHERE id = $1 AND revoked_at IS NULL RETURNING id",
            kiosk_id,
            now,
            who.id,
        )
        if changed is not None:
            await audit.record(conn, who, "kiosk.revoked", kiosk_id)
        return await _one(conn, kiosk_id, now)


# --- the kiosk's credential --------------------------------------------------------------------

_BAD_CODE = InvalidRequest(
    "ENROL_CODE_INVALID",
    "unknown, spent or expired enrolment code",
    "启用码无效或已过期，请联系系统管理员",
)


async def enrol(conn: Conn, code: str, now: datetime) -> tuple[str, Kiosk]:
    """Spend an enrolment code: the kiosk's device token (shown once) and what it is bound to."""
    key = _code_key(code)
    if len(key) != _CODE_LENGTH or any(c not in _CODE_ALPHABET for c in key):
        raise _BAD_CODE
    token = security.new_token()
    async with conn.transaction():
        row = await conn.fetchrow(
            "UPDATE kiosks SET token_hash = $2, enrol_code_hash = NULL, enrolled_at = $3,"
            " last_seen_at = $3 WHERE enrol_code_hash = $1 AND enrol_expires_at > $3"
            " AND revoked_at IS NULL RETURNING id, name, office",
            security.token_hash(key),
            security.token_hash(token),
            now,
        )
        if row is None:
            raise _BAD_CODE
        kiosk = Kiosk(row["id"], row["name"], row["office"])
        await audit.record(conn, kiosk, "kiosk.enrolled", kiosk.id, {"office": kiosk.office})
    return token, kiosk


NOT_ENROLLED = Unauthenticated(
    "KIOSK_NOT_ENROLLED", "this device is not an enrolled kiosk", "本机尚未启用为自助缴费终端"
)


async def device(conn: Conn, token: str | None) -> Kiosk:
    """The kiosk a token belongs to, while it is not revoked (looked up on every request)."""
    row = None
    if token:
        row = await conn.fetchrow(
            "SELECT id, name, office FROM kiosks WHERE token_hash = $1 AND revoked_at IS NULL",
            security.token_hash(token),
        )
    if row is None:
        raise NOT_ENROLLED
    return Kiosk(row["id"], row["name"], row["office"])


async def current_order_no(conn: Conn, kiosk: Kiosk, now: datetime) -> str | None:
    """The order on the kiosk's screen, while it is held; None when there is none."""
    value = await conn.fetchval(
        "SELECT o.order_no FROM kiosks k JOIN orders o ON o.id = k.order_id"
        " WHERE k.id = $1 AND k.revoked_at IS NULL AND k.order_opened_at > $2",
        kiosk.id,
        now - HOLD,
    )
    return str(value) if value is not None else None


async def clear(conn: Conn, kiosk: Kiosk, why: str) -> None:
    """The screen was cleared (after a payment, after the idle time, or by the citizen)."""
    async with conn.transaction():
        order_no = await conn.fetchval(
            "WITH old AS (SELECT order_id FROM kiosks WHERE id = $1 FOR UPDATE)"
            " UPDATE kiosks k SET order_id = NULL, order_opened_at = NULL FROM old"
            " WHERE k.id = $1 AND old.order_id IS NOT NULL"
            " RETURNING (SELECT order_no FROM orders WHERE id = old.order_id)",
            kiosk.id,
        )
        if order_no is not None:
            await record_order(conn, kiosk, "kiosk.cleared", order_no, why=why)


async def record_order(conn: Conn, kiosk: Kiosk, action: str, order_no: str, **detail: str) -> None:
    """An audit row on the order, by the kiosk, naming the kiosk (its screen held the order)."""
    await audit.record(
        conn, kiosk, action, order_no, {"kiosk": kiosk.id, **detail}, object_type="order"
    )
