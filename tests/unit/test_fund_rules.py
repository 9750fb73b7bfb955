"""Maintenance-fund rules: the versioned rate table, exact area × rate with half-up rounding,
area text without floats, and the shape of a property-unit number."""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from math import floor
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.fund import rules
from adapters.fund.rules import (
    MAX_AREA_CENTI,
    RATE_TABLE,
    FundRuleError,
    RateVersion,
    amount_fen,
    assess,
    check_table,
    format_area,
    parse_area,
    rate_for,
)
from adapters.fund.unit_no import UnitNoError, looks_like_unit_no, parse_unit_no

# --- area text ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "centi"),
    [
        ("89.99", 8999),
        ("90", 9000),
        ("90.5", 9050),
        ("90.50", 9050),
        ("0.01", 1),
        ("143.07", 14307),
        ("10000.00", MAX_AREA_CENTI),
    ],
)
def test_area_text_becomes_hundredths_of_a_square_metre(text: str, centi: int) -> None:
    assert parse_area(text) == centi


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "AREA_FORMAT"),
        (" 89.99", "AREA_FORMAT"),
        ("89.999", "AREA_FORMAT"),  # more precision than the register keeps: not ours to round
        ("89,99", "AREA_FORMAT"),
        ("-89.99", "AREA_FORMAT"),
        ("+89.99", "AREA_FORMAT"),
        ("8.999e1", "AREA_FORMAT"),
        ("NaN", "AREA_FORMAT"),
        ("089.99", "AREA_FORMAT"),
        (".99", "AREA_FORMAT"),
        ("89.", "AREA_FORMAT"),
        ("８９.９９", "AREA_FORMAT"),  # full-width digits
        ("0", "AREA_RANGE"),
        ("0.00", "AREA_RANGE"),
        ("10000.01", "AREA_RANGE"),
        ("99999.99", "AREA_RANGE"),
    ],
)
def test_area_text_is_refused_unless_exact(text: str, code: str) -> None:
    with pytest.raises(FundRuleError) as caught:
        parse_area(text)
    assert caught.value.code == code


@pytest.mark.parametrize("value", [89.99, 8999, None, b"89.99"])
def test_area_must_be_text_never_a_float(value: Any) -> None:
    with pytest.raises(TypeError):
        parse_area(value)


@given(st.integers(min_value=1, max_value=MAX_AREA_CENTI))
def test_area_text_round_trips(centi: int) -> None:
    text = format_area(centi)
    assert len(text.split(".")[1]) == 2
    assert parse_area(text) == centi


def test_formatted_area_always_has_two_decimals() -> None:
    assert [format_area(c) for c in (8999, 9000, 1, 905)] == ["89.99", "90.00", "0.01", "9.05"]
    with pytest.raises(TypeError):
        format_area(89.99)  # type: ignore[arg-type]
    with pytest.raises(FundRuleError):
        format_area(0)


# --- the rate table -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "version", "fen"),
    [
        (date(2019, 1, 1), "2019-01", 6000),  # first day of the first table
        (date(2024, 6, 30), "2019-01", 6000),  # last day before the revision
        (date(2024, 7, 1), "2024-07", 6450),  # the revision's first day
        (date(2030, 1, 1), "2024-07", 6450),  # in force until the next one
    ],
)
def test_the_rate_in_force_changes_on_its_effective_date(day: date, version: str, fen: int) -> None:
    rate = rate_for("MULTI_NO_LIFT", day)
    assert (rate.version, rate.fen_per_m2, rate.building_type) == (version, fen, "MULTI_NO_LIFT")


def test_every_building_type_has_its_own_rate() -> None:
    on = date(2025, 1, 1)
    assert {t: rate_for(t, on).fen_per_m2 for t in rules.BUILDING_TYPES} == {
        "MULTI_NO_LIFT": 6450,
        "MULTI_LIFT": 9680,
        "HIGH_RISE": 15225,
    }
    # a lift and height cost more to keep up, in every version
    for version in RATE_TABLE:
        fen = [rate_for(t, version.effective_from).fen_per_m2 for t in rules.BUILDING_TYPES]
        assert fen == sorted(fen)


def test_no_rate_before_the_first_table_and_no_unknown_types() -> None:
    with pytest.raises(FundRuleError) as caught:
        rate_for("MULTI_NO_LIFT", date(2018, 12, 31))
    assert caught.value.code == "NO_RATE"
    with pytest.raises(FundRuleError) as caught:
        rate_for("VILLA", date(2025, 1, 1))
    assert caught.value.code == "BUILDING_TYPE"


def test_a_malformed_table_is_refused() -> None:
    check_table(RATE_TABLE)
    full = {"MULTI_NO_LIFT": "60.00", "MULTI_LIFT": "90.00", "HIGH_RISE": "145.00"}
    out_of_order = (
        RateVersion("b", date(2024, 7, 1), full),
        RateVersion("a", date(2019, 1, 1), full),
    )
    missing = (RateVersion("a", date(2019, 1, 1), {"MULTI_NO_LIFT": "60.00"}),)
    zero = (RateVersion("a", date(2019, 1, 1), {**full, "HIGH_RISE": "0.00"}),)
    three_decimals = (RateVersion("a", date(2019, 1, 1), {**full, "HIGH_RISE": "145.005"}),)
    for table in (out_of_order, missing, zero, three_decimals):
        with pytest.raises(ValueError):
            rate_for("MULTI_NO_LIFT", date(2025, 1, 1), table)


