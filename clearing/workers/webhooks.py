"""The ``webhook.deliver`` task: send one event to one subscriber, in order per order.

A delivery is sent only when every earlier event of the same order has reached that subscriber;
otherwise it becomes WAITING and the delivery before it wakes it once delivered (the row lock on
the earlier delivery makes "check, then wait" and "deliver, then wake" exclude each other, so
none is left waiting). Other orders are never blocked. A failed attempt (no 2xx, a timeout, a
refused connection) is retried on the schedule of ``clearing.domain.webhooks``, with jitter, then
dead-lettered for an administrator to re-send. The task's lease keeps a second worker off the
attempt; the request's timeout is kept well inside the lease so that no attempt outlives it.
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
import asyncpg

from clearing.domain import webhooks as wh
from clearing.security import PiiCipher
from clearing.service.webhooks import signing_secrets
from clearing.workers.runner import Reschedule

log = logging.getLogger(__name__)

_CLAIM = """
SELECT d.id, d.state, d.attempts, d.subscription_id, d.order_id, s.url, s.active,
       e.event_id, e.type, e.body
  FROM webhook_deliveries d
  JOIN webhook_subscriptions s ON s.id = d.subscription_id
  JOIN webhook_events e ON e.id = d.event_row
 WHERE d.id = $1 FOR UPDATE OF d
"""
# an earlier event of the same order this subscriber has not received yet; locking it waits for
# a worker that is just recording its delivery, and then no longer finds it
_BLOCKER = """
SELECT id FROM webhook_deliveries
 WHERE subscription_id = $1 AND order_id = $2 AND id < $3 AND state <> 'DELIVERED'
 ORDER BY id LIMIT 1 FOR UPDATE
"""
_WAKE_NEXT = """
WITH next AS (
    UPDATE webhook_deliveries SET state = 'PENDING', next_attempt_at = now(), updated_at = now()
     WHERE id = (SELECT id FROM webhook_deliveries
                  WHERE subscription_id = $1 AND order_id = $2 AND id > $3 AND state = 'WAITING'
                  ORDER BY id LIMIT 1)
    RETURNING id
)
INSERT INTO tasks (kind, payload, dedupe_key)
SELECT 'webhook.deliver', jsonb_build_object('delivery_id', id), 'webhook.deliver:' || id FROM next
ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL AND state IN ('READY', 'LEASED') DO NOTHING
"""
_ANSWER_MAX = 200  # what of a refusal's body is kept for the administrator


@dataclass
class WebhookSender:
    pool: asyncpg.Pool
    session: aiohttp.ClientSession
    cipher: PiiCipher
    timeout_s: float = 10.0
    schedule_scale: float = 1.0

    async def __call__(self, payload: dict[str, Any]) -> Reschedule | None:
        delivery_id = int(payload["delivery_id"])
        ready = await self._claim(delivery_id)
        if ready is None:
            return None
        d, secrets = ready
        body = json.dumps(d["body"], ensure_ascii=False, separators=(",", ":")).encode()
        status, error = await self._post(d, secrets, body)
        return await self._record(d, status, error)

    async def _claim(self, delivery_id: int) -> tuple[asyncpg.Record, list[str]] | None:
        """The delivery with its attempt counted, or None when there is nothing to send now."""
        async with self.pool.acquire() as conn, conn.transaction():
            d = await conn.fetchrow(_CLAIM, delivery_id)
            if d is None or d["state"] != "PENDING":
                return None
            if not d["active"]:
                await conn.execute(
                    "UPDATE webhook_deliveries SET state = 'DEAD', last_error = $2,"
                    " updated_at = now() WHERE id = $1",
                    delivery_id,
                    "subscription disabled",
                )
                return None
            blocker = await conn.fetchval(
                _BLOCKER, d["subscription_id"], d["order_id"], delivery_id
            )
            if blocker is not None:
                await conn.execute(
                    "UPDATE webhook_deliveries SET state = 'WAITING', next_attempt_at = NULL,"
                    " updated_at = now() WHERE id = $1",
                    delivery_id,
                )
                return None
            secrets = await signing_secrets(conn, self.cipher, d["subscription_id"])
            await conn.execute(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, last_attempt_at = now(),"
                " updated_at = now() WHERE id = $1",
                delivery_id,
            )
        return d, secrets

    async def _post(
        self, d: asyncpg.Record, secrets: list[str], body: bytes
    ) -> tuple[int | None, str | None]:
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "tongjiao-webhooks/1",
            wh.HEADER_EVENT_ID: d["event_id"],
            wh.HEADER_EVENT_TYPE: d["type"],
            wh.HEADER_TIMESTAMP: str(timestamp),
            wh.HEADER_SIGNATURE: wh.signature_header(secrets, timestamp, body),
        }
        try:
            async with self.session.post(
                d["url"],
                data=body,
                headers=headers,
                allow_redirects=False,  # a redirect is not an acknowledgement
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            ) as resp:
                text = (await resp.content.read(_ANSWER_MAX)).decode("utf-8", "replace")
                if 200 <= resp.status < 300:
                    return resp.status, None
                return resp.status, f"HTTP {resp.status}: {text}"[:_ANSWER_MAX]
        except TimeoutError:
            return None, f"no answer within {self.timeout_s:g} s"
        except aiohttp.ClientError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:_ANSWER_MAX]

    async def _record(
        self, d: asyncpg.Record, status: int | None, error: str | None
    ) -> Reschedule | None:
        attempts = int(d["attempts"]) + 1
        async with self.pool.acquire() as conn, conn.transaction():
            if error is None:
                await conn.execute(
                    "UPDATE webhook_deliveries SET state = 'DELIVERED', delivered_at = now(),"
                    " last_status = $2, last_error = NULL, next_attempt_at = NULL,"
                    " updated_at = now() WHERE id = $1",
                    d["id"],
                    status,
                )
                await conn.execute(_WAKE_NEXT, d["subscription_id"], d["order_id"], d["id"])
                log.info("webhook delivered event=%s delivery=%s", d["event_id"], d["id"])
                return None
            delay = wh.retry_delay_s(
                attempts,
                scale=self.schedule_scale,
                jitter=random.random(),  # noqa: S311 - spreading retries, not a secret
            )
            await conn.execute(
                "UPDATE webhook_deliveries SET state = $2, last_status = $3, last_error = $4,"
                " next_attempt_at = CASE WHEN $5::float8 IS NULL THEN NULL"
                " ELSE now() + make_interval(secs => $5::float8) END, updated_at = now()"
                " WHERE id = $1",
                d["id"],
                "DEAD" if delay is None else "PENDING",
                status,
                error,
                delay,
            )
        if delay is None:
            log.error(
                "webhook dead event=%s delivery=%s attempts=%s error=%s",
                d["event_id"],
                d["id"],
                attempts,
                error,
            )
            return None
        log.warning(
            "webhook failed event=%s delivery=%s attempt=%s retry_in=%.1fs error=%s",
            d["event_id"],
            d["id"],
            attempts,
            delay,
            error,
        )
        return Reschedule(timedelta(seconds=delay))
