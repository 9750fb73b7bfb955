"""The kiosk's enrolment codes and what its scanner reads from a payment notice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from clearing.domain.display import STATIC_NAMES, Names
from clearing.service import kiosk_lookup, kiosks, pay_links


def test_an_enrolment_code_is_typed_in_groups_and_read_back_however_typed() -> None:
    code = kiosks._new_code()
    assert len(code) == 12 and not set(code) & set("01ILO")
    shown = kiosks.show_code(code)
    assert shown == f"{code[:4]}-{code[4:8]}-{code[8:]}"
    assert kiosks._code_key(shown) == code
    assert kiosks._code_key(f" {shown.lower()} ") == code
    assert kiosks._code_key(code[:4] + " " + code[4:]) == code


def test_codes_differ() -> None:
    assert len({kiosks._new_code() for _ in range(200)}) == 200


def test_the_scanner_gives_the_notices_link_or_the_bare_token() -> None:
    key = b"k" * 32
    token = pay_links.make_token(key, "TJ20261207ABCDEF012345", datetime.now(UTC) + timedelta(1))
    for scanned in (
        pay_links.link_url("https://pay.example.cn", token),
        pay_links.link_url("https://pay.example.cn/base/", token),
        f"  {token}\n",
        token,
    ):
        assert kiosk_lookup.token_of(scanned) == token, scanned


def test_a_kiosk_is_named_by_what_the_administrator_called_it() -> None:
    names = Names({"kiosk": {"7": "一楼自助缴费机1"}})
    assert names.actor("kiosk:7") == "一楼自助缴费机1"
    assert names.actor("kiosk:8") == "自助终端8"  # one removed since: still not a raw code
    assert STATIC_NAMES.of("audit_action", "kiosk.revoked") == "停用自助终端"
