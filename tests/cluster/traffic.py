"""What the failover tests and the fault campaign drive and watch: paid orders through the load
balancer (every channel and method: QR, payment code, card), a write probe (seconds without a
writable primary), readiness, and the window screens' event streams.

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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg

from clearing.cluster.layout import Layout
from clearing.demo import DEMO_PAYERS, DEMO_USERS, TERMINALS, _demo_case

PASSWORDS = {u[0]: u[4] for u in DEMO_USERS}
RETRYABLE = (aiohttp.ClientError, OSError, TimeoutError)
# every way a citizen pays at the window: (channel, method)
WAYS = (
    ("wechatpay", "qr"),
    ("alipay", "qr"),
    ("unionpay", "qr"),
    ("wechatpay", "code"),
    ("alipay", "code"),
    ("unionpay", "code"),
    ("pos", "card"),
)
PAID_STATES = ("CLEARED", "SETTLED")


def payment_code(provider: str, rng: random.Random) -> str:
    """A code of the shape the channel publishes (clearing.domain.codes): the clerk scans it."""
    lead, digits = {"wechatpay": ("13", 16), "alipay": ("28", 14), "unionpay": ("62", 17)}[provider]
    return lead + "".join(str(rng.randrange(10)) for _ in range(digits))


@dataclass
class Paid:
    order_no: str
    out_trade_no: str
    paid_at: float  # monotonic, just before the citizen paid at the simulator
    provider: str = "wechatpay"
    method: str = "qr"


@dataclass
class Traffic:
    lay: Layout
    s: aiohttp.ClientSession
    tokens: dict[str, str] = field(default_factory=dict)
    paid: list[Paid] = field(default_factory=list)
    retries: int = 0
    rng: random.Random = field(default_factory=lambda: random.Random(12))
    # one sale at a time on each card terminal, as at a real window
    terminals: dict[str, asyncio.Lock] = field(
        default_factory=lambda: {t: asyncio.Lock() for t in TERMINALS}
    )

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

    async def _once(self, method: str, url: str, **kw: Any) -> tuple[int, Any]:
        """One request, not sent again: (status, JSON body or None); 0 when it failed on the way
        (a node killed under it, a connection cut)."""
        try:
            async with self.s.request(
                method, url, timeout=aiohttp.ClientTimeout(total=60), **kw
            ) as r:
                text = await r.text()
                try:
                    return r.status, json.loads(text)
                except ValueError:
                    return r.status, None
        except RETRYABLE:
            return 0, None

    async def open_order(self, i: int, *, from_case: bool) -> dict[str, Any]:
        """An order through the load balancer: for a case the authorities assessed (its legs are
        confirmed to them after payment), or lines a supervisor typed (no authority involved)."""
        name, pid = DEMO_PAYERS[i % len(DEMO_PAYERS)]
        body: dict[str, Any] = {
            "case_no": f"2026-HA-{i:06d}-{secrets.token_hex(2)}",
            "office": "HALL1",
            "window": "W01",
            "payer_name": name,
            "payer_id": pid,
        }
        if from_case:
            body["case"] = await _demo_case(self.s, self.lay.sims, name, pid, self.rng)
            user = "clerk1"
        else:
            amount = self.rng.randint(1_00, 900_00)
            body["lines"] = [{"item_code": "REG_FEE", "amount_fen": amount}]
            body["manual_reason"] = "故障演练：主管手工录入"
            user = "super1"
        h = {
            "Authorization": f"Bearer {await self.login(user)}",
            "Idempotency-Key": secrets.token_hex(12),
        }
        order: dict[str, Any] = await self._send(
            "POST", f"{self.lay.base_url}/api/v1/orders", ok=(200, 201), json=body, headers=h
        )
        order["_auth"] = h["Authorization"]
        return order

    async def pay_way(
        self, i: int, provider: str, method: str, *, from_case: bool = True, within_s: float = 600
    ) -> Paid:
        """Order ``i`` paid one way, whatever the faults. A start that meets a killed node or a
        channel's 5xx is looked up on the order: an attempt that reached the channel is paid (QR,
        card) or waited for (code); otherwise the clerk starts again, as at the window."""
        order = await self.open_order(i, from_case=from_case)
        order_no = order["order_no"]
        auth = {"Authorization": order["_auth"]}
        base = self.lay.base_url
        sim = self.lay.sims[provider]
        deadline = time.monotonic() + within_s
        while True:
            assert time.monotonic() < deadline, f"order {order_no} not paid within {within_s}s"
            body: dict[str, Any] = {"method": method}
            if method == "code":
                body["auth_code"] = payment_code(provider, self.rng)
            else:
                body["channel"] = provider
            terminal = TERMINALS[i % len(TERMINALS)]
            if method == "card":
                body["terminal_id"] = terminal
            async with self.terminals[terminal] if method == "card" else contextlib.nullcontext():
                status, started = await self._once(
                    "POST", f"{base}/api/v1/orders/{order_no}/payments", json=body, headers=auth
                )
                otn = started.get("out_trade_no") if status == 201 and started else None
                if otn is None:
                    self.retries += 1
                    # the terminal is busy with this order's earlier sale, whose answer was lost
                    busy = isinstance(started, dict) and started.get("channel_code") == "T1"
                    if 400 <= status < 500 and status not in (409, 429) and not busy:
                        raise AssertionError(f"paying {order_no}: {status} {started}")
                    view = await self._send(
                        "GET", f"{base}/api/v1/orders/{order_no}", ok=(200,), headers=auth
                    )
                    if view["state"] in PAID_STATES:
                        won = [a for a in view["attempts"] if a["state"] == "SUCCEEDED"]
                        otn = won[-1]["out_trade_no"] if won else ""
                        return self._paid(order_no, otn, provider, method)
                    open_ = [
                        a
                        for a in view["attempts"]
                        if a["state"] == "OPEN"
                        and (a["provider"], a["method"]) == (provider, method)
                    ]
                    if not open_:
                        await asyncio.sleep(0.5)
                        continue
                    otn = open_[-1]["out_trade_no"]
                    if method == "card":
                        # the sale that reached the terminal may be an earlier one of this order
                        for a in open_[:-1]:
                            paid_at = time.monotonic()
                            sale = f"{sim}/sim/orders/{a['out_trade_no']}/pay"
                            if (await self._once("POST", sale, json={}))[0] == 200:
                                return self._paid(
                                    order_no, a["out_trade_no"], provider, method, paid_at
                                )
                at = time.monotonic()
                if method == "code":
                    # the channel charged the code when we asked it (or never did)
                    if await self._channel_kept(sim, provider, otn, within_s=30):
                        return self._paid(order_no, otn, provider, method, at)
                    await asyncio.sleep(0.5)
                    continue
                # the citizen scans the QR / presents the card at the terminal
                status, _ = await self._once("POST", f"{sim}/sim/orders/{otn}/pay", json={})
                if status == 200 or await self._channel_kept(sim, provider, otn, within_s=0):
                    return self._paid(order_no, otn, provider, method, at)
            self.retries += 1
            await asyncio.sleep(0.5)

    def _paid(
        self, order_no: str, otn: str, provider: str, method: str, at: float | None = None
    ) -> Paid:
        p = Paid(order_no, otn, at or time.monotonic(), provider, method)
        self.paid.append(p)
        return p

    async def _channel_kept(self, sim: str, provider: str, otn: str, *, within_s: float) -> bool:
        """Whether the channel holds the citizen's money for ``otn`` (waits ``within_s`` for a
        charge still in flight)."""
        deadline = time.monotonic() + within_s
        while True:
            status, body = await self._once("GET", f"{sim}/sim/orders/{otn}")
            if status == 200 and channel_kept(provider, body):
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.5)

    async def stream(self, stop: asyncio.Event, first: int, every_s: float = 0.3) -> None:
        i = first
        while not stop.is_set():
            await self.pay_one(i)
            i += 2  # two streams interleave their numbers
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s)


def channel_kept(provider: str, order: Any) -> bool:
    """The simulator's view of one trade: paid and not given back (refunded, reversed, voided)."""
    if not isinstance(order, dict):
        return False
    state = order.get("state")
    if provider == "wechatpay":
        return bool(state == "SUCCESS")
    if provider == "alipay":
        return state in ("TRADE_SUCCESS", "TRADE_FINISHED") and not order.get("refunds")
    if provider == "unionpay":
        return bool(
            state == "SUCCESS" and not order.get("voided") and not order.get("refunded_fen")
        )
    if provider == "pos":
        return bool(state == "APPROVED" and not order.get("refunds"))
    raise ValueError(f"unknown channel {provider!r}")


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
    """A window screen's event stream on one node, behaving like the browser's (events.js):
    an event says what changed; after missed events (the node's listener announces a resync, or
    the screen's own stream broke and came back) it reloads the orders it shows, since events
    sent while it was away are gone."""

    url: str
    token: str
    # the orders this window shows (those created at it); read again on every reload
    shown: Callable[[], list[str]] = list
    events: list[dict[str, Any]] = field(default_factory=list)
    # when the node's listener (re)connected and told the screen to reload (monotonic)
    resync_at: list[float] = field(default_factory=list)
    # when the screen's own stream opened and broke (monotonic)
    opened_at: list[float] = field(default_factory=list)
    lost_at: list[float] = field(default_factory=list)
    # orders a reload found cleared, and when each reload happened
    reloaded: set[str] = field(default_factory=set)
    reload_at: list[float] = field(default_factory=list)

    async def run(self, s: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        h = {"Authorization": f"Bearer {self.token}"}
        missed = False
        while not stop.is_set():
            try:
                async with s.get(
                    f"{self.url}/api/v1/events?office=HALL1",
                    headers=h,
                    timeout=aiohttp.ClientTimeout(total=None, sock_read=20),
                ) as r:
                    if r.status == 200:
                        self.opened_at.append(time.monotonic())
                        if missed:
                            await self.reload(s)
                        missed = False
                    async for line in r.content:
                        if line.startswith(b"data: "):
                            event = json.loads(line[6:])
                            self.events.append(event)
                            if event.get("type") == "resync":
                                self.resync_at.append(time.monotonic())
                                await self.reload(s)
            except RETRYABLE:
                pass
            if not missed:
                self.lost_at.append(time.monotonic())
            missed = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)

    async def reload(self, s: aiohttp.ClientSession) -> None:
        """Read again each shown order not yet known to be cleared, as the screen refreshes."""
        self.reload_at.append(time.monotonic())
        h = {"Authorization": f"Bearer {self.token}"}
        known = self.cleared()
        for order_no in [o for o in self.shown() if o not in known]:
            try:
                async with s.get(
                    f"{self.url}/api/v1/orders/{order_no}",
                    headers=h,
                    timeout=aiohttp.ClientTimeout(total=10),
                ) as r:
                    if r.status == 200 and (await r.json())["state"] in PAID_STATES:
                        self.reloaded.add(order_no)
            except RETRYABLE:
                return  # the stream breaks too; the screen reloads when it is back

    def from_events(self) -> set[str]:
        return {e["order_no"] for e in self.events if e.get("state") in PAID_STATES}

    def cleared(self) -> set[str]:
        return self.from_events() | self.reloaded

    def resynced_after(self, t: float) -> float | None:
        """When the screen last reloaded after ``t``: what was announced while its node's
        listener was away it reads then, as a window screen does."""
        later = [x for x in self.resync_at if x > t]
        return later[-1] if later else None

    def story(self, t0: float, orders: set[str]) -> str:
        """What this screen went through after ``t0`` (seconds), and what it knows of ``orders``."""

        def at(xs: list[float]) -> str:
            return ", ".join(f"{x - t0:.1f}" for x in xs if x > t0) or "-"

        seen = self.from_events()
        return (
            f"{self.url}: resync at [{at(self.resync_at)}], stream lost at [{at(self.lost_at)}],"
            f" opened at [{at(self.opened_at)}], reloaded at [{at(self.reload_at)}];"
            f" of {len(orders)} late orders {len(orders & seen)} seen cleared by an event,"
            f" {len(orders & self.reloaded - seen)} only by a reload,"
            f" missing {sorted(orders - self.cleared())[:5]}"
        )
