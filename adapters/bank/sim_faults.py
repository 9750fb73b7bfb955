"""The bank simulator's fault knobs: ``PUT /sim/faults`` (partial), ``GET``, ``DELETE`` (reset).

Knobs::

    delay_s            every inbox and outbox answer waits this long: the client must time out
    inbox_5xx          the next N inbox requests answer 503
    outbox_5xx         the next N outbox requests (listing or download) answer 503
    refuse_fetches     the bank's next N pull rounds fetch nothing (its fetcher is down)
    reject_accounts    credits to these account numbers are refused with ...
    reject_reason      ... this ISO reason code (default AC06, account blocked)
    drop_status        file names or MsgIds whose pain.002 is never published (consumed when
                       used; a bare string names one)
    duplicate_status   the next N pain.002 are published twice
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from adapters.simkit.faults import Knobs

_REASON = re.compile(r"[A-Z0-9]{4}")


@dataclass
class Faults(Knobs):
    """All off by default."""

    delay_s: float = 0.0
    inbox_5xx: int = 0
    outbox_5xx: int = 0
    refuse_fetches: int = 0
    reject_accounts: list[str] = field(default_factory=list)
    reject_reason: str = "AC06"
    drop_status: list[str] = field(default_factory=list)
    duplicate_status: int = 0

    def check(self, name: str, value: Any) -> Any:
        if name in ("reject_accounts", "drop_status"):
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise ValueError(f"{name} must be a list of non-empty strings")
            return list(value)
        if name == "reject_reason":
            if not isinstance(value, str) or not _REASON.fullmatch(value):
                raise ValueError("reject_reason must be a 4-character ISO reason code")
            return value
        return super().check(name, value)

    def take_drop(self, *keys: str) -> bool:
        """Whether the pain.002 for a file known by these keys (name, MsgId) is to be dropped."""
        for key in keys:
            if key in self.drop_status:
                self.drop_status.remove(key)
                return True
        return False
