"""Money: decimal text, display, 大写金额 and largest-remainder splits."""

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearing.domain.money import (
    MAX_FEN,
    Money,
    MoneyError,
    capital_amount,
    format_yuan,
    parse_capital_amount,
    parse_yuan,
    split_largest_remainder,
    yuan_str,
)

amounts = st.integers(min_value=0, max_value=MAX_FEN)
# Random integers rarely contain runs of zeros, which is where the 零 rules live.
zero_rich_amounts = (
    st.lists(st.sampled_from("000019"), min_size=1, max_size=16)
    .map(lambda digits: int("".join(digits)))
    .filter(lambda fen: fen <= MAX_FEN)
)
any_amount = st.one_of(amounts, zero_rich_amounts)


# --- parse_yuan ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("1234.5", 123450),
        ("1234.56", 123456),
        ("0.01", 1),
        ("00012.30", 1230),
        ("0", 0),
        ("0.00", 0),
        ("  7.5\n", 750),
        ("\u30008", 800),  # full-width space is whitespace
        ("10000000000000", MAX_FEN),
    ],
)
def test_parse_yuan_examples(text: str, fen: int) -> None:
    assert parse_yuan(text) == fen


@pytest.mark.parametrize(
    ("text", "fen"),
    # Each of these goes wrong through binary floats, e.g. int(float("0.29") * 100) == 28.
    [("0.29", 29), ("1.13", 113), ("0.57", 57), ("4.35", 435), ("8.2", 820), ("1.15", 115)],
)
def test_parse_yuan_is_exact_where_floats_are_not(text: str, fen: int) -> None:
    assert parse_yuan(text) == fen


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "AMOUNT_EMPTY"),
        ("   ", "AMOUNT_EMPTY"),
        ("1,234.567", "AMOUNT_FORMAT"),
        ("1,234.56", "AMOUNT_FORMAT"),
        ("1e3", "AMOUNT_FORMAT"),
        ("NaN", "AMOUNT_FORMAT"),
        ("Infinity", "AMOUNT_FORMAT"),
        ("+5", "AMOUNT_FORMAT"),
        ("1.", "AMOUNT_FORMAT"),
        (".5", "AMOUNT_FORMAT"),
        ("１２", "AMOUNT_FORMAT"),
        ("١٢", "AMOUNT_FORMAT"),
        ("0x10", "AMOUNT_FORMAT"),
        ("1_000", "AMOUNT_FORMAT"),
        ("12.345", "AMOUNT_FORMAT"),
        ("1 000", "AMOUNT_FORMAT"),
        ("¥12", "AMOUNT_FORMAT"),
        ("-", "AMOUNT_FORMAT"),
        ("--1", "AMOUNT_FORMAT"),
        ("−1", "AMOUNT_FORMAT"),  # U+2212 minus sign is not the ASCII one
        ("-1", "AMOUNT_NEGATIVE"),
        ("-0.50", "AMOUNT_NEGATIVE"),
        ("10000000000000.01", "AMOUNT_TOO_LARGE"),
        ("9" * 5000, "AMOUNT_TOO_LARGE"),
    ],
)
def test_parse_yuan_rejects(text: str, code: str) -> None:
    with pytest.raises(MoneyError) as caught:
        parse_yuan(text)
    assert caught.value.code == code
    assert isinstance(caught.value, ValueError)


def test_parse_yuan_accepts_long_leading_zeros() -> None:
    assert parse_yuan("0" * 100 + "1.00") == 100


@given(amounts)
def test_parse_yuan_inverts_yuan_str(fen: int) -> None:
    assert parse_yuan(yuan_str(fen)) == fen


# --- yuan_str and format_yuan ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fen", "wire", "display"),
    [
        (0, "0.00", "¥0.00"),
        (1, "0.01", "¥0.01"),
        (10, "0.10", "¥0.10"),
        (100, "1.00", "¥1.00"),
        (123450, "1234.50", "¥1,234.50"),
        (123456, "1234.56", "¥1,234.56"),
        (100000000, "1000000.00", "¥1,000,000.00"),
        (-100, "-1.00", "-¥1.00"),
        (-123456, "-1234.56", "-¥1,234.56"),
        (-5, "-0.05", "-¥0.05"),
    ],
)
def test_yuan_str_and_format_yuan(fen: int, wire: str, display: str) -> None:
    assert yuan_str(fen) == wire
    assert format_yuan(fen) == display


@given(st.integers(min_value=-MAX_FEN, max_value=MAX_FEN))
def test_format_yuan_groups_thousands(fen: int) -> None:
    shown = format_yuan(fen)
    assert re.fullmatch(r"-?¥[0-9]{1,3}(,[0-9]{3})*\.[0-9]{2}", shown)
    assert shown.replace("¥", "").replace(",", "") == yuan_str(fen)


# --- capital_amount --------------------------------------------------------------------------

