import pytest

from clearing.domain.codes import channel_of, mask_code
from clearing.errors import InvalidRequest


@pytest.mark.parametrize(
    ("code", "provider"),
    [
        ("134567890123456789", "wechatpay"),
        ("101234567890123456", "wechatpay"),
        ("281234567890123456", "alipay"),
        ("2512345678901234", "alipay"),
        ("301234567890123456789012", "alipay"),
        ("6212345678901234567", "unionpay"),
    ],
)
def test_codes_are_routed_by_prefix(code: str, provider: str) -> None:
    assert channel_of(code) == provider


@pytest.mark.parametrize(
    "code",
    ["", "161234567890123456", "13456789012345678", "241234567890123456",
     "3112345678901234", "621234567890123456", "62123456789012345678", "13456789012345678x"],
)  # fmt: skip
def test_other_codes_are_refused(code: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        channel_of(code)
    assert caught.value.code == "PAYMENT_CODE_UNKNOWN"


def test_mask_keeps_only_the_ends() -> None:
    assert mask_code("134567890123456789") == "1345**********6789"
