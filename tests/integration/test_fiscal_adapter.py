"""Fiscal non-tax adapter against the real simulator over HTTP on 127.0.0.1 (no mocks)."""

from __future__ import annotations

import base64
import hashlib
import itertools
import os
import stat
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from adapters.fiscal import frame as fr
from adapters.fiscal import keys as keyset
from adapters.fiscal import messages as m
from adapters.fiscal.client import FiscalClient
from adapters.fiscal.errors import (
    EBillPending,
    FiscalAnswerForged,
    FiscalRefused,
    FiscalUnavailable,
)
from adapters.fiscal.keys import (
    MERCHANT_DIR,
    PLATFORM_DIR,
    MerchantKeys,
    generate_keyset,
    load_merchant_keys,
    load_platform_keys,
)
from adapters.fiscal.transport import GATEWAY_PATH
from clearing.ports import Authority, AuthorityRefused, DueItem, LegConfirmation, LegPaid
from tests.integration.adapter_fixtures import authority_fixtures, keyset_fixture
from tests.integration.fiscal_harness import FiscalSim, running_fiscal_sim
from tests.integration.serving import answering, eventually, running_sim_cli, stops_on_sigterm

_refs = itertools.count(1)


def payment_ref() -> str:
    return f"4200{os.getpid()}{next(_refs):08d}"


def today() -> Any:
    return datetime.now(fr.BEIJING).date()


keys_root = keyset_fixture(keyset, "fiscal-keys")


sim, client = authority_fixtures(running_fiscal_sim, seed=7)


async def confirm(client: FiscalClient, due: DueItem, **overrides: Any) -> LegConfirmation:
    args: dict[str, Any] = {
        "reference": due.reference,
        "amount_fen": due.amount_fen,
        "paid_at": datetime.now(UTC),
        "payment_ref": payment_ref(),
        "order_no": "TJ202611260001",
    }
    args.update(overrides)
    return await client.confirm(LegPaid(**args))


async def issued_due(sim: FiscalSim, client: FiscalClient, **notice: Any) -> DueItem:
    notice = {"payer_name": "张三", "item": "REG_FEE", "amount": "80.00", **notice}
    [due] = await client.lookup((await sim.issue(**notice))["payment_code"])
    return due


# --- frames and keys, no network -------------------------------------------------------------


def test_frame_is_length_app_version_msgno_gbk_xml_and_hmac(keys_root: Path) -> None:
    keys = load_merchant_keys(keys_root / MERCHANT_DIR)
    msg = ET.Element("MSG")
    msg.append(m.fields_element("Query5995", {"PayCode": "32068226000000000001"}, m.QUERY_FIELDS))
    head = fr.Head(
        src="313320612345",
        des="320682000000",
        msg_no="5995",
        msg_id=fr.new_msg_id(datetime.now(UTC)),
        msg_ref="",
        work_date="20261126",
    )
    xml = fr.build_message(head, msg)
    raw = fr.encode_frame("5995", xml, keys.token)
    assert raw[:8].decode().rstrip() == str(len(raw)) and raw[:8].decode()[0] != " "
    assert raw[8:23] == b"CNNONTAX1.05995"
    assert raw[23:].startswith(b'<?xml version="1.0" encoding="GBK"?><CFX><HEAD><VER>1.0</VER>')
    # HMAC-SHA256 under the token, not the original's length-extensible SHA-256(token + XML)
    assert raw[-64:].decode() == fr.mac_of(keys.token, xml)
    assert raw[-64:].decode() != hashlib.sha256(keys.token + xml).hexdigest()
    decoded = fr.decode_frame(raw)
    assert decoded.msg_no == "5995" and decoded.xml == xml and fr.mac_ok(keys.token, decoded)
    parsed, body = fr.parse_message(decoded.xml)
    assert parsed == head and body.findtext("Query5995/PayCode") == "32068226000000000001"
    chinese = fr.build_message(head, m.fields_element("MSG", {"A": "如皋市"}, ["A"]))
    assert "如皋市".encode("gbk") in chinese


