"""The Alipay simulator's fault knobs, set by ``PUT /sim/faults``; all off by default."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from adapters.simkit.faults import DROP_LIMIT
from adapters.simkit.notify import CallbackKnobs

# sub_codes the refund_error knob may answer with: unknown outcome, or a real refusal
REFUND_ERRORS = ("", "ACQ.SYSTEM_ERROR", "ACQ.SELLER_BALANCE_NOT_ENOUGH")


@dataclass
class Faults(CallbackKnobs):
    """Every knob, with the type its value must have; the callback and API knobs every acquirer
    has come from ``CallbackKnobs`` (``api_5xx`` answers an HTTP 502 page here)."""

    CHOICES: ClassVar[Mapping[str, tuple[str, ...]]] = {"refund_error": REFUND_ERRORS}
    LIMITS: ClassVar[Mapping[str, tuple[float, str]]] = {
        "drop_callbacks": DROP_LIMIT,
        "fee_rate_ppm": (1_000_000, "fee_rate_ppm is at most 1000000 (100 %)"),
    }

    # notifications
    reorder_callbacks: bool = False  # hold rounds and send each burst in reverse order
    reorder_window_s: float = 0.3  # how long a burst collects before it is sent
    unsigned_callbacks: bool = False
    wrong_app_id: bool = False  # a genuine notification, but for another app
    wrong_seller_id: bool = False  # a genuine notification, but for another seller
    # the gateway
    system_error: int = 0  # the next N calls answer 20000 isp.unknow-error
    user_paying: bool = False  # the next pay answers 10003 WAIT_BUYER_PAY
    user_paying_s: float = 1.0  # after which the citizen confirms…
    user_paying_completes: bool = True  # …or never does
    cancel_retry: int = 0  # the next N cancels fail with retry_flag=Y
    refund_error: str = ""  # the next refunds answer with this sub_code
    fee_rate_ppm: int = 0  # service fee in millionths of the amount (6000 is 0.6 %)

    def burst(self) -> tuple[int, float] | None:
        # every round that arrives within the window joins the burst, however many
        return (sys.maxsize, self.reorder_window_s) if self.reorder_callbacks else None
