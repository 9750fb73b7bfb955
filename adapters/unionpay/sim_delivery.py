"""How the simulator notifies a merchant: a signed form POST to backUrl, resent on UnionPay's
schedule until the merchant answers HTTP 200 or 302."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from functools import partial

import aiohttp

from adapters.simkit.delivery import on_schedule
from adapters.unionpay import crypto, wire
from adapters.unionpay.sim_state import (
    RESP_MSG,
    RETRY_SCHEDULE_S,
    DeliveryAttempt,
    Notification,
    SimState,
    Txn,
)

log = logging.getLogger(__name__)

ACKNOWLEDGED = (200, 302)


def txn_fields(state: SimState, txn: Txn) -> dict[str, str]:
    """A transaction as query answers and notifications show it (unsigned)."""
    fields = {
        "version": wire.VERSION,
        "encoding": wire.ENCODING,
        "signMethod": wire.SIGN_METHOD_RSA,
        "txnType": txn.txn_type,
        "txnSubType": txn.txn_sub_type,
        "bizType": txn.biz_type,
        "accessType": wire.ACCESS_MERCHANT,
        "merId": state.keys.mer_ids[0],
        "orderId": txn.order_id,
        "txnTime": txn.txn_time,
        "txnAmt": wire.fen_text(txn.amount_fen),
        "currencyCode": wire.CURRENCY_CNY,
    }
    if txn.query_id is not None:
        fields["queryId"] = txn.query_id
    if txn.completed_at is not None and txn.trace_no is not None:
        fields["traceNo"] = txn.trace_no
        fields["traceTime"] = txn.completed_at.astimezone(wire.BEIJING).strftime("%m%d%H%M%S")
    if txn.state == "SUCCESS" and txn.settle_date is not None:
        fields["settleDate"] = wire.mmdd(txn.settle_date)
        fields["settleAmt"] = wire.fen_text(txn.amount_fen)
        fields["settleCurrencyCode"] = wire.CURRENCY_CNY
    if txn.acc_no:
        fields["accNo"] = txn.acc_no
        fields["payCardType"] = "01"
        fields["payType"] = "0002"
    if txn.orig_query_id:
        fields["origQryId"] = txn.orig_query_id
    if txn.req_reserved:
        fields["reqReserved"] = txn.req_reserved
    return fields


def signed(
    state: SimState, fields: dict[str, str], *, bad: bool = False, untrusted: bool = False
) -> dict[str, str]:
    """``fields`` with ``signPubKeyCert`` and ``signature`` as UnionPay adds them."""
    out = dict(fields)
    out.pop("signature", None)
    if untrusted:
        key, cert = state.stranger
        out["signPubKeyCert"] = crypto.pem_text(cert)
    else:
        key = state.wrong_key if bad else state.keys.private_key
        out["signPubKeyCert"] = state.keys.sign_cert_pem
    out["signature"] = crypto.sign(out, key)
    return out


def notification_for(state: SimState, txn: Txn) -> Notification:
    """The back notification of a transaction that reached its final result."""
    fields = txn_fields(state, txn)
    fields["respCode"] = txn.result_code
    fields["respMsg"] = RESP_MSG.get(txn.result_code, RESP_MSG["01"])
    notification = Notification(
        key=f"{txn.query_id}:{txn.txn_type}", back_url=txn.back_url, fields=fields
    )
    txn.notifications.append(notification)
    return notification


def notify(state: SimState, txn: Txn) -> None:
    """Start delivering the notification of ``txn`` in the background."""
    state.spawn(deliver(state, notification_for(state, txn)))


async def deliver(state: SimState, notification: Notification) -> None:
    """First send now, then resends until acknowledged or the schedule runs out."""
    acked = await on_schedule(state, RETRY_SCHEDULE_S, partial(_attempt, state, notification))
    if acked is None:
        if not state.stopping.is_set():
            log.warning("sim notification given up key=%s", notification.key)
        return
    notification.acknowledged = True
    log.info("sim notification acknowledged key=%s round=%d", notification.key, acked)


async def _attempt(state: SimState, notification: Notification, round_no: int) -> bool:
    if round_no == 0 and state.faults.reorder_callbacks > 1:
        return await _in_burst(state, notification)
    return await _round(state, notification, round_no)


async def _in_burst(state: SimState, notification: Notification) -> bool:
    """Hold the first send until a burst is complete (or the hold times out), then the burst
    goes out newest first: the merchant sees later events before earlier ones."""
    done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    state.held.append((notification, done))
    if len(state.held) >= state.faults.reorder_callbacks:
        await _flush(state)
    else:
        try:
            return await asyncio.wait_for(asyncio.shield(done), state.faults.reorder_hold_s)
        except TimeoutError:
            await _flush(state)
    return await done


async def _flush(state: SimState) -> None:
    burst, state.held = state.held, []
    for held, done in reversed(burst):
        acked = await _round(state, held, 0)
        if not done.done():
            done.set_result(acked)


async def _round(state: SimState, notification: Notification, round_no: int) -> bool:
    faults = state.faults
    if faults.drop_callbacks and state.rng.random() < faults.drop_callbacks:
        notification.attempts.append(
            DeliveryAttempt(at=_now_text(), round=round_no, kind="notify", error="dropped")
        )
        return False
    kinds = ["notify"] + ["duplicate"] * faults.duplicate_callbacks
    acks = await asyncio.gather(*(_post(state, notification, round_no, k) for k in kinds))
    return any(acks)


async def _post(state: SimState, notification: Notification, round_no: int, kind: str) -> bool:
    fields = dict(notification.fields)
    if state.faults.wrong_merchant:
        fields["merId"] = "898" + "0" * 12
    faults = state.faults
    body = wire.encode_form(
        signed(state, fields, bad=faults.bad_signature, untrusted=faults.untrusted_cert)
    )
    attempt = DeliveryAttempt(at=_now_text(), round=round_no, kind=kind)
    notification.attempts.append(attempt)
    assert state.session is not None, "the notify session lives in the app's cleanup_ctx"
    try:
        async with state.session.post(
            notification.back_url,
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"},
            timeout=aiohttp.ClientTimeout(total=state.notify_timeout_s),
            allow_redirects=False,
        ) as resp:
            await resp.read()
            attempt.status = resp.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        attempt.error = type(exc).__name__
        return False
    # UnionPay reads only the status: 200 or 302 is a receipt, whatever the body says
    return resp.status in ACKNOWLEDGED


def _now_text() -> str:
    return datetime.now(wire.BEIJING).isoformat(timespec="milliseconds")
