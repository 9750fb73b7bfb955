"""Payment codes per region, e-bill numbers, and the fee arithmetic behind the simulator's notices."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.fiscal import fees
from adapters.fiscal.codes import (
    InvalidPaymentCode,
    PaymentCodeRules,
    bill_code,
    is_bill_no,
    is_check_code,
    parse_bill_code,
)

TODAY = date(2026, 11, 26)
RUGAO = PaymentCodeRules.for_divisions({"320682": ""})


# --- payment codes ---------------------------------------------------------------------------


def test_the_observed_rugao_code_is_valid() -> None:
    # protocols-cn 4.1: 20 digits, division 320682, year 22, then a sequence
    assert RUGAO.check("32068222300000000007", TODAY) == "320682"
    assert RUGAO.check("32068226000000000001", TODAY) == "320682"


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("3206822230000000000", "19 digits"),
        ("320682223000000000071", "21 digits"),
        ("32068122300000000007", "another division"),
        ("3206822230000000000X", "a letter"),
        ("３２０６８２２２３００００００００００７", "full-width digits"),
        ("32068222300000000007 ", "a trailing space"),
        ("", "empty"),
    ],
)
def test_codes_that_fit_no_pattern_are_invalid(code: str, why: str) -> None:
    with pytest.raises(InvalidPaymentCode):
        RUGAO.check(code, TODAY)


def test_a_code_from_a_later_year_is_a_typo() -> None:
    with pytest.raises(InvalidPaymentCode, match="future"):
        RUGAO.check("32068227000000000001", TODAY)
    assert RUGAO.check("32068227000000000001", date(2027, 1, 1)) == "320682"


def test_each_division_has_its_own_pattern() -> None:
    rules = PaymentCodeRules.for_divisions(
        {"320682": "", "320681": r"320681(?P<year>[0-9]{2})[0-9]{8}"}  # 启东: 16 digits
    )
    assert rules.check("3206812600000001", TODAY) == "320681"
    assert rules.check("32068226000000000001", TODAY) == "320682"
    with pytest.raises(InvalidPaymentCode):
        rules.check("32068126000000000001", TODAY)  # 启东 with 如皋's length
    assert list(rules.divisions()) == ["320681", "320682"]


@pytest.mark.parametrize(
    "patterns", [{}, {"32068": ""}, {"020682": ""}, {"320682": "([0-9]"}, {"3206821": ""}]
)
def test_bad_configuration_fails_at_start(patterns: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        PaymentCodeRules.for_divisions(patterns)


# --- e-bill numbers --------------------------------------------------------------------------


def test_bill_code_is_division_category_kind_year() -> None:
    assert bill_code("320682", "0101", date(2026, 3, 1)) == "32010126"
    assert bill_code("320682", "0301", date(2030, 1, 1)) == "32030130"
    parts = parse_bill_code("32010126")
    assert (parts.division, parts.category, parts.kind, parts.year) == ("32", "01", "01", "26")
    assert str(parts) == "32010126"
    assert parts.kind_name == "非税收入通用票据（电子）"


@pytest.mark.parametrize("text", ["3201012", "320101260", "3201012A", "３２０１０１２６"])
def test_bill_codes_are_exactly_eight_digits(text: str) -> None:
    with pytest.raises(ValueError):
        parse_bill_code(text)


def test_bill_code_refuses_unknown_kinds_and_divisions() -> None:
    with pytest.raises(ValueError):
        bill_code("320682", "9999", TODAY)
    with pytest.raises(ValueError):
        bill_code("32068", "0101", TODAY)


def test_bill_numbers_and_check_codes() -> None:
    assert (
        is_bill_no("0000000001") and not is_bill_no("000000001") and not is_bill_no("00000000010")
    )
    assert is_check_code("a1B2c3") and not is_check_code("a1b2c") and not is_check_code("a1b2c3d")
    assert not is_check_code("a1-2c3")


# --- fee arithmetic: integers only, half up --------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "fraction"),
    [("0.015", (15, 1000)), ("1", (1, 1)), ("0", (0, 1)), ("0.5", (5, 10)), ("1.0", (10, 10))],
)
def test_rates_are_read_as_exact_fractions(rate: str, fraction: tuple[int, int]) -> None:
    assert fees.parse_rate(rate) == fraction


@pytest.mark.parametrize(
    "rate", ["", ".5", "1.5", "-0.1", "0.1e-2", "0,015", "01.5", "0.123456789"]
)
def test_bad_rates_are_refused(rate: str) -> None:
    with pytest.raises(ValueError):
        fees.parse_rate(rate)


@pytest.mark.parametrize(
    ("amount_fen", "rate", "expected"),
    [
        (100, "0.015", 2),  # 1.5 fen: exactly half, up
        (99, "0.015", 1),  # 1.485 fen: down
        (33, "0.015", 0),  # 0.495 fen: down, just below half
        (34, "0.015", 1),  # 0.51 fen: up
        (128_000_000, "0.015", 1_920_000),  # 1,280,000.00 yuan × 1.5 % = 19,200.00 yuan exactly
        (86_543_210, "0.01", 865_432),  # 865,432.10 × 1 % = 8,654.321 yuan: down
        (86_543_250, "0.01", 865_433),  # 865,432.50 × 1 % = 8,654.325 yuan: up
        (0, "0.015", 0),
        (12_345, "1", 12_345),
        (12_345, "0", 0),
    ],
)
def test_apply_rate_rounds_half_up_to_the_fen(amount_fen: int, rate: str, expected: int) -> None:
    assert fees.apply_rate(amount_fen, rate) == expected


@given(
    amount_fen=st.integers(min_value=0, max_value=10**15),
    numerator=st.integers(min_value=0, max_value=10**8),
)
def test_apply_rate_is_exact_half_up(amount_fen: int, numerator: int) -> None:
    rate = f"{numerator // 10**8}.{numerator % 10**8:08d}"
    exact = Fraction(amount_fen) * Fraction(numerator, 10**8)
    expected = int(exact) + (1 if exact - int(exact) >= Fraction(1, 2) else 0)
    assert fees.apply_rate(amount_fen, rate) == expected


def test_amounts_must_be_int_fen() -> None:
    with pytest.raises(TypeError):
        fees.apply_rate(100.0, "0.015")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        fees.apply_rate(True, "0.015")
    with pytest.raises(ValueError):
        fees.apply_rate(-1, "0.015")


def test_registration_fees_per_matter() -> None:
    assert fees.registration_fee_fen("RESIDENTIAL") == 8_000
    assert fees.registration_fee_fen("NON_RESIDENTIAL") == 55_000
    assert fees.registration_fee_fen("PARKING") == 8_000
    assert fees.registration_fee_fen("RESIDENTIAL", certificates=3) == 10_000  # 80 + 2 × 10
    with pytest.raises(ValueError):
        fees.registration_fee_fen("CASTLE")
    with pytest.raises(ValueError):
        fees.registration_fee_fen("RESIDENTIAL", certificates=0)


def test_late_fee_is_one_per_mille_a_day_half_up() -> None:
    assert fees.late_fee_fen(500, 1) == 1  # 0.5 fen: up
    assert fees.late_fee_fen(499, 1) == 0  # 0.499 fen: down
    assert fees.late_fee_fen(1_920_000, 1) == 1_920  # 19,200.00 yuan → 19.20 yuan a day
    assert fees.late_fee_fen(1_500, 3) == 5  # 4.5 fen over three days, rounded once: up
    assert fees.late_fee_fen(1_920_000, 0) == 0
