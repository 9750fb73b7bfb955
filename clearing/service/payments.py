"""Payment attempts at acquirers, and capture: the one path money takes into the ledger."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import asyncpg

from clearing.announce import Announce, order_event
from clearing.channels import Channel
from clearing.db import Conn
from clearing.errors import InvalidRequest
from clearing.ports import PaymentNotice, TradeStatus
from clearing.service import audit

log = logging.getLogger(__name__)

# ways of paying whose attempt waits for the citizen until the order expires and is then closed
# (a QR code, a page on the citizen's phone); the others (a payment code, a card sale) are
# reversed when their outcome stays unknown
WAITING_METHODS = frozenset({"qr", "h5", "jsapi"})


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
        "SELECT * FROM tj_capture($1, $2, $3, $4, $5, $6, $7, $8)",
        notice.provider,
        notice.provider_txn_id,
        notice.out_trade_no,
        notice.amount_fen,
        notice.paid_at,
        source,
        request_id,
        dict(notice.details),
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
        details=status.details,
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
    *,
    method: str = "qr",
) -> bool:
    """Close an attempt at its acquirer. Returns False when it turned out to be paid."""
    status, captured = await settle_by_query(pool, acquirer, out_trade_no, announce)
    if captured is not None:
        return False
    if method not in WAITING_METHODS and status.state in ("USERPAYING", "NOTPAY"):
        # a payment code or card sale in progress cannot be closed; undo it instead
        await reverse_attempt(pool, acquirer, attempt_id, out_trade_no, "order settled otherwise")
        return True
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
            "SELECT a.id, a.provider, a.out_trade_no, a.method FROM payment_attempts a"
            " JOIN orders o ON o.id = a.order_id"
            " WHERE o.order_no = $1 AND a.state IN ('CREATING', 'OPEN')",
            order_no,
        )
    all_closed = True
    for r in rows:
        closed = await close_attempt(
            pool,
            acquirer_for(acquirers, r["provider"]),
            r["id"],
            r["out_trade_no"],
            announce,
            method=r["method"],
        )
        all_closed = all_closed and closed
    return all_closed


async def reverse_attempt(
    pool: asyncpg.Pool, acquirer: Channel, attempt_id: int, out_trade_no: str, why: str
) -> None:
    """Undo a payment-code or card attempt whose outcome we stopped waiting for. The attempt is
    marked REVERSED first, so that a payment reported afterwards is never split (it goes to
    suspense and is found already returned)."""
    async with pool.acquire() as conn, conn.transaction():
        order_no = await conn.fetchval(
            "UPDATE payment_attempts a SET state = 'REVERSED', failure = $2, updated_at = now()"
            " FROM orders o WHERE a.id = $1 AND o.id = a.order_id"
            " AND a.state IN ('CREATING', 'OPEN') RETURNING o.order_no",
            attempt_id,
            why,
        )
        if order_no is not None:
            await audit.record(
                conn,
                "system:reversal",
                "attempt.reversed",
                order_no,
                {"provider": acquirer.provider, "out_trade_no": out_trade_no, "why": why},
                object_type="order",
            )
        else:
            state = await conn.fetchval(
                "SELECT state FROM payment_attempts WHERE id = $1", attempt_id
            )
            if state != "REVERSED":
                return  # it succeeded, or was closed, meanwhile
    # asked again on every retry until the acquirer confirms: reversing twice is harmless
    await acquirer.reverse(out_trade_no)
