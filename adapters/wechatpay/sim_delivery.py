"""What the WeChat Pay simulator notifies a merchant of: events sealed once (encrypted with the
APIv3 key), so that every retry is identical; ``SimState`` signs each POST and ``simkit.notify``
retries it on WeChat's schedule.

Payments (TRANSACTION.SUCCESS) and refunds (REFUND.SUCCESS / ABNORMAL / CLOSED) travel the same
way. With ``reorder_callbacks`` the first delivery of each event waits for a burst, and a burst is
sent newest first, so the merchant sees events out of order."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from adapters.simkit.notify import Notice
from adapters.wechatpay import crypto
from adapters.wechatpay.sim_state import (
    Order,
    Refund,
    SimState,
    refund_resource,
    rfc3339,
    transaction_json,
)

REFUND_SUMMARY = {"SUCCESS": "退款成功", "ABNORMAL": "退款异常", "CLOSED": "退款关闭"}


def payment_notification(state: SimState, order: Order, now: datetime) -> Notice:
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


def refund_notification(state: SimState, order: Order, refund: Refund, now: datetime) -> Notice:
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
    notification.url = refund.notify_url
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
) -> Notice:
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
    return Notice(
        id=event_id,
        url=order.notify_url,
        payload=json.dumps(envelope, ensure_ascii=False).encode(),
        label=event_type,
    )


def send(state: SimState, order: Order, notification: Notice) -> None:
    """Record the event on its order and start delivering it in the background."""
    order.notifications.append(notification)
    state.send(notification)
