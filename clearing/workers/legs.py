"""Confirming each paid leg to its authority, and settling the order when all are confirmed.

A leg's authority follows from its fee item's kind: taxes go to the tax bureau, non-tax fees
(land-transfer fee, registration fee) to the fiscal non-tax system, the maintenance fund to the
fund office. Confirmation is idempotent at the authority (by the leg's reference), so a retry after
a lost answer gets the same proof back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from clearing.announce import Announce, order_event
from clearing.ports import Authority, AuthorityRefused, LegPaid
from clearing.service import audit
from clearing.workers.runner import PermanentFailure

log = logging.getLogger(__name__)

AUTHORITY_OF_KIND = {"tax": "tax", "nontax": "fiscal", "fund": "fund"}
LEGS_AT_ONCE = 3

_LEG = """
SELECT l.order_id, l.line_no, l.reference, l.amount_fen, l.confirm_state, f.kind,
       o.order_no, p.provider, p.provider_txn_id, p.paid_at
  FROM order_lines l JOIN fee_items f ON f.code = l.item_code
  JOIN orders o ON o.id = l.order_id JOIN payments p ON p.id = $3
 WHERE l.order_id = $1 AND l.line_no = $2
"""


@dataclass
class LegConfirmer:
    pool: asyncpg.Pool
    authorities: Mapping[str, Authority]
    announce: Announce | None = None

    async def __call__(self, payload: dict[str, Any]) -> None:
        order_id, payment_id = int(payload["order_id"]), int(payload["payment_id"])
        if "line_no" in payload:  # one task per leg, as queued before migration 0028
            await self._confirm(order_id, int(payload["line_no"]), payment_id)
            return
        # One task per order (migration 0028: one row on the capture path instead of one per
        # leg). Its legs go to their authorities concurrently, as separate tasks did; a leg that
        # failed for now makes the task retry, and the retry finds only the legs still PENDING.
        async with self.pool.acquire() as conn:
            lines = await conn.fetch(
                "SELECT line_no FROM order_lines WHERE order_id = $1"
                " AND confirm_state = 'PENDING' ORDER BY line_no",
                order_id,
            )
        # a few at a time: an order has up to 20 lines, and each leg holds a pooled connection
        # while it waits its turn on the order row
        turns = asyncio.Semaphore(LEGS_AT_ONCE)

        async def one(line_no: int) -> None:
            async with turns:
                await self._confirm(order_id, line_no, payment_id)

        results = await asyncio.gather(*(one(r["line_no"]) for r in lines), return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        again = [f for f in failed if not isinstance(f, PermanentFailure)]
        if again or failed:
            raise (again or failed)[0]

    async def _confirm(self, order_id: int, line_no: int, payment_id: int) -> None:
        async with self.pool.acquire() as conn:
            leg = await conn.fetchrow(_LEG, order_id, line_no, payment_id)
        if leg is None or leg["confirm_state"] != "PENDING":
            return
        name = AUTHORITY_OF_KIND[leg["kind"]]
        authority = self.authorities.get(name)
        if authority is None:
            # retried with backoff: the leg waits, visibly, until the authority is configured
            raise RuntimeError(f"authority {name} is not configured")
        try:
            proof = await authority.confirm(
                LegPaid(
                    reference=leg["reference"],
                    amount_fen=leg["amount_fen"],
                    paid_at=leg["paid_at"],
                    # the channel and its transaction id, in the characters every authority takes
                    payment_ref=f"{leg['provider']}-{leg['provider_txn_id']}"[:64],
                    order_no=leg["order_no"],
                )
            )
        except AuthorityRefused as exc:
            await self._refused(leg, name, exc)
            raise PermanentFailure(f"{name} refused leg {leg['line_no']}: {exc.code}") from exc
        async with self.pool.acquire() as conn, conn.transaction():
            # legs of one order are confirmed concurrently: whoever confirms the last one must see
            # the others, so they take turns on the order row
            await conn.execute("SELECT 1 FROM orders WHERE id = $1 FOR UPDATE", leg["order_id"])
            done = await conn.fetchval(
                "UPDATE order_lines SET confirm_state = 'CONFIRMED', proof_no = $3, proof = $4,"
                " confirmed_at = $5 WHERE order_id = $1 AND line_no = $2"
                " AND confirm_state = 'PENDING' RETURNING 1",
                leg["order_id"],
                leg["line_no"],
                proof.proof_no,
                dict(proof.proof),
                proof.confirmed_at,
            )
            if not done:
                return
            await audit.record(
                conn,
                f"authority:{name}",
                "leg.confirmed",
                leg["order_no"],
                {
                    "line_no": leg["line_no"],
                    "reference": leg["reference"],
                    "proof_no": proof.proof_no,
                },
                object_type="order",
            )
            # SETTLED once every leg is confirmed and every line paid out (migration 0014)
            settled = await conn.fetchrow(
                "SELECT * FROM tj_settle_orders(ARRAY[$1::bigint])", leg["order_id"]
            )
            if settled is not None:
                await audit.record(conn, "system:legs", "order.settled", settled["order_no"])
        if settled is not None and self.announce is not None:
            self.announce(
                order_event(settled["order_no"], "SETTLED", settled["office"], settled["window_no"])
            )

    async def _refused(self, leg: asyncpg.Record, name: str, exc: AuthorityRefused) -> None:
        log.error("%s refused leg %s of %s: %s", name, leg["line_no"], leg["order_no"], exc.code)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "UPDATE order_lines SET confirm_state = 'REFUSED', refusal = $3"
                " WHERE order_id = $1 AND line_no = $2 AND confirm_state = 'PENDING'",
                leg["order_id"],
                leg["line_no"],
                f"{exc.code}: {exc.reason}"[:500],
            )
            await conn.execute(
                "UPDATE orders SET state = 'EXCEPTION', exception_reason = $2, updated_at = now()"
                " WHERE id = $1 AND state IN ('CLEARED', 'SETTLED')",
                leg["order_id"],
                f"LEG_REFUSED:{name}:{exc.code}",
            )
            await audit.record(
                conn,
                f"authority:{name}",
                "leg.refused",
                leg["order_no"],
                {"line_no": leg["line_no"], "code": exc.code, "reason": exc.reason},
                object_type="order",
            )