# --- area × rate, 四舍五入 to the fen ------------------------------------------------------


@pytest.mark.parametrize(
    ("area_centi", "rate_fen", "fen"),
    [
        (8999, 6450, 580_436),  # 5804.355 yuan: an exact half fen goes up
        (8998, 6450, 580_371),  # 5803.71 exactly: nothing to round
        (10001, 15225, 1_522_652),  # .25 of a fen: down
        (10003, 15225, 1_522_957),  # .75 of a fen: up
        (49, 1, 0),  # 0.49 fen: down
        (50, 1, 1),  # 0.50 fen: up (banker's rounding would give 0)
        (250, 1, 3),  # 2.50 fen: up (banker's rounding would give 2)
        (51, 1, 1),
        (MAX_AREA_CENTI, 15225, 152_250_000),  # the largest home at the highest rate
    ],
)
def test_amount_is_area_times_rate_rounded_half_up(
    area_centi: int, rate_fen: int, fen: int
) -> None:
    assert amount_fen(area_centi, rate_fen) == fen


@given(
    st.integers(min_value=1, max_value=MAX_AREA_CENTI),
    st.integers(min_value=1, max_value=100_000),
)
def test_amount_matches_exact_fractions_within_half_a_fen(area_centi: int, rate_fen: int) -> None:
    exact = Fraction(area_centi * rate_fen, 100)  # fen, exactly
    fen = amount_fen(area_centi, rate_fen)
    assert fen == floor(exact + Fraction(1, 2))
    assert abs(fen - exact) <= Fraction(1, 2)


def test_amount_refuses_floats_and_nonsense() -> None:
    with pytest.raises(TypeError):
        amount_fen(89.99, 6450)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        amount_fen(8999, True)
    for area, rate, code in ((0, 6450, "AREA_RANGE"), (8999, 0, "RATE_RANGE")):
        with pytest.raises(FundRuleError) as caught:
            amount_fen(area, rate)
        assert caught.value.code == code


def test_assessment_explains_the_amount() -> None:
    high = assess(parse_area("120.37"), "HIGH_RISE", date(2025, 1, 1))
    assert (high.amount_fen, high.rate.fen_per_m2, high.rate.version) == (
        1_832_633,
        15225,
        "2024-07",
    )
    old = assess(parse_area("89.99"), "MULTI_NO_LIFT", date(2024, 6, 30))
    assert (old.amount_fen, old.rate.version, old.area_centi) == (539_940, "2019-01", 8999)


# --- 不动产单元号 --------------------------------------------------------------------------


def test_a_house_unit_number_splits_into_its_fields() -> None:
    unit = parse_unit_no("330106005012GB00054F00010302")
    assert (unit.division, unit.district, unit.sub_district) == ("330106", "005", "012")
    assert (unit.parcel_code, unit.parcel_seq, unit.fixture_code) == ("GB", "00054", "F")
    assert (unit.building, unit.unit) == ("0001", "0302")
    assert unit.parcel == "330106005012GB00054"
    assert str(parse_unit_no(" 330106005012gb00054f00010302 ")) == "330106005012GB00054F00010302"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("330106005012GB00054F0001030", "UNIT_NO_FORMAT"),  # 27
        ("330106005012GB00054F000103021", "UNIT_NO_FORMAT"),  # 29
        ("030106005012GB00054F00010302", "UNIT_NO_FORMAT"),  # no division starts with 0
        ("330106005012AB00054F00010302", "UNIT_NO_FORMAT"),  # owner must be G, J or Z
        ("330106005012G100054F00010302", "UNIT_NO_FORMAT"),
        ("330106005012GB00054X00010302", "UNIT_NO_FORMAT"),  # fixture must be F, L, Q or W
        ("33010600501２GB00054F00010302", "UNIT_NO_FORMAT"),  # a full-width digit
        ("330106005012GB00054L00010302", "UNIT_NO_NOT_HOUSE"),  # trees owe no maintenance fund
        ("330106005012GB00054W00000000", "UNIT_NO_NOT_HOUSE"),  # bare land
    ],
)
def test_unit_numbers_of_the_wrong_shape_are_refused(text: str, code: str) -> None:
    with pytest.raises(UnitNoError) as caught:
        parse_unit_no(text)
    assert caught.value.code == code


def test_a_notice_number_is_not_mistaken_for_a_unit_number() -> None:
    assert looks_like_unit_no("330106005012GB00054F00010302")
    assert looks_like_unit_no("330106005012GB00054L00010302")  # a unit, if not a house
    assert not looks_like_unit_no("WX330106202611260001")
