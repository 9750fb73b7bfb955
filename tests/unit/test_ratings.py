"""Grades, reasons and the masked payer name the citizen's screen shows."""

from __future__ import annotations

import pytest

from clearing.domain.ratings import GRADES, REASON_MAX, check_rating, mask_name
from clearing.errors import InvalidRequest


def test_the_five_grades_in_order() -> None:
    assert list(GRADES.values()) == ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]


def test_a_reason_is_trimmed_and_kept_for_bad_grades_only() -> None:
    assert check_rating("dissatisfied", "  等候太久 ") == "等候太久"
    assert check_rating("very_dissatisfied", "   ") is None
    assert check_rating("satisfied", None) is None
    with pytest.raises(InvalidRequest) as err:
        check_rating("satisfied", "很好")
    assert err.value.code == "REASON_ONLY_FOR_BAD_GRADE"


def test_reason_length_is_bounded() -> None:
    assert check_rating("dissatisfied", "慢" * REASON_MAX) == "慢" * REASON_MAX
    with pytest.raises(InvalidRequest) as err:
        check_rating("dissatisfied", "慢" * (REASON_MAX + 1))
    assert err.value.code == "REASON_TOO_LONG"


def test_unknown_grade_is_refused() -> None:
    with pytest.raises(InvalidRequest) as err:
        check_rating("good", None)
    assert err.value.code == "INVALID_GRADE"


@pytest.mark.parametrize(
    ("name", "masked"),
    [("张三", "张*"), ("欧阳娜娜", "欧***"), ("李", "李*"), (" 王五 ", "王*"), ("", "")],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked
