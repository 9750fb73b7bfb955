"""What each kind of task does. Every handler is idempotent: a task may run more than once."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from clearing.announce import Announce
from clearing.channels import Channel
from clearing.domain.orders import PAYABLE, OrderState
from clearing.metrics import Metrics
from clearing.ports import RefundAsk, RefundOutcome
from clearing.service import audit, refunds
from clearing.service.attempts import fail_attempt
from clearing.service.orders import notify
from clearing.service.payments import (
    WAITING_METHODS,
    acquirer_for,
    close_attempt,
    close_open_attempts,
    reverse_attempt,
    settle_by_query,
)
from clearing.workers.runner import Handler, PermanentFailure, Reschedule

log = logging.getLogger(__name__)


class _AlreadyPosted(Exception):
    """Another worker posted this refund first; this transaction's entry is abandoned."""


@dataclass
class Handlers:
    pool: asyncpg.Pool
    acquirers: Mapping[str, Channel]
    metrics: Metrics
    announce: Announce | None = None
    poll_first: timedelta = timedelta(seconds=5)
    poll_later: timedelta = timedelta(seconds=30)
    # payment codes and card sales: the citizen is at the window, so ask often
    poll_code: timedelta = timedelta(seconds=2)

    def table(self) -> dict[str, Handler]:
        return {
            "attempt.poll": self.poll_attempt,
            "attempt.close": self.close_attempt,
            "order.expire": self.expire_order,
            "payment.refund": self.refund_payment,
            "refund.execute": self.execute_refund,
        }

    async def _attempt(self, attempt_id: int) -> asyncpg.Record | None:
        async with self.pool.acquire() as conn:
            return await conn.fetchrow(
                "SELECT a.id, a.provider, a.out_trade_no, a.state, a.created_at, a.expires_at,"
                " a.method, a.reverse_after FROM payment_attempts a WHERE a.id = $1",
                attempt_id,
            )

    async def poll_attempt(self, payload: dict[str, Any]) -> Reschedule | None:
        """Ask the acquirer about an open attempt until it is paid, closed or expired."""
        a = await self._attempt(int(payload["attempt_id"]))
        if a is None or a["state"] not in ("CREATING", "OPEN"):
            return None
        acquirer = acquirer_for(self.acquirers, a["provider"])
        now = datetime.now(UTC)
        overdue = a["reverse_after"] is not None and now > a["reverse_after"]
        try:
            status, captured = await settle_by_query(
                self.pool, acquirer, a["out_trade_no"], self.announce
            )
        except Exception:
            # asked again after the failed (perhaps slow) question: is it too late now?
            overdue = a["reverse_after"] is not None and datetime.now(UTC) > a["reverse_after"]
            if not overdue:
                raise
            # we cannot even learn the outcome, and the citizen is waiting: undo it
            await reverse_attempt(self.pool, acquirer, a["id"], a["out_trade_no"], "no answer")
            return None
        if captured is not None and captured.first_time:
            self.metrics.payments.labels(a["provider"], captured.outcome, "query").inc()
            self.metrics.payment_amount.labels(a["provider"], captured.outcome).inc(
                status.amount_fen or 0
            )
            log.info(
                "payment found by query provider=%s order=%s outcome=%s",
                a["provider"],
                captured.order_no,
                captured.outcome,
            )
        if captured is None and status.state == "PAYERROR":
            # over for good (a declined card): the window must not wait for it; the
            # notification usually said so first, this catches a lost one
            await fail_attempt(
                self.pool,
                provider=a["provider"],
                out_trade_no=a["out_trade_no"],
                code=status.decline_code or status.state,
                reason_zh=status.decline_zh or "支付渠道报告付款失败",
                actor=f"acquirer:{a['provider']}",  # its answer, found by asking
            )
            return None
        if captured is not None or status.state in ("CLOSED", "REVOKED"):
            return None
        if a["method"] not in WAITING_METHODS:
            if overdue:
                await reverse_attempt(
                    self.pool, acquirer, a["id"], a["out_trade_no"], f"still {status.state}"
                )
                return None
            return Reschedule(self.poll_code)
        if now > a["expires_at"] + timedelta(minutes=10):
            # the expiry task closes it; polling longer would only repeat its work
            return None
        young = now - a["created_at"] < timedelta(minutes=1)
        return Reschedule(self.poll_first if young else self.poll_later)

    async def close_attempt(self, payload: dict[str, Any]) -> None:
        a = await self._attempt(int(payload["attempt_id"]))
        if a is None or a["state"] not in ("CREATING", "OPEN"):
            return
        await close_attempt(
            self.pool,
            acquirer_for(self.acquirers, a["provider"]),
            a["id"],
            a["out_trade_no"],
            self.announce,
            method=a["method"],
        )

    async def expire_order(self, payload: dict[str, Any]) -> Reschedule | None:
        """Close the order's attempts at their acquirers first; only then is it EXPIRED."""
        order_no = str(payload["order_no"])
        async with self.pool.acquire() as conn:
            o = await conn.fetchrow(
                "SELECT state, expires_at FROM orders WHERE order_no = $1", order_no
            )
        if o is None or OrderState(o["state"]) not in PAYABLE:
            return None
        wait = o["expires_at"] - datetime.now(UTC)
        if wait > timedelta(0):
            return Reschedule(wait)
        if not await close_open_attempts(self.pool, self.acquirers, order_no, self.announce):
            return None  # it was paid at the last moment: capture has cleared it
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "UPDATE orders SET state = 'EXPIRED', updated_at = now() WHERE order_no = $1"
                " AND state IN ('OPEN', 'PAYING') AND NOT EXISTS (SELECT 1 FROM payment_attempts"
                " a WHERE a.order_id = orders.id AND a.state IN ('CREATING', 'OPEN'))"
                " RETURNING office, window_no",
                order_no,
            )
            if row is None:
                return None
            await audit.record(conn, "system:expiry", "order.expired", order_no)
            await notify(conn, order_no, "EXPIRED", row["office"], row["window_no"])
        return None

    async def execute_refund(self, payload: dict[str, Any]) -> Reschedule | None:
        """An approved refund: ask the channel (once per refund number), follow it to the end."""
        refund_id = int(payload["refund_id"])
        async with self.pool.acquire() as conn:
            r = await refunds.execution_facts(conn, refund_id)
        if r is None:
            return None
        channel = acquirer_for(self.acquirers, r["provider"])
        if r["state"] == "APPROVED":
            outcome = await channel.refund(
                RefundAsk(
                    r["out_trade_no"],
                    r["out_refund_no"],
                    r["amount_fen"],
                    r["paid_fen"],
                    "窗口退款",
                )
            )
        else:
            outcome = await channel.query_refund(
                out_trade_no=r["out_trade_no"], out_refund_no=r["out_refund_no"]
            )
        async with self.pool.acquire() as conn:
            if outcome.state == "SUCCESS":
                await refunds.record_success(conn, refund_id, outcome.provider_refund_id)
                return None
            if outcome.state == "CLOSED":
                await refunds.record_failure(conn, refund_id, "closed by the channel")
                log.error("refund %s closed by %s", refund_id, r["provider"])
                return None
            state = "ABNORMAL" if outcome.state == "ABNORMAL" else "PROCESSING"
            await refunds.record_progress(conn, refund_id, state, outcome.provider_refund_id)
        # ABNORMAL (the card was closed, say) needs people at the channel: ask less often
        return Reschedule(timedelta(minutes=10) if state == "ABNORMAL" else timedelta(seconds=15))

    async def refund_payment(self, payload: dict[str, Any]) -> Reschedule | None:
        """Give back money that could not be split; post the reversal once it succeeded."""
        payment_id = int(payload["payment_id"])
        async with self.pool.acquire() as conn:
            p = await conn.fetchrow(
                "SELECT id, provider, out_trade_no, amount_fen, outcome, reason"
                " FROM payments WHERE id = $1",
                payment_id,
            )
            if p is None or p["outcome"] != "SUSPENSE":
                raise PermanentFailure(f"payment {payment_id} is not in suspense")
            out_refund_no = f"RF{payment_id:012d}"
            await conn.execute(
                "INSERT INTO refunds (payment_id, out_refund_no, amount_fen, reason)"
                " VALUES ($1, $2, $3, $4) ON CONFLICT (out_refund_no) DO NOTHING",
                payment_id,
                out_refund_no,
                p["amount_fen"],
                p["reason"],
            )
            state = await conn.fetchval(
                "SELECT state FROM refunds WHERE out_refund_no = $1", out_refund_no
            )
        if state == "SUCCESS":
            return None
        acquirer = acquirer_for(self.acquirers, p["provider"])
        if p["reason"] == "ATTEMPT_REVERSED":
            # our reversal returns this money; wait until the acquirer shows it returned
            trade = await acquirer.query(p["out_trade_no"])
            if trade.state not in ("REVOKED", "CLOSED", "REFUND"):
                return Reschedule(timedelta(seconds=30))
            outcome = RefundOutcome(out_refund_no, "SUCCESS", provider_refund_id="REVERSAL")
        elif state in ("PROCESSING", "ABNORMAL"):
            outcome = await acquirer.query_refund(
                out_trade_no=p["out_trade_no"], out_refund_no=out_refund_no
            )
        else:
            fen = p["amount_fen"]
            reason = "款项无法对应缴费单，原路退回"
            outcome = await acquirer.refund(
                RefundAsk(p["out_trade_no"], out_refund_no, fen, fen, reason)
            )
        try:
            return await self._record_refund(payment_id, p, out_refund_no, outcome)
        except _AlreadyPosted:
            return None

    async def _record_refund(
        self, payment_id: int, p: asyncpg.Record, out_refund_no: str, outcome: RefundOutcome
    ) -> Reschedule | None:
        async with self.pool.acquire() as conn, conn.transaction():
            if outcome.state != "SUCCESS":
                await conn.execute(
                    "UPDATE refunds SET state = $2, provider_refund_id = $3, updated_at = now()"
                    " WHERE out_refund_no = $1 AND state <> 'SUCCESS'",
                    out_refund_no,
                    outcome.state
                    if outcome.state in ("PROCESSING", "CLOSED", "ABNORMAL")
                    else "PROCESSING",
                    outcome.provider_refund_id,
                )
                if outcome.state == "CLOSED":
                    raise PermanentFailure(f"refund {out_refund_no} closed by the acquirer")
                return Reschedule(timedelta(seconds=30))
            entry_id = await conn.fetchval(
                "INSERT INTO journal_entries (kind, order_id, memo) SELECT 'REFUND', order_id, $2"
                " FROM payments WHERE id = $1 RETURNING id",
                payment_id,
                f"refund {out_refund_no}",
            )
            await conn.execute(
                "INSERT INTO postings (entry_id, account_id, amount_fen, order_id)"
                " SELECT $1, a.id,"
                "        CASE a.code WHEN 'suspense' THEN $2::bigint ELSE -$2::bigint END,"
                "        (SELECT order_id FROM payments WHERE id = $3)"
                "   FROM ledger_accounts a WHERE a.code IN ('suspense', 'receivable:' || $4)",
                entry_id,
                p["amount_fen"],
                payment_id,
                p["provider"],
            )
            updated = await conn.fetchval(
                "UPDATE refunds SET state = 'SUCCESS', entry_id = $2, provider_refund_id = $3,"
                " updated_at = now() WHERE out_refund_no = $1 AND state <> 'SUCCESS' RETURNING 1",
                out_refund_no,
                entry_id,
                outcome.provider_refund_id,
            )
            if not updated:
                # another worker posted it first; abandon this transaction's entry
                raise _AlreadyPosted(out_refund_no)
            await audit.record(
                conn,
                "system:refund",
                "payment.refunded",
                payment_id,
                {"out_refund_no": out_refund_no, "amount_fen": p["amount_fen"]},
            )
        return None
