"""Starting a payment at a channel: a QR code the citizen scans, the citizen's payment code the
clerk scans, or a sale sent to the card terminal at the window.

Every attempt row is committed, with its poller, before the channel is called: a crash after the
channel accepted it leaves something to ask about. Payment codes and card sales whose outcome
stays unknown past ``reverse_after`` are reversed, so nobody is charged for an order we consider
unpaid.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from clearing.announce import CHANNEL, Announce, order_event
from clearing.channels import Channel
from clearing.domain.codes import channel_of, mask_code
from clearing.domain.orders import PAYABLE, OrderState, attempt_no
from clearing.errors import Conflict, InvalidRequest, UpstreamUnavailable
from clearing.ports import ChannelRefused, CodeAsk, PaymentAsk
from clearing.service import audit
from clearing.service.orders import no_order, notify
from clearing.service.payments import acquirer_for, capture, notice_from_status

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attempt:
    id: int
    out_trade_no: str
    order_no: str
    provider: str
    method: str
    total_fen: int
    expires_at: datetime
    case_no: str

    @property
    def description(self) -> str:
        return f"不动产登记税费 {self.case_no}"[:120]

    def trade(self) -> PaymentAsk:
        """What every way of opening a payment tells the channel about the trade; the order
        number rides along as ``attach`` and comes back in the notification."""
        return PaymentAsk(
            self.out_trade_no, self.description, self.total_fen, self.expires_at, self.order_no
        )

    def view(self, state: str, **extra: Any) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "method": self.method,
            "out_trade_no": self.out_trade_no,
            "state": state,
            "expires_at": self.expires_at.isoformat(),
            **extra,
        }


async def _open(
    pool: asyncpg.Pool,
    *,
    order_no: str,
    provider: str,
    method: str,
    now: datetime,
    poll_after: timedelta,
    terminal_id: str | None = None,
    auth_code_masked: str | None = None,
    reverse_after: datetime | None = None,
    actor: str | None = None,
) -> Attempt | dict[str, Any]:
    """Insert the attempt and its poller; for QR, an open one of the same channel is reused.
    ``actor`` started it: the payment it brings counts in that person's shift (日结)."""
    async with pool.acquire() as conn, conn.transaction():
        o = await conn.fetchrow(
            "SELECT id, state, total_fen, expires_at, case_no FROM orders WHERE order_no = $1"
            " FOR UPDATE",
            order_no,
        )
        if o is None:
            raise no_order(order_no)
        if OrderState(o["state"]) not in PAYABLE or o["expires_at"] <= now:
            raise Conflict(
                "ORDER_NOT_PAYABLE",
                f"order {order_no} is {o['state']}",
                "缴费单当前不能缴费",
                state=o["state"],
            )
        if method == "qr":
            live = await conn.fetchrow(
                "SELECT out_trade_no, code_url, expires_at FROM payment_attempts"
                " WHERE order_id = $1 AND provider = $2 AND method = 'qr' AND state = 'OPEN'"
                " ORDER BY id DESC LIMIT 1",
                o["id"],
                provider,
            )
            if live is not None:
                return {
                    "provider": provider,
                    "method": "qr",
                    "out_trade_no": live["out_trade_no"],
                    "state": "OPEN",
                    "code_url": live["code_url"],
                    "expires_at": live["expires_at"].isoformat(),
                }
        seq = await conn.fetchval(
            "SELECT count(*) + 1 FROM payment_attempts WHERE order_id = $1", o["id"]
        )
        out_trade_no = attempt_no(order_no, int(seq))
        attempt_id = await conn.fetchval(
            "INSERT INTO payment_attempts (order_id, provider, out_trade_no, expires_at, method,"
            " terminal_id, auth_code_masked, reverse_after, started_by)"
            " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) RETURNING id",
            o["id"],
            provider,
            out_trade_no,
            o["expires_at"],
            method,
            terminal_id,
            auth_code_masked,
            reverse_after,
            actor,
        )
        # queued with the attempt: a lost callback, or a crash right after the channel accepted
        # the attempt, is found by asking
        await conn.execute(
            "INSERT INTO tasks (kind, payload, dedupe_key, run_at) VALUES ('attempt.poll',"
            " jsonb_build_object('attempt_id', $1::bigint), 'attempt.poll:' || $1, $2)",
            attempt_id,
            now + poll_after,
        )
    return Attempt(
        attempt_id, out_trade_no, order_no, provider, method, int(o["total_fen"]),
        o["expires_at"], o["case_no"],
    )  # fmt: skip


