"""Payment codes (缴款码) and fiscal e-bill numbers (财政电子票据), pure and clock-free.

Payment codes are province-specific and have no national check digit (protocols-cn 4.1), so each
region is configured with a pattern; a code that fits no pattern is refused before any network
call, which catches a mistyped or mis-scanned code at the window instead of at the fiscal system.
A pattern may name a ``year`` group (two digits); a code "issued" in a later year than today is
refused too, since it can only be a typo.

E-bill identifiers (protocols-cn 4.2): 票据代码 is 8 digits — division 2 + category 2 + kind 2 +
year 2 — 票据号码 10 digits, 校验码 6 letters or digits.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Final

# 20 digits: the 6-digit division, the 2-digit year, a 12-digit sequence (如皋 32068222300000000007)
DEFAULT_PATTERN: Final = "{division}(?P<year>[0-9]{{2}})[0-9]{{12}}"
_DIVISION = re.compile(r"[1-9][0-9]{5}")
_BILL_CODE = re.compile(r"([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})")
_BILL_NO = re.compile(r"[0-9]{10}")
_CHECK_CODE = re.compile(r"[0-9A-Za-z]{6}")

# bill kinds as category + kind (a Jilin implementation's table, protocols-cn 4.1)
BILL_KINDS: Final[Mapping[str, str]] = {
    "0101": "非税收入通用票据（电子）",
    "0301": "非税收入一般缴款书（电子）",
    "0401": "资金往来结算票据（电子）",
}


class InvalidPaymentCode(ValueError):
    """A payment code that no configured region issues; the message says why, in English."""


@dataclass(frozen=True)
class PaymentCodeRules:
    """Which payment codes are plausible: one compiled pattern per administrative division."""

    patterns: Mapping[str, re.Pattern[str]]

    @classmethod
    def for_divisions(cls, patterns: Mapping[str, str]) -> PaymentCodeRules:
        """``{"320682": regex}``; an empty regex means ``DEFAULT_PATTERN`` for that division.

        ``ValueError`` for a division that is not 6 digits or a regex that does not compile."""
        if not patterns:
            raise ValueError("at least one division needs a payment code pattern")
        compiled: dict[str, re.Pattern[str]] = {}
        for division, regex in sorted(patterns.items()):
            if not _DIVISION.fullmatch(division):
                raise ValueError(f"division {division!r} must be a 6-digit administrative code")
            text = regex or DEFAULT_PATTERN.format(division=division)
            try:
                compiled[division] = re.compile(text)
            except re.error as exc:
                raise ValueError(
                    f"payment code pattern of {division} does not compile: {exc}"
                ) from None
        return cls(compiled)

    def divisions(self) -> Iterator[str]:
        return iter(self.patterns)

    def check(self, code: str, today: date) -> str:
        """The division that issues ``code``; ``InvalidPaymentCode`` when none does."""
        if not isinstance(code, str) or not code.isascii():
            raise InvalidPaymentCode("payment code must be ASCII text")
        for division, pattern in self.patterns.items():
            match = pattern.fullmatch(code)
            if match is None:
                continue
            year = match.groupdict().get("year")
            if year is not None and 2000 + int(year) > today.year:
                raise InvalidPaymentCode(f"payment code year 20{year} is in the future")
            return division
        raise InvalidPaymentCode(
            f"not a payment code of {', '.join(self.patterns)}: {len(code)} characters"
        )


@dataclass(frozen=True)
class BillCode:
    """A 票据代码 read into its four parts."""

    division: str  # the province-level division, 2 digits
    category: str
    kind: str
    year: str

    def __str__(self) -> str:
        return self.division + self.category + self.kind + self.year

    @property
    def kind_name(self) -> str:
        return BILL_KINDS.get(self.category + self.kind, "")


def bill_code(division: str, kind: str, issued_on: date) -> str:
    """The 票据代码 of a bill of ``kind`` (category + kind, e.g. ``0101``) issued in a region."""
    if not _DIVISION.fullmatch(division) or kind not in BILL_KINDS:
        raise ValueError("division must be 6 digits and kind one of BILL_KINDS")
    return f"{division[:2]}{kind}{issued_on.year % 100:02d}"


def parse_bill_code(text: str) -> BillCode:
    """``ValueError`` unless ``text`` is 8 digits."""
    match = _BILL_CODE.fullmatch(text)
    if match is None:
        raise ValueError("票据代码 must be 8 digits")
    return BillCode(*match.groups())


def is_bill_no(text: str) -> bool:
    """票据号码: 10 digits."""
    return _BILL_NO.fullmatch(text) is not None


def is_check_code(text: str) -> bool:
    """校验码: 6 letters or digits."""
    return _CHECK_CODE.fullmatch(text) is not None
