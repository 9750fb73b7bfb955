"""What a staff password must be (等保三级 8.1.4.1 a: 口令具有复杂度要求). Pure.

The standard names no numbers; we follow what assessors commonly expect and write it down in
docs/decisions (the h8 login decision): at least 8 characters, at least 3 of the 4 classes
(lower case, upper case, digits, other characters), not the user name, and none of the last 5
passwords of the account (that last check needs the stored hashes and lives in the service).
"""

from __future__ import annotations

from clearing.errors import InvalidRequest

MIN_LENGTH = 8
MAX_LENGTH = 200  # scrypt accepts anything; a cap keeps a megabyte "password" off the hash pool
MIN_CLASSES = 3
HISTORY = 5

RULE_ZH = "密码至少8位，且须包含大写字母、小写字母、数字、其他符号中的至少3类，不得与用户名相同"
RULE_EN = (
    "a password has at least 8 characters from at least 3 of: lower case, upper case, digits,"
    " other characters, and is not the user name"
)


def classes(password: str) -> int:
    """How many of the four character classes the password uses."""
    return sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )


def check(password: str, username: str) -> None:
    """Refuse a password that breaks the rules, saying the rule in Chinese."""
    if len(password) < MIN_LENGTH or len(password) > MAX_LENGTH:
        raise InvalidRequest("PASSWORD_TOO_SHORT" if len(password) < MIN_LENGTH else
                             "PASSWORD_TOO_LONG", RULE_EN, RULE_ZH)  # fmt: skip
    if classes(password) < MIN_CLASSES:
        raise InvalidRequest("PASSWORD_TOO_SIMPLE", RULE_EN, RULE_ZH)
    if password.casefold() == username.casefold():
        raise InvalidRequest("PASSWORD_IS_USERNAME", RULE_EN, RULE_ZH)
