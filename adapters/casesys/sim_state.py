"""What the case-system simulator holds and how it judges a webhook, as the real receiver would.

The check follows what our README tells a case system to do, written from the receiver's side
(it shares no code with the sender): the timestamp within ``tolerance_s`` of our clock, then any
``v1=`` value of ``X-Tongjiao-Signature`` equal to HMAC-SHA256(secret, "timestamp.rawbody") for a
secret we hold (two during a rotation), compared in constant time, then the event id: one seen
before is acknowledged and not processed again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

from aiohttp import web

from adapters.simkit.authority import Refusal
from adapters.simkit.faults import Knobs
from adapters.simkit.state import SimBase

TOLERANCE_S: Final = 300


@dataclass
class Faults(Knobs):
    """The knobs of ``PUT /sim/faults``; all off by default.

    down         every webhook gets 503 from the front proxy, as when the system is off line
    fail_next    the next N genuine webhooks get 500 after being checked (and are not kept)
    delay_s      every answer waits this long (a slow system; a timeout when longer than ours)
    """

    LIMITS: ClassVar[Mapping[str, tuple[float, str]]] = {
        "delay_s": (600, "delay_s must be 0 to 600")
    }

    down: bool = False
    fail_next: int = 0
    delay_s: float = 0.0


@dataclass
class SimState(SimBase):
    secrets: list[str] = field(default_factory=list)
    tolerance_s: int = TOLERANCE_S
    faults: Faults = field(default_factory=Faults)
    # every event processed, in the order it arrived
    events: list[dict[str, Any]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    duplicates: int = 0
    refused: list[dict[str, Any]] = field(default_factory=list)
    # genuine requests per event id, and how many were ever in flight at once for one event
    requests: dict[str, int] = field(default_factory=dict)
    in_flight: dict[str, int] = field(default_factory=dict)
    max_in_flight: int = 0

    def __post_init__(self) -> None:
        SimBase.__init__(self)  # the kit's shutdown event and sleeps that end at shutdown

    def verify(self, headers: Any, body: bytes, now: float) -> dict[str, Any]:
        """The event, when the request is genuine and fresh; ``Refusal`` otherwise (its status,
        code and detail are the answer)."""
        if not self.secrets:
            raise Refusal("NO_SECRET", "no signing secret configured", 503)
        raw_ts = headers.get("X-Tongjiao-Timestamp", "")
        if not raw_ts.isdigit():
            raise Refusal("TIMESTAMP_MISSING", "X-Tongjiao-Timestamp must be Unix seconds", 400)
        timestamp = int(raw_ts)
        if abs(now - timestamp) > self.tolerance_s:
            raise Refusal("TIMESTAMP_STALE", "timestamp outside the tolerance (a replay?)", 400)
        given = [
            part.strip()[3:]
            for part in headers.get("X-Tongjiao-Signature", "").split(",")
            if part.strip().startswith("v1=")
        ]
        message = raw_ts.encode("ascii") + b"." + body
        expected = [
            hmac.new(s.encode("utf-8"), message, hashlib.sha256).hexdigest() for s in self.secrets
        ]
        if not any(hmac.compare_digest(g, e) for g in given for e in expected):
            raise Refusal("SIGNATURE_INVALID", "no v1 signature matches a secret we hold", 401)
        try:
            event = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise Refusal("BODY_INVALID", "the body is not JSON", 400) from None
        if not isinstance(event, dict) or event.get("id") != headers.get("X-Tongjiao-Event-Id"):
            raise Refusal("EVENT_ID_MISMATCH", "the body's id is not the header's", 400)
        return event

    def keep(self, event: dict[str, Any], received_at: str) -> bool:
        """Process a genuine event once: False when its id was seen before (a duplicate)."""
        if event["id"] in self.seen:
            self.duplicates += 1
            return False
        self.seen.add(event["id"])
        data = event.get("data") or {}
        self.events.append(
            {
                "id": event["id"],
                "type": event.get("type"),
                "occurred_at": event.get("occurred_at"),
                "order_no": data.get("order_no"),
                "case_no": data.get("case_no"),
                "total_fen": data.get("total_fen"),
                "paid_fen": data.get("paid_fen"),
                "refunded_fen": data.get("refunded_fen"),
                "received_at": received_at,
            }
        )
        return True

    def by_order(self) -> dict[str, list[str]]:
        """Each order's event types in the order they arrived."""
        out: dict[str, list[str]] = {}
        for e in self.events:
            out.setdefault(str(e["order_no"]), []).append(str(e["type"]))
        return out

    def as_json(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "by_order": self.by_order(),
            "duplicates": self.duplicates,
            "refused": self.refused[-100:],
            "requests": self.requests,
            "max_in_flight": self.max_in_flight,
            "secrets": len(self.secrets),
            "tolerance_s": self.tolerance_s,
            "faults": self.faults.as_json(),
        }


STATE: Final = web.AppKey("casesys_state", SimState)
