"""Webhook subscriptions of the case system, and what administrators see and do with deliveries.

Events themselves are written by the database (migration 0023: a trigger on the order's state,
in the state change's own transaction) and sent by ``clearing.workers.webhooks``. Here: a
subscription is made with its first secret (shown once), a secret is rotated (the old one keeps
signing for ``overlap`` so the receiver can change over), a subscription is disabled, and a dead
or delivered event is sent again. Only an administrator without an office acts here: a
subscription hears of every office's orders. Every change is audited.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

import asyncpg

from clearing.db import Conn
from clearing.domain.display import name
from clearing.domain.times import beijing_time
from clearing.domain.webhooks import EVENT_TYPES
from clearing.errors import Conflict, Forbidden, InvalidRequest, NotFound
from clearing.security import PiiCipher
from clearing.service import audit
from clearing.service.principals import Principal

ADMIN_ROLES: Final = frozenset({"admin"})
_COLUMN: Final = "webhook_secrets.secret_enc"  # the cipher binds each blob to its column
DELIVERY_STATES: Final = ("PENDING", "WAITING", "DELIVERED", "DEAD")


def new_secret() -> str:
    """``whsec_`` and 32 random bytes, URL-safe base64: typed into the case system's settings."""
    return "whsec_" + secrets.token_urlsafe(32)


def _check(who: Principal) -> None:
    if who.role not in ADMIN_ROLES or who.office is not None:
        raise Forbidden(
            "WEBHOOK_ADMIN_ONLY",
            "only an administrator without an office manages webhook subscriptions",
            "事件订阅仅由全局系统管理员管理",
        )


@dataclass(frozen=True)
class Subscription:
    id: int
    name: str
    url: str
    event_types: list[str]
    event_types_zh: list[str]
    active: bool
    secrets_active: int
    created_by: str
    created_at: str
    pending: int
    dead: int


_SUBS = """
SELECT s.id, s.name, s.url, s.event_types, s.active, s.created_by, s.created_at,
       (SELECT count(*) FROM webhook_secrets k WHERE k.subscription_id = s.id
           AND (k.expires_at IS NULL OR k.expires_at > now())) AS secrets_active,
       (SELECT count(*) FROM webhook_deliveries d WHERE d.subscription_id = s.id
           AND d.state IN ('PENDING', 'WAITING')) AS pending,
       (SELECT count(*) FROM webhook_deliveries d WHERE d.subscription_id = s.id
           AND d.state = 'DEAD') AS dead
  FROM webhook_subscriptions s
"""


def _sub(r: asyncpg.Record) -> Subscription:
    types = list(r["event_types"])
    return Subscription(
        id=r["id"],
        name=r["name"],
        url=r["url"],
        event_types=types,
        event_types_zh=[name("webhook_event", t) for t in types],
        active=r["active"],
        secrets_active=int(r["secrets_active"]),
        created_by=r["created_by"],
        created_at=beijing_time(r["created_at"]),
        pending=int(r["pending"]),
        dead=int(r["dead"]),
    )


async def subscriptions(conn: Conn, who: Principal) -> list[Subscription]:
    _check(who)
    return [_sub(r) for r in await conn.fetch(_SUBS + " ORDER BY s.id")]


async def _one(conn: Conn, sub_id: int) -> Subscription:
    r = await conn.fetchrow(_SUBS + " WHERE s.id = $1", sub_id)
    if r is None:
        raise NotFound("SUBSCRIPTION_NOT_FOUND", f"no subscription {sub_id}", "事件订阅不存在")
    return _sub(r)


def _event_types(types: list[str]) -> list[str]:
    unknown = sorted(set(types) - set(EVENT_TYPES))
    if unknown or not types:
        raise InvalidRequest(
            "EVENT_TYPE_UNKNOWN",
            f"event types must be some of {', '.join(EVENT_TYPES)}",
            "订阅的事件类型无效",
            field="event_types",
        )
    return [t for t in EVENT_TYPES if t in types]  # one order, whatever the caller sent


