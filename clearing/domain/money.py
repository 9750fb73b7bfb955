"""Money as integer fen: decimal text at the edge, display, 大写金额, and exact splits.

No float is involved anywhere: amounts are ``int`` fen, decimal text is read digit by digit,
and splits use integer arithmetic only. Functions refuse ``float`` (and ``bool``) with
``TypeError`` so a stray float fails loudly instead of rounding quietly.

Errors::

    ValueError
     └── MoneyError   code: AMOUNT_EMPTY | AMOUNT_FORMAT | AMOUNT_NEGATIVE | AMOUNT_TOO_LARGE
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final, Literal

# 10**13 yuan: far beyond any real payment, and 1/9223 of the BIGINT range.
MAX_FEN: Final = 10**15

MoneyErrorCode = Literal["AMOUNT_EMPTY", "AMOUNT_FORMAT", "AMOUNT_NEGATIVE", "AMOUNT_TOO_LARGE"]


class MoneyError(ValueError):
    """An amount that cannot be accepted; ``code`` is stable, the message is for people."""

    def __init__(self, code: MoneyErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: MoneyErrorCode = code


def require_fen(value: int) -> None:
    """An amount the caller passes in is a positive int of fen: a float or a bool is a bug in the
    caller (``TypeError``), zero or less is a value no acquirer takes (``ValueError``)."""
    if _require_int(value, "amount") <= 0:
        raise ValueError("amount must be positive")


def _require_int(value: object, name: str) -> int:
    # bool is an int subclass, but True as an amount is always a bug.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be int fen, not {type(value).__name__}")
    return value


def _require_str(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be str, not {type(value).__name__}")
    return value


def _too_large() -> MoneyError:
    return MoneyError("AMOUNT_TOO_LARGE", f"amount must not exceed {yuan_str(MAX_FEN)} yuan")


# --- decimal yuan text ---------------------------------------------------------------------

# [0-9] rather than \d: \d also matches full-width and other Unicode digits.
_YUAN_RE: Final = re.compile(r"([0-9]+)(?:\.([0-9]{1,2}))?")
_MAX_WHOLE_DIGITS: Final = len(str(MAX_FEN // 100))


def parse_yuan(text: str) -> int:
    """Parse decimal yuan such as ``"1234.5"`` into fen (123450); zero is allowed.

    Accepted after stripping surrounding whitespace: ASCII digits, optionally ``.`` and one
    or two decimals. A leading ``-`` on an otherwise valid number is AMOUNT_NEGATIVE.
    """
    stripped = _require_str(text, "text").strip()
    if not stripped:
        raise MoneyError("AMOUNT_EMPTY", "amount is empty")
    negative = stripped.startswith("-")
    match = _YUAN_RE.fullmatch(stripped[1:] if negative else stripped)
    if match is None:
        raise MoneyError(
            "AMOUNT_FORMAT", "amount must be yuan digits with at most two decimals, like 1234.50"
        )
    if negative:
        raise MoneyError("AMOUNT_NEGATIVE", "amount must not be negative")
    whole, decimals = match.group(1).lstrip("0"), match.group(2) or ""
    # Check the length first: int() of a huge digit string is slow and capped by Python.
    if len(whole) > _MAX_WHOLE_DIGITS:
        raise _too_large()
    fen = int(whole or "0") * 100 + int(decimals.ljust(2, "0"))
    if fen > MAX_FEN:
        raise _too_large()
    return fen


def yuan_str(fen: int) -> str:
    """Wire format: ``123450`` → ``"1234.50"``, ``-100`` → ``"-1.00"``."""
    fen = _require_int(fen, "fen")
    whole, cents = divmod(abs(fen), 100)
    return f"{'-' if fen < 0 else ''}{whole}.{cents:02d}"


def format_yuan(fen: int) -> str:
    """Display format: ``123456`` → ``"¥1,234.56"``, ``-123456`` → ``"-¥1,234.56"``."""
    fen = _require_int(fen, "fen")
    whole, cents = divmod(abs(fen), 100)
    return f"{'-' if fen < 0 else ''}¥{whole:,}.{cents:02d}"


# --- 大写金额 -------------------------------------------------------------------------------

_DIGITS: Final = "零壹贰叁肆伍陆柒捌玖"
_SMALL_UNITS: Final = ("", "拾", "佰", "仟")


def _group_mark(yuan: int, power: int) -> str:
    """The mark written after the digit at 10**power yuan: 元, 万 or 亿, if that group is used."""
    if power == 0:
        return "元"
    # 万 closes each 4-digit group below a 亿; 亿 closes everything above it, so 10**12 is 壹万亿.
    if power % 8 == 4 and (yuan // 10**power) % 10**4:
        return "万"
    if power % 8 == 0 and (yuan // 10**power) % 10**8:
        return "亿"
    return ""


def _places(yuan: int, jiao: int, fen: int) -> Iterator[tuple[int, str, str]]:
    """(digit, unit, mark) from the highest yuan place down to 分; no yuan places below 1 yuan."""
    digits = str(yuan) if yuan else ""
    for index, char in enumerate(digits):
        power = len(digits) - 1 - index
        yield int(char), _SMALL_UNITS[power % 4], _group_mark(yuan, power)
    yield jiao, "角", ""
    yield fen, "分", ""


def capital_amount(fen: int) -> str:
    """The Chinese capital amount (大写金额) for 0 ≤ fen ≤ MAX_FEN, as on bills and receipts.

    Follows 《支付结算办法》附一《正确填写票据和结算凭证的基本规定》:

    * digits 零壹贰叁肆伍陆柒捌玖, units 拾佰仟, groups 万 亿 (10**12 yuan is 壹万亿);
      壹 is always written before 拾 (壹拾元整), as banks require.
    * 零: every run of zeros between two non-zero digits is written as exactly one 零,
      including across 万/亿/元 and between 元 and 角 (rules 一, 二, 四). Where rule 三 lets
      the 零 be dropped (万位 or 元位 zero before a non-zero 千位/角位) we still write it, so
      one rule covers every case and nothing can be slipped into the gap:
      ¥107,000.53 → 壹拾万零柒仟元零伍角叁分, ¥1,680.32 → 壹仟陆佰捌拾元零叁角贰分.
    * Trailing zeros of the yuan part are not written (壹佰万元零伍分).
    * Below one yuan nothing is written for the yuan part (伍分, 壹角伍分); zero is 零元整.
    * 整 follows 元 when 角 and 分 are zero, and follows 角 when 分 is zero (伍角整; the rule
      makes it optional after 角, we always write it); never after 分.
    """
    fen = _require_int(fen, "fen")
    if fen < 0:
        raise MoneyError("AMOUNT_NEGATIVE", "a capital amount cannot be negative")
    if fen > MAX_FEN:
        raise _too_large()
    if fen == 0:
        return "零元整"
    yuan, rest = divmod(fen, 100)
    jiao, fen_digit = divmod(rest, 10)
    parts: list[str] = []
    zero_pending = False  # zeros seen after a non-zero digit, written only if one follows
    for digit, unit, mark in _places(yuan, jiao, fen_digit):
        if digit:
            if zero_pending:
                parts.append("零")
                zero_pending = False
            parts.append(_DIGITS[digit] + unit)
        elif parts:
            zero_pending = True
        parts.append(mark)
    if fen_digit == 0:
        parts.append("整")
    return "".join(parts)


_DIGIT_VALUES: Final = {char: value for value, char in enumerate(_DIGITS) if value}
_SMALL_UNIT_VALUES: Final = {"拾": 10, "佰": 100, "仟": 1000}
_FRACTION_RE: Final = re.compile(
    r"(零)?(?:([壹贰叁肆伍陆柒捌玖])角)?(?:([壹贰叁肆伍陆柒捌玖])分)?(整|正)?"
)


def _malformed() -> MoneyError:
    return MoneyError("AMOUNT_FORMAT", "not a capital amount (大写金额)")


def _read_section(text: str) -> int:
    """A group below 10**4, e.g. 壹仟零伍; zeros are skipped here and judged by the caller."""
    value, last_unit, index = 0, 10**4, 0
    while index < len(text):
        char = text[index]
        if char == "零":
            index += 1
            continue
        digit = _DIGIT_VALUES.get(char)
        if digit is None:
            raise _malformed()
        unit = _SMALL_UNIT_VALUES.get(text[index + 1 : index + 2], 1)
        if unit >= last_unit:
            raise _malformed()
        value, last_unit = value + digit * unit, unit
        index += 2 if unit > 1 else 1
    return value


# The large units, each read as "high unit low" where both sides are read by the unit below;
# the multiplier of 亿 may itself hold 万: 壹万亿 is 10**12.
_LARGE_UNITS = (("万", 10**4), ("亿", 10**8))


def _read_whole(text: str, units: int = len(_LARGE_UNITS)) -> int:
    if units == 0:
        return _read_section(text)
    unit, scale = _LARGE_UNITS[units - 1]
    high, found, low = text.partition(unit)
    if not found:
        return _read_whole(text, units - 1)
    if not high or unit in low:
        raise _malformed()
    return _read_whole(high, units - 1) * scale + _read_whole(low, units - 1)


def _read_capital(text: str) -> int:
    whole, found, rest = text.partition("元")
    if not found:
        whole, rest = "", text
    elif not whole:
        raise _malformed()
    match = _FRACTION_RE.fullmatch(rest)
    if match is None or not (found or match.group(2) or match.group(3)):
        raise _malformed()
    yuan = _read_whole(whole)
    jiao = _DIGIT_VALUES[match.group(2)] if match.group(2) else 0
    fen = _DIGIT_VALUES[match.group(3)] if match.group(3) else 0
    return yuan * 100 + jiao * 10 + fen


def parse_capital_amount(text: str) -> int:
    """Read a 大写金额 back into fen, accepting only the spelling ``capital_amount`` writes.

    Surrounding whitespace and a leading 人民币 are allowed. Other spellings the rules permit
    (伍角 without 整, 正 for 整, a dropped optional 零) are AMOUNT_FORMAT, and the message
    names the expected spelling, so a receipt that differs from ours is noticed.
    """
    stripped = _require_str(text, "text").strip().removeprefix("人民币")
    if not stripped:
        raise MoneyError("AMOUNT_EMPTY", "amount is empty")
    fen = _read_capital(stripped)
    if fen > MAX_FEN:
        raise _too_large()
    expected = capital_amount(fen)
    if stripped != expected:
        raise MoneyError("AMOUNT_FORMAT", f"not the standard spelling; expected {expected}")
    return fen


# --- splits ----------------------------------------------------------------------------------


def split_largest_remainder(total_fen: int, weights: Sequence[int]) -> list[int]:
    """Split ``total_fen`` in proportion to ``weights`` so the parts sum exactly to it.

    Hamilton's method: each part gets the floor of its share, then the fen left over go one
    each to the largest remainders, equal remainders to the lowest index.
    """
    total = _require_int(total_fen, "total_fen")
    checked = [_require_int(weight, "weight") for weight in weights]
    if total < 0:
        raise ValueError("total_fen must not be negative")
    if any(weight < 0 for weight in checked):
        raise ValueError("weights must not be negative")
    weight_sum = sum(checked)
    if weight_sum <= 0:
        raise ValueError("weights must have a positive sum")
    shares = [divmod(total * weight, weight_sum) for weight in checked]
    parts = [floor for floor, _ in shares]
    order = sorted(range(len(shares)), key=lambda i: (-shares[i][1], i))
    for index in order[: total - sum(parts)]:
        parts[index] += 1
    return parts


@dataclass(frozen=True, slots=True, order=True)
class Money:
    """An amount in fen; adds and subtracts Money, scales by int, never mixes with float."""

    fen: int

    def __post_init__(self) -> None:
        _require_int(self.fen, "fen")

    @classmethod
    def parse(cls, text: str) -> Money:
        """Parse decimal yuan text (see ``parse_yuan``)."""
        return cls(parse_yuan(text))

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        return Money(self.fen + other.fen)

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        return Money(self.fen - other.fen)

    def __mul__(self, factor: int) -> Money:
        if isinstance(factor, bool) or not isinstance(factor, int):
            return NotImplemented
        return Money(self.fen * factor)

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        return Money(-self.fen)

    def __str__(self) -> str:
        return yuan_str(self.fen)

    def split(self, weights: Sequence[int]) -> list[Money]:
        """Split by largest remainder (see ``split_largest_remainder``)."""
        return [Money(part) for part in split_largest_remainder(self.fen, weights)]
