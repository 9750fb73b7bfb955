"""The notice's mobile link: one order, until its expiry, unforgeable without the key."""

from datetime import UTC, datetime, timedelta

import pytest

from clearing.errors import NotFound
from clearing.service import pay_links

KEY = b"k" * 32
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_a_token_opens_its_order_until_it_expires() -> None:
    token = pay_links.make_token(KEY, "TJ20261207000123", NOW + timedelta(hours=2))
    link = pay_links.read_token(KEY, token, now=NOW)
    assert link.order_no == "TJ20261207000123"
    assert link.expires_at == NOW + timedelta(hours=2)
    with pytest.raises(NotFound) as e:
        pay_links.read_token(KEY, token, now=NOW + timedelta(hours=2))
    assert e.value.code == "PAY_LINK_INVALID"


def test_a_token_is_useless_for_another_order_or_another_key() -> None:
    token = pay_links.make_token(KEY, "TJ20261207000123", NOW + timedelta(hours=2))
    order, exp, mac = token.split(".")
    for forged in (
        f"TJ20261207000124.{exp}.{mac}",
        f"{order}.{int(exp, 36) + 3600:x}.{mac}",
        token[:-1] + ("A" if token[-1] != "A" else "B"),
    ):
        with pytest.raises(NotFound):
            pay_links.read_token(KEY, forged, now=NOW)
    with pytest.raises(NotFound):
        pay_links.read_token(b"x" * 32, token, now=NOW)


@pytest.mark.parametrize("junk", ["", "abc", "a.b.c", "../../etc/passwd", "x" * 500])
def test_malformed_tokens_are_refused(junk: str) -> None:
    with pytest.raises(NotFound):
        pay_links.read_token(KEY, junk, now=NOW)


def test_the_url_is_short_enough_for_a_qr_code_and_an_sms() -> None:
    token = pay_links.make_token(KEY, "TJ20261207000123", NOW + timedelta(days=3))
    url = pay_links.link_url("https://jf.example.gov.cn/", token)
    assert url.startswith("https://jf.example.gov.cn/m/TJ20261207000123.")
    assert len(url) <= 80
