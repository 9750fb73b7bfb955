"""Serving apps on 127.0.0.1 for tests, and a notification receiver every channel's harness uses.

    async with serving(lambda base_url: make_app(base_url)) as (base_url, app):
        ...

The port is bound before the app is built, so the app knows its own URL up front.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Handler

from adapters.errors import NotifyRejected
from clearing.ports import PaymentAsk, PaymentNotice

Ack = tuple[int, str, bytes]
"""An answer: status, content type, body."""

BUSY: Ack = (500, "text/plain", b"busy")
V = TypeVar("V")
S = TypeVar("S")
M = TypeVar("M")
P = TypeVar("P")
R = TypeVar("R")
D = TypeVar("D", bound="Delivery[Any]")


def bound_socket() -> socket.socket:
    """A TCP socket bound to an ephemeral port on 127.0.0.1."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def closed_url() -> str:
    """A URL on 127.0.0.1 whose port was just released: connecting to it is refused."""
    sock = bound_socket()
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


@asynccontextmanager
async def serving(
    make_app: Callable[[str], web.Application],
) -> AsyncIterator[tuple[str, web.Application]]:
    """Serve ``make_app(base_url)`` at ``base_url``; yields both."""
    # bound before the app is built, so the app knows its own public URL
    sock = bound_socket()
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


def load_keyset(keyset: ModuleType, root: Path) -> tuple[Any, Any]:
    """Generate (or reuse) an adapter's keyset under ``root`` and load both sides: ours (the
    merchant's) and the outside party's, which only its simulator holds. ``keyset`` is the
    adapter's ``keys`` module; each names the same five things."""
    keyset.generate_keyset(root)
    return (
        keyset.load_merchant_keys(root / keyset.MERCHANT_DIR),
        keyset.load_platform_keys(root / keyset.PLATFORM_DIR),
    )


@asynccontextmanager
async def running_sim(
    handle: Callable[..., S],
    create_app: Callable[..., web.Application],
    keys: tuple[Any, Any],
    **options: Any,
) -> AsyncIterator[S]:
    """Serve ``create_app(platform_keys, public_base_url=..., **options)`` and yield
    ``handle(base_url, merchant_keys, platform_keys, app, session)``: every simulator's harness
    builds its handle this way."""
    merchant, platform = keys

    def make_app(base_url: str) -> web.Application:
        return create_app(platform, public_base_url=base_url, **options)

    async with serving(make_app) as (base_url, app), aiohttp.ClientSession() as session:
        yield handle(base_url, merchant, platform, app, session)