@pytest.mark.parametrize(
    "mangle",
    [
        lambda raw: raw[:-1],  # length no longer matches
        lambda raw: b"1" + raw[1:],  # length field says otherwise
        lambda raw: raw[:8] + b"CNTIPSXX" + raw[16:],  # another application
        lambda raw: raw[:16] + b"2.0" + raw[19:],  # another version
        lambda raw: raw[:-64] + b"Z" * 64,  # MAC not hex
        lambda raw: b"12      CNNONTAX1.0",  # too short
    ],
)
def test_malformed_frames_are_refused(keys_root: Path, mangle: Any) -> None:
    keys = load_merchant_keys(keys_root / MERCHANT_DIR)
    raw = fr.encode_frame("5995", b"<CFX/>", keys.token)
    with pytest.raises(fr.FrameError):
        fr.decode_frame(mangle(raw))


@pytest.mark.parametrize(
    "xml",
    [
        b'<?xml version="1.0"?><!DOCTYPE CFX [<!ENTITY a "aaaa">]><CFX><HEAD/><MSG>&a;</MSG></CFX>',
        b'<?xml version="1.0" encoding="UTF-8"?><CFX><HEAD/><MSG/></CFX>',
        b"<CFX><HEAD/></CFX>",
        b"<CFX><HEAD/><MSG>",
        "<CFX><HEAD/><MSG>如皋</MSG></CFX>".encode() + b"\xff",
    ],
)
def test_messages_without_dtd_in_gbk_only(xml: bytes) -> None:
    with pytest.raises(fr.FrameError):
        fr.parse_message(xml)


def test_voucher_is_base64_of_gbk_xml() -> None:
    text = m.encode_voucher(
        {"PayCode": "32068226000000000001", "PayerName": "张三", "Amt": "80.00"}
    )
    assert "张三".encode("gbk") in base64.b64decode(text)
    assert m.decode_voucher(text)["PayerName"] == "张三"
    with pytest.raises(fr.FrameError):
        m.decode_voucher("not base64!")


async def test_keyset_is_idempotent_private_and_hidden_from_repr(keys_root: Path) -> None:
    before = load_merchant_keys(keys_root / MERCHANT_DIR)
    generate_keyset(keys_root)
    after = load_merchant_keys(keys_root / MERCHANT_DIR)
    platform = load_platform_keys(keys_root / PLATFORM_DIR)
    assert before.token == after.token == platform.token
    assert before.registration == platform.registration
    for side in (MERCHANT_DIR, PLATFORM_DIR):
        assert stat.S_IMODE((keys_root / side / "token.txt").stat().st_mode) == 0o600
    async with aiohttp.ClientSession() as session:
        client = FiscalClient(session, base_url="http://127.0.0.1:9", keys=before)
        assert before.token.decode() not in repr(before) + repr(client)
        assert repr(client) == "FiscalClient(base_url='http://127.0.0.1:9', division='320682')"


def test_broken_registration_fails_at_load(tmp_path: Path) -> None:
    generate_keyset(tmp_path)
    path = tmp_path / MERCHANT_DIR / "fiscal.json"
    path.write_text(path.read_text().replace('"320682": ""', '"320682": "(["'))
    with pytest.raises(ValueError, match="does not compile"):
        load_merchant_keys(tmp_path / MERCHANT_DIR)


# --- lookup ----------------------------------------------------------------------------------


async def test_lookup_returns_the_notice_as_one_due_item(
    sim: FiscalSim, client: FiscalClient
) -> None:
    authority: Authority = client
    assert authority.name == "fiscal"
    notice = await sim.issue(payer_name="张三", item="REG_FEE", property_kind="RESIDENTIAL")
    code = notice["payment_code"]
    assert code.startswith("320682" + f"{today().year % 100:02d}") and len(code) == 20
    [due] = await client.lookup(code)
    reg = sim.merchant.registration
    assert (due.authority, due.item_code, due.reference) == ("fiscal", "REG_FEE", code)
    assert (due.amount_fen, due.payer_name) == (8_000, "张三")
    assert due.details["agency_name"] == "如皋市不动产登记中心"
    assert due.details["nontax_item_name"] == "不动产登记费"
    assert due.details["collect_account_no"] == reg.collect_acct
    assert due.details["collect_account_name"] == "如皋市财政局非税收入汇缴专户"
    assert due.details["due_date"] > due.details["notice_date"]
    land = await sim.issue(payer_name="李四", item="LAND_TRANSFER", base="1280000.00", rate="0.015")
    [due] = await client.lookup(land["payment_code"])
    assert (due.item_code, due.amount_fen) == ("LAND_TRANSFER", 1_920_000)
    assert due.details["agency_name"] == "如皋市自然资源和规划局"


