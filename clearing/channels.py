"""A configured payment channel: the adapter client, its calls timed and counted, and which ways
of paying it offers."""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

from clearing.errors import InvalidRequest
from clearing.metrics import Metrics
from clearing.ports import BillRecord, PayPage, RefundOutcome, TradeStatus

T = TypeVar("T")
P = ParamSpec("P")

# what a channel can do beyond query/close/reverse/refund, by the method that does it
CAPABILITIES = {
    "qr": "create_qr",
    "code": "pay_by_code",
    "card": "start_sale",
    # the citizen's own phone: its browser (h5) or inside the acquirer's app (jsapi)
    "h5": "open_mobile_page",
    "jsapi": "create_jsapi",
}


def _forward(
    method: Callable[Concatenate[Channel, P], Awaitable[T]],
) -> Callable[Concatenate[Channel, P], Awaitable[T]]:
    """The adapter's method of the same name, timed and counted: the decorated method only
    declares the signature (its body is never run). Defaults are bound here, so the adapter
    gets every argument the signature names, given or not."""
    operation = method.__name__
    signature = inspect.signature(method)

    @functools.wraps(method)
    async def call(self: Channel, /, *args: P.args, **kwargs: P.kwargs) -> T:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        inner = getattr(self.inner, operation, None)
        return await self._timed(operation, lambda: inner(*bound.args[1:], **bound.kwargs))  # type: ignore[misc]

    return call


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

    @_forward
    async def create_qr(
        self,
        *,
        out_trade_no: str,
        description: str,
        total_fen: int,
        expires_at: datetime,
        attach: str = "",
    ) -> str:
        raise NotImplementedError  # never runs: @_forward calls the adapter

    @_forward
    async def pay_by_code(
        self,
        *,
        out_trade_no: str,
        auth_code: str,
        description: str,
        total_fen: int,
        attach: str = "",
    ) -> TradeStatus:
        raise NotImplementedError  # never runs: @_forward calls the adapter

    @_forward
    async def start_sale(
        self, *, out_trade_no: str, terminal_id: str, total_fen: int, description: str
    ) -> None:
        raise NotImplementedError  # never runs: @_forward calls the adapter

    @_forward
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
        raise NotImplementedError  # never runs: @_forward calls the adapter

    def oauth_url(self, *, redirect_uri: str, state: str) -> str:
        if not callable(getattr(self.inner, "oauth_url", None)):
            raise InvalidRequest(
                "CHANNEL_METHOD_UNSUPPORTED",
                f"{self.provider} does not offer oauth_url",
                "该支付渠道不支持此操作",
            )
        url: str = self.inner.oauth_url(redirect_uri=redirect_uri, state=state)
        return url

    @_forward
    async def openid_for(self, code: str) -> str:
        raise NotImplementedError  # never runs: @_forward calls the adapter

    @_forward
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
        raise NotImplementedError  # never runs: @_forward calls the adapter

    @_forward
    async def query(self, out_trade_no: str) -> TradeStatus:
        raise NotImplementedError  # never runs: @_forward calls the adapter

    @_forward
    async def close(self, out_trade_no: str) -> None:
        raise NotImplementedError  # never runs: @_forward calls the adapter

    @_forward
    async def reverse(self, out_trade_no: str) -> None:
        raise NotImplementedError  # never runs: @_forward calls the adapter

    @_forward
    async def refund(
        self,
        *,
        out_trade_no: str,
        out_refund_no: str,
        refund_fen: int,
        total_fen: int,
        reason: str,
    ) -> RefundOutcome:
        raise NotImplementedError  # never runs: @_forward calls the adapter

    @_forward
    async def query_refund(self, *, out_trade_no: str, out_refund_no: str) -> RefundOutcome:
        raise NotImplementedError  # never runs: @_forward calls the adapter

    @_forward
    async def daily_bill(self, day: date) -> list[BillRecord]:
        raise NotImplementedError  # never runs: @_forward calls the adapter
