"""The simulator's fault knobs, set by ``PUT /sim/faults`` and cleared by ``DELETE /sim/faults``.

Callbacks (payment and refund notifications alike):
    drop_callbacks (probability 0..1), duplicate_callbacks (extra copies per round),
    reorder_callbacks (hold first deliveries for reorder_window_s, then send them newest first),
    delay_callbacks_s, bad_signature, wrong_serial, probe (a WECHATPAY/SIGNTEST/ probe first),
    stale_timestamp.
API answers:
    api_5xx (count of 500s), api_delay_s, bad_response_signature, pay_after_timeout (the next
    prepay or code payment succeeds but its answer waits pay_after_timeout_s).
Payment codes:
    user_paying (answer USERPAYING), user_paying_s (the citizen confirms after this many seconds;
    0 = only when ``POST /sim/orders/{no}/pay`` says so), user_paying_result (SUCCESS or
    PAYERROR: what the confirmation turns into), codepay_error (NOTENOUGH, AUTHCODEEXPIRE or
    BANKERROR: refuse the code).
Refunds:
    refund_status (the state a new refund answers with).
Bills:
    bill_creating (STATEMENT_CREATING), bad_bill_hash (hash_value that does not match),
    truncate_bill (the file loses its summary lines).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from adapters.simkit.notify import CallbackKnobs

REFUND_STATES = ("SUCCESS", "PROCESSING", "ABNORMAL", "CLOSED")
CODEPAY_ERRORS = ("", "NOTENOUGH", "AUTHCODEEXPIRE", "BANKERROR")
_CHOICES = {
    "refund_status": REFUND_STATES,
    "user_paying_result": ("SUCCESS", "PAYERROR"),
    "codepay_error": CODEPAY_ERRORS,
}


@dataclass
class Faults(CallbackKnobs):
    """All off by default; the callback and API knobs every acquirer has come from
    ``CallbackKnobs``."""

    CHOICES: ClassVar[Mapping[str, tuple[str, ...]]] = _CHOICES

    reorder_callbacks: bool = False
    reorder_window_s: float = 0.2
    wrong_serial: bool = False
    probe: bool = False
    stale_timestamp: bool = False
    refund_status: str = "SUCCESS"
    user_paying: bool = False
    user_paying_s: float = 0.0
    user_paying_result: str = "SUCCESS"
    codepay_error: str = ""
    bill_creating: bool = False
    bad_bill_hash: bool = False
    truncate_bill: bool = False

    def burst(self) -> tuple[int, float] | None:
        # every first delivery that arrives within the window joins the burst, however many
        return (sys.maxsize, self.reorder_window_s) if self.reorder_callbacks else None