async def test_lookup_checks_the_case_when_it_says_so(sim: FiscalSim, client: FiscalClient) -> None:
    code = (await sim.issue(payer_name="张 三", item="REG_FEE", amount_fen=8_000))["payment_code"]
    # full-width or spaced names typed at the window match; keys for other authorities are ignored
    [due] = await client.lookup(code, payer_name="张三", item_code="REG_FEE", property_unit="X1")
    assert due.amount_fen == 8_000
    with pytest.raises(FiscalRefused) as exc:
        await client.lookup(code, payer_name="李四")
    assert (exc.value.code, exc.value.reason) == ("PAYER_MISMATCH", "张 三")
    with pytest.raises(FiscalRefused) as exc:
        await client.lookup(code, item_code="LAND_TRANSFER")
    assert exc.value.code == "ITEM_MISMATCH"


@pytest.mark.parametrize(
    "code",
    [
        "3206822600000000001",  # 19 digits
        "32068126000000000001",  # another division
        "32068299000000000001",  # 2099
        "３２０６８２２６０００００００００００１",  # full-width, as some scanners send
        "32068226000000000001\n",
    ],
)
async def test_invalid_codes_are_refused_before_any_network_call(
    sim: FiscalSim, client: FiscalClient, code: str
) -> None:
    with pytest.raises(FiscalRefused) as exc:
        await client.lookup(code)
    assert exc.value.code == "PAYMENT_CODE_INVALID" and isinstance(exc.value, AuthorityRefused)
    with pytest.raises(FiscalRefused):
        await client.confirm(LegPaid(code, 100, datetime.now(UTC), "1", ""))
    assert await sim.messages() == []


async def test_unknown_void_and_paid_notices_are_refused(
    sim: FiscalSim, client: FiscalClient
) -> None:
    with pytest.raises(FiscalRefused) as exc:
        await client.lookup(f"320682{today().year % 100:02d}999999999999")
    assert (exc.value.code, exc.value.reason) == ("UNKNOWN_REFERENCE", "缴款码不存在")
    void = (await sim.issue(payer_name="王五", item="REG_FEE", amount="550.00"))["payment_code"]
    assert (await sim.void(void))[0] == 200
    with pytest.raises(FiscalRefused) as exc:
        await client.lookup(void)
    assert exc.value.code == "NOTICE_VOID"
    due = await issued_due(sim, client)
    await confirm(client, due)
    with pytest.raises(FiscalRefused) as exc:
        await client.lookup(due.reference)
    assert exc.value.code == "ALREADY_PAID"
    assert (await sim.void(due.reference))[0] == 409


# --- confirmation and the e-bill -------------------------------------------------------------


