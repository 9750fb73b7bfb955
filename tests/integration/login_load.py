"""Wrong sign-ins at a steady rate while /healthz is timed: shared by the login test and
tests/bench/login_load.py. Loopback only, bounded in time and in requests."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from dataclasses import dataclass

import aiohttp


@dataclass(frozen=True)
class Figures:
    quiet: list[float]  # /healthz seconds with no sign-ins
    loaded: list[float]  # /healthz seconds while the wrong sign-ins arrive
    answers: Counter[int]  # status of each wrong sign-in (0: none in time)
    offered_per_s: float

    @staticmethod
    def pct(samples: list[float], q: float) -> float:
        ordered = sorted(samples)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def lines(self) -> list[str]:
        def ms(x: float) -> str:
            return f"{x * 1000:.1f}"

        return [
            f"logins_offered_per_s {self.offered_per_s:.1f}",
            f"login_answers {dict(sorted(self.answers.items()))}",
            f"healthz_quiet_p50_ms {ms(statistics.median(self.quiet))}"
            f" p99_ms {ms(self.pct(self.quiet, 0.99))} max_ms {ms(max(self.quiet))}",
            f"healthz_loaded_p50_ms {ms(statistics.median(self.loaded))}"
            f" p99_ms {ms(self.pct(self.loaded, 0.99))} max_ms {ms(max(self.loaded))}",
        ]


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


async def measure(
    base_url: str, username: str, *, rate: float = 50.0, probes: int = 150
) -> Figures:
    """Time ``probes`` health checks alone, then again while wrong passwords for ``username``
    arrive at ``rate`` a second (by the wall clock: a stalled loop sends the late ones at once)."""
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        quiet = await _probe(http, base_url, probes // 2)
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
            loaded = await _probe(http, base_url, probes)
        finally:
            stop.set()
            offered = await pacer
    return Figures(quiet, loaded, answers, offered)
