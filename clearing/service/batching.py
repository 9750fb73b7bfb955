"""Captures arriving together go to the database together.

Under load, notifications arrive faster than one capture's round trip. Instead of one transaction
per notification, the batcher keeps at most ``max_inflight`` capture transactions open and sends
whatever gathered meanwhile as one statement (``tj_capture`` per row, in one transaction): one
round trip and one commit for many payments; ``tj_capture_batch`` writes the common case in a
few statements for the whole batch instead of a dozen per payment. At low load a batch is one
notification, sent at once, so nothing waits for a timer (decision 0005).

A batch leaves at the end of the event loop's turn, not at the first notification of it:
requests that the loop read together (a burst of acknowledged acquirers delivering again) travel
together, instead of each taking a free slot as a batch of one, which costs PostgreSQL about
three times as much per capture. Waiting for the turn's end costs microseconds, not a window.

A batch that fails is retried one notification at a time, so that one bad notification cannot
fail the others; the acquirer retries whatever still fails.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import asyncpg

from clearing.announce import Announce
from clearing.metrics import Metrics
from clearing.ports import PaymentNotice
from clearing.service.payments import CaptureResult, announce_capture, capture

log = logging.getLogger(__name__)

# the common case set-wise, the rest through tj_capture one by one (migration 0028)
_MANY = """
SELECT payment_id, outcome, reason, order_no, order_state, first_time, office, window_no
  FROM tj_capture_batch($1::text[], $2::text[], $3::text[], $4::bigint[], $5::timestamptz[],
                        $6::text[], $7::text[], $8::jsonb[])
 ORDER BY n
"""


@dataclass
class _Item:
    notice: PaymentNotice
    source: str
    request_id: str | None
    done: asyncio.Future[CaptureResult]


class CaptureBatcher:
    def __init__(
        self,
        pool: asyncpg.Pool,
        announce: Announce | None = None,
        *,
        metrics: Metrics | None = None,
        max_batch: int = 64,
        # four, measured (tests/bench/clearing.py, decision on capture cost): with two, captures
        # wait on too few commits at once; with eight, batches shrink and cost more each
        max_inflight: int = 4,
    ) -> None:
        self._pool = pool
        self._announce = announce
        self._metrics = metrics
        self._max_batch = max_batch
        self._max_inflight = max_inflight
        self._pending: list[_Item] = []
        self._inflight = 0
        self._flush_due = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def capture(
        self, notice: PaymentNotice, source: str, request_id: str | None = None
    ) -> CaptureResult:
        item = _Item(notice, source, request_id, asyncio.get_running_loop().create_future())
        self._pending.append(item)
        if not self._flush_due:
            # after every handler that is ready in this turn has added its notification
            self._flush_due = True
            asyncio.get_running_loop().call_soon(self._flush)
        # the capture completes even if the caller goes away: the acquirer's retry then finds it
        return await asyncio.shield(item.done)

    def _flush(self) -> None:
        self._flush_due = False
        self._start_batches()

    def _start_batches(self) -> None:
        while self._pending and self._inflight < self._max_inflight:
            batch = self._pending[: self._max_batch]
            del self._pending[: len(batch)]
            if self._metrics is not None:
                self._metrics.capture_batch_size.observe(len(batch))
            self._inflight += 1
            task = asyncio.create_task(self._run(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[_Item]) -> None:
        try:
            if len(batch) == 1:
                await self._one(batch[0])
            else:
                await self._many(batch)
        finally:
            self._inflight -= 1
            self._start_batches()

    async def _many(self, batch: list[_Item]) -> None:
        # one lock order for everyone: concurrent batches cannot deadlock on duplicates
        batch.sort(key=lambda i: (i.notice.provider, i.notice.provider_txn_id))
        n = [i.notice for i in batch]
        try:
            async with self._pool.acquire() as conn:
                rows = await conn.fetch(
                    _MANY,
                    [x.provider for x in n],
                    [x.provider_txn_id for x in n],
                    [x.out_trade_no for x in n],
                    [x.amount_fen for x in n],
                    [x.paid_at for x in n],
                    [i.source for i in batch],
                    [i.request_id for i in batch],
                    [dict(x.details) for x in n],
                )
        except Exception as exc:
            log.warning("batch of %d captures failed, retrying singly: %r", len(batch), exc)
            await asyncio.gather(*(self._one(i) for i in batch))
            return
        for item, row in zip(batch, rows, strict=True):
            result = CaptureResult(**dict(row))
            announce_capture(result, self._announce)
            if not item.done.done():
                item.done.set_result(result)

    async def _one(self, item: _Item) -> None:
        try:
            async with self._pool.acquire() as conn:
                result = await capture(
                    conn, item.notice, item.source, item.request_id, self._announce
                )
        except Exception as exc:
            if not item.done.done():
                item.done.set_exception(exc)
            return
        if not item.done.done():
            item.done.set_result(result)

    async def close(self) -> None:
        await asyncio.gather(*self._tasks, return_exceptions=True)
