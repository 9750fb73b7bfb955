"""A real terminal-cloud simulator, and a real notification receiver, on 127.0.0.1 for tests.

    async with running_pos_sim(tmp_path, fee_rate_ppm=3800) as sim:
        client = PosClient(sim.session, base_url=sim.base_url, keys=sim.merchant, ...)
        await sim.swipe("T0000001")

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
from adapters.pos.keys import (
    MERCHANT_DIR,
    PLATFORM_DIR,
    MerchantKeys,
    PlatformKeys,
    generate_keyset,
    load_merchant_keys,
    load_platform_keys,
)
from adapters.pos.notify import ACK_OK, ACK_REFUSED, PosNotifyParser
from adapters.pos.simulator import create_simulator_app
from clearing.ports import PaymentNotice


@asynccontextmanager
async def _serving(
    make_app: Callable[[str], web.Application],
) -> AsyncIterator[tuple[str, web.Application]]:
    # bound before the app is built, so the app knows its own public URL
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
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
class PosSim:
    """A running terminal cloud, the keys on both sides, and a session for calling it."""

    base_url: str
    merchant: MerchantKeys
    platform: PlatformKeys
    app: web.Application
    session: aiohttp.ClientSession

    async def control(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.session.request(method, self.base_url + path, json=body) as resp:
            return resp.status, await resp.json()

    async def insert(self, terminal_id: str, **card: Any) -> tuple[int, Any]:
        """The card goes into the terminal; it asks for the PIN."""
        return await self.control("POST", f"/sim/terminals/{terminal_id}/insert", card)

    async def swipe(self, terminal_id: str, **knobs: Any) -> tuple[int, Any]:
        """Card and PIN on the terminal: approve (default) or decline with resp_code."""
        return await self.control("POST", f"/sim/terminals/{terminal_id}/swipe", knobs)

    async def pay(self, out_trade_no: str, amount_fen: int | None = None) -> tuple[int, Any]:
        body = None if amount_fen is None else {"amount_fen": amount_fen}
        return await self.control("POST", f"/sim/orders/{quote(out_trade_no)}/pay", body)

    async def order(self, out_trade_no: str) -> dict[str, Any]:
        status, data = await self.control("GET", f"/sim/orders/{quote(out_trade_no)}")
        assert status == 200, data
        return dict(data)

    async def settle(self, **body: Any) -> dict[str, Any]:
        status, data = await self.control("POST", "/sim/settle", body)
        assert status == 200, data
        return dict(data)

    async def set_faults(self, **knobs: Any) -> dict[str, Any]:
        status, data = await self.control("PUT", "/sim/faults", knobs)
        assert status == 200, data
        return dict(data)

    async def reset_faults(self) -> None:
        status, data = await self.control("DELETE", "/sim/faults")
        assert status == 200, data


@asynccontextmanager
async def running_pos_sim(
    keys_root: Path,
    *,
    retry_scale: float = 0.01,
    fee_rate_ppm: int = 0,
    seed: int | None = None,
) -> AsyncIterator[PosSim]:
    """Generate (or reuse) a keyset under ``keys_root`` and serve a fresh simulator."""
    generate_keyset(keys_root)
    merchant = load_merchant_keys(keys_root / MERCHANT_DIR)
    platform = load_platform_keys(keys_root / PLATFORM_DIR)

    def make_app(base_url: str) -> web.Application:
        return create_simulator_app(
            platform,
            public_base_url=base_url,
            retry_scale=retry_scale,
            fee_rate_ppm=fee_rate_ppm,
            seed=seed,
        )

    async with _serving(make_app) as (base_url, app), aiohttp.ClientSession() as session:
        yield PosSim(base_url, merchant, platform, app, session)


@dataclass(frozen=True)
class Delivery:
    """One notification as the receiver saw it, and what the parser made of it."""

    headers: dict[str, str]
    body: bytes
    at: float
    verdict: str  # "OK" or the NotifyRejected code
    notice: PaymentNotice | None
    answered: int


@dataclass
class NotifyReceiver:
    """Our endpoint: parses each notification and answers as the channel expects (or not)."""

    url: str
    parser: PosNotifyParser
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
        headers = dict(request.headers)
        try:
            notice = self.parser.parse(headers, body, datetime.now(UTC))
        except NotifyRejected as exc:
            return self._answer(headers, body, exc.code, None, ACK_REFUSED)
        ok = sum(1 for d in self.deliveries if d.verdict == "OK")
        # an answer other than the exact acknowledgement makes the cloud send again
        ack = (500, "text/plain", b"busy") if ok < self.fail_first else ACK_OK
        return self._answer(headers, body, "OK", notice, ack)

    def _answer(
        self,
        headers: dict[str, str],
        body: bytes,
        verdict: str,
        notice: PaymentNotice | None,
        ack: tuple[int, str, bytes],
    ) -> web.Response:
        status, content_type, text = ack
        self.deliveries.append(Delivery(headers, body, time.monotonic(), verdict, notice, status))
        return web.Response(status=status, body=text, content_type=content_type)


@asynccontextmanager
async def running_notify_receiver(
    parser: PosNotifyParser, *, fail_first: int = 0
) -> AsyncIterator[NotifyReceiver]:
    """Serve a receiver at ``http://127.0.0.1:PORT/notify/pos``."""
    receiver = NotifyReceiver(url="", parser=parser, fail_first=fail_first)

    def make_app(_: str) -> web.Application:
        app = web.Application()
        app.router.add_post("/notify/pos", receiver.handle)
        return app

    async with _serving(make_app) as (base_url, _app):
        receiver.url = base_url + "/notify/pos"
        yield receiver
