"""A configured payment channel: the adapter client, its calls timed and counted, and which ways
of paying it offers."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any, TypeVar

from clearing.errors import InvalidRequest
from clearing.metrics import Metrics
from clearing.ports import BillRecord, PayPage, RefundOutcome, TradeStatus

T = TypeVar("T")

# what a channel can do beyond query/close/reverse/refund, by the method that does it
CAPABILITIES = {
    "qr": "create_qr",
    "code": "pay_by_code",
    "card": "start_sale",
    # the citizen's own phone: its browser (h5) or inside the acquirer's app (jsapi)
    "h5": "open_mobile_page",
    "jsapi": "create_jsapi",
}


class Channel:
    """Wraps an adapter client; ``supports`` tells which ways of paying the client offers."""

    def __init__(self, inner: Any, metrics: Metrics) -> None:
        self.inner = inner
        self.provider: str = inner.provider
        self._m = metrics

    def supports(self, method: str) -> bool:
        return callable(getattr(self.inner, CAPABILITIES[method], None))

    async def _timed(self, operation: str, call: Callable[[], Awaitable[T]]) -> T:
        if not callable(getattr(self.inner, operation, None)):
            raise InvalidRequest(
                "CHANNEL_METHOD_UNSUPPORTED",
                f"{self.provider} does not offer {operation}",
                "该支付渠道不支持此操作",
            )
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

    async def pay_by_code(
        self,
        *,
        out_trade_no: str,
        auth_code: str,
        description: str,
        total_fen: int,
        attach: str = "",
    ) -> TradeStatus:
        return await self._timed(
            "pay_by_code",
            lambda: self.inner.pay_by_code(
                out_trade_no=out_trade_no,
                auth_code=auth_code,
                description=description,
                total_fen=total_fen,
                attach=attach,
            ),
        )

    async def start_sale(
        self, *, out_trade_no: str, terminal_id: str, total_fen: int, description: str
    ) -> None:
        await self._timed(
            "start_sale",
            lambda: self.inner.start_sale(
                out_trade_no=out_trade_no,
                terminal_id=terminal_id,
                total_fen=total_fen,
                description=description,
            ),
        )

    async def open_mobile_page(
        self,
        *,
        out_trade_no: str,
        description: str,
        total_fen: int,
        expires_at: datetime,
        return_url: str,
        payer_ip: str,
        attach: str = "",
    ) -> PayPage:
        return await self._timed(
            "open_mobile_page",
            lambda: self.inner.open_mobile_page(
                out_trade_no=out_trade_no,
                description=description,
                total_fen=total_fen,
                expires_at=expires_at,
                return_url=return_url,
                payer_ip=payer_ip,
                attach=attach,
            ),
        )

    def oauth_url(self, *, redirect_uri: str, state: str) -> str:
        if not callable(getattr(self.inner, "oauth_url", None)):
            raise InvalidRequest(
                "CHANNEL_METHOD_UNSUPPORTED",
                f"{self.provider} does not offer oauth_url",
                "该支付渠道不支持此操作",
            )
        url: str = self.inner.oauth_url(redirect_uri=redirect_uri, state=state)
        return url

    async def openid_for(self, code: str) -> str:
        return await self._timed("openid_for", lambda: self.inner.openid_for(code))

    async def create_jsapi(
        self,
        *,
        out_trade_no: str,
        description: str,
        total_fen: int,
        expires_at: datetime,
        openid: str,
        attach: str = "",
    ) -> dict[str, str]:
        return await self._timed(
            "create_jsapi",
            lambda: self.inner.create_jsapi(
                out_trade_no=out_trade_no,
                description=description,
                total_fen=total_fen,
                expires_at=expires_at,
                openid=openid,
                attach=attach,
            ),
        )

    async def query(self, out_trade_no: str) -> TradeStatus:
        return await self._timed("query", lambda: self.inner.query(out_trade_no))

    async def close(self, out_trade_no: str) -> None:
        await self._timed("close", lambda: self.inner.close(out_trade_no))

    async def reverse(self, out_trade_no: str) -> None:
        await self._timed("reverse", lambda: self.inner.reverse(out_trade_no))

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

    async def query_refund(self, *, out_trade_no: str, out_refund_no: str) -> RefundOutcome:
        return await self._timed(
            "query_refund",
            lambda: self.inner.query_refund(out_trade_no=out_trade_no, out_refund_no=out_refund_no),
        )

    async def daily_bill(self, day: date) -> list[BillRecord]:
        return await self._timed("daily_bill", lambda: self.inner.daily_bill(day))