CAPITAL_TABLE = [
    ("0", "零元整"),
    ("0.01", "壹分"),
    ("0.05", "伍分"),
    ("0.10", "壹角整"),
    ("0.50", "伍角整"),
    ("0.15", "壹角伍分"),
    ("1", "壹元整"),
    ("1.05", "壹元零伍分"),
    ("1.50", "壹元伍角整"),
    ("10", "壹拾元整"),
    ("10.05", "壹拾元零伍分"),
    ("15", "壹拾伍元整"),
    ("110", "壹佰壹拾元整"),
    ("1001", "壹仟零壹元整"),
    ("1010.50", "壹仟零壹拾元零伍角整"),
    ("1234.56", "壹仟贰佰叁拾肆元伍角陆分"),
    # The worked examples of 《正确填写票据和结算凭证的基本规定》, rule 五 (with 整 after 角):
    ("1409.50", "壹仟肆佰零玖元伍角整"),
    ("6007.14", "陆仟零柒元壹角肆分"),
    ("1680.32", "壹仟陆佰捌拾元零叁角贰分"),
    ("107000.53", "壹拾万零柒仟元零伍角叁分"),
    ("16409.02", "壹万陆仟肆佰零玖元零贰分"),
    ("325.04", "叁佰贰拾伍元零肆分"),
    ("10000", "壹万元整"),
    ("10000.50", "壹万元零伍角整"),
    ("100000", "壹拾万元整"),
    ("1000010", "壹佰万零壹拾元整"),
    ("1000000.05", "壹佰万元零伍分"),
    ("10010000", "壹仟零壹万元整"),
    ("100000000", "壹亿元整"),
    ("100000010", "壹亿零壹拾元整"),
    ("100010000", "壹亿零壹万元整"),
    ("110000000", "壹亿壹仟万元整"),
    ("1000000000000", "壹万亿元整"),
    ("1000100000000", "壹万零壹亿元整"),
    ("1000000000001", "壹万亿零壹元整"),
    ("10000000000000", "壹拾万亿元整"),
    (
        "9999999999999.99",
        "玖万玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分",
    ),
]


@pytest.mark.parametrize(("yuan", "capital"), CAPITAL_TABLE)
def test_capital_amount_table(yuan: str, capital: str) -> None:
    assert capital_amount(parse_yuan(yuan)) == capital
    assert parse_capital_amount(capital) == parse_yuan(yuan)


@pytest.mark.parametrize(
    ("fen", "code"), [(-1, "AMOUNT_NEGATIVE"), (MAX_FEN + 1, "AMOUNT_TOO_LARGE")]
)
def test_capital_amount_rejects_out_of_range(fen: int, code: str) -> None:
    with pytest.raises(MoneyError) as caught:
        capital_amount(fen)
    assert caught.value.code == code


def _digits(fen: int) -> str:
    """Yuan digits then 角 and 分, without leading zeros: the places the capital spells out."""
    yuan, rest = divmod(fen, 100)
    return (str(yuan) if yuan else "") + f"{rest:02d}"


@given(any_amount)
def test_capital_amount_round_trips(fen: int) -> None:
    assert parse_capital_amount(capital_amount(fen)) == fen


@given(any_amount.filter(bool))
def test_capital_amount_zero_rules(fen: int) -> None:
    capital = capital_amount(fen)
    assert "零零" not in capital
    assert not capital.startswith("零")
    # One 零 for each run of zeros between two non-zero places, and no other.
    assert capital.count("零") == len(re.findall(r"(?<=[1-9])0+(?=[1-9])", _digits(fen)))
    # The non-zero digits appear in order, each once.
    spelled = "".join(
        str("零壹贰叁肆伍陆柒捌玖".index(c)) for c in capital if c in "壹贰叁肆伍陆柒捌玖"
    )
    assert spelled == _digits(fen).replace("0", "")
    assert capital.endswith("整") == (fen % 10 == 0)
    assert ("元" in capital) == (fen >= 100)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "AMOUNT_EMPTY"),
        ("人民币", "AMOUNT_EMPTY"),
        ("壹仟陆佰捌拾元叁角贰分", "AMOUNT_FORMAT"),  # allowed by rule 三, not our spelling
        ("伍角", "AMOUNT_FORMAT"),
        ("壹元正", "AMOUNT_FORMAT"),
        ("壹元", "AMOUNT_FORMAT"),
        ("零壹元整", "AMOUNT_FORMAT"),
        ("壹仟零零壹元整", "AMOUNT_FORMAT"),
        ("零元壹分", "AMOUNT_FORMAT"),
        ("拾元整", "AMOUNT_FORMAT"),
        ("一元整", "AMOUNT_FORMAT"),
        ("壹贰元整", "AMOUNT_FORMAT"),
        ("壹拾佰元整", "AMOUNT_FORMAT"),
        ("元整", "AMOUNT_FORMAT"),
        ("整", "AMOUNT_FORMAT"),
        ("壹元整整", "AMOUNT_FORMAT"),
        ("壹元伍分角", "AMOUNT_FORMAT"),
        ("壹亿壹亿元整", "AMOUNT_FORMAT"),
        ("人民币 壹元整", "AMOUNT_FORMAT"),
        ("壹拾万零亿元整", "AMOUNT_FORMAT"),
        ("壹佰万亿元整", "AMOUNT_TOO_LARGE"),
    ],
)
def test_parse_capital_amount_rejects(text: str, code: str) -> None:
    with pytest.raises(MoneyError) as caught:
        parse_capital_amount(text)
    assert caught.value.code == code