async def _mark_open(
    pool: asyncpg.Pool, a: Attempt, *, actor: str, request_id: str | None, code_url: str | None
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        # the order first, then the attempt: the order in which capture takes the same locks
        moved = await conn.fetchrow(
            "UPDATE orders SET state = 'PAYING', updated_at = now()"
            " WHERE order_no = $1 AND state = 'OPEN' RETURNING office, window_no",
            a.order_no,
        )
        await conn.execute(
            "UPDATE payment_attempts SET state = 'OPEN', code_url = $2, updated_at = now()"
            " WHERE id = $1 AND state = 'CREATING'",
            a.id,
            code_url,
        )
        await audit.record(
            conn,
            actor,
            "attempt.opened",
            a.order_no,
            {"provider": a.provider, "method": a.method, "out_trade_no": a.out_trade_no},
            object_type="order",
            request_id=request_id,
        )
        if moved is not None:
            await notify(conn, a.order_no, "PAYING", moved["office"], moved["window_no"])


async def _prepay_failed(
    pool: asyncpg.Pool, a: Attempt, exc: Exception, what: str = "prepay"
) -> Exception:
    """The channel refused or did not answer the opening of ``a`` (a QR, a phone page, a JSAPI
    bridge): logged as ``what``, the attempt marked failed; the error to raise."""
    log.warning("%s failed provider=%s out_trade_no=%s: %r", what, a.provider, a.out_trade_no, exc)
    await _mark_failed(pool, a, type(exc).__name__)
    return _refused(a, exc) if isinstance(exc, ChannelRefused) else _unavailable(a, exc)


async def _mark_failed(pool: asyncpg.Pool, a: Attempt, why: str) -> None:
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE payment_attempts SET state = 'FAILED', failure = $2, updated_at = now()"
            " WHERE id = $1 AND state IN ('CREATING', 'OPEN')",
            a.id,
            why[:200],
        )


