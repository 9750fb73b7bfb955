"""A real Alipay simulator, and a real notification receiver, on 127.0.0.1 for tests.

    async with running_alipay_sim(tmp_path) as sim:
        client = AlipayClient(sim.session, gateway_url=sim.gateway_url, keys=sim.merchant, ...)
        await sim.pay("T123456")

Both listen on ephemeral ports bound before the app starts, so the URLs are known up front.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web

from adapters.alipay.keys import (
    MERCHANT_DIR,
    PLATFORM_DIR,
    AppKeys,
    PlatformKeys,
    generate_keyset,
    load_merchant_keys,
    load_platform_keys,
)
from adapters.alipay.notify import ACK_OK, ACK_REFUSED, AlipayNotifyParser
from adapters.alipay.sim_gateway import GATEWAY_PATH
from adapters.alipay.simulator import create_simulator_app
from adapters.errors import NotifyRejected
from clearing.ports import PaymentNotice


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@asynccontextmanager
async def _serving(
    make_app: Callable[[str], web.Application],
) -> AsyncIterator[tuple[str, web.Application]]:
    # bound before the app is built, so the app knows its own public URL
    sock = _bound_socket()
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = make_app(base_url)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        yield base_url, app
    finally:
        await runner.cleanup()
        sock.close()


@dataclass
class AlipaySim:
    """A running simulator, the keys on both sides, and a session for calling it."""

    base_url: str
    merchant: AppKeys
    platform: PlatformKeys
    app: web.Application
    session: aiohttp.ClientSession

    @property
    def gateway_url(self) -> str:
        return self.base_url + GATEWAY_PATH

    def parser(self, **kwargs: Any) -> AlipayNotifyParser:
        return AlipayNotifyParser(
            app_id=self.merchant.app_id,
            seller_id=self.merchant.seller_id,
            alipay_public_key=self.merchant.alipay_public_key,
            **kwargs,
        )

    async def _control(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.session.request(method, self.base_url + path, json=body) as resp:
            return resp.status, await resp.json()

    def _order_path(self, out_trade_no: str, action: str = "") -> str:
        return f"/sim/orders/{quote(out_trade_no, safe='')}" + (f"/{action}" if action else "")

    async def scan(self, out_trade_no: str) -> tuple[int, Any]:
        """The citizen scans the QR code (the trade comes to exist)."""
        return await self._control("POST", self._order_path(out_trade_no, "scan"))

    async def pay(self, out_trade_no: str, amount_fen: int | None = None) -> tuple[int, Any]:
        """The citizen pays; returns (HTTP status, JSON answer)."""
        body = None if amount_fen is None else {"amount_fen": amount_fen}
        return await self._control("POST", self._order_path(out_trade_no, "pay"), body)

    async def order(self, out_trade_no: str) -> dict[str, Any]:
        status, data = await self._control("GET", self._order_path(out_trade_no))
        assert status == 200, data
        return dict(data)

    async def expire(self, out_trade_no: str) -> None:
        status, data = await self._control("POST", self._order_path(out_trade_no, "expire"))
        assert status == 200, data

    async def set_faults(self, **knobs: Any) -> dict[str, Any]:
        status, data = await self._control("PUT", "/sim/faults", knobs)
        assert status == 200, data
        return dict(data)

    async def reset_faults(self) -> None:
        status, data = await self._control("DELETE", "/sim/faults")
        assert status == 200, data


def load_keys(keys_root: Path) -> tuple[AppKeys, PlatformKeys]:
    """Generate the keyset if missing, then load both sides."""
    generate_keyset(keys_root)
    return load_merchant_keys(keys_root / MERCHANT_DIR), load_platform_keys(
        keys_root / PLATFORM_DIR
    )


@asynccontextmanager
async def running_alipay_sim(
    keys_root: Path,
    *,
    retry_scale: float = 0.001,
    fee_rate_ppm: int = 0,
    seed: int | None = None,
    keys: tuple[AppKeys, PlatformKeys] | None = None,
) -> AsyncIterator[AlipaySim]:
    """Generate (or reuse) a keyset under ``keys_root`` and serve a fresh simulator.

    ``keys`` are the two sides already loaded from ``keys_root`` (loading RSA keys is slow)."""
    if keys is None:
        keys = load_keys(keys_root)
    merchant, platform = keys

    def make_app(base_url: str) -> web.Application:
        return create_simulator_app(
            platform,
            public_base_url=base_url,
            retry_scale=retry_scale,
            fee_rate_ppm=fee_rate_ppm,
            seed=seed,
        )

    async with _serving(make_app) as (base_url, app), aiohttp.ClientSession() as session:
        yield AlipaySim(base_url, merchant, platform, app, session)


@dataclass(frozen=True)
class Delivery:
    """One notification as the receiver saw it, and what the parser made of it."""

    body: bytes
    at: float
    verdict: str  # "OK" or the NotifyRejected code
    notice: PaymentNotice | None
    answered: int


@dataclass
class NotifyReceiver:
    """A merchant endpoint: parses each notification and answers as Alipay expects (or not)."""

    url: str
    parser: AlipayNotifyParser
    fail_first: int = 0
    deliveries: list[Delivery] = field(default_factory=list)

    async def wait_for(self, count: int, timeout_s: float = 5.0) -> list[Delivery]:
        deadline = time.monotonic() + timeout_s
        while len(self.deliveries) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.deliveries)} of {count} deliveries arrived")
            await asyncio.sleep(0.01)
        return list(self.deliveries)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            notice = self.parser.parse(request.headers, body, datetime.now(UTC))
        except NotifyRejected as exc:
            return self._answer(body, exc.code, None, ACK_REFUSED)
        ok = sum(1 for d in self.deliveries if d.verdict == "OK")
        # a merchant that is not ready answers 500 with no "success": Alipay must retry
        ack = (500, "text/plain", b"busy") if ok < self.fail_first else ACK_OK
        return self._answer(body, "OK", notice, ack)

    def _answer(
        self,
        body: bytes,
        verdict: str,
        notice: PaymentNotice | None,
        ack: tuple[int, str, bytes],
    ) -> web.Response:
        status, content_type, text = ack
        self.deliveries.append(Delivery(body, time.monotonic(), verdict, notice, status))
        return web.Response(status=status, body=text, content_type=content_type)


@asynccontextmanager
async def running_notify_receiver(
    parser: AlipayNotifyParser, *, fail_first: int = 0
) -> AsyncIterator[NotifyReceiver]:
    """Serve a receiver at ``http://127.0.0.1:PORT/notify/alipay``."""
    receiver = NotifyReceiver(url="", parser=parser, fail_first=fail_first)

    def make_app(_: str) -> web.Application:
        app = web.Application()
        app.router.add_post("/notify/alipay", receiver.handle)
        return app

    async with _serving(make_app) as (base_url, _app):
        receiver.url = base_url + "/notify/alipay"
        yield receiver