def test_parse_capital_amount_names_the_expected_spelling() -> None:
    with pytest.raises(MoneyError, match="expected 壹仟陆佰捌拾元零叁角贰分"):
        parse_capital_amount("壹仟陆佰捌拾元叁角贰分")


def test_parse_capital_amount_allows_prefix_and_whitespace() -> None:
    assert parse_capital_amount(" 人民币壹拾元零伍分\n") == 1005


# --- split_largest_remainder -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "weights", "parts"),
    [
        (100, [1, 1, 1], [34, 33, 33]),
        (2, [1, 1, 1], [1, 1, 0]),
        (1, [1, 1, 1], [1, 0, 0]),
        (10, [0, 1], [0, 10]),
        (0, [3, 5], [0, 0]),
        (1000, [1], [1000]),
        (101, [1, 2, 2], [20, 41, 40]),  # remainders 1/5, 2/5, 2/5: the tie goes to the lower index
        (7, [5, 3, 2], [4, 2, 1]),
        (10000, [3333, 3333, 3334], [3333, 3333, 3334]),
    ],
)
def test_split_examples(total: int, weights: list[int], parts: list[int]) -> None:
    assert split_largest_remainder(total, weights) == parts


@pytest.mark.parametrize(
    ("total", "weights"), [(-1, [1]), (10, []), (10, [0, 0]), (10, [1, -1]), (10, [-1, 3])]
)
def test_split_rejects(total: int, weights: list[int]) -> None:
    with pytest.raises(ValueError):
        split_largest_remainder(total, weights)


@given(
    st.integers(min_value=0, max_value=MAX_FEN),
    st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=12).filter(sum),
)
def test_split_properties(total: int, weights: list[int]) -> None:
    parts = split_largest_remainder(total, weights)
    weight_sum = sum(weights)
    assert sum(parts) == total
    assert parts == split_largest_remainder(total, list(weights))
    remainders = [total * w % weight_sum for w in weights]
    bumped = [part * weight_sum > total * w for part, w in zip(parts, weights, strict=True)]
    for part, weight in zip(parts, weights, strict=True):
        # Within one fen of the exact share, compared in integers: |part - share| < 1.
        assert abs(part * weight_sum - total * weight) < weight_sum
        assert part >= 0
        if weight == 0:
            assert part == 0
    # Whoever got the extra fen ranks above whoever did not: larger remainder, then lower index.
    for i, got in enumerate(bumped):
        for j, other in enumerate(bumped):
            if got and not other:
                assert (-remainders[i], i) < (-remainders[j], j)


# --- no float anywhere -----------------------------------------------------------------------


# Typed Any so mypy lets the wrong types through: the runtime check is what is under test.
FLOAT: Any = 1.0
ONE: Any = 1


@pytest.mark.parametrize(
    "call",
    [
        lambda: parse_yuan(FLOAT),
        lambda: parse_capital_amount(FLOAT),
        lambda: yuan_str(FLOAT),
        lambda: yuan_str(True),
        lambda: format_yuan(FLOAT),
        lambda: capital_amount(FLOAT * 100),
        lambda: split_largest_remainder(FLOAT * 10, [1]),
        lambda: split_largest_remainder(10, [FLOAT, 1]),
        lambda: Money(FLOAT),
        lambda: Money(100) + FLOAT,
        lambda: FLOAT + Money(100),
        lambda: Money(100) - ONE,
        lambda: Money(100) * (FLOAT * 1.5),
        lambda: FLOAT * 1.5 * Money(100),
        lambda: Money(100) < ONE,
    ],
)
def test_floats_are_refused(call: Any) -> None:
    with pytest.raises(TypeError):
        call()


def test_money_type() -> None:
    price = Money.parse("12.34")
    assert price == Money(1234)
    assert price + Money(66) == Money(1300)
    assert price - Money(34) == Money(1200)
    assert price * 3 == 3 * price == Money(3702)
    assert -price == Money(-1234)
    assert str(price) == "12.34"
    assert Money(1) < Money(2)
    assert Money(100).split([1, 1, 1]) == [Money(34), Money(33), Money(33)]
    with pytest.raises(AttributeError):
        price.fen = 1  # type: ignore[misc]
