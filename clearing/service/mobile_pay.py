"""Starting a payment on the citizen's own phone (不见面缴费), from the link on a payment notice:
in the phone's browser (``h5``: a page at the channel) or inside WeChat (``jsapi``: the bridge's
signed parameters).

The same rules as at the window (``attempts``): the attempt row and its poller are committed
before the channel is called, an order is payable only while OPEN or PAYING and unexpired, and a
second success is refunded by capture's usual machinery. Nobody on the staff starts these
attempts (``started_by`` stays NULL): a shift counts the payment as received by the clerk who
issued the order (``shifts``' fallback); the audit names the payer.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

import asyncpg

from clearing.channels import Channel
from clearing.domain.display import PAYER_ACTOR
from clearing.errors import TooManyRequests
from clearing.service.attempts import (
    Attempt,
    _capable,
    _mark_open,
    _open,
    _prepay_failed,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

# a link is a bearer of the right to start payments: a few a minute is a person, more is a script
MAX_PER_MINUTE = 6


async def _opened(
    pool: asyncpg.Pool,
    *,
    order_no: str,
    provider: str,
    method: str,
    now: datetime,
    poll: timedelta,
) -> Attempt:
    async with pool.acquire() as conn:
        recent = await conn.fetchval(
            "SELECT count(*) FROM payment_attempts a JOIN orders o ON o.id = a.order_id"
            " WHERE o.order_no = $1 AND a.method IN ('h5', 'jsapi') AND a.created_at > $2",
            order_no,
            now - timedelta(minutes=1),
        )
    if recent >= MAX_PER_MINUTE:
        raise TooManyRequests(
            "PAY_ATTEMPTS_TOO_FREQUENT",
            f"more than {MAX_PER_MINUTE} payments started from this link in a minute",
            "操作过于频繁，请稍后再试",
        )
    a = await _open(
        pool, order_no=order_no, provider=provider, method=method, now=now, poll_after=poll
    )
    assert isinstance(a, Attempt)  # only QR attempts are reused
    return a


async def _started(
    pool: asyncpg.Pool,
    channels: Mapping[str, Channel],
    method: str,
    prepay: Callable[[Channel, Attempt], Awaitable[T]],
    *,
    order_no: str,
    provider: str,
    now: datetime,
    poll_after: timedelta,
    request_id: str | None,
) -> tuple[Attempt, T]:
    """Open an attempt, then the channel's side of it with ``prepay``; a refusal fails the
    attempt, an answer marks it open for the payer."""
    channel = _capable(channels, provider, method)
    a = await _opened(
        pool, order_no=order_no, provider=provider, method=method, now=now, poll=poll_after
    )
    try:
        answer = await prepay(channel, a)
    except Exception as exc:
        raise await _prepay_failed(pool, a, exc, "mobile prepay") from exc
    await _mark_open(pool, a, actor=PAYER_ACTOR, request_id=request_id, code_url=None)
    return a, answer


async def start_h5(
    pool: asyncpg.Pool,
    channels: Mapping[str, Channel],
    *,
    order_no: str,
    provider: str,
    payer_ip: str,
    return_url: str,
    now: datetime,
    poll_after: timedelta,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Open an attempt and the channel's page for the phone's browser; ``page`` says where the
    browser goes (GET, or a form POST with ``fields``)."""
    a, page = await _started(
        pool,
        channels,
        "h5",
        lambda channel, a: channel.open_mobile_page(
            a.trade(), return_url=return_url, payer_ip=payer_ip
        ),
        order_no=order_no,
        provider=provider,
        now=now,
        poll_after=poll_after,
        request_id=request_id,
    )
    return a.view(
        "OPEN", page={"url": page.url, "method": page.method, "fields": dict(page.fields)}
    )


async def start_jsapi(
    pool: asyncpg.Pool,
    channels: Mapping[str, Channel],
    *,
    order_no: str,
    provider: str,
    openid: str,
    now: datetime,
    poll_after: timedelta,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Open an attempt inside the channel's app; ``bridge`` holds the signed parameters the
    page hands to ``WeixinJSBridge.invoke('getBrandWCPayRequest', …)``."""
    a, bridge = await _started(
        pool,
        channels,
        "jsapi",
        lambda channel, a: channel.create_jsapi(a.trade(), openid=openid),
        order_no=order_no,
        provider=provider,
        now=now,
        poll_after=poll_after,
        request_id=request_id,
    )
    return a.view("OPEN", bridge=bridge)
