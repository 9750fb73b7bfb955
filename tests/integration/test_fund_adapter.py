"""Maintenance-fund adapter against the real office simulator over HTTP on 127.0.0.1 (no mocks)."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import hashes, hmac

from adapters.errors import AdapterError
from adapters.fund import keys as keyset
from adapters.fund import signing
from adapters.fund.client import FundClient
from adapters.fund.errors import FundAnswerForged
from adapters.fund.keys import (
    MERCHANT_DIR,
    load_merchant_keys,
)
from adapters.fund.unit_no import UnitNoError
from adapters.fund.wire import BEIJING, CONFIRM_PATH, QUERY_PATH
from clearing.ports import Authority, AuthorityRefused, LegPaid
from tests.integration.adapter_fixtures import (
    authority_fixtures,
    keyset_fixture,
    regenerated_keyset,
)
from tests.integration.fund_harness import (
    FundSim,
    home,
    new_unit_no,
    pay,
    raised,
    refusal,
    running_fund_cli,
    running_fund_sim,
)


def today() -> Any:
    return datetime.now(BEIJING).date()


keys_root = keyset_fixture(keyset, "fund-keys")


sim, client = authority_fixtures(running_fund_sim, {"timeout_s": 2.0})


# --- signatures and keys, no network -------------------------------------------------------


def _hmac_sm3(key: bytes, text: str) -> str:
    mac = hmac.HMAC(key, hashes.SM3())
    mac.update(text.encode())
    return mac.finalize().hex()


def test_requests_and_answers_are_hmac_sm3_bound_to_each_other(keys_root: Path) -> None:
    merchant = load_merchant_keys(keys_root / MERCHANT_DIR)
    # SM3("abc") from GB/T 32905, so the digest really is SM3
    assert signing.sm3_hex(b"abc").startswith("66c7f0f462eeedd9d1f2d46bdc10e4e2")
    body, stamp = '{"ownerName":"陈晓东"}'.encode(), "20260302101500"
    ask: dict[str, Any] = {"app_id": merchant.app_id, "timestamp": stamp, "nonce": "n1"}
    headers = signing.request_headers(
        app_secret=merchant.app_secret, method="post", path=QUERY_PATH, body=body, **ask
    )
    lines = ["POST", QUERY_PATH, merchant.app_id, stamp, "n1", signing.sm3_hex(body)]
    assert headers[signing.SIGN] == _hmac_sm3(merchant.app_secret, "\n".join(lines))
    assert headers[signing.SIGN_TYPE_HEADER] == "HMAC-SM3"
    # a signed lookup is no confirmation
    confirm = signing.request_signature(
        merchant.app_secret, method="POST", path=CONFIRM_PATH, body=body, **ask
    )
    assert confirm != headers[signing.SIGN]
    args: dict[str, Any] = {"key_id": "K1", "timestamp": stamp, "nonce": "a1", "body": b"{}"}
    answer = signing.answer_signature(merchant.office_secret, **args, request_nonce="r1")
    lines = ["K1", stamp, "a1", "r1", signing.sm3_hex(b"{}")]
    assert answer == _hmac_sm3(merchant.office_secret, "\n".join(lines))
    assert answer != signing.answer_signature(merchant.office_secret, **args, request_nonce="r2")


def test_keyset_is_idempotent_private_and_hidden_from_repr(keys_root: Path) -> None:
    merchant, platform = regenerated_keyset(keyset, keys_root, lambda p: p.suffix == ".txt", 4)
    assert merchant.app_secret == platform.app_secret != merchant.office_secret
    assert merchant.office_secret == platform.office_secret
    assert merchant.agency_code == platform.agency_code and len(merchant.agency_code) == 12
    shown = repr(merchant) + repr(platform)
    assert merchant.app_secret.decode() not in shown
    assert merchant.office_secret.decode() not in shown


# --- lookup -------------------------------------------------------------------------------


async def test_lookup_by_notice_gives_one_exact_maint_fund_item(
    sim: FundSim, client: FundClient
) -> None:
    authority: Authority = client  # the port, checked structurally
    notice = await home(sim, owner_name="刘佳怡")
    [item] = await authority.lookup(notice["noticeNo"])
    # 89.99 m² × 64.50 yuan/m² = 5804.355 yuan: the half fen goes up
    assert (item.authority, item.item_code, item.amount_fen) == ("fund", "MAINT_FUND", 580_436)
    assert (item.reference, item.payer_name) == (notice["noticeNo"], "刘佳怡")
    details = dict(item.details)
    assert (details["area_m2"], details["rate_yuan_per_m2"]) == ("89.99", "64.50")
    assert (details["rate_version"], details["rounding"]) == ("2024-07", "half_up_fen")
    assert (details["property_unit"], details["notice_no"]) == (notice["bdcdyh"], item.reference)
    assert details["bank_name"] == sim.platform.custodian_bank
    assert details["account_no"] == notice["account"]["accountNo"]
    assert details["account_no"].startswith("FH330106")
    assert details["account_name"] == "刘佳怡（维修资金分户账）"
    assert details["custodial_account_no"] == sim.platform.custodial_account_no


async def test_lookup_by_property_unit_in_either_place(sim: FundSim, client: FundClient) -> None:
    notice = await home(sim, area="120.37", building_type="HIGH_RISE", owner_name="周建国")
    unit = notice["bdcdyh"]
    [by_case] = await client.lookup("", property_unit=unit.lower(), case_no="2026-0001")
    [by_reference] = await client.lookup(f" {unit} ", owner_name="周建国")
    [both] = await client.lookup(notice["noticeNo"], property_unit=unit)
    # 120.37 × 152.25 = 18326.3325 yuan
    assert by_case.amount_fen == by_reference.amount_fen == both.amount_fen == 1_832_633
    assert by_case.reference == notice["noticeNo"]
    assert (await sim.notice(notice["noticeNo"]))["caseNo"] == "2026-0001"


async def test_lookup_prices_at_the_assessment_date(sim: FundSim, client: FundClient) -> None:
    [before] = await client.lookup((await home(sim, assessed_on="2024-06-30"))["noticeNo"])
    [after] = await client.lookup((await home(sim, assessed_on="2024-07-01"))["noticeNo"])
    assert (before.amount_fen, before.details["rate_version"]) == (539_940, "2019-01")
    assert (after.amount_fen, after.details["rate_version"]) == (580_436, "2024-07")


async def test_lookup_refusals_name_what_is_wrong(sim: FundSim, client: FundClient) -> None:
    notice = await home(sim)
    other = await home(sim)
    missing = await refusal(client.lookup("WX33010620260101" + "9999"))
    assert (missing.code, missing.office_code) == ("NOT_FOUND", "2001")
    assert missing.reason == "缴存通知书不存在" and missing.reference.startswith("WX")
    no_notice = await refusal(client.lookup("", property_unit=new_unit_no()))
    assert no_notice.code == "NOT_FOUND"
    wrong_unit = await refusal(client.lookup(notice["noticeNo"], property_unit=other["bdcdyh"]))
    assert wrong_unit.code == "UNIT_MISMATCH"
    owner = await refusal(client.lookup(notice["noticeNo"], owner_name="李四"))
    assert (owner.code, owner.reason) == ("OWNER_MISMATCH", "缴存人与产权登记人不一致")
    status, _ = await sim.control(
        "POST", f"/sim/notices/{notice['noticeNo']}/cancel", {"reason": "面积登记错误"}
    )
    assert status == 200
    cancelled = await refusal(client.lookup(notice["noticeNo"]))
    assert cancelled.code == "NOTICE_CANCELLED"
    assert cancelled.reason == "缴存通知书已作废：面积登记错误"
    assert isinstance(cancelled, AuthorityRefused) and isinstance(cancelled, AdapterError)


async def test_lookup_checks_its_input_before_calling(sim: FundSim, client: FundClient) -> None:
    short = client.lookup("", property_unit="330106005012GB00001F0001030")  # 27 characters
    assert (await raised(short, UnitNoError)).code == "UNIT_NO_FORMAT"
    forest = client.lookup("", property_unit="330106005012GB00001L00010302")  # no home
    assert (await raised(forest, UnitNoError)).code == "UNIT_NO_NOT_HOUSE"
    await raised(client.lookup("WX3301062026010100001", property_no="x"), TypeError)
    for bad in ("", "WX-1", "wx/3301062026"):
        await raised(client.lookup(bad), ValueError)
    assert await sim.deposits() == []


# --- confirm ------------------------------------------------------------------------------


async def test_confirm_gives_the_same_certificate_twice(sim: FundSim, client: FundClient) -> None:
    notice = await home(sim)
    first = await pay(client, notice["noticeNo"], 580_436)
    again = await pay(client, notice["noticeNo"], 580_436)
    assert first == again
    assert first.reference == notice["noticeNo"] and first.amount_fen == 580_436
    assert first.proof_no.startswith("JC" + today().strftime("%Y%m%d"))
    assert first.proof["account_no"] == notice["account"]["accountNo"]
    assert first.confirmed_at.tzinfo is not None
    [booked] = await sim.deposits()
    assert (booked["certificateNo"], booked["amount"]) == (first.proof_no, "5804.36")
    assert (booked["paySerial"], booked["payTime"]) == ("WX4200001", "20260302101500")
    other_amount = await refusal(pay(client, notice["noticeNo"], 580_435))
    assert other_amount.code == "AMOUNT_MISMATCH"
    other_payment = await refusal(pay(client, notice["noticeNo"], 580_436, serial="ALI9"))
    assert other_payment.code == "ALREADY_PAID" and first.proof_no in other_payment.reason
    settled = await refusal(client.lookup(notice["noticeNo"]))
    assert settled.code == "ALREADY_PAID"
    assert len(await sim.deposits()) == 1


async def test_confirming_an_amount_not_due_is_refused_and_books_nothing(
    sim: FundSim, client: FundClient
) -> None:
    notice = await home(sim)
    wrong = await refusal(pay(client, notice["noticeNo"], 580_400))
    assert (wrong.code, wrong.office_code) == ("AMOUNT_MISMATCH", "2003")
    assert wrong.reason == "金额不符：应缴5804.36元，确认5804.00元"
    assert (await sim.notice(notice["noticeNo"]))["status"] == "UNPAID"
    assert (await pay(client, notice["noticeNo"], 580_436)).amount_fen == 580_436
    with pytest.raises(TypeError):
        await pay(client, notice["noticeNo"], 5804.36)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        await client.confirm(
            LegPaid(
                reference=notice["noticeNo"],
                amount_fen=580_436,
                paid_at=datetime(2026, 3, 2, 10, 15),  # naive: which day would that be?
                payment_ref="WX4200001",
                order_no="TJ1",
            )
        )


async def test_an_amount_changed_after_lookup_is_caught_by_looking_up_again(
    sim: FundSim, client: FundClient
) -> None:
    notice = await home(sim)
    [seen] = await client.lookup(notice["noticeNo"])
    knobs = await sim.set_faults(amount_changed=notice["noticeNo"])
    assert knobs["amount_changed"] == {notice["noticeNo"]: ""}
    [now_due] = await client.lookup(notice["noticeNo"])
    # re-measured 90.99 m² × 64.50 = 5868.855 yuan
    assert (seen.amount_fen, now_due.amount_fen) == (580_436, 586_886)
    assert now_due.details["area_m2"] == "90.99"
    assert (await sim.set_faults())["amount_changed"] == {}  # used up
    stale = await refusal(pay(client, notice["noticeNo"], seen.amount_fen))
    assert stale.code == "AMOUNT_MISMATCH"
    assert (await pay(client, notice["noticeNo"], now_due.amount_fen)).amount_fen == 586_886
    by_unit = await home(sim)
    await sim.set_faults(amount_changed={by_unit["bdcdyh"]: "100.00"})
    [remeasured] = await client.lookup(by_unit["noticeNo"])
    assert remeasured.amount_fen == 645_000
    assert (await sim.notice(by_unit["noticeNo"]))["firstArea"] == "89.99"


async def test_refuse_confirm_gives_the_reason(sim: FundSim, client: FundClient) -> None:
    notice = await home(sim)
    await sim.set_faults(refuse_confirm=1, refuse_confirm_reason="分户账核对中，请次日再试")
    refused = await refusal(pay(client, notice["noticeNo"], 580_436))
    assert (refused.code, refused.reason) == ("CONFIRM_REFUSED", "分户账核对中，请次日再试")
    assert refused.reference == notice["noticeNo"]
    assert (await pay(client, notice["noticeNo"], 580_436)).proof_no


# --- transport faults ---------------------------------------------------------------------


async def test_a_wrongly_signed_refusal_is_not_believed_either(sim: FundSim) -> None:
    # a forged "yes" is in the contract suite; a "no" must carry the office's signature too
    notice = await home(sim)
    await sim.set_faults(bad_signature=True)
    wrong = dataclasses.replace(sim.merchant, app_secret=b"0" * 64)
    no = await raised(sim.client(keys=wrong).lookup(notice["noticeNo"]), FundAnswerForged)
    assert no.status == 401


async def test_the_office_refuses_requests_it_cannot_trust(sim: FundSim) -> None:
    notice = await home(sim)
    wrong_key = dataclasses.replace(sim.merchant, app_secret=b"0" * 64)
    forged = await refusal(sim.client(keys=wrong_key).lookup(notice["noticeNo"]))
    assert (forged.code, forged.office_code) == ("UNAUTHORIZED", "1001")
    # our clock runs 600 s late; told to accept answers that far off, it hears why
    late = sim.client(clock=lambda: time.time() - 600, max_skew_s=3600)
    stale = await refusal(late.lookup(notice["noticeNo"]))
    assert (stale.code, stale.office_code) == ("UNAUTHORIZED", "1002")
    # a request replayed byte for byte, signature and nonce included, is refused
    payload = {"agencyCode": sim.merchant.agency_code, "noticeNo": notice["noticeNo"]}
    codes = await sim.replay(QUERY_PATH, payload, times=2)
    assert codes == [(200, "0000"), (401, "1003")]


async def test_a_stale_answer_is_not_trusted(sim: FundSim) -> None:
    notice = await home(sim)
    # our clock runs 200 s ahead: the office still takes the request, but its answer looks old
    strict = sim.client(clock=lambda: time.time() + 200, max_skew_s=100)
    stale = await raised(strict.lookup(notice["noticeNo"]), FundAnswerForged)
    assert stale.reason == "timestamp missing or stale"


# --- daily list ---------------------------------------------------------------------------


async def test_daily_confirmations_list_the_days_deposits(sim: FundSim, client: FundClient) -> None:
    first, second = await home(sim), await home(sim, area="65.08", building_type="MULTI_LIFT")
    a = await pay(client, first["noticeNo"], 580_436, serial="S1")
    [due] = await client.lookup(second["noticeNo"])
    b = await pay(client, second["noticeNo"], due.amount_fen, serial="S2")
    assert due.amount_fen == 629_974  # 65.08 × 96.80 = 6299.744
    assert await client.daily_confirmations(today()) == [a, b]
    assert await client.daily_confirmations(today() - timedelta(days=1)) == []
    ahead = await refusal(client.daily_confirmations(today() + timedelta(days=1)))
    assert ahead.code == "DATE_INVALID"
    listed = await sim.deposits(today().isoformat())
    assert [d["certificateNo"] for d in listed] == [a.proof_no, b.proof_no]


# --- the desk and the command line --------------------------------------------------------


async def test_the_desk_registers_homes_strictly_and_seeds_demo_homes(
    sim: FundSim, client: FundClient
) -> None:
    unit = new_unit_no()
    made = await sim.add_property(unit_no=unit, area="89.99")
    assert await sim.add_property(unit_no=unit, area="89.99") == made
    for bad in (
        {"unit_no": unit, "area": "90.00"},
        {"unit_no": new_unit_no(), "area": 89.99},
        {"unit_no": new_unit_no(), "area": "89.999"},
        {"unit_no": new_unit_no(), "area": "89.99", "building_type": "VILLA"},
        {"unit_no": "330106005012GB00054F0001030", "area": "89.99"},
        {"unit_no": new_unit_no(), "area": "89.99", "assessed_on": "2018-12-31"},
    ):
        body = {"building_type": "MULTI_NO_LIFT", "owner_name": "吴敏", **bad}
        status, answer = await sim.control("POST", "/sim/properties", body)
        assert status in (400, 409), (bad, answer)
    status, seeded = await sim.control("POST", "/sim/demo", {"count": 3})
    assert status == 201 and len(seeded["properties"]) == 3
    for notice in seeded["properties"]:
        [item] = await client.lookup("", property_unit=notice["bdcdyh"])
        assert item.reference == notice["noticeNo"]
    status, listed = await sim.control("GET", "/sim/properties")
    assert status == 200 and len(listed["properties"]) == 4
    status, _ = await sim.control("PUT", "/sim/faults", {"api_5xx": -1})
    assert status == 400


async def test_tongjiao_sim_fund_serves_demo_homes_and_stops_on_sigterm(tmp_path: Path) -> None:
    async with running_fund_cli(tmp_path / "keys", "--demo", "2") as (url, proc):
        merchant = load_merchant_keys(tmp_path / "keys" / MERCHANT_DIR)
        async with aiohttp.ClientSession() as session:
            async with session.get(url + "/sim/properties") as resp:
                homes = (await resp.json())["properties"]
            assert len(homes) == 2
            cli_client = FundClient(session, base_url=url, keys=merchant)
            [item] = await cli_client.lookup(homes[0]["noticeNo"])
            assert item.amount_fen > 0
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
