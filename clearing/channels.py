"""A configured payment channel: the adapter client, its calls timed and counted, and which ways
of paying it offers."""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from clearing.errors import InvalidRequest
from clearing.metrics import Metrics
from clearing.ports import (
    Acquirer,
    CodeAcquirer,
    JsapiAcquirer,
    MobileAcquirer,
    QrAcquirer,
    TerminalAcquirer,
)

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
    method: Callable[Concatenate[Any, P], Awaitable[T]],
) -> Callable[Concatenate[Channel, P], Awaitable[T]]:
    """The adapter's method of the same name, timed and counted, with the signature that
    ``clearing.ports`` declares for it. Defaults are bound here, so the adapter gets every
    argument the signature names, given or not."""
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

    # each adapter call with the signature clearing.ports declares for it, timed and counted
    create_qr = _forward(QrAcquirer.create_qr)
    pay_by_code = _forward(CodeAcquirer.pay_by_code)
    start_sale = _forward(TerminalAcquirer.start_sale)
    open_mobile_page = _forward(MobileAcquirer.open_mobile_page)
    openid_for = _forward(JsapiAcquirer.openid_for)
    create_jsapi = _forward(JsapiAcquirer.create_jsapi)
    query = _forward(Acquirer.query)
    close = _forward(Acquirer.close)
    reverse = _forward(Acquirer.reverse)
    refund = _forward(Acquirer.refund)
    query_refund = _forward(Acquirer.query_refund)
    daily_bill = _forward(Acquirer.daily_bill)

    def oauth_url(self, *, redirect_uri: str, state: str) -> str:
        if not callable(getattr(self.inner, "oauth_url", None)):
            raise InvalidRequest(
                "CHANNEL_METHOD_UNSUPPORTED",
                f"{self.provider} does not offer oauth_url",
                "该支付渠道不支持此操作",
            )
        url: str = self.inner.oauth_url(redirect_uri=redirect_uri, state=state)
        return url
