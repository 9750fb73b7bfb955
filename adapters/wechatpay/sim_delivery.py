"""How the simulator notifies a merchant: signed, encrypted, retried on WeChat's schedule."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
import time
from datetime import datetime
from typing import Any

import aiohttp

from adapters.wechatpay import crypto
from adapters.wechatpay.sim_state import (
    BEIJING,
    RETRY_SCHEDULE_S,
    DeliveryAttempt,
    Notification,
    Order,
    SimState,
    rfc3339,
    transaction_json,
)

log = logging.getLogger(__name__)

# a Wechatpay-Serial that no merchant was ever given, for the wrong_serial knob
UNKNOWN_SERIAL = "PUB_KEY_ID_0000000000000000000000000000"
STALE_BY_S = 600


def payment_notification(state: SimState, order: Order, now: datetime) -> Notification:
    """A TRANSACTION.SUCCESS event for a paid order, sealed once so every retry is identical."""
    resource = transaction_json(state.keys, order, now)
    nonce = crypto.new_resource_nonce()
    associated_data = "transaction"
    event_id = state.new_event_id(now)
    envelope: dict[str, Any] = {
        "id": event_id,
        "create_time": rfc3339(now),
        "resource_type": "encrypt-resource",
        "event_type": "TRANSACTION.SUCCESS",
        "summary": "支付成功",
        "resource": {
            "original_type": "transaction",
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": crypto.encrypt_resource(
                state.keys.apiv3_key,
                nonce,
                associated_data,
                json.dumps(resource, ensure_ascii=False).encode(),
            ),
            "associated_data": associated_data,
            "nonce": nonce,
        },
    }
    return Notification(
        event_id=event_id,
        event_type="TRANSACTION.SUCCESS",
        notify_url=order.notify_url,
        body=json.dumps(envelope, ensure_ascii=False).encode(),
    )


async def deliver(state: SimState, notification: Notification) -> None:
    """First attempt now, then retries until acknowledged or the schedule runs out."""
    delays = (0.0, *RETRY_SCHEDULE_S)
    for round_no, delay in enumerate(delays):
        await state.pause(delay * state.retry_scale)
        await state.pause(state.faults.delay_callbacks_s)
        if state.stopping.is_set():
            return
        if await _round(state, notification, round_no):
            notification.acknowledged = True
            log.info(
                "sim notification acknowledged event=%s round=%d", notification.event_id, round_no
            )
            return
    log.warning("sim notification given up event=%s", notification.event_id)


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
