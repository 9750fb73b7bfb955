"""A bounded log of refused anonymous traffic.

Anyone can post to ``/notify/...``; a refusal is counted in the metrics (every one) and logged,
but only so many lines a minute per channel, so a flood cannot fill the disk or bury the lines
an operator needs. The audit trail records people and money, not such noise.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class _Bucket:
    tokens: float
    stamp: float
    suppressed: int = 0


@dataclass
class RefusalLog:
    """A token bucket per key: ``burst`` lines at once, then ``per_minute`` a minute; the first
    line after a quiet spell says how many were left out."""

    logger: logging.Logger
    burst: int = 10
    per_minute: int = 10
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def refused(self, key: str, message: str, *args: object) -> bool:
        """Log one refusal under ``key`` if the budget allows; True when it was logged."""
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) > 1000:  # keys are channels; never let them grow unbounded
                self._buckets.clear()
            bucket = self._buckets[key] = _Bucket(tokens=float(self.burst), stamp=now)
        bucket.tokens = min(
            float(self.burst), bucket.tokens + (now - bucket.stamp) * self.per_minute / 60.0
        )
        bucket.stamp = now
        if bucket.tokens < 1.0:
            bucket.suppressed += 1
            return False
        bucket.tokens -= 1.0
        if bucket.suppressed:
            message += " (%d similar refusals not logged)"
            args = (*args, bucket.suppressed)
            bucket.suppressed = 0
        self.logger.warning(message, *args)
        return True
