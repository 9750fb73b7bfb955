"""The tax bureau's rules for the taxes on one resale of real estate (protocols-cn.md 4.4).

Pure: no clock, no I/O. The date of assessment is passed in and picks the rate set in force, so a
case declared on 2025-12-31 and one declared on 2026-01-01 are taxed under different VAT rates.
The bureau computes; our service never does (staff must not type amounts). The simulator uses
this module to answer lookups, and the tests use it to know what the answers must be.

Rates are decimal strings ("0.015") held as an exact fraction. Rounding: every amount is
basis × rate rounded half up (四舍五入) to the fen, once per tax and payer, with integers only:
``(2·basis·n + d) // (2·d)`` for a rate n/d.

Bases: every basis is the contract price excluding VAT (契税法 art. 4, and likewise for stamp duty
and the deemed income tax), where the VAT is the seller's VAT on this sale.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from typing import Final, Literal

Kind = Literal["RESIDENTIAL", "NON_RESIDENTIAL"]
# the buyer family's home count after this purchase; OTHER is the third or a later one
Home = Literal["FIRST", "SECOND", "OTHER"]
Party = Literal["BUYER", "SELLER"]
ItemCode = Literal["DEED_TAX", "VAT", "IIT", "STAMP_DUTY"]

KINDS: Final[tuple[Kind, ...]] = ("RESIDENTIAL", "NON_RESIDENTIAL")
HOMES: Final[tuple[Home, ...]] = ("FIRST", "SECOND", "OTHER")

_RATE_RE: Final = re.compile(r"(0|1)(?:\.([0-9]{1,6}))?")
_AREA_RE: Final = re.compile(r"([0-9]{1,6})(?:\.([0-9]{1,2}))?")


@dataclass(frozen=True)
class Rate:
    """A rate between 0 and 1 as written in a notice, and exactly that fraction."""

    text: str
    numerator: int
    denominator: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        """``"0.015"`` → 15/1000. Up to six decimals; percent signs and floats are refused."""
        if not isinstance(text, str):
            raise TypeError(f"rate must be a decimal string, not {type(text).__name__}")
        match = _RATE_RE.fullmatch(text)
        if match is None:
            raise ValueError(f"rate {text!r} must be a decimal between 0 and 1, like 0.015")
        whole, decimals = match.group(1), match.group(2) or ""
        denominator = 10 ** len(decimals)
        numerator = int(whole) * denominator + int(decimals or "0")
        if numerator > denominator:
            raise ValueError(f"rate {text!r} exceeds 1")
        return cls(text, numerator, denominator)

    def of(self, basis_fen: int) -> int:
        """basis × rate in fen, rounded half up."""
        if isinstance(basis_fen, bool) or not isinstance(basis_fen, int):
            raise TypeError("basis must be int fen")
        if basis_fen < 0:
            raise ValueError("basis must not be negative")
        return (2 * basis_fen * self.numerator + self.denominator) // (2 * self.denominator)

    def __str__(self) -> str:
        return self.text


def _r(text: str) -> Rate:
    return Rate.parse(text)


@dataclass(frozen=True)
class DeedTier:
    """Deed-tax rates on housing up to an area; ``up_to_dm2`` is inclusive, None is unbounded."""

    up_to_dm2: int | None
    first: Rate
    second: Rate


@dataclass(frozen=True)
class RateSet:
    """Every rate in force from ``effective_from`` until the next set takes over."""

    name: str
    effective_from: date
    source: str
    deed_statutory: Rate  # third or later home, non-residential: the province's rate
    deed_housing: tuple[DeedTier, ...]  # ascending by area, the last one unbounded
    vat_exempt_years: int  # housing held at least this long: no VAT
    vat_housing: Rate  # housing held less long, on the full price (the note's rule)
    vat_non_residential: Rate  # on price minus original price (差额), held however long
    iit_gain: Rate
    iit_deemed: Rate  # 核定征收 when the original price cannot be shown
    iit_exempt_years: int  # with the seller family's only home: 满五唯一
    stamp_transfer: Rate  # 产权转移书据, each party
    stamp_housing_exempt: bool  # individuals buying or selling housing (财税〔2008〕137号)


_PROVINCE_DEED: Final = _r("0.03")  # 契税法 lets each province choose 3 %–5 %; ours chose 3 %

_RATES_2016_05: Final = RateSet(
    name="2016-05",
    # 营改增 turned the seller's business tax into VAT on this day; the 90 m² deed tiers of
    # 财税〔2016〕23号 were already in force (since 2016-02-22). Earlier dates are refused.
    effective_from=date(2016, 5, 1),
    source="财税〔2016〕23号; 财税〔2016〕36号",
    deed_statutory=_PROVINCE_DEED,
    deed_housing=(
        DeedTier(9000, first=_r("0.01"), second=_r("0.01")),
        DeedTier(14000, first=_r("0.015"), second=_r("0.02")),
        DeedTier(None, first=_r("0.015"), second=_r("0.02")),
    ),
    vat_exempt_years=2,
    vat_housing=_r("0.05"),
    vat_non_residential=_r("0.05"),
    iit_gain=_r("0.2"),
    iit_deemed=_r("0.01"),
    iit_exempt_years=5,
    stamp_transfer=_r("0.0005"),
    stamp_housing_exempt=True,
)
# each later set says only what changed
_RATES_2024_12: Final = replace(
    _RATES_2016_05,
    name="2024-12",
    effective_from=date(2024, 12, 1),
    source="财政部 税务总局 住房城乡建设部公告2024年第16号",
    deed_housing=(
        DeedTier(9000, first=_r("0.01"), second=_r("0.01")),
        DeedTier(14000, first=_r("0.01"), second=_r("0.01")),
        DeedTier(None, first=_r("0.015"), second=_r("0.02")),
    ),
)
_RATES_2026_01: Final = replace(
    _RATES_2024_12,
    name="2026-01",
    effective_from=date(2026, 1, 1),
    # the note's source for 3 % is several 2026 codebases; verify against the notice text
    source="财政部 税务总局公告2025年第17号",
    vat_housing=_r("0.03"),
)
RATE_SETS: Final[tuple[RateSet, ...]] = (_RATES_2016_05, _RATES_2024_12, _RATES_2026_01)


def rate_set_on(on: date, rate_sets: tuple[RateSet, ...] = RATE_SETS) -> RateSet:
    """The set in force on ``on``: the latest whose ``effective_from`` is not after it."""
    chosen = None
    for candidate in sorted(rate_sets, key=lambda s: s.effective_from):
        if candidate.effective_from <= on:
            chosen = candidate
    if chosen is None:
        raise ValueError(f"no rate set is in force on {on.isoformat()}")
    return chosen


def parse_kind(text: str) -> Kind:
    for kind in KINDS:
        if text == kind:
            return kind
    raise ValueError(f"kind must be one of {', '.join(KINDS)}")


def parse_home(text: str) -> Home:
    for home in HOMES:
        if text == home:
            return home
    raise ValueError(f"buyer_home must be one of {', '.join(HOMES)}")


def parse_area(text: str) -> int:
    """Building area in m² as written on the certificate (``"89.5"``) → hundredths of m² (dm²)."""
    match = _AREA_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"area {text!r} must be m² with at most two decimals, like 89.50")
    area = int(match.group(1)) * 100 + int((match.group(2) or "").ljust(2, "0"))
    if area <= 0:
        raise ValueError("area must be positive")
    return area


def holding_years(acquired_on: date, on: date) -> int:
    """Whole years held on ``on``: the anniversary itself counts (满2年 on the second one).

    A home bought on 29 February reaches its anniversary on 1 March in common years.
    """
    if on < acquired_on:
        raise ValueError("the sale cannot precede the purchase")
    years = on.year - acquired_on.year
    if (on.month, on.day) < (acquired_on.month, acquired_on.day):
        years -= 1
    return years


@dataclass(frozen=True)
class PropertyCase:
    """What the bureau knows of one resale between individuals."""

    price_fen: int  # the contract price, VAT included
    area_dm2: int  # building area in hundredths of m²
    kind: Kind
    buyer_home: Home
    seller_acquired_on: date
    seller_only_home: bool
    original_price_fen: int | None = None  # None: the seller cannot show what it cost

    def __post_init__(self) -> None:
        for name in ("price_fen", "area_dm2"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive int")
        original = self.original_price_fen
        if original is not None and (
            isinstance(original, bool) or not isinstance(original, int) or original < 0
        ):
            raise ValueError("original_price_fen must be a non-negative int or None")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        if self.buyer_home not in HOMES:
            raise ValueError(f"buyer_home must be one of {', '.join(HOMES)}")


@dataclass(frozen=True)
class TaxDue:
    """One tax one party owes: basis × rate = amount, all fen but the rate."""

    item: ItemCode
    payer: Party
    basis_fen: int
    rate: Rate
    amount_fen: int


def _line(item: ItemCode, payer: Party, basis_fen: int, rate: Rate) -> TaxDue:
    return TaxDue(item, payer, basis_fen, rate, rate.of(basis_fen))


def _deed_rate(case: PropertyCase, rates: RateSet) -> Rate:
    if case.kind != "RESIDENTIAL" or case.buyer_home == "OTHER":
        return rates.deed_statutory
    for tier in rates.deed_housing:
        if tier.up_to_dm2 is None or case.area_dm2 <= tier.up_to_dm2:
            return tier.first if case.buyer_home == "FIRST" else tier.second
    raise AssertionError("the last deed tier is unbounded")


def _vat(case: PropertyCase, rates: RateSet, held: int) -> TaxDue | None:
    if case.kind == "RESIDENTIAL":
        if held >= rates.vat_exempt_years:
            return None
        return _line("VAT", "SELLER", case.price_fen, rates.vat_housing)
    basis = case.price_fen - (case.original_price_fen or 0)
    return _line("VAT", "SELLER", max(basis, 0), rates.vat_non_residential)


def taxes_due(case: PropertyCase, on: date) -> list[TaxDue]:
    """What each party owes for ``case`` assessed on ``on``; exempt and zero taxes are left out.

    Order: deed tax, VAT, income tax, then stamp duty (buyer's, seller's).
    """
    rates = rate_set_on(on)
    held = holding_years(case.seller_acquired_on, on)
    vat = _vat(case, rates, held)
    net_price = case.price_fen - (vat.amount_fen if vat else 0)
    lines: list[TaxDue | None] = [
        _line("DEED_TAX", "BUYER", net_price, _deed_rate(case, rates)),
        vat,
    ]
    parties: tuple[Party, ...] = ()
    if not (case.kind == "RESIDENTIAL" and rates.stamp_housing_exempt):
        parties = ("BUYER", "SELLER")
    stamps = [_line("STAMP_DUTY", p, net_price, rates.stamp_transfer) for p in parties]
    only_home_long = held >= rates.iit_exempt_years and case.seller_only_home
    if not (case.kind == "RESIDENTIAL" and only_home_long):
        if case.original_price_fen is None:
            lines.append(_line("IIT", "SELLER", net_price, rates.iit_deemed))
        else:
            seller_stamp = stamps[1].amount_fen if stamps else 0
            gain = net_price - case.original_price_fen - seller_stamp
            lines.append(_line("IIT", "SELLER", max(gain, 0), rates.iit_gain))
    lines.extend(stamps)
    return [line for line in lines if line is not None and line.amount_fen > 0]
