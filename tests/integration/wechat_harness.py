"""A real WeChat Pay simulator, and a real notification receiver, on 127.0.0.1 for tests.

    async with running_wechat_sim(tmp_path) as sim:
        client = WeChatPayClient(sim.session, base_url=sim.base_url, keys=sim.merchant, ...)
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

from adapters.errors import NotifyRejected
from adapters.wechatpay.keys import (
    MERCHANT_DIR,
    PLATFORM_DIR,
    MerchantKeys,
    PlatformKeys,
    generate_keyset,
    load_merchant_keys,
    load_platform_keys,
)
from adapters.wechatpay.notify import (
    ACK_OK,
    ACK_REFUSED,
    NotifyVerifier,
    VerifiedNotification,
    payment_notice,
    refund_notice,
)
from adapters.wechatpay.simulator import create_simulator_app
from clearing.ports import PaymentNotice, RefundOutcome


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
class WeChatSim:
    """A running simulator, the keys on both sides, and a session for calling it."""

    base_url: str
    merchant: MerchantKeys
    platform: PlatformKeys
    app: web.Application
    session: aiohttp.ClientSession

    async def _control(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.session.request(method, self.base_url + path, json=body) as resp:
            return resp.status, await resp.json()

    async def pay(self, out_trade_no: str, amount_fen: int | None = None) -> tuple[int, Any]:
        """The citizen pays; returns (HTTP status, JSON answer)."""
        body = None if amount_fen is None else {"amount_fen": amount_fen}
        return await self._control("POST", f"/sim/orders/{quote(out_trade_no, safe='')}/pay", body)

    async def order(self, out_trade_no: str) -> dict[str, Any]:
        status, data = await self._control("GET", f"/sim/orders/{quote(out_trade_no, safe='')}")
        assert status == 200, data
        return dict(data)

    async def expire(self, out_trade_no: str) -> None:
        status, data = await self._control(
            "POST", f"/sim/orders/{quote(out_trade_no, safe='')}/expire"
        )
        assert status == 200, data

    async def complete_refund(self, out_refund_no: str, status: str = "SUCCESS") -> dict[str, Any]:
        """The bank answers a PROCESSING (or ABNORMAL) refund."""
        status_code, data = await self._control(
            "POST", f"/sim/refunds/{quote(out_refund_no, safe='')}/complete", {"status": status}
        )
        assert status_code == 200, data
        return dict(data)

    async def set_faults(self, **knobs: Any) -> dict[str, Any]:
        status, data = await self._control("PUT", "/sim/faults", knobs)
        assert status == 200, data
        return dict(data)

    async def reset_faults(self) -> None:
        status, data = await self._control("DELETE", "/sim/faults")
        assert status == 200, data


@asynccontextmanager
async def running_wechat_sim(
    keys_root: Path,
    *,
    retry_scale: float = 0.01,
    seed: int | None = None,
    fee_rate: str = "0.00%",
) -> AsyncIterator[WeChatSim]:
    """Generate (or reuse) a keyset under ``keys_root`` and serve a fresh simulator."""
    generate_keyset(keys_root)
    merchant = load_merchant_keys(keys_root / MERCHANT_DIR)
    platform = load_platform_keys(keys_root / PLATFORM_DIR)

    def make_app(base_url: str) -> web.Application:
        return create_simulator_app(
            platform,
            public_base_url=base_url,
            retry_scale=retry_scale,
            seed=seed,
            fee_rate=fee_rate,
        )

    async with _serving(make_app) as (base_url, app), aiohttp.ClientSession() as session:
        yield WeChatSim(base_url, merchant, platform, app, session)


@dataclass(frozen=True)
class Delivery:
    """One notification as the receiver saw it, and what the verifier made of it."""

    headers: dict[str, str]
    body: bytes
    at: float
    verdict: str  # "OK" or the NotifyRejected code
    notification: VerifiedNotification | None
    notice: PaymentNotice | None
    answered: int
    refund: RefundOutcome | None = None


@dataclass
class NotifyReceiver:
    """A merchant endpoint: verifies each notification and answers as the core would (``ACK_OK``,
    ``ACK_REFUSED``), or fails the first ``fail_first`` good ones with ``fail_status``."""

    url: str
    verifier: NotifyVerifier
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
        headers = dict(request.headers)
        try:
            verified = self.verifier.verify(headers, body, datetime.now(UTC))
        except NotifyRejected as exc:
            self._record(Delivery(headers, body, time.monotonic(), exc.code, None, None, 401))
            return _answer(ACK_REFUSED)
        notice = payment_notice(verified)
        refund = refund_notice(verified)
        ok = sum(1 for d in self.deliveries if d.verdict == "OK")
        status = self.fail_status if ok < self.fail_first else ACK_OK[0]
        self._record(
            Delivery(headers, body, time.monotonic(), "OK", verified, notice, status, refund)
        )
        if status != ACK_OK[0]:
            return web.Response(status=status)
        return _answer(ACK_OK)

    def _record(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)


def _answer(ack: tuple[int, str, bytes]) -> web.Response:
    status, content_type, body = ack
    # a 204 must go out without a body or a content type
    if not body:
        return web.Response(status=status)
    return web.Response(status=status, body=body, content_type=content_type)


@asynccontextmanager
async def running_notify_receiver(
    verifier: NotifyVerifier, *, fail_first: int = 0, fail_status: int = 500
) -> AsyncIterator[NotifyReceiver]:
    """Serve a receiver at ``http://127.0.0.1:PORT/notify/wechatpay``."""
    receiver = NotifyReceiver(
        url="", verifier=verifier, fail_first=fail_first, fail_status=fail_status
    )

    def make_app(_: str) -> web.Application:
        app = web.Application()
        app.router.add_post("/notify/wechatpay", receiver.handle)
        return app

    async with _serving(make_app) as (base_url, _app):
        receiver.url = base_url + "/notify/wechatpay"
        yield receiver