async def test_confirm_returns_sequential_fiscal_e_bills(
    sim: FiscalSim, client: FiscalClient
) -> None:
    fee = await issued_due(sim, client)
    land = await issued_due(sim, client, item="LAND_TRANSFER", amount="19200.00")
    fee2 = await issued_due(sim, client, payer_name="赵六")
    paid_at = datetime(2026, 11, 26, 1, 2, 3, tzinfo=UTC)
    legs = [
        await confirm(client, fee, paid_at=paid_at, order_no="TJ1"),
        await confirm(client, land, order_no="TJ1"),
        await confirm(client, fee2, order_no="TJ2"),
    ]
    yy = f"{today().year % 100:02d}"
    assert [leg.proof["bill_code"] for leg in legs] == [f"320101{yy}", f"320301{yy}", f"320101{yy}"]
    # numbered in sequence within each bill code
    assert [leg.proof["bill_no"] for leg in legs] == ["0000000001", "0000000001", "0000000002"]
    for leg, due in zip(legs, (fee, land, fee2), strict=True):
        assert leg.reference == due.reference and leg.amount_fen == due.amount_fen
        assert leg.proof_no == leg.proof["bill_code"] + leg.proof["bill_no"]
        assert len(leg.proof["check_code"]) == 6 and leg.proof["check_code"].isalnum()
        assert leg.proof["issued_on"] == today().isoformat()
        assert abs(leg.confirmed_at - datetime.now(UTC)) < timedelta(seconds=5)
    assert len({leg.proof["check_code"] for leg in legs}) == 3
    [seen] = [c for c in await sim.confirmations() if c["payment_code"] == fee.reference]
    assert seen["order_no"] == "TJ1" and seen["paid_at"] == "20261126090203"  # Beijing time
    assert seen["bill"]["bill_no"] == "0000000001"


async def test_confirming_another_amount_is_refused_with_the_reason(
    sim: FiscalSim, client: FiscalClient
) -> None:
    due = await issued_due(sim, client, amount="80.00")
    with pytest.raises(FiscalRefused) as exc:
        await confirm(client, due, amount_fen=7_999)
    assert exc.value.code == "AMOUNT_MISMATCH"
    assert exc.value.reason == "缴款金额79.99元与应缴金额80.00元不符"
    assert (await sim.notice(due.reference))["status"] == "UNPAID"
    assert (await confirm(client, due)).amount_fen == 8_000


async def test_confirm_refuses_bad_arguments_before_sending(
    sim: FiscalSim, client: FiscalClient
) -> None:
    due = await issued_due(sim, client)
    sent = len(await sim.messages())
    for bad, error in (
        ({"amount_fen": 80.0}, TypeError),
        ({"amount_fen": True}, TypeError),
        ({"amount_fen": 0}, ValueError),
        ({"paid_at": datetime.now()}, ValueError),  # naive: whose 8 o'clock?
        ({"payment_ref": "流水号1"}, ValueError),
        ({"payment_ref": ""}, ValueError),
    ):
        with pytest.raises(error):
            await confirm(client, due, **bad)
    assert len(await sim.messages()) == sent


async def test_amount_changed_between_lookup_and_payment_is_caught_by_looking_again(
    sim: FiscalSim, client: FiscalClient
) -> None:
    due = await issued_due(sim, client, amount="19200.00")
    await sim.set_faults(amount_changed=due.reference)
    [again] = await client.lookup(due.reference)
    assert again.amount_fen == 1_920_000 + 1_920  # one day's 1‰ 违约金
    with pytest.raises(FiscalRefused) as exc:
        await confirm(client, due)
    assert exc.value.code == "AMOUNT_MISMATCH"
    assert (await sim.notice(due.reference))["amount_history"] == [1_920_000]
    assert (await confirm(client, again)).amount_fen == 1_921_920
    other = await issued_due(sim, client)
    await sim.set_faults(amount_changed=other.reference, changed_amount="90.00")
    assert (await client.lookup(other.reference))[0].amount_fen == 9_000
    assert (await sim.set_faults())["amount_changed"] == ""  # only the next lookup


async def test_refused_confirmations_say_why_then_succeed(
    sim: FiscalSim, client: FiscalClient
) -> None:
    due = await issued_due(sim, client)
    await sim.set_faults(refuse_confirm=1, refuse_reason="执收单位未审核")
    with pytest.raises(FiscalRefused) as exc:
        await confirm(client, due)
    assert (exc.value.code, exc.value.reason) == ("CONFIRM_REFUSED", "执收单位未审核")
    assert (await confirm(client, due)).proof_no


