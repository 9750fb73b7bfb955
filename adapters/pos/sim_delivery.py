"""How the simulated terminal cloud reports results: signed, retried on the bank's schedule, with
faults (drops, duplicates, replays, reordering, delays, forged signatures)."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timedelta
from functools import partial

import aiohttp

from adapters.pos import signing
from adapters.pos.sim_state import (
    BEIJING,
    RETRY_OFFSETS_S,
    DeliveryAttempt,
    HeldDelivery,
    Notification,
    Sale,
    SimState,
    sale_json,
    wire_time,
)
from adapters.simkit.delivery import gaps, on_schedule

log = logging.getLogger(__name__)

# a KeyId the bank never issued, for the unknown_key knob
UNKNOWN_KEY_ID = "CK000000"
STALE_BY_S = 600
ACK_BODY = b"SUCCESS"


def notify_result(state: SimState, sale: Sale, now: datetime) -> None:
    """Report a finished sale to its notify_url, unless the result is lost on the way."""
    if state.faults.lose_result and sale.state == "APPROVED":
        # the terminal and the host agree; only the merchant never hears of it
        state.faults.lose_result = False
        sale.result_lost = True
        log.info("sim result lost out_trade_no=%s", sale.out_trade_no)
        return
    envelope = {
        "notify_id": state.new_notify_id(now),
        "notify_type": "SALE_RESULT",
        "notify_time": wire_time(now),
        "sale": sale_json(state.keys, sale),
    }
    notification = Notification(
        notify_id=str(envelope["notify_id"]),
        notify_url=sale.notify_url,
        body=json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode(),
    )
    sale.notifications.append(notification)
    state.spawn(deliver(state, notification))


async def deliver(state: SimState, notification: Notification) -> None:
    """First attempt now, then retries until acknowledged or the schedule runs out."""
    acked = await on_schedule(state, gaps(RETRY_OFFSETS_S), partial(_attempt, state, notification))
    if acked is None:
        if not state.stopping.is_set():
            log.warning("sim notification given up id=%s", notification.notify_id)
        return
    notification.acknowledged = True
    log.info("sim notification acknowledged id=%s round=%d", notification.notify_id, acked)


async def _attempt(state: SimState, notification: Notification, round_no: int) -> bool:
    held = _hold(state) if round_no == 0 and state.faults.reorder_callbacks > 0 else None
    try:
        if held is not None:
            await held.turn.wait()
        return await _round(state, notification, round_no)
    finally:
        if held is not None:
            held.done.set()


def _hold(state: SimState) -> HeldDelivery:
    held = HeldDelivery()
    state.held.append(held)
    if len(state.held) >= state.faults.reorder_callbacks:
        burst, state.held = state.held, []
        state.spawn(_release(burst))
    elif len(state.held) == 1:
        state.spawn(_release_later(state, held))
    return held


async def _release_later(state: SimState, first: HeldDelivery) -> None:
    await state.pause(state.faults.reorder_hold_s)
    if state.held and state.held[0] is first:
        burst, state.held = state.held, []
        await _release(burst)


async def _release(burst: list[HeldDelivery]) -> None:
    # newest first, one after the other, so the receiver sees them in exactly reverse order
    for held in reversed(burst):
        held.turn.set()
        await held.done.wait()


async def _round(state: SimState, notification: Notification, round_no: int) -> bool:
    faults = state.faults
    if faults.drop_callbacks and state.rng.random() < faults.drop_callbacks:
        notification.attempts.append(
            DeliveryAttempt(at=_now_text(), round=round_no, kind="notify", error="dropped")
        )
        return False
    headers = _headers(state, notification)
    acks = [await _post(state, notification, round_no, "notify", headers)]
    if faults.replay_callbacks:
        # the very same signed request again, as an eavesdropper would send it
        acks.append(await _post(state, notification, round_no, "replay", headers))
    duplicates = [
        _post(state, notification, round_no, "duplicate", _headers(state, notification))
        for _ in range(faults.duplicate_callbacks)
    ]
    acks.extend(await asyncio.gather(*duplicates))
    return any(acks)


def _headers(state: SimState, notification: Notification) -> dict[str, str]:
    faults = state.faults
    now = datetime.now(BEIJING) - timedelta(seconds=STALE_BY_S if faults.stale_timestamp else 0)
    return {
        signing.CLOUD_HEADER: signing.cloud_header(
            cloud_key=state.wrong_key if faults.bad_signature else state.keys.cloud_key,
            key_id=UNKNOWN_KEY_ID if faults.unknown_key else state.keys.cloud_key_id,
            body=notification.body,
            timestamp=signing.timestamp_now(now),
            nonce=signing.new_nonce(),
        ),
        "Content-Type": "application/json; charset=utf-8",
    }


async def _post(
    state: SimState,
    notification: Notification,
    round_no: int,
    kind: str,
    headers: dict[str, str],
) -> bool:
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
            answer = await resp.read()
            attempt.status = resp.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        attempt.error = type(exc).__name__
        return False
    # the bank reads status 200 and the text SUCCESS; 204 or any other body means "send again"
    return resp.status == 200 and answer.strip() == ACK_BODY


def _now_text() -> str:
    return datetime.now(BEIJING).isoformat(timespec="milliseconds")