async def create(
    conn: Conn,
    who: Principal,
    cipher: PiiCipher,
    *,
    name_: str,
    url: str,
    event_types: list[str],
    request_id: str | None = None,
) -> tuple[Subscription, str]:
    """A new active subscription and its first secret, which the caller shows once."""
    _check(who)
    types = _event_types(event_types)
    async with conn.transaction():
        sub_id = await conn.fetchval(
            "INSERT INTO webhook_subscriptions (name, url, event_types, created_by)"
            " VALUES ($1, $2, $3, $4) RETURNING id",
            name_,
            url,
            types,
            who.actor,
        )
        detail = {"name": name_, "url": url, "event_types": types}
        return await _with_secret(
            conn, who, cipher, sub_id, "webhook.subscribed", detail=detail, request_id=request_id
        )


async def rotate(
    conn: Conn,
    who: Principal,
    cipher: PiiCipher,
    sub_id: int,
    *,
    overlap: timedelta,
    request_id: str | None = None,
) -> tuple[Subscription, str]:
    """A new current secret; the ones before it keep signing for ``overlap``, then stop."""
    _check(who)
    async with conn.transaction():
        active = await conn.fetchval(
            "SELECT active FROM webhook_subscriptions WHERE id = $1 FOR UPDATE", sub_id
        )
        if active is None:
            raise NotFound("SUBSCRIPTION_NOT_FOUND", f"no subscription {sub_id}", "事件订阅不存在")
        if not active:
            raise Conflict(
                "SUBSCRIPTION_DISABLED", f"subscription {sub_id} is disabled", "该事件订阅已停用"
            )
        await conn.execute(
            "UPDATE webhook_secrets SET expires_at = least(coalesce(expires_at, 'infinity'),"
            " now() + $2::interval) WHERE subscription_id = $1",
            sub_id,
            overlap,
        )
        kept = {"old_secrets_sign_for_s": int(overlap.total_seconds())}
        return await _with_secret(
            conn, who, cipher, sub_id, "webhook.secret_rotated", detail=kept, request_id=request_id
        )


async def _with_secret(
    conn: Conn,
    who: Principal,
    cipher: PiiCipher,
    sub_id: int,
    action: str,
    *,
    detail: dict[str, Any],
    request_id: str | None,
) -> tuple[Subscription, str]:
    """A new secret stored (encrypted) as the subscription's newest, ``action`` audited; the
    subscription and the secret, which the caller shows once. Inside the caller's transaction."""
    secret = new_secret()
    await conn.execute(
        "INSERT INTO webhook_secrets (subscription_id, secret_enc) VALUES ($1, $2)",
        sub_id,
        cipher.encrypt(secret, _COLUMN),
    )
    await audit.record(
        conn, who, action, sub_id, detail, object_type="webhook_subscription", request_id=request_id
    )
    return await _one(conn, sub_id), secret


async def disable(
    conn: Conn, who: Principal, sub_id: int, *, request_id: str | None = None
) -> Subscription:
    """No new events for it; what it still had queued is dead-lettered."""
    _check(who)
    async with conn.transaction():
        done = await conn.fetchval(
            "UPDATE webhook_subscriptions SET active = false, disabled_at = now()"
            " WHERE id = $1 AND active RETURNING id",
            sub_id,
        )
        # what is still queued will not be sent now: dead-letter it at once (an attempt in
        # flight records its own outcome; its next turn finds the subscription disabled)
        await conn.execute(
            "UPDATE webhook_deliveries SET state = 'DEAD', last_error = 'subscription disabled',"
            " next_attempt_at = NULL, updated_at = now()"
            " WHERE subscription_id = $1 AND state IN ('PENDING', 'WAITING')",
            sub_id,
        )
        sub = await _one(conn, sub_id)
        if done is None:
            raise Conflict(
                "SUBSCRIPTION_DISABLED", f"subscription {sub_id} is disabled", "该事件订阅已停用"
            )
        await audit.record(
            conn,
            who,
            "webhook.disabled",
            sub_id,
            object_type="webhook_subscription",
            request_id=request_id,
        )
        return sub


async def signing_secrets(conn: Conn, cipher: PiiCipher, sub_id: int) -> list[str]:
    """The secrets that sign now, newest first."""
    rows = await conn.fetch(
        "SELECT secret_enc FROM webhook_secrets WHERE subscription_id = $1"
        " AND (expires_at IS NULL OR expires_at > now()) ORDER BY id DESC",
        sub_id,
    )
    return [cipher.decrypt(r["secret_enc"], _COLUMN) for r in rows]


