"""Where the client keeps the ``txnTime`` of every order id it sent.

UnionPay identifies a transaction by ``orderId`` *and* the ``txnTime`` it was sent with, and the
query API needs both (protocols-cn.md 0, 3.1). ``txnTime`` must be "now" when a request is sent, so
it cannot be derived from the order id later: whoever queries must have kept it. The client writes
it here *before* sending, so that an answer lost to a timeout can still be queried. A retry sends a
fresh ``txnTime``; since we cannot know which attempt reached UnionPay, every time sent is kept and
the query tries them newest first.

``MemoryTxnTimes`` is enough for one process. Several processes (or a restart between a payment
and its query) need a shared, durable implementation of ``TxnTimes``, e.g. a table in PostgreSQL.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol


class TxnTimes(Protocol):
    # True when the store holds every txnTime that any process sent (durable and shared, written
    # before each request): then an order id with none was never sent to UnionPay at all
    complete: bool

    async def remember(self, order_id: str, txn_time: str) -> None:
        """Add ``txn_time`` to the times sent for ``order_id`` (adding one twice is harmless)."""
        ...

    async def recall(self, order_id: str) -> tuple[str, ...]:
        """Every ``txnTime`` sent for ``order_id``, oldest first; empty when none is known."""
        ...


class MemoryTxnTimes:
    """An in-process store; forgets the oldest entries beyond ``limit``."""

    # another process, or this one before a restart, may have sent what this one does not know
    complete = False

    def __init__(self, limit: int = 100_000) -> None:
        self._limit = limit
        self._times: OrderedDict[str, tuple[str, ...]] = OrderedDict()

    def __repr__(self) -> str:
        return f"MemoryTxnTimes(entries={len(self._times)}, limit={self._limit})"

    async def remember(self, order_id: str, txn_time: str) -> None:
        known = self._times.get(order_id, ())
        if txn_time not in known:
            self._times[order_id] = (*known, txn_time)
        while len(self._times) > self._limit:
            self._times.popitem(last=False)

    async def recall(self, order_id: str) -> tuple[str, ...]:
        return self._times.get(order_id, ())
