"""Acquirers' notifications. Authenticated by the acquirer's signature, not by a token.

We acknowledge only after the payment is stored: a 2xx means "recorded"; anything else makes the
acquirer retry, which is safe because capture is idempotent per acquirer transaction.

Refusals (wrong media type, bad signature, stale timestamp …) come from anyone on the network:
they are counted in ``tongjiao_notify_rejected_total`` and logged within a budget, never written to
the audit trail, which records people and money.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from aiohttp import web

from clearing.api.keys import BATCHER, METRICS, NOTIFY_PARSERS, POOL, REFUSALS
from clearing.logs import request_id_var
from clearing.ports import NotifyEndpoint, NotifyRefused, PaymentDeclined
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
    metrics = request.app[METRICS]
    if (request.content_length or 0) > MAX_NOTIFY_BYTES:
        _refused(request, provider, "TOO_LARGE")
        return _fail(413, "body too large")
    if request.content_type != endpoint.content_type:
        _refused(request, provider, "MEDIA_TYPE")
        return _fail(415, f"notifications are {endpoint.content_type}")
    raw = await request.read()  # the signature covers these exact bytes
    if len(raw) > MAX_NOTIFY_BYTES:  # a chunked body carries no Content-Length
        _refused(request, provider, "TOO_LARGE")
        return _fail(413, "body too large")
    try:
        notice = endpoint.parse(request.headers, raw, datetime.now(UTC))
    except NotifyRefused as exc:
        _refused(request, provider, exc.code)
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
            actor=f"acquirer:{provider}",
        )
        return _ack(endpoint)
    try:
        with metrics.capture_seconds.time():
            result = await request.app[BATCHER].capture(notice, "notify", request_id_var.get())
    except Exception:
        # the acquirer gets a 500 and delivers again; the operator must see it happening
        metrics.capture_errors.labels(provider, "notify").inc()
        raise
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


def _refused(request: web.Request, provider: str, code: str) -> None:
    request.app[METRICS].notify_rejected.labels(provider, code).inc()
    request.app[REFUSALS].refused(
        provider, "notification refused provider=%s code=%s remote=%s", provider, code,
        request.remote,
    )  # fmt: skip


def _ack(endpoint: NotifyEndpoint) -> web.Response:
    status, ctype, body = endpoint.ok
    return web.Response(status=status, body=body or None, content_type=ctype)