_DELIVERIES = """
SELECT d.id, d.state, d.attempts, d.last_attempt_at, d.next_attempt_at, d.last_status,
       d.last_error, d.delivered_at, d.subscription_id, s.name AS subscription,
       e.event_id, e.type, e.occurred_at, o.order_no, o.case_no
  FROM webhook_deliveries d
  JOIN webhook_subscriptions s ON s.id = d.subscription_id
  JOIN webhook_events e ON e.id = d.event_row
  JOIN orders o ON o.id = d.order_id
 WHERE ($1::text IS NULL OR d.state = $1) AND ($2::text IS NULL OR o.order_no = $2)
 ORDER BY d.id DESC LIMIT $3
"""


async def deliveries(
    conn: Conn, who: Principal, *, state: str | None, order_no: str | None, limit: int = 200
) -> list[dict[str, Any]]:
    """The newest deliveries first; ``state='DEAD'`` is the dead-letter view."""
    _check(who)
    if state is not None and state not in DELIVERY_STATES:
        raise InvalidRequest(
            "DELIVERY_STATE_UNKNOWN",
            f"state must be one of {', '.join(DELIVERY_STATES)}",
            "投递状态无效",
            field="state",
        )
    rows = await conn.fetch(_DELIVERIES, state, order_no, limit)
    return [
        {
            "id": r["id"],
            "event_id": r["event_id"],
            "type": r["type"],
            "type_zh": name("webhook_event", r["type"]),
            "order_no": r["order_no"],
            "case_no": r["case_no"],
            "subscription_id": r["subscription_id"],
            "subscription": r["subscription"],
            "state": r["state"],
            "state_zh": name("webhook_delivery_state", r["state"]),
            "attempts": r["attempts"],
            "last_status": r["last_status"],
            "last_error": r["last_error"],
            "occurred_at": beijing_time(r["occurred_at"]),
            "last_attempt_at": beijing_time(r["last_attempt_at"]),
            "next_attempt_at": beijing_time(r["next_attempt_at"])
            if r["state"] == "PENDING"
            else "",
            "delivered_at": beijing_time(r["delivered_at"]),
        }
        for r in rows
    ]


async def resend(
    conn: Conn, who: Principal, delivery_id: int, *, request_id: str | None = None
) -> dict[str, Any]:
    """Send a dead (or already delivered) event again, from a fresh schedule. Audited."""
    _check(who)
    async with conn.transaction():
        r = await conn.fetchrow(
            "SELECT d.state, s.active, e.event_id FROM webhook_deliveries d"
            " JOIN webhook_subscriptions s ON s.id = d.subscription_id"
            " JOIN webhook_events e ON e.id = d.event_row WHERE d.id = $1 FOR UPDATE OF d",
            delivery_id,
        )
        if r is None:
            raise NotFound(
                "DELIVERY_NOT_FOUND", f"no delivery {delivery_id}", "该事件投递记录不存在"
            )
        if not r["active"]:
            raise Conflict(
                "SUBSCRIPTION_DISABLED", "the subscription is disabled", "该事件订阅已停用"
            )
        if r["state"] not in ("DEAD", "DELIVERED"):
            raise Conflict(
                "DELIVERY_IN_PROGRESS",
                f"delivery {delivery_id} is {r['state']}: it is being delivered already",
                "该事件正在投递中，无需重新投递",
            )
        await conn.execute(
            "UPDATE webhook_deliveries SET state = 'PENDING', attempts = 0, last_error = NULL,"
            " next_attempt_at = now(), updated_at = now() WHERE id = $1",
            delivery_id,
        )
        await conn.execute(
            "INSERT INTO tasks (kind, payload, dedupe_key) VALUES ('webhook.deliver',"
            " jsonb_build_object('delivery_id', $1::bigint), 'webhook.deliver:' || $1)"
            " ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL"
            " AND state IN ('READY', 'LEASED') DO NOTHING",
            delivery_id,
        )
        await audit.record(
            conn,
            who,
            "webhook.resent",
            delivery_id,
            {"event_id": r["event_id"], "was": r["state"]},
            object_type="webhook_delivery",
            request_id=request_id,
        )
    return {
        "id": delivery_id,
        "event_id": r["event_id"],
        "state": "PENDING",
        "state_zh": name("webhook_delivery_state", "PENDING"),
    }