async def fail_attempt(
    pool: asyncpg.Pool,
    *,
    provider: str,
    out_trade_no: str,
    code: str,
    reason_zh: str,
    actor: str,
) -> bool:
    """The channel says an open attempt failed for good (a card declined at the terminal): the
    attempt is FAILED with the channel's reason, and the window waiting for it hears why at once
    (``attempt_failed`` on the order events, sent at commit), so that the clerk can try again or
    take another way of paying. False when the attempt was no longer open."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "UPDATE payment_attempts a SET state = 'FAILED', failure = $3, failure_zh = $4,"
            " updated_at = now() FROM orders o"
            " WHERE a.out_trade_no = $1 AND a.provider = $2 AND o.id = a.order_id"
            " AND a.state IN ('CREATING', 'OPEN')"
            " RETURNING o.order_no, o.state, o.office, o.window_no, a.method",
            out_trade_no,
            provider,
            code[:200],
            reason_zh[:200],
        )
        if row is None:
            return False
        await audit.record(
            conn,
            actor,
            "attempt.failed",
            row["order_no"],
            {
                "provider": provider,
                "out_trade_no": out_trade_no,
                "code": code,
                "reason_zh": reason_zh,
            },
            object_type="order",
        )
        event = order_event(
            row["order_no"],
            row["state"],
            row["office"],
            row["window_no"],
            type="attempt_failed",
            out_trade_no=out_trade_no,
            method=row["method"],
            reason_zh=reason_zh,
        )
        await conn.execute(
            "SELECT pg_notify($1, $2)", CHANNEL, json.dumps(event, ensure_ascii=False)
        )
    log.info("attempt failed provider=%s out_trade_no=%s code=%s", provider, out_trade_no, code)
    return True


def _refused(a: Attempt, exc: ChannelRefused) -> InvalidRequest:
    return InvalidRequest(
        "PAYMENT_DECLINED",
        f"{a.provider} declined the payment: {exc.code}",
        f"支付渠道拒绝了本次付款（{exc.code}），请缴款人换一种方式或稍后重试",
        provider=a.provider,
        channel_code=exc.code,
    )


def _unavailable(a: Attempt, exc: Exception) -> UpstreamUnavailable:
    return UpstreamUnavailable(
        "CHANNEL_ERROR",
        f"{a.provider} did not accept the payment: {type(exc).__name__}",
        "支付渠道暂时无法下单，请稍后重试或改用其他方式",
        provider=a.provider,
    )


@dataclass(frozen=True, slots=True)
class Start:
    """What every way of starting a payment at the window or the kiosk shares: the order, who
    starts it and when, how soon its poller first asks, the request it came with."""

    pool: asyncpg.Pool
    channels: Mapping[str, Channel]
    order_no: str
    actor: str
    now: datetime
    poll_after: timedelta
    request_id: str | None = None

    async def open(self, provider: str, method: str, **extra: Any) -> Attempt | dict[str, Any]:
        """The attempt row and its poller (``_open``), started by ``actor``."""
        return await _open(
            self.pool, order_no=self.order_no, provider=provider, method=method, now=self.now,
            poll_after=self.poll_after, actor=self.actor, **extra,
        )  # fmt: skip

    async def mark_open(self, a: Attempt, code_url: str | None = None) -> None:
        await _mark_open(
            self.pool, a, actor=self.actor, request_id=self.request_id, code_url=code_url
        )


async def start_qr(s: Start, provider: str) -> dict[str, Any]:
    """Open (or reuse) a QR attempt for an order and return its code URL."""
    channel = _capable(s.channels, provider, "qr")
    a = await s.open(provider, "qr")
    if isinstance(a, dict):
        return a
    try:
        code_url = await channel.create_qr(a.trade())
    except Exception as exc:
        raise await _prepay_failed(s.pool, a, exc) from exc
    await s.mark_open(a, code_url)
    return a.view("OPEN", code_url=code_url)


async def pay_by_code(
    s: Start, auth_code: str, *, wait_limit: timedelta, announce: Announce | None = None
) -> dict[str, Any]:
    """Charge the citizen's payment code; the channel is chosen by the code's prefix."""
    provider = channel_of(auth_code)
    channel = _capable(s.channels, provider, "code")
    a = await s.open(
        provider, "code", auth_code_masked=mask_code(auth_code), reverse_after=s.now + wait_limit
    )
    assert isinstance(a, Attempt)
    try:
        ask = CodeAsk(a.out_trade_no, auth_code.strip(), a.description, a.total_fen, s.order_no)
        status = await channel.pay_by_code(ask)
    except ChannelRefused as exc:
        await _mark_failed(s.pool, a, exc.code)
        raise _refused(a, exc) from exc
    except Exception as exc:
        log.warning("pay_by_code outcome unknown out_trade_no=%s: %r", a.out_trade_no, exc)
        await s.mark_open(a)
        return a.view("OPEN", message_zh="付款结果确认中，请稍候")
    if status.paid:
        # capture moves the attempt and the order itself (the channel may notify meanwhile)
        async with s.pool.acquire() as conn:
            result = await capture(
                conn, notice_from_status(provider, status), "sync", s.request_id, announce
            )
        return a.view(
            "SUCCEEDED" if result.outcome == "CLEARED" else "SUSPENSE",
            order_state=result.order_state,
        )
    if status.state in ("USERPAYING", "NOTPAY"):
        await s.mark_open(a)
        return a.view("OPEN", message_zh="等待缴款人在手机上确认付款")
    await _mark_failed(s.pool, a, status.state)
    raise InvalidRequest(
        "PAYMENT_FAILED",
        f"{provider} reports the payment as {status.state}",
        "付款未成功，请缴款人换一种方式或稍后重试",
        provider=provider,
        channel_state=status.state,
    )


async def start_card(
    s: Start, provider: str, terminal_id: str, *, wait_limit: timedelta
) -> dict[str, Any]:
    """Send the sale to the terminal at the window; the card is presented there."""
    channel = _capable(s.channels, provider, "card")
    a = await s.open(provider, "card", terminal_id=terminal_id, reverse_after=s.now + wait_limit)
    assert isinstance(a, Attempt)
    try:
        await channel.start_sale(
            out_trade_no=a.out_trade_no,
            terminal_id=terminal_id,
            total_fen=a.total_fen,
            description=a.description,
        )
    except ChannelRefused as exc:
        await _mark_failed(s.pool, a, exc.code)
        raise _refused(a, exc) from exc
    except Exception as exc:
        # the terminal may or may not have the sale: the poller asks, and reverses if needed
        log.warning("start_sale outcome unknown out_trade_no=%s: %r", a.out_trade_no, exc)
        await s.mark_open(a)
        raise _unavailable(a, exc) from exc
    await s.mark_open(a)
    return a.view(
        "OPEN", terminal_id=terminal_id, message_zh="请缴款人在终端上刷卡或插卡并输入密码"
    )


def _capable(channels: Mapping[str, Channel], provider: str, method: str) -> Channel:
    channel = acquirer_for(channels, provider)
    if not channel.supports(method):
        raise InvalidRequest(
            "CHANNEL_METHOD_UNSUPPORTED",
            f"{provider} does not support paying by {method}",
            "该支付渠道不支持这种付款方式",
        )
    return channel
