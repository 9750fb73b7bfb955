"""Adapter calls, timed and counted, whatever the adapter."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from clearing.metrics import Metrics
from clearing.ports import Acquirer, RefundOutcome, TradeStatus

T = TypeVar("T")


class InstrumentedAcquirer:
    def __init__(self, inner: Acquirer, metrics: Metrics) -> None:
        self.inner = inner
        self.provider = inner.provider
        self._m = metrics

    async def _timed(self, operation: str, call: Callable[[], Awaitable[T]]) -> T:
        start = time.perf_counter()
        try:
            return await call()
        except Exception as exc:
            self._m.adapter_errors.labels(self.provider, operation, type(exc).__name__).inc()
            raise
        finally:
            self._m.adapter_seconds.labels(self.provider, operation).observe(
                time.perf_counter() - start
            )

    async def create_qr(
        self,
        *,
        out_trade_no: str,
        description: str,
        total_fen: int,
        expires_at: datetime,
        attach: str = "",
    ) -> str:
        return await self._timed(
            "create_qr",
            lambda: self.inner.create_qr(
                out_trade_no=out_trade_no,
                description=description,
                total_fen=total_fen,
                expires_at=expires_at,
                attach=attach,
            ),
        )

    async def query(self, out_trade_no: str) -> TradeStatus:
        return await self._timed("query", lambda: self.inner.query(out_trade_no))

    async def close(self, out_trade_no: str) -> None:
        await self._timed("close", lambda: self.inner.close(out_trade_no))

    async def refund(
        self,
        *,
        out_trade_no: str,
        out_refund_no: str,
        refund_fen: int,
        total_fen: int,
        reason: str,
    ) -> RefundOutcome:
        return await self._timed(
            "refund",
            lambda: self.inner.refund(
                out_trade_no=out_trade_no,
                out_refund_no=out_refund_no,
                refund_fen=refund_fen,
                total_fen=total_fen,
                reason=reason,
            ),
        )
