"""Wrong sign-ins at a steady rate while /healthz is timed: shared by the login test and
tests/bench/login_load.py. Loopback only, bounded in time and in requests.

Besides the figures under sign-in load, a control: the same rate of wrong sign-ins for a locked
name, answered without any hash. On a machine busy with other work both slow alike; a hash on
the event loop shows as the difference between them.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from dataclasses import dataclass

import aiohttp


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _ms(x: float) -> str:
    return f"{x * 1000:.1f}"


@dataclass(frozen=True)
class Phase:
    healthz: list[float]  # seconds per /healthz
    answers: Counter[int]  # status of each wrong sign-in (0: none in time)
    offered_per_s: float

    def line(self, name: str) -> str:
        s = self.healthz
        return (
            f"healthz_{name}_p50_ms {_ms(statistics.median(s))} p99_ms {_ms(pct(s, 0.99))}"
            f" max_ms {_ms(max(s))} n {len(s)}"
            + (f" logins_per_s {self.offered_per_s:.1f} answers {dict(sorted(self.answers.items()))}"
               if self.answers else "")
        )  # fmt: skip


@dataclass(frozen=True)
class Figures:
    quiet: Phase
    loaded: Phase
    control: Phase | None

    def lines(self) -> list[str]:
        out = [self.quiet.line("quiet"), self.loaded.line("loaded")]
        if self.control is not None:
            out.append(self.control.line("control"))
        return out


async def _probe(
    http: aiohttp.ClientSession, base_url: str, n: int, within_s: float = 10.0
) -> list[float]:
    out: list[float] = []
    deadline = time.perf_counter() + within_s
    while len(out) < n and time.perf_counter() < deadline:
        started = time.perf_counter()
        async with http.get(base_url + "/healthz") as r:
            assert r.status == 200
            await r.read()
        out.append(time.perf_counter() - started)
        await asyncio.sleep(0.01)
    return out


async def _under_load(
    http: aiohttp.ClientSession, base_url: str, username: str, rate: float, probes: int
) -> Phase:
    """Probe while wrong passwords for ``username`` arrive at ``rate`` a second, paced by the
    wall clock: a stalled loop sends the late ones at once."""
    stop = asyncio.Event()
    answers: Counter[int] = Counter()

    async def one() -> None:
        body = {"username": username, "password": "certainly-Wrong-1"}
        async with http.post(base_url + "/api/v1/sessions", json=body) as r:
            await r.read()
            answers[r.status] += 1

    async def pace() -> float:
        tasks: list[asyncio.Task[None]] = []
        start = time.perf_counter()
        cap = int(rate * 15)  # bounded, even if the probes crawl
        while not stop.is_set() and len(tasks) < cap:
            due = int((time.perf_counter() - start) * rate) + 1
            while len(tasks) < min(due, cap):
                tasks.append(asyncio.create_task(one()))
            await asyncio.sleep(1 / rate)
        elapsed = time.perf_counter() - start
        _done, late = await asyncio.wait(tasks, timeout=20)
        for t in late:
            t.cancel()
        if late:
            answers[0] += len(late)  # 0: no answer within 20 s of the end
        return len(tasks) / elapsed

    pacer = asyncio.create_task(pace())
    try:
        await asyncio.sleep(0.5)  # the pool's queue fills first
        healthz = await _probe(http, base_url, probes)
    finally:
        stop.set()
        offered = await pacer
    return Phase(healthz, answers, offered)


async def measure(
    base_url: str,
    username: str,
    *,
    control_username: str | None = None,
    rate: float = 50.0,
    probes: int = 150,
) -> Figures:
    """Time ``probes``/2 health checks alone, then ``probes`` under wrong sign-ins for
    ``username`` and, when given, for the locked ``control_username``."""
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        quiet = Phase(await _probe(http, base_url, probes // 2), Counter(), 0.0)
        control = None
        if control_username is not None:
            control = await _under_load(http, base_url, control_username, rate, probes)
        loaded = await _under_load(http, base_url, username, rate, probes)
    return Figures(quiet, loaded, control)
