"""The partner bank's simulator over real mutual TLS: signed files in, pain.002 and camt.053 out."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from adapters.bank import pki
from adapters.bank.client import BankClient, BankRefused, BankUnavailable
from adapters.bank.sim_xml import BEIJING
from adapters.bank.simulator import bank_cn, prepare_tls
from adapters.iso20022.schemas import validate
from clearing.settlement.signing import checksum_file
from tests.integration.bank_harness import (
    COLLECTION,
    FISCAL,
    FISCAL_NAME,
    FUND,
    FUND_NAME,
    KEY_ID,
    TREASURY,
    TREASURY_BANK,
    TREASURY_NAME,
    BankSim,
    Keys,
    Transfer,
    account_of,
    balanced,
    children,
    entries,
    first,
    our_bankfiles,
    pain001,
    publish,
    pull_config,
    reasons,
    running_bank_sim,
    tx_statuses,
    values,
)
from tests.integration.serving import spawn_python

NAME = "TJ_SFBK_20260302_001.pain001.xml"
START = 1_000_000_000
TODAY = datetime.now(BEIJING).date()


def three(prefix: str) -> list[Transfer]:
    return [
        Transfer(f"{prefix}T", TREASURY, TREASURY_NAME, "1200.00", TREASURY_BANK),
        Transfer(f"{prefix}F", FISCAL, FISCAL_NAME, "80.00"),
        Transfer(f"{prefix}M", FUND, FUND_NAME, "5804.36"),
    ]


@pytest.fixture
async def bank(tmp_path: Path) -> AsyncIterator[BankSim]:
    async with running_bank_sim(tmp_path) as sim:
        yield sim


async def only_status(bank: BankSim) -> bytes:
    [status] = await bank.outbox_files("pain.002")
    assert validate(status) == []
    return status


async def test_a_signed_pain001_is_booked_and_answered_acsc(bank: BankSim) -> None:
    data = pain001("MSG-OK-1", three("OK1"))
    assert validate(data) == []

    await bank.push(NAME, data)

    status = await only_status(bank)
    assert values(status, "OrgnlMsgId") == ["MSG-OK-1"]
    assert values(status, "GrpSts") == ["ACSC"]
    assert values(status, "PmtInfSts") == ["ACSC"]
    assert tx_statuses(status) == {e: ("ACSC", "") for e in ("OK1T", "OK1F", "OK1M")}
    refs = values(status, "AcctSvcrRef")
    bookings = await bank.bookings()
    assert refs == [b["ref"] for b in bookings]
    assert [(b["credit"], b["amount_fen"]) for b in bookings] == [
        (TREASURY, 120000),
        (FISCAL, 8000),
        (FUND, 580436),
    ]
    balances = await bank.balances()
    assert balances[COLLECTION] == START - 708436
    assert balances[TREASURY] == 120000
    [received] = bank.state.received
    assert (received.verdict, received.via, received.msg_id) == ("ACCEPTED", "push", "MSG-OK-1")


@pytest.mark.parametrize(
    ("spoil", "code"),
    [
        ("one byte", "DS17"),
        ("other key", "DS0B"),
        ("unknown key", "DS0E"),
        ("other name", "DS17"),
        ("bad checksum", "DS17"),
    ],
)
async def test_a_file_that_fails_its_checks_is_refused_and_nothing_booked(
    tmp_path: Path, spoil: str, code: str
) -> None:
    def more_keys(keys: Keys) -> None:
        keys.make("tj-unregistered", register=False)

    async with running_bank_sim(tmp_path, configure=more_keys) as bank:
        data = pain001("MSG-BAD-1", three("BAD1"))
        sig, checksum = bank.sig(NAME, data), checksum_file(NAME, data)
        if spoil == "one byte":
            data = data.replace(b"1200.00", b"1200.01")
        elif spoil == "other key":
            forged = json.loads(bank.sig(NAME, data, "tj-unregistered"))
            sig = json.dumps({**forged, "key_id": KEY_ID}).encode()
        elif spoil == "unknown key":
            sig = bank.sig(NAME, data, "tj-unregistered")
        elif spoil == "other name":
            sig = bank.sig("TJ_SFBK_20260302_002.pain001.xml", data)
        else:
            checksum = checksum_file(NAME, data + b" ")
        client = bank.client()
        await client.push(NAME, data, sig, checksum=checksum)

        status = await only_status(bank)
        assert values(status, "GrpSts") == ["RJCT"]
        assert reasons(status) == [code]
        assert values(status, "OrgnlMsgId") == ["MSG-BAD-1"]  # read from the file all the same
        assert values(status, "AddtlInf")[0]
        assert await bank.bookings() == []
        assert (await bank.balances())[COLLECTION] == START


async def test_an_unknown_account_refuses_that_line_and_books_the_others(bank: BankSim) -> None:
    transfers = [*three("UA1"), Transfer("UA1X", "6217000019999999999", "某某单位", "10.00")]

    await bank.push(NAME, pain001("MSG-UA-1", transfers))

    status = await only_status(bank)
    assert values(status, "GrpSts") == ["PART"]
    statuses = tx_statuses(status)
    assert statuses["UA1X"] == ("RJCT", "AC01")
    assert {statuses[e] for e in ("UA1T", "UA1F", "UA1M")} == {("ACSC", "")}
    assert len(await bank.bookings()) == 3
    assert values(status, "DtldNbOfTxs") == ["3", "1", "3", "1"]  # group, then PmtInf


async def test_a_creditor_name_that_is_not_the_account_holder_is_be01(bank: BankSim) -> None:
    transfers = [
        Transfer("NM1A", TREASURY, "国家金库示范市支库", "1.00", TREASURY_BANK),
        # the same name in full-width brackets and with spaces is the same 户名
        Transfer("NM1B", FISCAL, " 示范市 财政局 ", "2.00"),
    ]

    await bank.push(NAME, pain001("MSG-NM-1", transfers))

    assert tx_statuses(await only_status(bank)) == {
        "NM1A": ("RJCT", "BE01"),
        "NM1B": ("ACSC", ""),
    }


async def test_the_same_file_again_books_nothing_and_gets_the_same_answer(bank: BankSim) -> None:
    data = pain001("MSG-RS-1", three("RS1"))
    await bank.push(NAME, data)
    before = await bank.balances()

    await bank.push(NAME, data)

    first_answer, second_answer = await bank.outbox_files("pain.002")
    assert first_answer == second_answer
    assert len(await bank.bookings()) == 3
    assert await bank.balances() == before
    assert [r.verdict for r in bank.state.received] == ["ACCEPTED", "RESENT"]


async def test_the_same_msg_id_with_other_bytes_is_refused_am05(bank: BankSim) -> None:
    await bank.push(NAME, pain001("MSG-DU-1", three("DU1")))

    await bank.push(NAME, pain001("MSG-DU-1", three("DU2")))

    _, answer = await bank.outbox_files("pain.002")
    assert values(answer, "GrpSts") == ["RJCT"]
    assert reasons(answer) == ["AM05"]
    assert len(await bank.bookings()) == 3


async def test_an_end_to_end_id_paid_before_is_never_paid_again(bank: BankSim) -> None:
    await bank.push(NAME, pain001("MSG-E2E-1", three("E2E1")))
    again = [Transfer("E2E1T", TREASURY, TREASURY_NAME, "1200.00", TREASURY_BANK)]

    await bank.push("TJ_SFBK_20260302_002.pain001.xml", pain001("MSG-E2E-2", again))

    _, answer = await bank.outbox_files("pain.002")
    assert tx_statuses(answer) == {"E2E1T": ("RJCT", "AM05")}
    assert values(answer, "GrpSts") == ["RJCT"]
    assert len(await bank.bookings()) == 3


@pytest.mark.parametrize(
    ("options", "code"), [({"nb_of_txs": "4"}, "AM18"), ({"ctrl_sum": "7084.37"}, "AM10")]
)
async def test_wrong_group_totals_refuse_the_whole_file(
    bank: BankSim, options: dict[str, str], code: str
) -> None:
    await bank.push(NAME, pain001("MSG-TOT-1", three("TOT1"), **options))

    status = await only_status(bank)
    assert values(status, "GrpSts") == ["RJCT"]
    assert reasons(status) == [code]
    assert await bank.bookings() == []


async def test_not_enough_money_on_the_collection_account_is_am04(bank: BankSim) -> None:
    transfers = [
        Transfer("AM4A", TREASURY, TREASURY_NAME, "9000000.00", TREASURY_BANK),
        Transfer("AM4B", FISCAL, FISCAL_NAME, "1000000.01"),
    ]

    await bank.push(NAME, pain001("MSG-AM4-1", transfers))

    assert tx_statuses(await only_status(bank)) == {
        "AM4A": ("ACSC", ""),
        "AM4B": ("RJCT", "AM04"),
    }
    assert (await bank.balances())[COLLECTION] == START - 900_000_000


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>',
        pain001("MSG-FF-1", three("FF1")).replace(b"<PmtMtd>TRF</PmtMtd>", b""),
        b"\x89PNG not xml at all",
    ],
)
async def test_a_file_that_is_not_a_valid_pain001_is_ff01(bank: BankSim, data: bytes) -> None:
    await bank.push(NAME, data)

    status = await only_status(bank)
    assert (values(status, "GrpSts"), reasons(status)) == (["RJCT"], ["FF01"])
    assert values(status, "AddtlInf")[0]
    assert await bank.bookings() == []


async def test_statements_add_up_and_match_the_accounts(bank: BankSim) -> None:
    await bank.push(NAME, pain001("MSG-ST-1", three("ST1")))
    status, _ = await bank.control(
        "POST", "/sim/credit", {"account": COLLECTION, "amount_fen": 250000, "payer_name": "财付通"}
    )
    assert status == 201

    statements = await bank.close_day(TODAY)

    accounts = await bank.balances()
    assert len(statements) == len(accounts) == 5
    for statement in statements:
        number, _, closing = balanced(statement)
        assert closing == accounts[number]
    collection = statements[0]
    assert account_of(collection) == COLLECTION
    assert [first(e, "CdtDbtInd") for e in entries(collection)] == ["DBIT"] * 3 + ["CRDT"]
    assert values(collection, "EndToEndId") == ["ST1T", "ST1F", "ST1M"]
    assert set(values(collection, "MsgId")[1:]) == {"MSG-ST-1"}
    assert set(values(collection, "PmtInfId")) == {"B20260302SFBK001"}
    treasury = next(s for s in statements if account_of(s) == TREASURY)
    [credit] = entries(treasury)
    assert [first(credit, "Cd"), first(credit, "SubFmlyCd")] == ["BOOK", "DMCT"]
    assert values(treasury, "Ustrd") == ["税费通缴 分账"]


async def test_a_return_comes_back_in_the_next_statement(bank: BankSim) -> None:
    await bank.push(NAME, pain001("MSG-RT-1", three("RT1")))
    await bank.close_day(TODAY)

    status, booking = await bank.control(
        "POST", "/sim/return", {"end_to_end_id": "RT1M", "reason": "AC04"}
    )

    assert status == 201
    assert booking["booked_on"] == (TODAY + timedelta(days=1)).isoformat()  # after the cut-off
    statements = await bank.close_day(TODAY + timedelta(days=1))
    collection = statements[0]
    number, opening, closing = balanced(collection)
    assert (number, closing - opening) == (COLLECTION, 580436)
    [entry] = entries(collection)
    assert first(entry, "CdtDbtInd") == "CRDT"
    [family] = children(entry, "Fmly")
    assert [first(family, "Cd"), first(family, "SubFmlyCd")] == ["ICDT", "RRTN"]
    [info] = children(entry, "RtrInf")
    assert first(info, "Cd") == "AC04"
    assert first(entry, "EndToEndId") == "RT1M"
    fund = next(s for s in statements if account_of(s) == FUND)
    assert [first(e, "CdtDbtInd") for e in entries(fund)] == ["DBIT"]
    assert (await bank.balances())[FUND] == 0
    again, _ = await bank.control("POST", "/sim/return", {"end_to_end_id": "RT1M"})
    assert again == 409


async def test_closing_a_day_again_repeats_the_same_statements(bank: BankSim) -> None:
    await bank.push(NAME, pain001("MSG-CL-1", three("CL1")))
    once = await bank.close_day(TODAY)

    assert await bank.close_day(TODAY) == once


async def test_the_exchange_takes_our_certificate_only(bank: BankSim, tmp_path: Path) -> None:
    other_ca = pki.generate_ca(tmp_path / "other", "stranger CA")
    stranger = pki.issue_client_cert(other_ca, tmp_path / "other", "tongjiao")

    without = pki.client_ssl_context(None, None, bank.tls.ca)
    for client in (
        BankClient(bank.session, bank.exchange_url, without, 5.0),
        bank.client(stranger),
    ):
        with pytest.raises(BankUnavailable):
            await client.list_outbox()
        with pytest.raises(BankUnavailable):
            await client.push(NAME, b"x", b"{}")
    with pytest.raises(BankRefused) as refused:
        await bank.client(bank.tls.client(bank_cn())).list_outbox()  # right CA, not us
    assert refused.value.code == "CLIENT_NOT_ALLOWED"
    async with bank.session.get(f"{bank.base_url}/outbox/") as plain:
        assert plain.status == 403  # the plain-HTTP desk port serves no exchange
    async with bank.session.get(
        f"{bank.exchange_url}/sim/accounts", ssl=bank.ssl_context(bank.tls.client("tongjiao"))
    ) as desk:
        assert desk.status == 404  # and the TLS port no desk
    assert bank.state.pending == {}


async def test_outbox_listing_pages_and_refuses_unknown_names(bank: BankSim) -> None:
    await bank.push(NAME, pain001("MSG-OB-1", three("OB1")))
    await bank.close_day(TODAY)
    client = bank.client()
    names = await client.list_outbox()

    assert await client.list_outbox(names[0]) == names[1:]
    assert await client.list_outbox(names[-1]) == []
    assert names[0].startswith(f"pain.002_{TODAY:%Y%m%d}_000001")
    assert names[1] == f"camt.053_{TODAY:%Y%m%d}_000002_{COLLECTION}.xml"
    with pytest.raises(BankRefused) as unknown:
        await client.list_outbox("pain.002_19990101_999999.xml")
    assert unknown.value.code == "UNKNOWN_NAME"
    with pytest.raises(BankRefused):
        await client.fetch("nothing.xml")
    with pytest.raises(BankRefused) as bad:
        await client.push("../etc/passwd.xml", b"x", b"{}")
    assert bad.value.status in (400, 404)


async def test_the_payout_text_is_verified_and_kept_but_never_booked(bank: BankSim) -> None:
    text = "H|B1|1/1|1|1.00|20260303|CNY|x|y\r\n".encode("gbk")
    name = "TJ_SFBK_20260302_001_p01.payout.txt"

    await bank.push(name, text)
    await bank.client().push(name, text, bank.sig(name, text + b"!"))

    assert await bank.bookings() == []
    [answer] = await bank.outbox_files("pain.002")  # only the tampered one is answered
    assert (values(answer, "GrpSts"), reasons(answer)) == (["RJCT"], ["DS17"])
    assert [r.verdict for r in bank.state.received] == ["ACCEPTED", "REFUSED"]


async def test_pull_mode_fetches_our_files_with_the_bank_certificate(tmp_path: Path) -> None:
    tls = prepare_tls(tmp_path / "tls")
    files: dict[str, bytes] = {"TJ_SFBK_20260302_002.pain001.xml": b"not signed yet"}
    async with (
        our_bankfiles(tls, files) as (url, callers),
        running_bank_sim(tmp_path, pull=pull_config(tls, url)) as bank,
    ):
        publish(bank, files, NAME, pain001("MSG-PL-1", three("PL1")))

        status, result = await bank.control("POST", "/sim/fetch")

        assert status == 200, result
        assert result["fetched"] == [NAME]
        assert result["left"] == [
            {"name": "TJ_SFBK_20260302_002.pain001.xml", "why": "no signature yet"}
        ]
        _, again = await bank.control("POST", "/sim/fetch")
        assert again["fetched"] == []
        await bank.set_faults(refuse_fetches=1)
        _, refused = await bank.control("POST", "/sim/fetch")
        assert refused["refused"] is True
        assert callers == [bank_cn(), bank_cn()]
        assert values(await only_status(bank), "GrpSts") == ["ACSC"]
        assert bank.state.received[0].via == "pull"


async def test_pull_mode_polls_by_itself(tmp_path: Path) -> None:
    tls = prepare_tls(tmp_path / "tls")
    files: dict[str, bytes] = {}
    async with (
        our_bankfiles(tls, files) as (url, _),
        running_bank_sim(tmp_path, pull=pull_config(tls, url, poll_seconds=0.05)) as bank,
    ):
        publish(bank, files, NAME, pain001("MSG-PP-1", three("PP1")))
        for _ in range(200):
            if bank.state.received:
                break
            await asyncio.sleep(0.02)
        assert [r.msg_id for r in bank.state.received] == ["MSG-PP-1"]


async def test_pull_without_our_endpoint_says_so(bank: BankSim) -> None:
    status, answer = await bank.control("POST", "/sim/fetch")
    assert (status, answer["code"]) == (502, "PULL_FAILED")


async def test_our_own_renderer_and_signer_are_accepted(tmp_path: Path) -> None:
    from clearing.settlement import pain001 as ours
    from clearing.settlement.model import (
        DebtorAccount,
        Instruction,
        InstructionDetail,
        SettlementBatch,
    )

    def rsa_and_sm2(keys: Keys) -> None:
        keys.make("tj-rsa", "rsa-pss-sha256")
        keys.make("tj-sm2", "sm2-sm3")

    def instruction(e2e: str, account: str, name: str, fen_amount: int, bank: str) -> Instruction:
        detail = InstructionDetail("TJ1", "C1", 1, "DEED_TAX", "契税", None, fen_amount)
        return Instruction(e2e, "B", name, account, bank, "开户行", fen_amount, "契税", (detail,))

    batch = SettlementBatch(
        batch_id="B20260302SFBK001",
        bank_code="SFBK",
        business_date=date(2026, 3, 2),
        sequence=1,
        created_at=datetime(2026, 3, 2, 17, 0, tzinfo=BEIJING),
        execution_date=date(2026, 3, 3),
        msg_id="TJ_SFBK_20260302_001",
        debtor=DebtorAccount(COLLECTION, "示范市不动产登记中心", "313100000013"),
        instructions=(
            instruction("OURS1", TREASURY, TREASURY_NAME, 123456, TREASURY_BANK),
            instruction("OURS2", FISCAL, FISCAL_NAME, 8000, "313100000013"),
        ),
    )
    data = ours.render(batch)
    async with running_bank_sim(tmp_path, configure=rsa_and_sm2) as bank:
        await bank.push(NAME, data, sig=bank.sig(NAME, data, "tj-rsa"))
        name2 = "TJ_SFBK_20260302_002.pain001.xml"
        other = data.replace(b"OURS", b"SM2X").replace(b"TJ_SFBK_20260302_001<", b"SM2-1<")
        await bank.push(name2, other, sig=bank.sig(name2, other, "tj-sm2"))
        answers = await bank.outbox_files("pain.002")
        assert [values(a, "GrpSts") for a in answers] == [["ACSC"], ["ACSC"]]
        assert (await bank.balances())[TREASURY] == 2 * 123456


async def test_main_serves_tls_and_the_desk_until_sigterm(tmp_path: Path) -> None:
    code = "import sys; from adapters.bank.simulator import main; sys.exit(main(sys.argv[1:]))"
    proc = await spawn_python(
        *("-c", code, "--port", "0", "--control-port", "0", "--demo"),
        *("--tls-dir", str(tmp_path / "tls")),
    )
    try:
        assert proc.stdout is not None
        exchange = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode().split()[-1]
        desk = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode().split()[-1]
        assert exchange.startswith("https://127.0.0.1:") and desk.startswith("http://127.0.0.1:")
        mine = pki.client_files(tmp_path / "tls", "tongjiao")
        context = pki.client_ssl_context(mine.cert, mine.key, tmp_path / "tls" / "ca.pem")
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{desk}/sim/accounts") as resp:
                accounts = (await resp.json())["accounts"]
            async with session.get(f"{exchange}/outbox/", ssl=context) as resp:
                assert (resp.status, await resp.json()) == (200, [])
        assert {a["number"] for a in accounts} >= {COLLECTION, TREASURY, FISCAL, FUND}
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_main_refuses_a_bad_verify_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from adapters.bank.simulator import main

    with pytest.raises(SystemExit) as stop:
        main(["--tls-dir", str(tmp_path), "--verify-key", "k1:dsa:/nowhere"])
    assert stop.value.code == 2
    assert "algorithm must be one of" in capsys.readouterr().err
