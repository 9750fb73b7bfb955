"""The request times a channel needs to find a transaction again (UnionPay's ``txnTime``)."""

from __future__ import annotations

import asyncpg


class RequestTimes:
    """Durable, shared by all processes; what ``adapters.unionpay.txn_times.TxnTimes`` asks."""

    # every process writes here before it sends: an order id with no row was never sent
    complete = True

    def __init__(self, pool: asyncpg.Pool, provider: str) -> None:
        self._pool = pool
        self._provider = provider

    async def remember(self, order_id: str, txn_time: str) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO acquirer_request_times (provider, order_id, sent_time)"
                " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                self._provider,
                order_id,
                txn_time,
            )

    async def recall(self, order_id: str) -> tuple[str, ...]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT sent_time FROM acquirer_request_times WHERE provider = $1"
                " AND order_id = $2 ORDER BY created_at, sent_time",
                self._provider,
                order_id,
            )
        return tuple(r["sent_time"] for r in rows)