async def test_money_in_another_account_is_refused(sim: FiscalSim, tmp_path: Path) -> None:
    generate_keyset(tmp_path)
    path = tmp_path / MERCHANT_DIR / "fiscal.json"
    reg = sim.merchant.registration
    text = path.read_text()
    for name in ("bank_node", "fiscal_node", "collect_acct"):
        original = load_merchant_keys(tmp_path / MERCHANT_DIR).registration
        value = getattr(reg, name) if name != "collect_acct" else "6222" + "0" * 16
        text = text.replace(getattr(original, name), value)
    path.write_text(text)
    (tmp_path / MERCHANT_DIR / "token.txt").write_bytes(sim.merchant.token)
    wrong = sim.client(keys=load_merchant_keys(tmp_path / MERCHANT_DIR))
    due = await issued_due(sim, wrong)
    with pytest.raises(FiscalRefused) as exc:
        await confirm(wrong, due)
    assert exc.value.code == "ACCOUNT_MISMATCH"


async def test_e_bill_not_yet_issued_is_pending_then_issued(
    sim: FiscalSim, client: FiscalClient
) -> None:
    due = await issued_due(sim, client)
    await sim.set_faults(bill_delay_s=0.3)
    ref = payment_ref()
    with pytest.raises(EBillPending) as exc:
        await confirm(client, due, payment_ref=ref)
    assert isinstance(exc.value, FiscalUnavailable) and exc.value.reference == due.reference
    [listed] = [
        c for c in await client.daily_confirmations(today()) if c.reference == due.reference
    ]
    assert (listed.proof_no, listed.proof, listed.amount_fen) == ("", {}, 8_000)
    issued: list[Any] = []

    async def confirmed() -> bool:
        # the same confirmation again, until the e-bill behind it has been issued
        try:
            issued.append(await confirm(client, due, payment_ref=ref))
        except EBillPending:
            return False
        return True

    await eventually(confirmed)
    [leg] = issued
    assert leg.proof_no and leg.confirmed_at == listed.confirmed_at


async def test_daily_confirmations_read_every_page(keys_root: Path) -> None:
    async with running_fiscal_sim(keys_root, page_size=2) as sim:
        client = sim.client()
        legs = [await confirm(client, await issued_due(sim, client)) for _ in range(5)]
        listed = await client.daily_confirmations(today())
        assert listed == legs
        assert len([x for x in await sim.messages() if x["msg_no"] == "5998"]) == 3
        assert await client.daily_confirmations(today() - timedelta(days=1)) == []
        with pytest.raises(FiscalUnavailable):
            await client.daily_confirmations(today() + timedelta(days=2))


# --- faults ----------------------------------------------------------------------------------


async def test_answers_that_are_not_frames_are_unavailable(sim: FiscalSim) -> None:
    async def nonsense(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=b"<html>502 Bad Gateway</html>", content_type="text/html")

    code = (await sim.issue(payer_name="张三", item="REG_FEE", amount="80.00"))["payment_code"]
    async with answering(GATEWAY_PATH, nonsense) as url:
        with pytest.raises(FiscalUnavailable) as exc:
            await sim.client(base_url=url).lookup(code)
    assert exc.value.reason.startswith("unreadable answer")


async def test_an_old_answer_replayed_to_a_new_question_is_forged(sim: FiscalSim) -> None:
    """A man in the middle keeps the first answer and sends it back to every later question."""
    kept: list[bytes] = []

    async def replay(request: web.Request) -> web.Response:
        body = await request.read()
        async with sim.session.post(sim.base_url + GATEWAY_PATH, data=body) as resp:
            answer = await resp.read()
        kept.append(answer)
        return web.Response(body=kept[0], content_type=fr.CONTENT_TYPE)

    code = (await sim.issue(payer_name="张三", item="REG_FEE", amount="80.00"))["payment_code"]
    async with answering(GATEWAY_PATH, replay) as url:
        client = sim.client(base_url=url)
        await client.lookup(code)
        with pytest.raises(FiscalAnswerForged) as exc:
            await client.lookup(code)
    assert exc.value.reason == "answer names another request"


