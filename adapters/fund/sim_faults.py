"""The office simulator's fault knobs: ``PUT /sim/faults`` (partial), ``GET``, ``DELETE`` (reset).

Knobs (those every authority has: simkit.authority.AuthorityKnobs)::

    api_5xx                 the next N API calls answer 503 {"code": "9999"} (signed)
    refuse_confirm          the next N confirmations are refused (2004) with ...
    refuse_confirm_reason   ... this reason, in the office's words
    amount_changed          {reference: new area or ""}: the next lookup of that notice number or
                            unit number finds the home re-measured (实测面积 replacing the
                            pre-sale 预测面积): the new area, or 1.00 m² more when "", and so a
                            new amount. A bare string names one reference. Consumed when used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adapters.fund import rules
from adapters.simkit.authority import AuthorityKnobs

DEFAULT_REFUSAL = "分户账已冻结，暂停缴存入账"
_REASON_MAX = 100


@dataclass
class Faults(AuthorityKnobs):
    """All off by default."""

    refuse_confirm_reason: str = DEFAULT_REFUSAL
    amount_changed: dict[str, str] = field(default_factory=dict)

    def check(self, name: str, value: Any) -> Any:
        if name == "refuse_confirm_reason":
            if not isinstance(value, str) or not 0 < len(value) <= _REASON_MAX:
                raise ValueError(f"{name} must be text of 1 to {_REASON_MAX} characters")
            return value
        if name == "amount_changed":
            return _changes(value)
        return super().check(name, value)

    def take_amount_change(self, *references: str) -> str | None:
        """The new area ("" for +1.00 m²) if one of these references has a change pending."""
        for reference in references:
            if reference in self.amount_changed:
                return self.amount_changed.pop(reference)
        return None


def _changes(value: Any) -> dict[str, str]:
    if isinstance(value, str):
        value = {value: ""}
    if not isinstance(value, dict):
        raise ValueError('amount_changed must map references to a new area (or "")')
    for reference, area in value.items():
        if not reference or not isinstance(area, str):
            raise ValueError('amount_changed must map references to a new area (or "")')
        if area:
            try:
                rules.parse_area(area)
            except rules.FundRuleError as exc:
                raise ValueError(f"amount_changed[{reference!r}]: {exc}") from None
    return dict(value)
