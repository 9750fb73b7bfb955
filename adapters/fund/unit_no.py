"""不动产单元号: the 28-character national property-unit number (GB/T 37346 不动产单元设定与代码编制
规则). Pure.

Seven fields, left to right::

    330106 005 012 GB 00054 F 0001 0302
    │      │   │   │  │     │ └─────── fixture unit number (8): for a house, 幢 (4) + 户 (4)
    │      │   │   │  │     └───────── fixture feature code: F building, L forest, Q other, W none
    │      │   │   │  └─────────────── parcel sequence number (5)
    │      │   │   └────────────────── parcel feature code (2): owner G state / J collective /
    │      │   │                       Z disputed, then a letter for the kind of right
    │      │   └────────────────────── cadastral sub-district (3)
    │      └────────────────────────── cadastral district (3)
    └───────────────────────────────── county-level administrative division (6)

The maintenance fund is deposited per home, so only building units (F) are accepted here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from adapters.errors import CodedValueError

LENGTH: Final = 28
_SHAPE: Final = re.compile(
    r"(?P<division>[1-8][0-9]{5})"
    r"(?P<district>[0-9]{3})"
    r"(?P<sub_district>[0-9]{3})"
    r"(?P<parcel_code>[GJZ][A-Z])"
    r"(?P<parcel_seq>[0-9]{5})"
    r"(?P<fixture_code>[FLQW])"
    r"(?P<building>[0-9]{4})"
    r"(?P<unit>[0-9]{4})"
)


class UnitNoError(CodedValueError):
    """Not a property-unit number we can take; ``code`` is UNIT_NO_FORMAT or UNIT_NO_NOT_HOUSE."""


@dataclass(frozen=True)
class UnitNo:
    division: str
    district: str
    sub_district: str
    parcel_code: str
    parcel_seq: str
    fixture_code: str
    building: str
    unit: str

    def __str__(self) -> str:
        return (
            self.division
            + self.district
            + self.sub_district
            + self.parcel_code
            + self.parcel_seq
            + self.fixture_code
            + self.building
            + self.unit
        )

    @property
    def parcel(self) -> str:
        """宗地代码: the first 19 characters, the same for every home on the parcel."""
        return str(self)[:19]


def looks_like_unit_no(text: str) -> bool:
    """True when ``text`` has the 28-character shape (a house or not); for telling a unit number
    from a notice number without refusing either."""
    return _SHAPE.fullmatch(text.strip().upper()) is not None


def parse_unit_no(text: str) -> UnitNo:
    """Check the shape and that the unit is a building; surrounding blanks are dropped and
    letters upper-cased, because clerks type them either way. Full-width characters are refused."""
    if not isinstance(text, str):
        raise TypeError(f"unit number must be str, not {type(text).__name__}")
    canonical = text.strip().upper()
    if len(canonical) != LENGTH:
        raise UnitNoError(
            "UNIT_NO_FORMAT", f"不动产单元号 must be {LENGTH} characters, not {len(canonical)}"
        )
    match = _SHAPE.fullmatch(canonical)
    if match is None:
        raise UnitNoError(
            "UNIT_NO_FORMAT",
            "不动产单元号 must be division(6) district(3) sub-district(3) parcel code(2, G/J/Z + "
            "letter) parcel number(5) fixture code(1, F/L/Q/W) fixture number(8)",
        )
    unit = UnitNo(**match.groupdict())
    if unit.fixture_code != "F":
        raise UnitNoError(
            "UNIT_NO_NOT_HOUSE", "the maintenance fund is deposited for buildings (F) only"
        )
    return unit
