"""The bureau's tax rules (adapters/tax/rules.py): tables at every boundary, exact rounding."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.tax.rules import (
    RATE_SETS,
    PropertyCase,
    Rate,
    TaxDue,
    holding_years,
    parse_area,
    rate_set_on,
    taxes_due,
)

ON = date(2026, 6, 15)  # under the 2026-01 set
PRICE = 300_000_000  # 3,000,000.00 yuan


def case(**overrides: object) -> PropertyCase:
    fields: dict[str, object] = {
        "price_fen": PRICE,
        "area_dm2": 8_950,
        "kind": "RESIDENTIAL",
        "buyer_home": "FIRST",
        "seller_acquired_on": date(2019, 1, 1),
        "seller_only_home": True,
        "original_price_fen": None,
    }
    fields.update(overrides)
    return PropertyCase(**fields)  # type: ignore[arg-type]


def by_item(lines: list[TaxDue]) -> dict[tuple[str, str], TaxDue]:
    return {(line.item, line.payer): line for line in lines}


# --- rates and rounding ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "numerator", "denominator"),
    [("0.015", 15, 1000), ("0.01", 1, 100), ("0.2", 2, 10), ("0", 0, 1), ("1", 1, 1),
     ("0.0005", 5, 10000), ("1.000", 1000, 1000)],
)  # fmt: skip
def test_rates_are_exact_fractions(text: str, numerator: int, denominator: int) -> None:
    rate = Rate.parse(text)
    assert (rate.numerator, rate.denominator, str(rate)) == (numerator, denominator, text)


@pytest.mark.parametrize("text", ["1.5%", "-0.01", "1.01", "2", ".5", "0.", "0,01", " 0.01",
                                  "0.0000001", "", "１"])  # fmt: skip
def test_malformed_rates_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="rate"):
        Rate.parse(text)


def test_a_float_rate_is_refused() -> None:
    with pytest.raises(TypeError):
        Rate.parse(0.015)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("basis_fen", "rate", "amount_fen"),
    [
        (150, "0.01", 2),  # 1.5 fen: half goes up
        (149, "0.01", 1),  # 1.49 fen
        (50, "0.01", 1),  # 0.5 fen
        (49, "0.01", 0),
        (1_000, "0.0005", 1),  # 0.5 fen
        (999, "0.0005", 0),  # 0.4995 fen
        (3, "0.5", 2),  # 1.5 fen
        (0, "0.03", 0),
        (PRICE, "0.015", 4_500_000),
    ],
)
def test_amounts_round_half_up_to_the_fen(basis_fen: int, rate: str, amount_fen: int) -> None:
    assert Rate.parse(rate).of(basis_fen) == amount_fen


@given(st.integers(0, 10**15), st.integers(0, 10**6))
def test_rounding_matches_exact_fractions(basis_fen: int, millionths: int) -> None:
    rate = Rate.parse(f"{millionths // 10**6}.{millionths % 10**6:06d}")
    exact = Fraction(basis_fen) * Fraction(millionths, 10**6)
    floor = exact.numerator // exact.denominator
    expected = floor + (1 if exact - floor >= Fraction(1, 2) else 0)
    assert rate.of(basis_fen) == expected


def test_amounts_refuse_floats_and_negative_bases() -> None:
    rate = Rate.parse("0.01")
    with pytest.raises(TypeError):
        rate.of(100.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="negative"):
        rate.of(-1)


# --- areas and holding periods -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "dm2"), [("90", 9000), ("90.0", 9000), ("90.01", 9001), ("140.5", 14050), (" 7 ", 700)]
)
def test_areas_are_read_exactly(text: str, dm2: int) -> None:
    assert parse_area(text) == dm2


@pytest.mark.parametrize("text", ["0", "0.00", "90.001", "-90", "90m2", "", "9e1"])
def test_malformed_areas_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="area"):
        parse_area(text)


@pytest.mark.parametrize(
    ("acquired", "on", "years"),
    [
        (date(2024, 6, 15), date(2026, 6, 14), 1),  # the day before the second anniversary
        (date(2024, 6, 15), date(2026, 6, 15), 2),  # 满2年 on the anniversary itself
        (date(2021, 6, 15), date(2026, 6, 14), 4),
        (date(2021, 6, 15), date(2026, 6, 15), 5),
        (date(2024, 2, 29), date(2026, 2, 28), 1),  # a leap day's anniversary is 1 March
        (date(2024, 2, 29), date(2026, 3, 1), 2),
        (date(2026, 6, 15), date(2026, 6, 15), 0),
    ],
)
def test_holding_years_count_whole_years(acquired: date, on: date, years: int) -> None:
    assert holding_years(acquired, on) == years


def test_a_sale_before_the_purchase_is_refused() -> None:
    with pytest.raises(ValueError, match="precede"):
        holding_years(date(2026, 1, 2), date(2026, 1, 1))


# --- rate sets and their effective dates -------------------------------------------------------


@pytest.mark.parametrize(
    ("on", "name"),
    [
        (date(2016, 5, 1), "2016-05"),
        (date(2024, 11, 30), "2016-05"),
        (date(2024, 12, 1), "2024-12"),
        (date(2025, 12, 31), "2024-12"),
        (date(2026, 1, 1), "2026-01"),
        (date(2030, 1, 1), "2026-01"),
    ],
)
def test_the_set_in_force_is_picked_by_date(on: date, name: str) -> None:
    assert rate_set_on(on).name == name


def test_dates_before_the_first_set_are_refused() -> None:
    with pytest.raises(ValueError, match="no rate set"):
        rate_set_on(date(2016, 4, 30))


def test_every_set_ends_with_an_unbounded_deed_tier() -> None:
    for rate_set in RATE_SETS:
        bounds = [tier.up_to_dm2 for tier in rate_set.deed_housing]
        assert bounds[-1] is None
        assert bounds[:-1] == sorted(b for b in bounds[:-1] if b is not None)


# --- deed tax ----------------------------------------------------------------------------------

_1990 = date(1990, 1, 1)  # held long enough that no VAT changes the basis


@pytest.mark.parametrize(
    ("on", "area", "home", "rate"),
    [
        # 2016 rules (财税〔2016〕23号): tiers at 90 m²
        (date(2024, 11, 30), 9000, "FIRST", "0.01"),
        (date(2024, 11, 30), 9001, "FIRST", "0.015"),
        (date(2024, 11, 30), 14000, "FIRST", "0.015"),
        (date(2024, 11, 30), 14001, "FIRST", "0.015"),
        (date(2024, 11, 30), 9000, "SECOND", "0.01"),
        (date(2024, 11, 30), 9001, "SECOND", "0.02"),
        (date(2024, 11, 30), 14001, "SECOND", "0.02"),
        (date(2024, 11, 30), 5000, "OTHER", "0.03"),
        # 2024 rules (公告2024年第16号): tiers at 140 m², from 2024-12-01
        (date(2024, 12, 1), 9000, "FIRST", "0.01"),
        (date(2024, 12, 1), 9001, "FIRST", "0.01"),
        (date(2024, 12, 1), 14000, "FIRST", "0.01"),
        (date(2024, 12, 1), 14001, "FIRST", "0.015"),
        (date(2024, 12, 1), 14000, "SECOND", "0.01"),
        (date(2024, 12, 1), 14001, "SECOND", "0.02"),
        (date(2024, 12, 1), 5000, "OTHER", "0.03"),
        (ON, 14000, "FIRST", "0.01"),
        (ON, 14001, "SECOND", "0.02"),
    ],
)
def test_deed_tax_by_area_and_home(on: date, area: int, home: str, rate: str) -> None:
    lines = by_item(taxes_due(case(area_dm2=area, buyer_home=home, seller_acquired_on=_1990), on))
    deed = lines["DEED_TAX", "BUYER"]
    assert (deed.rate.text, deed.basis_fen) == (rate, PRICE)
    assert deed.amount_fen == Rate.parse(rate).of(PRICE)


def test_non_residential_pays_the_statutory_deed_rate_whatever_the_area() -> None:
    lines = by_item(taxes_due(case(kind="NON_RESIDENTIAL", area_dm2=5000), ON))
    assert lines["DEED_TAX", "BUYER"].rate.text == "0.03"


# --- VAT ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("acquired", "on", "vat_rate"),
    [
        (date(2023, 12, 2), date(2025, 12, 1), "0.05"),  # 1 year 364 days, before 2026
        (date(2023, 12, 1), date(2025, 12, 1), None),  # 满2年: exempt
        (date(2024, 1, 2), date(2026, 1, 1), "0.03"),  # 2025年第17号: 3 % from 2026-01-01
        (date(2024, 1, 1), date(2026, 1, 1), None),
        (date(2024, 6, 16), ON, "0.03"),
        (date(2024, 6, 15), ON, None),
    ],
)
def test_vat_on_housing_by_holding_period(acquired: date, on: date, vat_rate: str | None) -> None:
    lines = by_item(taxes_due(case(seller_acquired_on=acquired), on))
    vat = lines.get(("VAT", "SELLER"))
    if vat_rate is None:
        assert vat is None
        assert lines["DEED_TAX", "BUYER"].basis_fen == PRICE
    else:
        assert vat is not None
        assert (vat.basis_fen, vat.rate.text) == (PRICE, vat_rate)
        # the deed tax (and every other basis) is the price without that VAT
        assert lines["DEED_TAX", "BUYER"].basis_fen == PRICE - vat.amount_fen


def test_the_vat_switch_between_two_rate_sets() -> None:
    short = {"seller_acquired_on": date(2025, 6, 1)}
    before = by_item(taxes_due(case(**short), date(2025, 12, 31)))["VAT", "SELLER"]
    after = by_item(taxes_due(case(**short), date(2026, 1, 1)))["VAT", "SELLER"]
    assert (before.amount_fen, after.amount_fen) == (15_000_000, 9_000_000)


def test_non_residential_vat_is_on_the_gain_held_however_long() -> None:
    lines = by_item(
        taxes_due(
            case(kind="NON_RESIDENTIAL", seller_acquired_on=_1990, original_price_fen=200_000_000),
            ON,
        )
    )
    vat = lines["VAT", "SELLER"]
    assert (vat.basis_fen, vat.rate.text, vat.amount_fen) == (100_000_000, "0.05", 5_000_000)


# --- income tax --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("acquired", "only_home", "exempt"),
    [
        (date(2021, 6, 15), True, True),  # 满五唯一, on the fifth anniversary
        (date(2021, 6, 16), True, False),  # a day short of five years
        (date(2021, 6, 15), False, False),  # five years, but not the only home
        (date(2010, 1, 1), False, False),
    ],
)
def test_income_tax_exemption_needs_five_years_and_the_only_home(
    acquired: date, only_home: bool, exempt: bool
) -> None:
    lines = by_item(taxes_due(case(seller_acquired_on=acquired, seller_only_home=only_home), ON))
    assert (("IIT", "SELLER") not in lines) is exempt


def test_income_tax_is_deemed_at_one_percent_without_an_original_price() -> None:
    lines = by_item(
        taxes_due(case(seller_acquired_on=date(2022, 1, 1), seller_only_home=False), ON)
    )
    iit = lines["IIT", "SELLER"]
    assert (iit.basis_fen, iit.rate.text, iit.amount_fen) == (PRICE, "0.01", 3_000_000)


def test_income_tax_is_twenty_percent_of_the_gain_after_the_sellers_taxes() -> None:
    lines = by_item(
        taxes_due(case(seller_acquired_on=date(2025, 1, 1), original_price_fen=200_000_000), ON)
    )
    vat = lines["VAT", "SELLER"].amount_fen  # 9,000,000: held under two years
    iit = lines["IIT", "SELLER"]
    assert iit.basis_fen == PRICE - vat - 200_000_000
    assert (iit.rate.text, iit.amount_fen) == ("0.2", 18_200_000)


def test_no_income_tax_on_a_loss() -> None:
    lines = by_item(taxes_due(case(seller_only_home=False, original_price_fen=PRICE + 1), ON))
    assert ("IIT", "SELLER") not in lines


def test_non_residential_has_no_five_year_exemption() -> None:
    lines = by_item(taxes_due(case(kind="NON_RESIDENTIAL", seller_acquired_on=_1990), ON))
    assert ("IIT", "SELLER") in lines


# --- stamp duty and the whole picture ----------------------------------------------------------


def test_housing_is_exempt_from_stamp_duty() -> None:
    items = {line.item for line in taxes_due(case(seller_acquired_on=date(2025, 1, 1)), ON)}
    assert "STAMP_DUTY" not in items


def test_non_residential_stamp_duty_falls_on_both_parties() -> None:
    lines = taxes_due(
        case(kind="NON_RESIDENTIAL", seller_acquired_on=_1990, original_price_fen=250_000_000), ON
    )
    # VAT 5 % of the 500,000.00 gain = 25,000.00, so the basis is 2,975,000.00
    stamps = [(line.payer, line.basis_fen, line.amount_fen) for line in lines
              if line.item == "STAMP_DUTY"]  # fmt: skip
    assert stamps == [("BUYER", 297_500_000, 148_750), ("SELLER", 297_500_000, 148_750)]
    iit = by_item(lines)["IIT", "SELLER"]
    assert iit.basis_fen == 297_500_000 - 250_000_000 - 148_750


def test_a_full_case_lists_every_tax_in_order_with_exact_amounts() -> None:
    lines = taxes_due(
        case(
            price_fen=123_456_789,
            area_dm2=15_230,
            buyer_home="SECOND",
            seller_acquired_on=date(2025, 3, 1),
            seller_only_home=False,
            original_price_fen=100_000_000,
        ),
        ON,
    )
    vat = Rate.parse("0.03").of(123_456_789)  # 3,703,703.67 → 3,703,704 fen
    net = 123_456_789 - vat
    assert [(line.item, line.payer, line.basis_fen, line.rate.text, line.amount_fen)
            for line in lines] == [
        ("DEED_TAX", "BUYER", net, "0.02", Rate.parse("0.02").of(net)),
        ("VAT", "SELLER", 123_456_789, "0.03", 3_703_704),
        ("IIT", "SELLER", net - 100_000_000, "0.2", Rate.parse("0.2").of(net - 100_000_000)),
    ]  # fmt: skip
    assert all(isinstance(line.amount_fen, int) for line in lines)


@pytest.mark.parametrize(
    "overrides",
    [
        {"price_fen": 0},
        {"price_fen": 1.5},
        {"area_dm2": 0},
        {"kind": "SHOP"},
        {"buyer_home": "THIRD"},
        {"original_price_fen": -1},
        {"price_fen": True},
    ],
)
def test_malformed_cases_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        case(**overrides)
