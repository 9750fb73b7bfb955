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

from dataclasses import asdict, dataclass
from typing import Any

REFUND_STATES = ("SUCCESS", "PROCESSING", "ABNORMAL", "CLOSED")
CODEPAY_ERRORS = ("", "NOTENOUGH", "AUTHCODEEXPIRE", "BANKERROR")
_CHOICES = {
    "refund_status": REFUND_STATES,
    "user_paying_result": ("SUCCESS", "PAYERROR"),
    "codepay_error": CODEPAY_ERRORS,
}


@dataclass
class Faults:
    """All off by default."""

    drop_callbacks: float = 0.0
    duplicate_callbacks: int = 0
    reorder_callbacks: bool = False
    reorder_window_s: float = 0.2
    delay_callbacks_s: float = 0.0
    api_5xx: int = 0
    api_delay_s: float = 0.0
    bad_signature: bool = False
    bad_response_signature: bool = False
    wrong_serial: bool = False
    probe: bool = False
    stale_timestamp: bool = False
    pay_after_timeout: bool = False
    pay_after_timeout_s: float = 30.0
    refund_status: str = "SUCCESS"
    user_paying: bool = False
    user_paying_s: float = 0.0
    user_paying_result: str = "SUCCESS"
    codepay_error: str = ""
    bill_creating: bool = False
    bad_bill_hash: bool = False
    truncate_bill: bool = False

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def update(self, knobs: dict[str, Any]) -> None:
        """Apply a partial update; ``ValueError`` names the first bad knob (nothing is applied)."""
        checked = {}
        for name, value in knobs.items():
            if name not in self.__dataclass_fields__:
                raise ValueError(f"unknown knob {name!r}")
            checked[name] = _knob(name, type(getattr(self, name)), value)
        for name, value in checked.items():
            setattr(self, name, value)


def _knob(name: str, kind: type, value: Any) -> Any:
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false")
        return value
    if kind is str:
        choices = _CHOICES[name]
        if value not in choices:
            raise ValueError(f"{name} must be one of {', '.join(repr(c) for c in choices)}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{name} must be a non-negative number")
    if kind is int:
        if not isinstance(value, int):
            raise ValueError(f"{name} must be an integer")
        return value
    if name == "drop_callbacks" and value > 1:
        raise ValueError("drop_callbacks is a probability between 0 and 1")
    return float(value)
