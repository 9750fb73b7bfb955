"""The password rules staff meet when they choose a password."""

from __future__ import annotations

import pytest

from clearing.domain import passwords
from clearing.errors import InvalidRequest


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("Ab1!xyz", "PASSWORD_TOO_SHORT"),  # 7 characters, all four classes
        ("abcdefgh", "PASSWORD_TOO_SIMPLE"),
        ("abcdefg1", "PASSWORD_TOO_SIMPLE"),  # two classes
        ("correct horse battery", "PASSWORD_TOO_SIMPLE"),  # lower case and a space
        ("Clerk1.x", "PASSWORD_IS_USERNAME"),
        ("A1-" + "x" * 300, "PASSWORD_TOO_LONG"),
    ],
)
def test_weak_passwords_are_refused_with_the_rule_in_chinese(password: str, code: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        passwords.check(password, "clerk1.x")
    assert caught.value.code == code
    assert "至少8位" in caught.value.message_zh and "至少3类" in caught.value.message_zh


@pytest.mark.parametrize(
    "password", ["abcdef1!", "Abcdefg1", "ABCDEF1.", "窗口收费Ab1x", "Ab-cd-ef"]
)
def test_three_of_four_classes_and_eight_characters_pass(password: str) -> None:
    passwords.check(password, "clerk1")


def test_classes_are_counted_once_each() -> None:
    assert passwords.classes("aaaa") == 1
    assert passwords.classes("aA1!") == 4
