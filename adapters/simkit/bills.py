"""What the acquirer simulators' bill and settlement files share: fees charged at a rate in
millionths and written to five decimals of a yuan, and the short-lived download links a file is
fetched by."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Generic, TypeVar

T = TypeVar("T")


def fee_millifen(fen: int, ppm: int) -> int:
    """The fee on ``fen`` at ``ppm`` millionths, in thousandths of a fen, rounded half up:
    fen × ppm / 10**6 fen = fen × ppm / 1000 thousandths of a fen."""
    return (fen * ppm + 500) // 1000


def fee_text(millifen: int) -> str:
    """A fee in thousandths of a fen as five decimals of a yuan, like ``-0.01235``."""
    whole, frac = divmod(abs(millifen), 100_000)
    return f"{'-' if millifen < 0 else ''}{whole}.{frac:05d}"


class Links(Generic[T]):
    """Download links: a random token (in the party's shape) for what a file is made of,
    valid for ``ttl``."""

    def __init__(
        self, ttl: timedelta, token: Callable[[], str] = lambda: secrets.token_urlsafe(32)
    ) -> None:
        self.ttl = ttl
        self._token = token
        self._links: dict[str, tuple[T, datetime]] = {}

    def issue(self, what: T, now: datetime) -> str:
        """A fresh token for ``what``; links that ran out are forgotten on the way."""
        self._links = {t: v for t, v in self._links.items() if v[1] > now}
        token = self._token()
        self._links[token] = (what, now + self.ttl)
        return token

    def get(self, token: str, now: datetime) -> T | None:
        """What ``token`` stands for, or None when there is no such link or it ran out."""
        found = self._links.get(token)
        return None if found is None or found[1] <= now else found[0]

    def __iter__(self) -> Iterator[str]:
        """The tokens issued and not yet forgotten (tests read them back)."""
        return iter(self._links)
