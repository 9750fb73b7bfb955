"""Password hashing off the event loop, in a bounded pool.

scrypt takes 50–350 ms of CPU. Run on the event loop, every sign-in stalled every other request of
the process — payment notifications included — for that long. Here it runs on a few threads
(hashlib releases the GIL while it hashes), and only so many requests may wait for one: past that
a sign-in is refused at once as busy instead of queueing without end while an attacker guesses.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from clearing import security
from clearing.errors import Unavailable

# a well-formed stored hash that no password matches (random salt and digest): an unknown name is
# checked against it, so it costs the same scrypt run as a real one
DUMMY_HASH = (
    "scrypt$"
    + base64.b64encode(b"tongjiao-no-user").decode()
    + "$"
    + base64.b64encode(bytes(64)).decode()
)

T = TypeVar("T")


class HashPool:
    def __init__(self, workers: int, queue: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pwhash")
        self._limit = workers + queue
        self._busy = 0

    def refuse_if_full(self) -> None:
        """Refuse at once, before any other work, when no more requests may wait."""
        if self._busy >= self._limit:
            raise Unavailable(
                "LOGIN_BUSY",
                "too many sign-ins at once; try again in a few seconds",
                "登录请求过多，请稍候几秒再试",
            )

    async def _run(self, fn: Callable[..., T], *args: str) -> T:
        self.refuse_if_full()
        self._busy += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, fn, *args)
        finally:
            self._busy -= 1

    async def check(self, password: str, stored: str | None) -> bool:
        """Whether the password matches; a missing hash is checked against the dummy, and fails."""
        ok = await self._run(security.check_password, password, stored or DUMMY_HASH)
        return ok and stored is not None

    async def hash(self, password: str) -> str:
        return await self._run(security.hash_password, password)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
