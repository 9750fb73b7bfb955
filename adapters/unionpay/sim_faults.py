"""The UnionPay simulator's fault knobs, set by ``PUT /sim/faults``; all off by default."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from adapters.simkit.notify import CallbackKnobs

RESULTS = ("success", "processing", "fail")
# an exact decimal fraction of one, e.g. "0.0038" (0.38 %); Fraction() reads it without rounding
FEE_RATE = re.compile(r"0(\.[0-9]{1,8})?")


@dataclass
class Faults(CallbackKnobs):
    """The callback and API knobs every acquirer has come from ``CallbackKnobs``."""

    CHOICES: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "outcome_unknown_result": RESULTS,
        "refund_result": RESULTS,
    }

    # notifications
    reorder_callbacks: int = 0  # hold first deliveries until this many, then send newest first
    reorder_hold_s: float = 1.0  # send a smaller burst after this long
    untrusted_cert: bool = False  # a look-alike certificate no trusted CA issued
    wrong_merchant: bool = False  # a correctly signed notification for another merId
    # gateway
    untrusted_response_cert: bool = False
    outcome_unknown: bool = False  # the next pay-by-code answers 05 and completes later
    outcome_unknown_s: float = 3.0
    outcome_unknown_result: str = "success"
    refund_result: str = "success"
    bill_truncated: bool = False  # the ZM file loses the end of its last line
    # the clearing file
    fee_rate: str = "0"

    def burst(self) -> tuple[int, float] | None:
        return (self.reorder_callbacks, self.reorder_hold_s) if self.reorder_callbacks > 1 else None

    def check(self, name: str, value: Any) -> Any:
        if name == "fee_rate":
            if not isinstance(value, str) or not FEE_RATE.fullmatch(value):
                raise ValueError("fee_rate is a decimal string below 1, like '0.0038'")
            return value
        return super().check(name, value)