async def test_simulator_refuses_bad_mac_replays_and_stale_ids(
    sim: FiscalSim, tmp_path: Path
) -> None:
    code = (await sim.issue(payer_name="张三", item="REG_FEE", amount="80.00"))["payment_code"]
    generate_keyset(tmp_path)
    stranger = load_merchant_keys(tmp_path / MERCHANT_DIR)
    impostor = MerchantKeys(sim.merchant.registration, stranger.token)
    # the system refuses our MAC, and its answer, MAC'd with the right token, fails ours in turn
    with pytest.raises(FiscalAnswerForged):
        await sim.client(keys=impostor).lookup(code)
    late = sim.client(clock=lambda: (datetime.now(UTC) - timedelta(minutes=10)).timestamp())
    # refused as stale (E1003); the refusal, sent at the system's time, is stale to our clock
    with pytest.raises(FiscalAnswerForged) as exc:
        await late.lookup(code)
    assert exc.value.reason == "MsgID time missing or stale"
    assert [x["err_code"] for x in await sim.messages()] == [m.ERR_MAC, m.ERR_REPLAY]
    # the same frame twice: the second is a replay
    raw = await _lookup_frame(sim, code)
    for expected in ("", m.ERR_REPLAY):
        async with sim.session.post(sim.base_url + GATEWAY_PATH, data=raw) as resp:
            assert resp.status == 200
        assert (await sim.messages())[-1]["err_code"] == expected
    async with sim.session.post(sim.base_url + GATEWAY_PATH, data=b"garbage") as resp:
        assert resp.status == 400


async def _lookup_frame(sim: FiscalSim, code: str) -> bytes:
    reg = sim.merchant.registration
    msg = ET.Element("MSG")
    msg.append(
        m.fields_element("Query5995", {"PayCode": code, "AdmDivCode": reg.division}, m.QUERY_FIELDS)
    )
    head = fr.Head(
        src=reg.bank_node,
        des=reg.fiscal_node,
        msg_no="5995",
        msg_id=fr.new_msg_id(datetime.now(UTC)),
        msg_ref="",
        work_date=today().strftime("%Y%m%d"),
    )
    return fr.encode_frame("5995", fr.build_message(head, msg), sim.merchant.token)


async def test_notices_are_checked_and_priced_by_the_rules(sim: FiscalSim) -> None:
    cases: list[tuple[dict[str, Any], int]] = [
        ({"item": "REG_FEE", "property_kind": "RESIDENTIAL", "certificates": 2}, 9_000),
        ({"item": "REG_FEE", "property_kind": "NON_RESIDENTIAL"}, 55_000),
        ({"item": "LAND_TRANSFER", "base": "865432.50", "rate": "0.01"}, 865_433),
        ({"item": "LAND_TRANSFER", "amount_fen": 1}, 1),
    ]
    for body, fen in cases:
        assert (await sim.issue(payer_name="张三", **body))["amount_fen"] == fen
    for bad in (
        {"payer_name": "张三", "item": "DEED_TAX", "amount": "1.00"},
        {"payer_name": "𠀀", "item": "REG_FEE", "amount": "1.00"},  # outside GBK
        {"payer_name": "张三", "item": "REG_FEE", "amount": "0.00"},
        {"payer_name": "张三", "item": "REG_FEE", "amount": "1.005"},
        {"payer_name": "张三", "item": "REG_FEE"},
        {"payer_name": "张三", "item": "REG_FEE", "amount": "1", "payment_code": "123"},
    ):
        status, _ = await sim.control("POST", "/sim/notices", bad)
        assert status == 400, bad


# --- the command line ------------------------------------------------------------------------


async def test_cli_listens_with_demo_notices_and_stops_on_sigterm(keys_root: Path) -> None:
    async with running_sim_cli("fiscal", keys_root, "--demo-notices", "3") as (url, proc):
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{url}/sim/notices") as resp,
        ):
            notices = await resp.json()
        assert [n["payer_name"] for n in notices] == ["张三", "李四", "王五"]
        assert notices[0]["notice_url"] == f"{url}/sim/notices/{notices[0]['payment_code']}"
        assert await stops_on_sigterm(proc)
