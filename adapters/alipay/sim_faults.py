"""The Alipay simulator's fault knobs, set by ``PUT /sim/faults``; all off by default."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# sub_codes the refund_error knob may answer with: unknown outcome, or a real refusal
REFUND_ERRORS = ("", "ACQ.SYSTEM_ERROR", "ACQ.SELLER_BALANCE_NOT_ENOUGH")


@dataclass
class Faults:
    """Every knob, with the type its value must have."""

    # notifications
    drop_callbacks: float = 0.0  # probability that a round is not sent at all
    duplicate_callbacks: int = 0  # extra identical POSTs per round
    reorder_callbacks: bool = False  # hold rounds and send each burst in reverse order
    reorder_window_s: float = 0.3  # how long a burst collects before it is sent
    delay_callbacks_s: float = 0.0
    bad_signature: bool = False  # signed with a key Alipay never published
    unsigned_callbacks: bool = False
    wrong_app_id: bool = False  # a genuine notification, but for another app
    wrong_seller_id: bool = False  # a genuine notification, but for another seller
    # the gateway
    api_5xx: int = 0  # the next N calls get an HTTP 502 page
    api_delay_s: float = 0.0  # every call waits this long first (client timeouts)
    system_error: int = 0  # the next N calls answer 20000 isp.unknow-error
    bad_response_signature: bool = False
    pay_after_timeout: bool = False  # the next precreate/pay succeeds but answers late
    pay_after_timeout_s: float = 30.0
    user_paying: bool = False  # the next pay answers 10003 WAIT_BUYER_PAY
    user_paying_s: float = 1.0  # after which the citizen confirms…
    user_paying_completes: bool = True  # …or never does
    cancel_retry: int = 0  # the next N cancels fail with retry_flag=Y
    refund_error: str = ""  # the next refunds answer with this sub_code
    fee_rate_ppm: int = 0  # service fee in millionths of the amount (6000 is 0.6 %)

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
        if value not in REFUND_ERRORS:
            raise ValueError(f"{name} must be one of {', '.join(map(repr, REFUND_ERRORS))}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{name} must be a non-negative number")
    if kind is int:
        if not isinstance(value, int):
            raise ValueError(f"{name} must be an integer")
        if name == "fee_rate_ppm" and value > 1_000_000:
            raise ValueError("fee_rate_ppm is at most 1000000 (100 %)")
        return value
    if name == "drop_callbacks" and value > 1:
        raise ValueError("drop_callbacks is a probability between 0 and 1")
    return float(value)
