"""What the failover tests drive and watch: paid orders through the load balancer, a write probe
(seconds without a writable primary), readiness, and the window screens' event streams.

Everything goes through the public port (HAProxy) as a window and WeChat Pay would; a request
that meets the outage (503, a reset) is sent again with the same Idempotency-Key, as the screen
does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg

from clearing.cluster.layout import Layout
from clearing.demo import DEMO_PAYERS, DEMO_USERS, _demo_case

PASSWORDS = {u[0]: u[4] for u in DEMO_USERS}
RETRYABLE = (aiohttp.ClientError, OSError, TimeoutError)


@dataclass
class Paid:
    order_no: str
    out_trade_no: str
    paid_at: float  # monotonic, just before the citizen paid at the simulator


@dataclass
class Traffic:
    lay: Layout
    s: aiohttp.ClientSession
    tokens: dict[str, str] = field(default_factory=dict)
    paid: list[Paid] = field(default_factory=list)
    retries: int = 0
    rng: random.Random = field(default_factory=lambda: random.Random(12))

    async def _send(
        self, method: str, url: str, *, ok: tuple[int, ...], within_s: float = 180, **kw: Any
    ) -> Any:
        """One request, sent again while the cluster is between leaders."""
        deadline = time.monotonic() + within_s
        while True:
            try:
                async with self.s.request(method, url, **kw) as r:
                    text = await r.text()
                    if r.status in ok:
                        return json.loads(text)
                    # HAProxy's 503 (no ready node) is HTML; the service's refusals are JSON
                    if r.status < 500 and r.status != 409:
                        raise AssertionError(f"{method} {url}: {r.status} {text[:500]}")
            except RETRYABLE:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{method} {url} never succeeded within {within_s}s")
            self.retries += 1
            await asyncio.sleep(0.5)

    async def login(self, user: str) -> str:
        if user not in self.tokens:
            body = await self._send(
                "POST",
                f"{self.lay.base_url}/api/v1/sessions",
                ok=(200, 201),
                json={"username": user, "password": PASSWORDS[user]},
            )
            self.tokens[user] = body["token"]
        return self.tokens[user]

    async def pay_one(self, i: int) -> Paid:
        """A case the authorities assessed, an order for it, a WeChat QR, the citizen pays."""
        sims = self.lay.sims
        name, pid = DEMO_PAYERS[i % len(DEMO_PAYERS)]
        case = await _demo_case(self.s, sims, name, pid, self.rng)
        h = {
            "Authorization": f"Bearer {await self.login('clerk1')}",
            "Idempotency-Key": secrets.token_hex(12),
        }
        body = {
            "case_no": f"2026-HA-{i:06d}-{secrets.token_hex(2)}",
            "office": "HALL1",
            "window": "W01",
            "payer_name": name,
            "payer_id": pid,
            "case": case,
        }
        base = self.lay.base_url
        order = await self._send(
            "POST", f"{base}/api/v1/orders", ok=(200, 201), json=body, headers=h
        )
        started = await self._send(
            "POST",
            f"{base}/api/v1/orders/{order['order_no']}/payments",
            ok=(200, 201),
            json={"method": "qr", "channel": "wechatpay"},
            headers=h,
        )
        otn = started["out_trade_no"]
        at = time.monotonic()
        async with self.s.post(f"{sims['wechatpay']}/sim/orders/{otn}/pay") as r:
            assert r.status == 200, await r.text()
        p = Paid(order["order_no"], otn, at)
        self.paid.append(p)
        return p

    async def stream(self, stop: asyncio.Event, first: int, every_s: float = 0.3) -> None:
        i = first
        while not stop.is_set():
            await self.pay_one(i)
            i += 2  # two streams interleave their numbers
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s)


@dataclass
class Probe:
    """Writes one row through HAProxy every 0.2 s; the gaps between acknowledged writes are the
    time without a writable primary."""

    dsn: str
    ok_at: list[float] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        conn: asyncpg.Connection | None = None
        while not stop.is_set():
            try:
                if conn is None or conn.is_closed():
                    conn = await asyncpg.connect(self.dsn, timeout=2)
                    await conn.execute("CREATE TABLE IF NOT EXISTS ha_probe (at timestamptz)")
                # a write that needs the synchronous standby's acknowledgement to commit; never
                # cancelled (a commit cancelled while it waits stays committed locally): after
                # 3 s the connection is dropped instead
                write = asyncio.ensure_future(
                    conn.execute("INSERT INTO ha_probe VALUES (clock_timestamp())")
                )
                done, _ = await asyncio.wait({write}, timeout=3)
                if not done:
                    conn.terminate()
                    await asyncio.gather(write, return_exceptions=True)
                    conn = None
                    continue
                write.result()
                self.ok_at.append(time.monotonic())
            except Exception:  # the probe only counts what succeeds
                if conn is not None:
                    conn.terminate()
                conn = None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.2)
        if conn is not None:
            conn.terminate()

    def outage_after(self, t: float) -> float:
        """Seconds from ``t`` until the first write acknowledged after the longest gap that
        follows it."""
        times = [x for x in self.ok_at if x >= t]
        assert times, "no write was acknowledged after the fault"
        before = max((x for x in self.ok_at if x < t), default=t)
        gaps = [b - a for a, b in zip([before, *times], times, strict=False)]
        return max(gaps)


@dataclass
class Readiness:
    url: str
    seen: list[tuple[float, int]] = field(default_factory=list)

    async def run(self, s: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async with s.get(self.url, timeout=aiohttp.ClientTimeout(total=3)) as r:
                    self.seen.append((time.monotonic(), r.status))
            except RETRYABLE:
                self.seen.append((time.monotonic(), 0))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.3)


@dataclass
class Screen:
    """A window screen's event stream on one node, reconnecting like the browser does."""

    url: str
    token: str
    events: list[dict[str, Any]] = field(default_factory=list)
    # when the node's listener (re)connected and told the screen to reload (monotonic)
    resync_at: list[float] = field(default_factory=list)

    async def run(self, s: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        h = {"Authorization": f"Bearer {self.token}"}
        while not stop.is_set():
            try:
                async with s.get(
                    f"{self.url}/api/v1/events?office=HALL1",
                    headers=h,
                    timeout=aiohttp.ClientTimeout(total=None, sock_read=20),
                ) as r:
                    async for line in r.content:
                        if line.startswith(b"data: "):
                            event = json.loads(line[6:])
                            self.events.append(event)
                            if event.get("type") == "resync":
                                self.resync_at.append(time.monotonic())
            except RETRYABLE:
                pass
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)

    def cleared(self) -> set[str]:
        return {e["order_no"] for e in self.events if e.get("state") == "CLEARED"}

    def resynced_after(self, t: float) -> float | None:
        """When the screen last reloaded after ``t``: what was announced while its node's
        listener was away it reads then, as a window screen does."""
        later = [x for x in self.resync_at if x > t]
        return later[-1] if later else None