class SimControl:
    """What a running simulator's handle (a dataclass with ``base_url`` and ``session``) offers
    over the simulator's unsigned ``/sim/`` control endpoints."""

    base_url: str
    session: aiohttp.ClientSession

    async def control(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.session.request(method, self.base_url + path, json=body) as resp:
            return resp.status, await resp.json()

    async def answered(self, method: str, path: str, body: Any = None, *, expect: int = 200) -> Any:
        """The JSON answer of a control call that must be answered with ``expect``."""
        status, data = await self.control(method, path, body)
        assert status == expect, data
        return data

    async def set_faults(self, **knobs: Any) -> dict[str, Any]:
        return dict(await self.answered("PUT", "/sim/faults", knobs))

    async def reset_faults(self) -> None:
        await self.answered("DELETE", "/sim/faults")


@dataclass
class SimHandle(SimControl, Generic[M, P]):
    """A running simulator: where it listens, the keys on both sides (ours, and the outside
    party's that only the simulator holds), its app, and a session for calling it."""

    base_url: str
    merchant: M
    platform: P
    app: web.Application
    session: aiohttp.ClientSession


class OrderDesk(SimHandle[M, P], ABC):
    """An acquirer simulator's ``/sim/orders/`` desk, the same for every channel: the citizen
    pays, an unpaid attempt expires, and what the simulator recorded of an attempt (its
    deliveries and notifications) can be read."""

    def receiver(
        self, *, fail_first: int = 0, fail_status: int = 500
    ) -> AbstractAsyncContextManager[Any]:
        """Our endpoint for this channel's notifications, answering the first ``fail_first`` good
        ones with ``fail_status`` (a channel whose "busy" answer is fixed keeps its own)."""
        return self.notify_endpoint(fail_first, fail_status)

    @abstractmethod
    def notify_endpoint(
        self, fail_first: int, fail_status: int
    ) -> AbstractAsyncContextManager[Any]:
        """Each channel's harness serves its own parser."""

    def order_path(self, out_trade_no: str, action: str = "") -> str:
        return f"/sim/orders/{quote(out_trade_no, safe='')}" + (f"/{action}" if action else "")

    async def pay(self, out_trade_no: str, amount_fen: int | None = None) -> tuple[int, Any]:
        """The citizen pays (a different amount, if given); returns (HTTP status, JSON answer)."""
        body = None if amount_fen is None else {"amount_fen": amount_fen}
        return await self.control("POST", self.order_path(out_trade_no, "pay"), body)

    async def order(self, out_trade_no: str) -> dict[str, Any]:
        return dict(await self.answered("GET", self.order_path(out_trade_no)))

    async def expire(self, out_trade_no: str) -> None:
        await self.answered("POST", self.order_path(out_trade_no, "expire"))

    async def acknowledged(self, out_trade_no: str) -> dict[str, Any]:
        """The attempt's record once the simulator has taken our acknowledgement of its first
        notification: it records a delivery only when the answer is back, which may be after
        our receiver has seen it, so reading right away can find the delivery unfinished."""

        async def done() -> bool:
            notes = (await self.order(out_trade_no))["notifications"]
            return bool(notes) and notes[0]["acknowledged"] is True

        await eventually(done)
        return await self.order(out_trade_no)


def respond(ack: Ack) -> web.Response:
    """The answer ``ack`` as a response; one without a body (a 204) goes without a content type."""
    status, content_type, body = ack
    if not body:
        return web.Response(status=status)
    return web.Response(status=status, body=body, content_type=content_type)


@dataclass(frozen=True)
class Delivery(Generic[V]):
    """One notification as the receiver saw it, and what the verifier made of it.

    Harnesses subclass it to name what ``verified`` holds in their channel's terms."""

    headers: dict[str, str]
    body: bytes
    at: float
    verdict: str  # "OK" or the NotifyRejected code
    verified: V | None  # what ``verify`` returned; None when it refused
    answered: int


class NoticeDelivery(Delivery[PaymentNotice | None]):
    """A delivery to a parser that makes the payment to capture of it (or None)."""

    @property
    def notice(self) -> PaymentNotice | None:
        return self.verified


@dataclass
class NotifyReceiver(Generic[D]):
    """A merchant endpoint: ``verify`` checks each notification (raising ``NotifyRejected`` to
    refuse it, answered with ``ack_refused``), and a good one is answered with ``ack_ok`` as the
    core would, or with ``busy`` for the first ``fail_first`` good ones. Each is recorded as a
    ``kind``."""

    kind: type[D]
    verify: Callable[[Mapping[str, str], bytes, datetime], object]
    ack_ok: Ack
    ack_refused: Ack
    fail_first: int = 0
    busy: Ack = BUSY
    url: str = ""
    deliveries: list[D] = field(default_factory=list)

    async def wait_for(self, count: int, timeout_s: float = 20.0) -> list[D]:
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
            verified = self.verify(headers, body, datetime.now(UTC))
        except NotifyRejected as exc:
            return self._answer(headers, body, exc.code, None, self.ack_refused)
        ok = sum(1 for d in self.deliveries if d.verdict == "OK")
        ack = self.busy if ok < self.fail_first else self.ack_ok
        return self._answer(headers, body, "OK", verified, ack)

    def _answer(
        self, headers: dict[str, str], body: bytes, verdict: str, verified: object, ack: Ack
    ) -> web.Response:
        self.deliveries.append(
            self.kind(headers, body, time.monotonic(), verdict, verified, ack[0])
        )
        return respond(ack)


@asynccontextmanager
async def answering(path: str, handler: Handler) -> AsyncIterator[str]:
    """Serve ``handler`` for POSTs to the route ``path`` (a stand-in for one endpoint of an
    outside party, or for ours); yields the base URL, which ``path`` follows."""

    def make_app(_: str) -> web.Application:
        app = web.Application()
        app.router.add_post(path, handler)
        return app

    async with serving(make_app) as (base_url, _app):
        yield base_url


@asynccontextmanager
async def running_receiver(
    receiver: NotifyReceiver[D], path: str
) -> AsyncIterator[NotifyReceiver[D]]:
    """Serve ``receiver`` at ``http://127.0.0.1:PORT{path}`` (its ``url``)."""
    async with answering(path, receiver.handle) as base_url:
        receiver.url = base_url + path
        yield receiver


async def spawn_python(*args: str) -> asyncio.subprocess.Process:
    """This interpreter run with ``args`` as a real process, its output line by line as printed
    (unbuffered) on a pipe the test reads, its errors discarded."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


@asynccontextmanager
async def running_sim_cli(
    name: str, keys_root: Path, *options: str
) -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
    """``tongjiao sim NAME --port 0`` as a real process: its announced URL and the process
    (killed on exit if the test did not stop it)."""
    proc = await spawn_python(
        *("-m", "clearing", "sim", name, "--host", "127.0.0.1", "--port", "0"),
        *("--keys", str(keys_root), *options),
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode().strip()
        assert line.startswith(f"{name} simulator listening on http://127.0.0.1:"), line
        yield line.rsplit(" ", 1)[1], proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def stops_on_sigterm(proc: asyncio.subprocess.Process) -> bool:
    proc.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(proc.wait(), 30) == 0


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 20.0) -> None:
    """Wait until ``check`` holds, or fail. A simulator records a delivery when its answer comes
    back, which may be after our receiver has already seen it: read its state through this."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not await check():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


def in_minutes(n: int) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=n)


async def open_acquirer_qr(
    client: Any, out_trade_no: str, qr_prefix: str, total_fen: int = 12_345
) -> str:
    """Open ``out_trade_no`` (the usual bill, 15 minutes) on an acquirer's real client, check
    its QR is the acquirer's (``qr_prefix``) and return the number."""
    qr = await client.create_qr(
        PaymentAsk(
            out_trade_no=out_trade_no,
            description="不动产登记费及契税",
            total_fen=total_fen,
            expires_at=in_minutes(15),
            attach="window=3",
        )
    )
    assert qr.startswith(qr_prefix)
    return out_trade_no


async def polled(
    read: Callable[[], Awaitable[R]],
    done: Callable[[R], bool],
    timeout_s: float = 10.0,
    every_s: float = 0.1,
) -> R:
    """What ``read`` gives once ``done`` holds of it, or the last it gave when ``timeout_s`` ran
    out: the caller's assertions then say what was wrong, with the value at hand."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await read()
        if done(value) or time.monotonic() >= deadline:
            return value
        await asyncio.sleep(every_s)


def refused_once(sim_order: dict[str, Any]) -> bool:
    """A simulator's order one of whose notifications our service refused (401)."""
    return 401 in [d.get("status") for d in sim_order.get("deliveries", [])]
