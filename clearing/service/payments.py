"""Payment attempts at acquirers, and capture: the one path money takes into the ledger."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from clearing.announce import Announce, order_event
from clearing.channels import Channel
from clearing.db import Conn
from clearing.domain.orders import PAYABLE, OrderState, attempt_no
from clearing.errors import Conflict, InvalidRequest, NotFound, UpstreamUnavailable
from clearing.ports import PaymentNotice, TradeStatus
from clearing.service import audit
from clearing.service.orders import notify

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CaptureResult:
    payment_id: int
    outcome: str  # CLEARED or SUSPENSE
    reason: str | None
    order_no: str | None
    order_state: str | None
    first_time: bool
    office: str | None
    window_no: str | None


async def capture(
    conn: Conn,
    notice: PaymentNotice,
    source: str,
    request_id: str | None = None,
    announce: Announce | None = None,
) -> CaptureResult:
    """Record a confirmed payment and split it, in one transaction and one round trip.

    Safe to call any number of times for the same acquirer transaction: the first call decides,
    the others return the same outcome with ``first_time`` false. The order's new state is
    announced to window screens after commit."""
    row = await conn.fetchrow(
        "SELECT * FROM tj_capture($1, $2, $3, $4, $5, $6, $7)",
        notice.provider,
        notice.provider_txn_id,
        notice.out_trade_no,
        notice.amount_fen,
        notice.paid_at,
        source,
        request_id,
    )
    assert row is not None
    result = CaptureResult(**dict(row))
    announce_capture(result, announce)
    return result


def announce_capture(result: CaptureResult, announce: Announce | None) -> None:
    if announce is not None and result.first_time and result.order_no is not None:
        assert result.order_state is not None and result.office is not None
        announce(
            order_event(
                result.order_no,
                result.order_state,
                result.office,
                result.window_no or "",
                outcome=result.outcome,
            )
        )


def notice_from_status(provider: str, status: TradeStatus) -> PaymentNotice:
    assert status.provider_txn_id is not None and status.amount_fen is not None
    assert status.paid_at is not None
    return PaymentNotice(
        provider=provider,
        event_id=f"query:{status.provider_txn_id}",
        out_trade_no=status.out_trade_no,
        provider_txn_id=status.provider_txn_id,
        amount_fen=status.amount_fen,
        paid_at=status.paid_at,
        raw=status.raw,
    )


def acquirer_for(acquirers: Mapping[str, Channel], provider: str) -> Channel:
    try:
        return acquirers[provider]
    except KeyError:
        raise InvalidRequest(
            "CHANNEL_UNAVAILABLE",
            f"payment channel {provider!r} is not configured",
            "该支付渠道未开通",
        ) from None


async def start_qr(
    pool: asyncpg.Pool,
    acquirers: Mapping[str, Channel],
    *,
    order_no: str,
    provider: str,
    actor: str,
    now: datetime,
    poll_after: timedelta,
    request_id: str | None = None,
) -> dict[str, object]:
    """Open (or reuse) a QR attempt for an order and return its code URL."""
    acquirer = acquirer_for(acquirers, provider)
    async with pool.acquire() as conn, conn.transaction():
        o = await conn.fetchrow(
            "SELECT id, state, total_fen, expires_at, case_no FROM orders WHERE order_no = $1"
            " FOR UPDATE",
            order_no,
        )
        if o is None:
            raise NotFound("ORDER_NOT_FOUND", f"no order {order_no}", "缴费单不存在")
        if OrderState(o["state"]) not in PAYABLE or o["expires_at"] <= now:
            raise Conflict(
                "ORDER_NOT_PAYABLE",
                f"order {order_no} is {o['state']}",
                "缴费单当前不能缴费",
                state=o["state"],
            )
        live = await conn.fetchrow(
            "SELECT out_trade_no, code_url, expires_at FROM payment_attempts"
            " WHERE order_id = $1 AND provider = $2 AND state = 'OPEN' ORDER BY id DESC LIMIT 1",
            o["id"],
            provider,
        )
        if live is not None:
            return {
                "provider": provider,
                "out_trade_no": live["out_trade_no"],
                "code_url": live["code_url"],
                "expires_at": live["expires_at"].isoformat(),
            }
        seq = await conn.fetchval(
            "SELECT count(*) + 1 FROM payment_attempts WHERE order_id = $1", o["id"]
        )
        out_trade_no = attempt_no(order_no, int(seq))
        attempt_id = await conn.fetchval(
            "INSERT INTO payment_attempts (order_id, provider, out_trade_no, expires_at)"
            " VALUES ($1, $2, $3, $4) RETURNING id",
            o["id"],
            provider,
            out_trade_no,
            o["expires_at"],
        )
        # the poller is queued with the attempt, so that a lost callback, or a crash right after
        # the acquirer accepted the attempt, is found by asking
        await conn.execute(
            "INSERT INTO tasks (kind, payload, dedupe_key, run_at) VALUES ('attempt.poll',"
            " jsonb_build_object('attempt_id', $1::bigint), 'attempt.poll:' || $1, $2)",
            attempt_id,
            now + poll_after,
        )
        expires_at = o["expires_at"]
        total_fen = int(o["total_fen"])
        case_no = o["case_no"]
    try:
        code_url = await acquirer.create_qr(
            out_trade_no=out_trade_no,
            description=f"不动产登记税费 {case_no}"[:120],
            total_fen=total_fen,
            expires_at=expires_at,
            attach=order_no,
        )
    except Exception as exc:
        log.warning(
            "prepay failed provider=%s out_trade_no=%s error=%r", provider, out_trade_no, exc
        )
        async with pool.acquire() as conn:
            await conn.execute(
                "UPDATE payment_attempts SET state = 'FAILED', failure = $2, updated_at = now()"
                " WHERE id = $1 AND state = 'CREATING'",
                attempt_id,
                type(exc).__name__,
            )
        raise UpstreamUnavailable(
            "CHANNEL_ERROR",
            f"{provider} did not accept the payment: {type(exc).__name__}",
            "支付渠道暂时无法下单，请稍后重试或改用其他方式",
            provider=provider,
        ) from exc
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "UPDATE payment_attempts SET state = 'OPEN', code_url = $2, updated_at = now()"
            " WHERE id = $1 AND state = 'CREATING'",
            attempt_id,
            code_url,
        )
        moved = await conn.fetchrow(
            "UPDATE orders SET state = 'PAYING', updated_at = now()"
            " WHERE order_no = $1 AND state = 'OPEN' RETURNING office, window_no",
            order_no,
        )
        await audit.record(
            conn,
            actor=actor,
            action="attempt.opened",
            object_type="order",
            object_id=order_no,
            detail={"provider": provider, "out_trade_no": out_trade_no},
            request_id=request_id,
        )
        if moved is not None:
            await notify(conn, order_no, "PAYING", moved["office"], moved["window_no"])
    return {
        "provider": provider,
        "out_trade_no": out_trade_no,
        "code_url": code_url,
        "expires_at": expires_at.isoformat(),
    }


async def settle_by_query(
    pool: asyncpg.Pool, acquirer: Channel, out_trade_no: str, announce: Announce | None = None
) -> tuple[TradeStatus, CaptureResult | None]:
    """Ask the acquirer; if the attempt was paid, capture it (a lost callback is found here)."""
    status = await acquirer.query(out_trade_no)
    if not status.paid:
        return status, None
    async with pool.acquire() as conn:
        result = await capture(
            conn, notice_from_status(acquirer.provider, status), "query", announce=announce
        )
    return status, result


async def close_attempt(
    pool: asyncpg.Pool,
    acquirer: Channel,
    attempt_id: int,
    out_trade_no: str,
    announce: Announce | None = None,
) -> bool:
    """Close an attempt at its acquirer. Returns False when it turned out to be paid."""
    status, captured = await settle_by_query(pool, acquirer, out_trade_no, announce)
    if captured is not None:
        return False
    if status.state not in ("CLOSED", "NOT_FOUND", "REVOKED", "PAYERROR"):
        await acquirer.close(out_trade_no)
        # a payment can land between the query and the close: ask once more
        status, captured = await settle_by_query(pool, acquirer, out_trade_no, announce)
        if captured is not None:
            return False
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE payment_attempts SET state = 'CLOSED', updated_at = now()"
            " WHERE id = $1 AND state IN ('CREATING', 'OPEN')",
            attempt_id,
        )
    return True


async def close_open_attempts(
    pool: asyncpg.Pool,
    acquirers: Mapping[str, Channel],
    order_no: str,
    announce: Announce | None = None,
) -> bool:
    """Close every open attempt of an order. False if one of them was paid meanwhile."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT a.id, a.provider, a.out_trade_no FROM payment_attempts a"
            " JOIN orders o ON o.id = a.order_id"
            " WHERE o.order_no = $1 AND a.state IN ('CREATING', 'OPEN')",
            order_no,
        )
    all_closed = True
    for r in rows:
        closed = await close_attempt(
            pool, acquirer_for(acquirers, r["provider"]), r["id"], r["out_trade_no"], announce
        )
        all_closed = all_closed and closed
    return all_closed
