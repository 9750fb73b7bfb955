"""Acquirers' notifications. Authenticated by the acquirer's signature, not by a token.

We acknowledge only after the payment is stored: a 2xx means "recorded"; anything else makes the
acquirer retry, which is safe because capture is idempotent per acquirer transaction.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from aiohttp import web

from clearing.api.keys import BATCHER, METRICS, NOTIFY_PARSERS, POOL
from clearing.logs import request_id_var
from clearing.ports import NotifyEndpoint, NotifyRefused, PaymentDeclined
from clearing.service import audit
from clearing.service.attempts import fail_attempt

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

MAX_NOTIFY_BYTES = 64 * 1024


def _fail(status: int, message: str) -> web.Response:
    # WeChat Pay reads the HTTP status first; the body says why, for its merchant console
    return web.Response(
        status=status,
        text=json.dumps({"code": "FAIL", "message": message}, ensure_ascii=False),
        content_type="application/json",
    )


@routes.post("/notify/{provider}")
async def notify(request: web.Request) -> web.Response:
    provider = request.match_info["provider"]
    endpoint = request.app[NOTIFY_PARSERS].get(provider)
    if endpoint is None:
        return _fail(404, "unknown provider")
    if (request.content_length or 0) > MAX_NOTIFY_BYTES:
        return _fail(413, "body too large")
    raw = await request.read()  # the signature covers these exact bytes
    metrics = request.app[METRICS]
    try:
        notice = endpoint.parse(request.headers, raw, datetime.now(UTC))
    except NotifyRefused as exc:
        metrics.notify_rejected.labels(provider, exc.code).inc()
        log.warning("notification refused provider=%s code=%s", provider, exc.code)
        async with request.app[POOL].acquire() as conn:
            await audit.record(
                conn,
                actor=f"remote:{request.remote}",
                action="notify.refused",
                object_type="notify",
                object_id=provider,
                detail={"code": exc.code, "bytes": len(raw)},
                request_id=request_id_var.get(),
            )
        if endpoint.refused_body is not None:
            ctype, body = endpoint.refused_body
            return web.Response(status=endpoint.refused_status, body=body, content_type=ctype)
        return _fail(endpoint.refused_status, exc.message)
    if notice is None:
        return _ack(endpoint)
    if isinstance(notice, PaymentDeclined):
        # a declined card: the window stops waiting now, not at the next poll
        await fail_attempt(
            request.app[POOL],
            provider=provider,
            out_trade_no=notice.out_trade_no,
            code=notice.code,
            reason_zh=notice.reason_zh,
            actor=f"notify:{provider}",
        )
        return _ack(endpoint)
    with metrics.capture_seconds.time():
        result = await request.app[BATCHER].capture(notice, "notify", request_id_var.get())
    if result.first_time:
        metrics.payments.labels(provider, result.outcome, "notify").inc()
        metrics.payment_amount.labels(provider, result.outcome).inc(notice.amount_fen)
        log.info(
            "payment recorded provider=%s order=%s outcome=%s reason=%s",
            provider,
            result.order_no,
            result.outcome,
            result.reason,
        )
    return _ack(endpoint)


def _ack(endpoint: NotifyEndpoint) -> web.Response:
    status, ctype, body = endpoint.ok
    return web.Response(status=status, body=body or None, content_type=ctype)
