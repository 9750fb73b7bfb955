"""How the simulator notifies a merchant: signed, encrypted, retried on WeChat's schedule.

Payments (TRANSACTION.SUCCESS) and refunds (REFUND.SUCCESS / ABNORMAL / CLOSED) travel the same
way. With ``reorder_callbacks`` the first delivery of each event waits for a burst, and a burst is
sent newest first, so the merchant sees events out of order."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
import time
from datetime import datetime
from functools import partial
from typing import Any

import aiohttp

from adapters.simkit.delivery import on_schedule
from adapters.wechatpay import crypto
from adapters.wechatpay.sim_state import (
    BEIJING,
    RETRY_SCHEDULE_S,
    DeliveryAttempt,
    Notification,
    Order,
    Refund,
    SimState,
    refund_resource,
    rfc3339,
    transaction_json,
)

log = logging.getLogger(__name__)

# a Wechatpay-Serial that no merchant was ever given, for the wrong_serial knob
UNKNOWN_SERIAL = "PUB_KEY_ID_0000000000000000000000000000"
STALE_BY_S = 600


REFUND_SUMMARY = {"SUCCESS": "退款成功", "ABNORMAL": "退款异常", "CLOSED": "退款关闭"}


def payment_notification(state: SimState, order: Order, now: datetime) -> Notification:
    """A TRANSACTION.SUCCESS event for a paid order, sealed once so every retry is identical."""
    resource = transaction_json(state.keys, order, now)
    return _sealed(
        state,
        now,
        event_type="TRANSACTION.SUCCESS",
        summary="支付成功",
        original_type="transaction",
        resource=resource,
        order=order,
    )


def refund_notification(
    state: SimState, order: Order, refund: Refund, now: datetime
) -> Notification:
    """A REFUND.<status> event for a refund that reached SUCCESS, ABNORMAL or CLOSED."""
    resource = refund_resource(state.keys, order, refund)
    notification = _sealed(
        state,
        now,
        event_type=f"REFUND.{refund.status}",
        summary=REFUND_SUMMARY[refund.status],
        original_type="refund",
        resource=resource,
        order=order,
    )
    notification.notify_url = refund.notify_url
    return notification


def _sealed(
    state: SimState,
    now: datetime,
    *,
    event_type: str,
    summary: str,
    original_type: str,
    resource: dict[str, Any],
    order: Order,
) -> Notification:
    nonce = crypto.new_resource_nonce()
    event_id = state.new_event_id(now)
    envelope: dict[str, Any] = {
        "id": event_id,
        "create_time": rfc3339(now),
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": summary,
        "resource": {
            "original_type": original_type,
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": crypto.encrypt_resource(
                state.keys.apiv3_key,
                nonce,
                original_type,
                json.dumps(resource, ensure_ascii=False).encode(),
            ),
            "associated_data": original_type,
            "nonce": nonce,
        },
    }
    return Notification(
        event_id=event_id,
        event_type=event_type,
        notify_url=order.notify_url,
        body=json.dumps(envelope, ensure_ascii=False).encode(),
    )


def send(state: SimState, order: Order, notification: Notification) -> None:
    """Record the event on its order and start delivering it in the background."""
    order.notifications.append(notification)
    state.spawn(deliver(state, notification))


async def deliver(state: SimState, notification: Notification) -> None:
    """First attempt now, then retries until acknowledged or the schedule runs out."""
    acked = await on_schedule(state, RETRY_SCHEDULE_S, partial(_attempt, state, notification))
    if acked is None:
        if not state.stopping.is_set():
            log.warning("sim notification given up event=%s", notification.event_id)
        return
    notification.acknowledged = True
    log.info("sim notification acknowledged event=%s round=%d", notification.event_id, acked)


async def _attempt(state: SimState, notification: Notification, round_no: int) -> bool:
    if round_no == 0 and state.faults.reorder_callbacks:
        return await _held(state, notification)
    return await _round(state, notification, round_no)


async def _held(state: SimState, notification: Notification) -> bool:
    """Wait for the burst this first delivery belongs to; True when it was acknowledged."""
    outcome: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    state.held.append((notification, outcome))
    if not state.burst_pending:
        state.burst_pending = True
        state.spawn(_burst(state))
    return await outcome


async def _burst(state: SimState) -> None:
    await state.pause(state.faults.reorder_window_s)
    batch, state.held, state.burst_pending = state.held, [], False
    if state.stopping.is_set():
        return
    # one after another, newest first: the receiver sees them in exactly the reverse order
    for notification, outcome in reversed(batch):
        if outcome.done():
            continue
        try:
            acknowledged = await _round(state, notification, 0)
        except Exception as exc:  # a failed burst must not strand the deliveries waiting on it
            outcome.set_exception(exc)
        else:
            outcome.set_result(acknowledged)


async def _round(state: SimState, notification: Notification, round_no: int) -> bool:
    faults = state.faults
    if faults.probe:
        await _post(state, notification, round_no, "probe")
    if faults.drop_callbacks and state.rng.random() < faults.drop_callbacks:
        notification.attempts.append(
            DeliveryAttempt(at=_now_text(), round=round_no, kind="notify", error="dropped")
        )
        return False
    kinds = ["notify"] + ["duplicate"] * faults.duplicate_callbacks
    acks = await asyncio.gather(*(_post(state, notification, round_no, k) for k in kinds))
    return any(acks)


async def _post(state: SimState, notification: Notification, round_no: int, kind: str) -> bool:
    faults = state.faults
    timestamp = int(time.time()) - (STALE_BY_S if faults.stale_timestamp else 0)
    headers = crypto.response_headers(
        private_key=state.wrong_key if faults.bad_signature else state.keys.private_key,
        serial=UNKNOWN_SERIAL if faults.wrong_serial else state.keys.public_key_id,
        body=notification.body,
        timestamp=timestamp,
        nonce=crypto.new_nonce(),
    )
    if kind == "probe":
        noise = base64.b64encode(secrets.token_bytes(48)).decode()
        headers["Wechatpay-Signature"] = crypto.PROBE_PREFIX + noise
    headers["Content-Type"] = "application/json"
    attempt = DeliveryAttempt(at=_now_text(), round=round_no, kind=kind)
    notification.attempts.append(attempt)
    assert state.session is not None, "the notify session lives in the app's cleanup_ctx"
    try:
        async with state.session.post(
            notification.notify_url,
            data=notification.body,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=state.notify_timeout_s),
        ) as resp:
            await resp.read()
            attempt.status = resp.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        attempt.error = type(exc).__name__
        return False
    # WeChat reads only the status: 200 or 204 is an acknowledgement, whatever the body says
    return kind != "probe" and resp.status in (200, 204)


def _now_text() -> str:
    return datetime.now(BEIJING).isoformat(timespec="milliseconds")
