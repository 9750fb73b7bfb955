"""The city's maintenance-fund rates and the arithmetic of a first deposit (首期缴存). Pure.

住宅专项维修资金管理办法 (建设部、财政部令第165号) art. 7: the buyer of a new commercial home
deposits, per m² of building area, 5 %–8 % of the local construction and installation cost per
m²; the city publishes that as one yuan/m² figure per building type and revises it from a date.
The office is the authority on what a notice says; we keep the same table to compute the
simulator's notices and to explain an amount to the citizen.

No float anywhere: areas are int hundredths of a m² (``"89.99"`` → 8999), rates int fen per m²,
amounts int fen.

Rounding (documented, tested): amount = area × rate, 四舍五入 to the fen, half up::

    amount_fen = (area_centi_m2 × rate_fen_per_m2 + 50) // 100

Both factors carry two decimals, so the exact product is in hundredths of a fen and only this
last step rounds; an exact half fen goes up (never to even, never truncated), as the office's
notices do.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

from adapters.errors import CodedValueError
from clearing.domain.money import parse_yuan

ITEM_CODE: Final = "MAINT_FUND"
ROUNDING: Final = "half_up_fen"

# building types the city prices differently: a lift and a taller structure cost more to keep up
BUILDING_TYPES: Final[Mapping[str, str]] = {
    "MULTI_NO_LIFT": "多层无电梯住宅",
    "MULTI_LIFT": "多层有电梯住宅",
    "HIGH_RISE": "小高层及高层住宅（有电梯）",
}

# No home is this large; a bigger figure is a typo in the register, not a house.
MAX_AREA_CENTI: Final = 10_000_00
_AREA_RE: Final = re.compile(r"(0|[1-9][0-9]{0,4})(?:\.([0-9]{1,2}))?")


@dataclass(frozen=True)
class RateVersion:
    """One published table: yuan per m² of building area per type, in force from a date until
    the next version starts."""

    version: str
    effective_from: date
    yuan_per_m2: Mapping[str, str]


# As published (yuan/m², text): kept as text so that the table reads like the city's notice.
RATE_TABLE: Final[tuple[RateVersion, ...]] = (
    RateVersion(
        "2019-01",
        date(2019, 1, 1),
        {"MULTI_NO_LIFT": "60.00", "MULTI_LIFT": "90.00", "HIGH_RISE": "145.00"},
    ),
    RateVersion(
        "2024-07",
        date(2024, 7, 1),
        {"MULTI_NO_LIFT": "64.50", "MULTI_LIFT": "96.80", "HIGH_RISE": "152.25"},
    ),
)


class FundRuleError(CodedValueError):
    """Input the rules cannot price; ``code`` is stable: AREA_FORMAT, AREA_RANGE, RATE_RANGE,
    BUILDING_TYPE, NO_RATE, RATE_TABLE."""


@dataclass(frozen=True)
class Rate:
    version: str
    effective_from: date
    building_type: str
    fen_per_m2: int


@dataclass(frozen=True)
class Assessment:
    """What one home owes, and every figure needed to explain it."""

    area_centi: int
    building_type: str
    rate: Rate
    amount_fen: int


def parse_area(text: str) -> int:
    """Building area in m² as decimal text → int hundredths of a m² (``"89.99"`` → 8999).

    ASCII digits, at most two decimals (the register keeps two; more would need rounding that
    is not ours to do), no sign, no exponent, no leading zeros; more than 0 and at most
    10 000.00 m².
    """
    if not isinstance(text, str):
        raise TypeError(f"area must be str, not {type(text).__name__}")
    match = _AREA_RE.fullmatch(text)
    if match is None:
        raise FundRuleError("AREA_FORMAT", f"area {text!r} must be m² with at most two decimals")
    centi = int(match.group(1)) * 100 + int((match.group(2) or "").ljust(2, "0"))
    if not 0 < centi <= MAX_AREA_CENTI:
        raise FundRuleError("AREA_RANGE", "area must be more than 0 and at most 10000.00 m²")
    return centi


def format_area(centi: int) -> str:
    """Wire text of an area: always two decimals (8999 → ``"89.99"``, 9000 → ``"90.00"``)."""
    _require_int(centi, "area")
    if centi <= 0:
        raise FundRuleError("AREA_RANGE", "area must be positive")
    whole, part = divmod(centi, 100)
    return f"{whole}.{part:02d}"


def rate_for(building_type: str, on: date, table: Sequence[RateVersion] = RATE_TABLE) -> Rate:
    """The rate in force on ``on`` (the notice's assessment date) for a building type."""
    if building_type not in BUILDING_TYPES:
        raise FundRuleError("BUILDING_TYPE", f"unknown building type {building_type!r}")
    check_table(table)
    in_force = [v for v in table if v.effective_from <= on]
    if not in_force:
        raise FundRuleError("NO_RATE", f"no rate is in force on {on.isoformat()}")
    version = in_force[-1]
    return Rate(
        version=version.version,
        effective_from=version.effective_from,
        building_type=building_type,
        fen_per_m2=parse_yuan(version.yuan_per_m2[building_type]),
    )


def amount_fen(area_centi: int, rate_fen_per_m2: int) -> int:
    """area × rate rounded half up to the fen (module docstring)."""
    _require_int(area_centi, "area")
    _require_int(rate_fen_per_m2, "rate")
    if area_centi <= 0:
        raise FundRuleError("AREA_RANGE", "area must be positive")
    if rate_fen_per_m2 <= 0:
        raise FundRuleError("RATE_RANGE", "rate must be positive")
    return (area_centi * rate_fen_per_m2 + 50) // 100


def assess(
    area_centi: int, building_type: str, on: date, table: Sequence[RateVersion] = RATE_TABLE
) -> Assessment:
    """The first deposit a home of this area and type owes under the rates in force on ``on``."""
    rate = rate_for(building_type, on, table)
    return Assessment(
        area_centi=area_centi,
        building_type=building_type,
        rate=rate,
        amount_fen=amount_fen(area_centi, rate.fen_per_m2),
    )


def check_table(table: Sequence[RateVersion]) -> None:
    """Versions in date order, distinct dates, every type priced with a positive rate."""
    for earlier, later in itertools.pairwise(table):
        if not earlier.effective_from < later.effective_from:
            raise FundRuleError("RATE_TABLE", f"version {later.version} is out of date order")
    for version in table:
        if set(version.yuan_per_m2) != set(BUILDING_TYPES):
            raise FundRuleError("RATE_TABLE", f"version {version.version} misses a building type")
        if any(parse_yuan(text) <= 0 for text in version.yuan_per_m2.values()):
            raise FundRuleError("RATE_TABLE", f"version {version.version} has a zero rate")


def _require_int(value: object, name: str) -> None:
    # bool is an int, and a float here would round silently: both are bugs
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be int, not {type(value).__name__}")
