"""Which channel a payment code belongs to, from its digits alone (B scans C).

The prefixes are published by the channels: WeChat Pay codes are 18 digits starting 10-15,
Alipay codes 16-24 digits starting 25-30, UnionPay codes 19 digits starting 62.
"""

from __future__ import annotations

import re

from clearing.errors import InvalidRequest

_RULES = (
    ("wechatpay", re.compile(r"^1[0-5]\d{16}$")),
    ("alipay", re.compile(r"^(2[5-9]|30)\d{14,22}$")),
    ("unionpay", re.compile(r"^62\d{17}$")),
)


def channel_of(auth_code: str) -> str:
    code = auth_code.strip()
    for provider, pattern in _RULES:
        if pattern.match(code):
            return provider
    raise InvalidRequest(
        "PAYMENT_CODE_UNKNOWN",
        "not a WeChat Pay, Alipay or UnionPay payment code",
        "无法识别的付款码，请让缴款人刷新付款码后重新扫描",
    )


def mask_code(auth_code: str) -> str:
    """Payment codes are bearer credentials for a minute; keep only enough to recognise one."""
    code = auth_code.strip()
    return code[:4] + "*" * max(0, len(code) - 8) + code[-4:]
