"""How the Alipay simulator notifies a merchant: a signed form POST, retried on Alipay's schedule
until the answer body is exactly ``success``."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from functools import partial
from urllib.parse import urlencode

import aiohttp

from adapters.alipay import crypto
from adapters.alipay.sim_state import (
    RETRY_SCHEDULE_S,
    DeliveryAttempt,
    Notification,
    SimState,
)
from adapters.simkit.delivery import on_schedule
from adapters.simkit.keyfiles import digits

log = logging.getLogger(__name__)

ACK_BODY = b"success"


async def deliver(state: SimState, notification: Notification) -> None:
    """First attempt now, then retries until acknowledged or the schedule runs out."""
    acked = await on_schedule(state, RETRY_SCHEDULE_S, partial(_round, state, notification))
    if acked is None:
        if not state.stopping.is_set():
            log.warning("sim notification given up notify_id=%s", notification.notify_id)
        return
    notification.acknowledged = True
    log.info("sim notification acknowledged notify_id=%s round=%d", notification.notify_id, acked)


async def _round(state: SimState, notification: Notification, round_no: int) -> bool:
    faults = state.faults
    if faults.drop_callbacks and state.rng.random() < faults.drop_callbacks:
        notification.attempts.append(
            DeliveryAttempt(at=_now_text(), round=round_no, kind="notify", error="dropped")
        )
        return False
    if faults.reorder_callbacks:
        return await _held(state, notification, round_no)
    kinds = ["notify"] + ["duplicate"] * faults.duplicate_callbacks
    acks = await asyncio.gather(*(_post(state, notification, round_no, k) for k in kinds))
    return any(acks)


async def _held(state: SimState, notification: Notification, round_no: int) -> bool:
    """Park this round; the burst it joins goes out in reverse order of arrival."""
    answered: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    state.held.append((notification, round_no, answered))
    if not state.flushing:
        state.flushing = True
        state.spawn(_flush(state))
    return await answered


async def _flush(state: SimState) -> None:
    batch: list[tuple[Notification, int, asyncio.Future[bool]]] = []
    try:
        await state.pause(state.faults.reorder_window_s)
        batch, state.held = state.held, []
        state.flushing = False
        for notification, round_no, answered in reversed(batch):
            kinds = ["notify"] + ["duplicate"] * state.faults.duplicate_callbacks
            # one after the other, so the receiver sees exactly the reversed order
            acks = [await _post(state, notification, round_no, kind) for kind in kinds]
            answered.set_result(any(acks))
    finally:
        # a burst cut short by shutdown still answers its waiters (the rounds count as failed)
        for _, _, answered in batch:
            if not answered.done():
                answered.set_result(False)


def signed_params(state: SimState, notification: Notification) -> dict[str, str]:
    """This attempt's parameters: a fresh notify_time, then the signature (or a fault's)."""
    faults = state.faults
    params = dict(notification.params)
    params["notify_time"] = crypto.beijing_text(datetime.now(crypto.BEIJING))
    if faults.wrong_app_id:
        params["app_id"] = "2021" + digits(12)
    if faults.wrong_seller_id:
        params["seller_id"] = "2088" + digits(12)
    params["sign_type"] = crypto.SIGN_TYPE
    if not faults.unsigned_callbacks:
        key = state.wrong_key if faults.bad_signature else state.keys.private_key
        params["sign"] = crypto.sign(key, crypto.notify_content(params))
    return params


async def _post(state: SimState, notification: Notification, round_no: int, kind: str) -> bool:
    body = urlencode(signed_params(state, notification))
    attempt = DeliveryAttempt(at=_now_text(), round=round_no, kind=kind)
    notification.attempts.append(attempt)
    assert state.session is not None, "the notify session lives in the app's cleanup_ctx"
    try:
        async with state.session.post(
            notification.notify_url,
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
            timeout=aiohttp.ClientTimeout(total=state.notify_timeout_s),
        ) as resp:
            answer = await resp.read()
            attempt.status = resp.status
            attempt.body = answer[:64].decode("utf-8", "replace")
    except (aiohttp.ClientError, TimeoutError) as exc:
        attempt.error = type(exc).__name__
        return False
    # Alipay reads the body: only the seven characters "success" stop the retries
    return resp.status == 200 and answer == ACK_BODY


def _now_text() -> str:
    return datetime.now(crypto.BEIJING).isoformat(timespec="milliseconds")
