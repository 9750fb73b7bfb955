"""A real UnionPay simulator, and a real backUrl receiver, on 127.0.0.1 for tests.

    async with running_unionpay_sim(tmp_path) as sim:
        client = UnionPayClient(sim.session, base_url=sim.base_url, keys=sim.merchant, ...)
        await sim.pay("TJ12345678")

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

from adapters.errors import NotifyRejected
from adapters.unionpay import wire
from adapters.unionpay.keys import (
    MERCHANT_DIR,
    PLATFORM_DIR,
    MerchantKeys,
    PlatformKeys,
    generate_keyset,
    load_merchant_keys,
    load_platform_keys,
)
from adapters.unionpay.notify import ACK_OK, ACK_REFUSED, UnionPayNotifyParser
from adapters.unionpay.simulator import create_simulator_app
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
class UnionPaySim:
    """A running simulator, the keys on both sides, and a session for calling it."""

    base_url: str
    merchant: MerchantKeys
    platform: PlatformKeys
    app: web.Application
    session: aiohttp.ClientSession

    async def _control(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.session.request(method, self.base_url + path, json=body) as resp:
            return resp.status, await resp.json()

    async def pay(self, order_id: str, amount_fen: int | None = None) -> tuple[int, Any]:
        """The citizen pays the code; returns (HTTP status, JSON answer)."""
        body = None if amount_fen is None else {"amount_fen": amount_fen}
        return await self._control("POST", f"/sim/orders/{quote(order_id, safe='')}/pay", body)

    async def order(self, order_id: str) -> dict[str, Any]:
        status, data = await self._control("GET", f"/sim/orders/{quote(order_id, safe='')}")
        assert status == 200, data
        return dict(data)

    async def expire(self, order_id: str) -> None:
        status, data = await self._control("POST", f"/sim/orders/{quote(order_id, safe='')}/expire")
        assert status == 200, data

    async def age(self, order_id: str, days: int = 1) -> dict[str, Any]:
        status, data = await self._control(
            "POST", f"/sim/orders/{quote(order_id, safe='')}/age", {"days": days}
        )
        assert status == 200, data
        return dict(data)

    async def set_faults(self, **knobs: Any) -> dict[str, Any]:
        status, data = await self._control("PUT", "/sim/faults", knobs)
        assert status == 200, data
        return dict(data)

    async def reset_faults(self) -> None:
        status, data = await self._control("DELETE", "/sim/faults")
        assert status == 200, data


@asynccontextmanager
async def running_unionpay_sim(
    keys_root: Path,
    *,
    retry_scale: float = 0.001,
    fee_rate: str = "0.0038",
    seed: int | None = None,
    loaded: tuple[MerchantKeys, PlatformKeys] | None = None,
) -> AsyncIterator[UnionPaySim]:
    """Generate (or reuse) a keyset under ``keys_root`` and serve a fresh simulator.

    ``loaded`` skips reading the keys again (RSA key checks make loading slow-ish)."""
    if loaded is None:
        generate_keyset(keys_root)
        loaded = (
            load_merchant_keys(keys_root / MERCHANT_DIR),
            load_platform_keys(keys_root / PLATFORM_DIR),
        )
    merchant, platform = loaded

    def make_app(base_url: str) -> web.Application:
        return create_simulator_app(
            platform,
            public_base_url=base_url,
            retry_scale=retry_scale,
            fee_rate=fee_rate,
            seed=seed,
        )

    async with _serving(make_app) as (base_url, app), aiohttp.ClientSession() as session:
        yield UnionPaySim(base_url, merchant, platform, app, session)


@dataclass(frozen=True)
class Delivery:
    """One notification as the receiver saw it, and what the parser made of it."""

    body: bytes
    at: float
    verdict: str  # "OK" or the NotifyRejected code
    fields: dict[str, str]
    notice: PaymentNotice | None
    answered: int


@dataclass
class NotifyReceiver:
    """A merchant backUrl: parses each notification and answers as the core would."""

    url: str
    parser: UnionPayNotifyParser
    fail_first: int = 0
    fail_status: int = 500
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
        # for the record only: the fields as sent, whatever the verdict
        sent = wire.decode_form(body)
        try:
            notice = self.parser.parse(dict(request.headers), body, datetime.now(UTC))
        except NotifyRejected as exc:
            self._record(body, exc.code, sent, None, ACK_REFUSED[0])
            return _ack(ACK_REFUSED)
        ok = sum(1 for d in self.deliveries if d.verdict == "OK")
        if ok < self.fail_first:
            self._record(body, "OK", sent, notice, self.fail_status)
            return web.Response(status=self.fail_status)
        self._record(body, "OK", sent, notice, ACK_OK[0])
        return _ack(ACK_OK)

    def _record(
        self,
        body: bytes,
        verdict: str,
        fields: dict[str, str],
        notice: PaymentNotice | None,
        answered: int,
    ) -> None:
        self.deliveries.append(Delivery(body, time.monotonic(), verdict, fields, notice, answered))


def _ack(ack: tuple[int, str, bytes]) -> web.Response:
    status, content_type, body = ack
    return web.Response(status=status, body=body, content_type=content_type)


@asynccontextmanager
async def running_notify_receiver(
    parser: UnionPayNotifyParser, *, fail_first: int = 0, fail_status: int = 500
) -> AsyncIterator[NotifyReceiver]:
    """Serve a receiver at ``http://127.0.0.1:PORT/notify/unionpay``."""
    receiver = NotifyReceiver(url="", parser=parser, fail_first=fail_first, fail_status=fail_status)

    def make_app(_: str) -> web.Application:
        app = web.Application()
        app.router.add_post("/notify/unionpay", receiver.handle)
        return app

    async with _serving(make_app) as (base_url, _app):
        receiver.url = base_url + "/notify/unionpay"
        yield receiver
