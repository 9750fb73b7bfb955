"""How the non-tax amounts of a real-estate case come about, in integer fen (protocols-cn 4.4).

Used by the simulator to issue realistic notices; the window never computes these itself, it
takes what the notice says. Rates are decimal strings read digit by digit into a fraction, never
floats; a product is rounded to the fen half up (四舍五入): ``(2·a·n + d) // (2·d)`` for an amount
``a`` and a rate ``n/d``, exact for every non-negative amount.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

# 发改价格规〔2016〕2559号: per 件 (registration matter), the first certificate included
REGISTRATION_FEE_FEN: Final[Mapping[str, int]] = {
    "RESIDENTIAL": 8_000,  # 住宅 80 元/件
    "NON_RESIDENTIAL": 55_000,  # 非住宅 550 元/件
    "PARKING": 8_000,  # 车库、车位、储藏间 80 元/件
}
EXTRA_CERTIFICATE_FEN: Final = 1_000  # 工本费 10 元/本 from the second certificate on
# 土地出让合同: 迟延支付的，每日按迟延支付款项的 1‰ 缴纳违约金
LATE_FEE_RATE_PER_DAY: Final = "0.001"

_RATE = re.compile(r"(0|[1-9][0-9]*)(?:\.([0-9]{1,8}))?")


def parse_rate(text: str) -> tuple[int, int]:
    """``"0.015"`` → ``(15, 1000)``: numerator and denominator, at most 8 decimals, at most 1."""
    match = _RATE.fullmatch(text)
    if match is None:
        raise ValueError("rate must be a decimal like 0.015")
    whole, decimals = match.group(1), match.group(2) or ""
    denominator = 10 ** len(decimals)
    numerator = int(whole) * denominator + int(decimals or "0")
    if numerator > denominator:
        raise ValueError("rate must not exceed 1")
    return numerator, denominator


def apply_rate(amount_fen: int, rate: str) -> int:
    """``amount_fen × rate``, rounded to the fen half up."""
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
        raise TypeError("amount_fen must be int fen")
    if amount_fen < 0:
        raise ValueError("amount_fen must not be negative")
    numerator, denominator = parse_rate(rate)
    return (2 * amount_fen * numerator + denominator) // (2 * denominator)


def registration_fee_fen(property_kind: str, certificates: int = 1) -> int:
    """不动产登记费 of one matter: the fee of the property kind plus 10 元 per extra certificate."""
    if property_kind not in REGISTRATION_FEE_FEN:
        raise ValueError(f"property_kind must be one of {', '.join(REGISTRATION_FEE_FEN)}")
    if isinstance(certificates, bool) or not isinstance(certificates, int) or certificates < 1:
        raise ValueError("certificates must be a positive integer")
    return REGISTRATION_FEE_FEN[property_kind] + (certificates - 1) * EXTRA_CERTIFICATE_FEN


def late_fee_fen(amount_fen: int, days: int) -> int:
    """违约金 for ``days`` days late at 1‰ a day, rounded once, half up, on the whole period."""
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen < 0:
        raise ValueError("amount_fen must be a non-negative int")
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        raise ValueError("days must be a non-negative integer")
    numerator, denominator = parse_rate(LATE_FEE_RATE_PER_DAY)
    return (2 * amount_fen * numerator * days + denominator) // (2 * denominator)
