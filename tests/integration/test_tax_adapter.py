"""Tax adapter against the real bureau simulator over HTTP on 127.0.0.1 (no mocks)."""

from __future__ import annotations

import asyncio
import json
import stat
import time
from collections.abc import Awaitable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from adapters.errors import AdapterError
from adapters.tax import keys as keyset
from adapters.tax import signing
from adapters.tax.client import TaxClient
from adapters.tax.errors import TaxAnswerForged, TaxRefused
from adapters.tax.keys import (
    MERCHANT_DIR,
    PLATFORM_DIR,
    generate_keyset,
    load_merchant_keys,
    load_platform_keys,
)
from adapters.tax.rules import PropertyCase, parse_area, taxes_due
from adapters.tax.sim_state import STATE
from adapters.tax.wire import BEIJING, wire_time
from clearing.ports import AuthorityRefused, DueItem, LegPaid
from tests.integration.adapter_fixtures import authority_fixtures, keyset_fixture
from tests.integration.serving import answering, running_sim_cli, stops_on_sigterm
from tests.integration.tax_harness import TaxSim, running_tax_sim

ROOT = Path(__file__).resolve().parents[2]
# a short holding, not the only home, and an original price: every residential tax but stamp duty
SHORT_HOLD = {
    "price": "3200000.00",
    "area_m2": "120.00",
    "buyer_home": "SECOND",
    "declared_on": "2026-11-26",  # fixed, so that the rate set and the holding never drift
    "seller_acquired_on": "2025-09-01",
    "seller_only_home": False,
    "original_price": "2000000.00",
}
PAID_AT = datetime(2026, 11, 26, 10, 30, tzinfo=BEIJING)


keys_root = keyset_fixture(keyset, "tax-keys")


sim, client = authority_fixtures(running_tax_sim)


def today() -> date:
    return datetime.now(BEIJING).date()


async def confirm(client: TaxClient, item: DueItem, ref: str = "WX4200001", **kw: Any) -> Any:
    return await client.confirm(
        LegPaid(
            reference=item.reference,
            amount_fen=kw.pop("amount_fen", item.amount_fen),
            paid_at=PAID_AT,
            payment_ref=ref,
            order_no=kw.pop("order_no", "TJ20261126000001"),
        )
    )


def by_taxpayer(
    client: TaxClient, party: dict[str, Any], declaration: dict[str, Any], **kw: Any
) -> Awaitable[list[DueItem]]:
    """A lookup with no declaration number: ``party``'s taxpayer id and the property unit of
    ``declaration``."""
    return client.lookup(
        "", taxpayer_id=party["taxpayer_id"], property_unit=declaration["property_unit"], **kw
    )


async def refused(call: Any, code: str) -> TaxRefused:
    with pytest.raises(TaxRefused) as info:
        await call
    assert info.value.code == code, info.value
    assert isinstance(info.value, AuthorityRefused) and isinstance(info.value, AdapterError)
    return info.value


# --- lookup ------------------------------------------------------------------------------------


async def test_lookup_lists_one_item_per_tax_as_the_rules_say(
    sim: TaxSim, client: TaxClient
) -> None:
    declaration = await sim.create_case(**SHORT_HOLD)
    items = await client.lookup(declaration["declaration_no"])
    on = date.fromisoformat(declaration["declared_on"])
    expected = taxes_due(
        PropertyCase(
            price_fen=320_000_000,
            area_dm2=parse_area("120.00"),
            kind="RESIDENTIAL",
            buyer_home="SECOND",
            seller_acquired_on=date(2025, 9, 1),
            seller_only_home=False,
            original_price_fen=200_000_000,
        ),
        on,
    )
    assert [(i.item_code, i.amount_fen, i.details["basis_fen"], i.details["rate"])
            for i in items] == [
        (t.item, t.amount_fen, t.basis_fen, t.rate.text) for t in expected
    ]  # fmt: skip
    assert [i.item_code for i in items] == ["DEED_TAX", "VAT", "IIT"]
    deed = items[0]
    assert deed.authority == "tax" and deed.payer_name == declaration["buyer"]["name"]
    assert deed.reference.startswith(sim.merchant.tax_org_code) and len(deed.reference) == 20
    assert deed.details["tax_type_code"] == "10119"
    assert deed.details["declaration_no"] == declaration["declaration_no"]
    assert deed.details["period_start"] == deed.details["period_end"] == on.isoformat()
    assert deed.details["rate_set"] == "2026-01"
    # personal data stays masked on our side
    assert declaration["buyer"]["taxpayer_id"] not in json.dumps(dict(deed.details))
    assert {i.payer_name for i in items[1:]} == {declaration["seller"]["name"]}


async def test_lookup_by_taxpayer_and_property_unit(sim: TaxSim, client: TaxClient) -> None:
    declaration = await sim.create_case(**SHORT_HOLD)
    by_number = await client.lookup(declaration["declaration_no"])
    for party in ("buyer", "seller"):
        by_case = await by_taxpayer(
            client,
            declaration[party],
            declaration,
            payer_name="ignored: meant for another authority",
        )
        assert by_case == by_number


async def test_lookup_refuses_unknown_and_mismatched_cases(sim: TaxSim, client: TaxClient) -> None:
    declaration = await sim.create_case()
    other = await sim.create_case()
    no = declaration["declaration_no"]
    error = await refused(client.lookup("120261126999999999"), "NOT_FOUND")
    assert error.result_code == "24101" and error.reason == "申报信息不存在"
    await refused(client.lookup(no, taxpayer_id=other["buyer"]["taxpayer_id"]), "CASE_MISMATCH")
    await refused(client.lookup(no, property_unit=other["property_unit"]), "CASE_MISMATCH")
    await refused(by_taxpayer(client, other["buyer"], declaration), "NOT_FOUND")


async def test_malformed_references_are_refused_without_a_call(
    sim: TaxSim, client: TaxClient
) -> None:
    for reference, case in [
        ("12345", {}),
        ("", {}),
        ("", {"taxpayer_id": "310115199001011234"}),
        ("", {"taxpayer_id": "short", "property_unit": "310115001001GB00001F00000001"}),
        ("", {"taxpayer_id": "310115199001011234", "property_unit": "not-a-unit"}),
    ]:
        await refused(client.lookup(reference, **case), "BAD_REFERENCE")
    await refused(confirm(client, DueItem("tax", "VAT", "123", 100)), "BAD_REFERENCE")
    assert await sim.requests() == []


async def test_paid_vouchers_leave_the_lookup_until_nothing_is_left(
    sim: TaxSim, client: TaxClient
) -> None:
    declaration = await sim.create_case(**SHORT_HOLD)
    no = declaration["declaration_no"]
    first, *rest = await client.lookup(no)
    await confirm(client, first)
    assert await client.lookup(no) == rest
    for item in rest:
        await confirm(client, item)
    error = await refused(client.lookup(no), "ALREADY_PAID")
    assert error.result_code == "24102"
    await refused(by_taxpayer(client, declaration["seller"], declaration), "ALREADY_PAID")


# --- confirm -----------------------------------------------------------------------------------


async def test_confirm_returns_a_signed_completion_certificate(
    sim: TaxSim, client: TaxClient
) -> None:
    declaration = await sim.create_case(**SHORT_HOLD)
    item = (await client.lookup(declaration["declaration_no"]))[1]
    leg = await confirm(client, item)
    assert leg.reference == item.reference and leg.amount_fen == item.amount_fen
    assert len(leg.proof_no) == 18 and leg.proof_no.startswith("3" + sim.platform.region)
    assert leg.confirmed_at.tzinfo is not None
    assert leg.proof["tax_vou_no"] == item.reference and leg.proof["cert_no"] == leg.proof_no
    line = signing.certificate_line(
        tax_org_code=leg.proof["tax_org_code"],
        cert_no=leg.proof_no,
        tax_vou_no=leg.reference,
        tra_amt=f"{item.amount_fen // 100}.{item.amount_fen % 100:02d}",
        tax_date=leg.proof["tax_date"].replace("-", ""),
    )
    assert signing.verify_certificate(sim.merchant.bureau_public_key, line, leg.proof["cert_sign"])
    # amounts travel as yuan strings, never as JSON numbers
    sent = json.loads((await sim.requests())[-1]["body"])["Body"]
    assert sent["TraAmt"] == f"{item.amount_fen // 100}.{item.amount_fen % 100:02d}"
    assert sent["PayTime"] == "20261126103000" and sent["TraNoBus"] == "WX4200001"


async def test_confirm_refuses_an_amount_other_than_the_one_due(
    sim: TaxSim, client: TaxClient
) -> None:
    declaration = await sim.create_case()
    (item,) = await client.lookup(declaration["declaration_no"])
    error = await refused(confirm(client, item, amount_fen=item.amount_fen - 1), "AMOUNT_MISMATCH")
    assert error.result_code == "24103" and "应征金额" in error.reason
    assert await sim.confirmations() == []
    leg = await confirm(client, item)
    # a retry of the same payment with another amount is no retry
    await refused(confirm(client, item, amount_fen=item.amount_fen + 1), "AMOUNT_MISMATCH")
    assert await confirm(client, item) == leg


async def test_confirm_of_an_unknown_voucher(sim: TaxSim, client: TaxClient) -> None:
    ghost = DueItem("tax", "VAT", sim.merchant.tax_org_code + "269999999", 100)
    await refused(confirm(client, ghost), "NOT_FOUND")


async def test_confirm_checks_its_arguments(client: TaxClient) -> None:
    item = DueItem("tax", "VAT", "1" * 20, 100)
    with pytest.raises(TypeError):
        await confirm(client, item, amount_fen=1.0)
    with pytest.raises(ValueError, match="positive"):
        await confirm(client, item, amount_fen=0)
    with pytest.raises(ValueError, match="format"):
        await confirm(client, item, order_no="no spaces allowed")
    with pytest.raises(ValueError, match="aware"):
        await client.confirm(LegPaid("1" * 20, 1, datetime(2026, 1, 1), "X", "Y"))


# --- daily confirmations -----------------------------------------------------------------------


async def test_daily_confirmations_list_the_days_certificates(
    sim: TaxSim, client: TaxClient
) -> None:
    declaration = await sim.create_case(**SHORT_HOLD)
    items = await client.lookup(declaration["declaration_no"])
    legs = [await confirm(client, item) for item in items[:2]]
    assert await client.daily_confirmations(today()) == legs
    assert await client.daily_confirmations(today() - timedelta(days=1)) == []
    assert [c["CertNo"] for c in await sim.confirmations(today().isoformat())] == [
        leg.proof_no for leg in legs
    ]


async def test_a_certificate_the_bureau_did_not_sign_is_not_trusted(
    sim: TaxSim, client: TaxClient
) -> None:
    declaration = await sim.create_case()
    (item,) = await client.lookup(declaration["declaration_no"])
    await confirm(client, item)
    voucher = sim.app[STATE].confirmed[0]
    assert voucher.confirmation is not None
    forged = signing.sign_certificate(sim.app[STATE].wrong_key, b"anything")
    voucher.confirmation = replace(voucher.confirmation, cert_sign=forged)
    with pytest.raises(TaxAnswerForged, match="CertSign"):
        await client.daily_confirmations(today())


# --- faults ------------------------------------------------------------------------------------


async def test_amount_changed_between_lookup_and_payment(sim: TaxSim, client: TaxClient) -> None:
    declaration = await sim.create_case(**SHORT_HOLD)
    no = declaration["declaration_no"]
    before = await client.lookup(no)
    await sim.set_faults(amount_changed={no: 12_345})
    after = await client.lookup(no)
    assert after[0].amount_fen == before[0].amount_fen + 12_345
    assert [i.amount_fen for i in after[1:]] == [i.amount_fen for i in before[1:]]
    assert (await sim.set_faults())["amount_changed"] == {}  # used up by that lookup
    assert await client.lookup(no) == after  # the new amount stays
    error = await refused(confirm(client, before[0]), "AMOUNT_MISMATCH")
    assert "应征金额" in error.reason
    assert (await confirm(client, after[0])).amount_fen == after[0].amount_fen
    # by voucher number, downwards
    await sim.set_faults(amount_changed={before[2].reference: -100})
    assert (await client.lookup(no))[1].amount_fen == before[2].amount_fen - 100


async def test_refuse_confirm_refuses_with_the_bureaus_reason(
    sim: TaxSim, client: TaxClient
) -> None:
    declaration = await sim.create_case()
    (item,) = await client.lookup(declaration["declaration_no"])
    await sim.set_faults(refuse_confirm=1, refuse_reason="征收机关日终处理中")
    error = await refused(confirm(client, item), "CONFIRM_REFUSED")
    assert (error.result_code, error.reason) == ("24105", "征收机关日终处理中")
    assert await sim.confirmations() == []
    assert (await confirm(client, item)).amount_fen == item.amount_fen


async def test_an_old_answer_replayed_to_a_new_request_is_not_trusted(sim: TaxSim) -> None:
    declaration = await sim.create_case()
    captured: list[tuple[bytes, str]] = []

    async def replaying(request: web.Request) -> web.Response:
        if not captured:
            async with sim.session.post(
                sim.base_url + request.path, data=await request.read(), headers=request.headers
            ) as resp:
                captured.append((await resp.read(), resp.headers[signing.SIGNATURE_HEADER]))
        body, signature = captured[0]
        response = web.Response(body=body, content_type="application/json")
        response.headers[signing.SIGNATURE_HEADER] = signature
        return response

    async with answering("/{tail:.*}", replaying) as proxy_url:
        client = sim.client(base_url=proxy_url)
        assert await client.lookup(declaration["declaration_no"])
        with pytest.raises(TaxAnswerForged, match="another request"):
            await client.lookup(declaration["declaration_no"])


# --- the simulator's own checks ----------------------------------------------------------------


async def test_the_bureau_refuses_replays_wrong_macs_and_stale_requests(sim: TaxSim) -> None:
    declaration = await sim.create_case()
    body = sim.lookup_request(declaration["declaration_no"], datetime.now(BEIJING))
    token = sim.merchant.access_token
    assert (await sim.post_raw(body, token))[1]["Head"]["Result"] == "90000"
    status, answer = await sim.post_raw(body, token)
    assert (status, answer["Head"]["Result"]) == (401, "91006")
    fresh = sim.lookup_request(declaration["declaration_no"], datetime.now(BEIJING))
    status, answer = await sim.post_raw(fresh, b"0" * 64)
    assert (status, answer["Head"]["Result"]) == (401, "91005")
    stale = sim.lookup_request(
        declaration["declaration_no"], datetime.now(BEIJING) - timedelta(hours=1)
    )
    status, answer = await sim.post_raw(stale, token)
    assert (status, answer["Head"]["Result"]) == (401, "91006")


async def test_a_client_with_a_wrong_clock_or_token_is_refused(sim: TaxSim) -> None:
    declaration = await sim.create_case()
    late = TaxClient(
        sim.session, base_url=sim.base_url, keys=sim.merchant, clock=lambda: time.time() + 3600
    )
    error = await refused(late.lookup(declaration["declaration_no"]), "REQUEST_REFUSED")
    assert error.result_code == "91006"
    stranger = TaxClient(
        sim.session,
        base_url=sim.base_url,
        keys=replace(sim.merchant, access_token=b"f" * 64),
    )
    error = await refused(stranger.lookup(declaration["declaration_no"]), "REQUEST_REFUSED")
    assert error.result_code == "91005"


@pytest.mark.parametrize(
    "fields",
    [
        {"price": 3000000},  # money as a JSON number
        {"price": "3000000.001"},
        {"area_m2": "0"},
        {"kind": "SHOP"},
        {"buyer_home": "THIRD"},
        {"seller_holding_years": -1},
        {"seller_acquired_on": "2030-01-01"},
        {"declared_on": "2015-01-01"},
        {"buyer_id": "123"},
        {"colour": "red"},
    ],
)
async def test_bad_cases_are_refused(sim: TaxSim, fields: dict[str, Any]) -> None:
    status, answer = await sim.control("POST", "/sim/cases", fields)
    assert status == 400, answer


async def test_demo_cases_cover_every_tax(sim: TaxSim) -> None:
    status, made = await sim.control("POST", "/sim/demo", {"count": 4})
    assert status == 201 and len(made) == 4
    items = {v["item_code"] for d in made for v in d["vouchers"]}
    assert items == {"DEED_TAX", "VAT", "IIT", "STAMP_DUTY"}
    status, listed = await sim.control("GET", "/sim/cases")
    assert [d["declaration_no"] for d in listed] == [d["declaration_no"] for d in made]


# --- keys and the command line -----------------------------------------------------------------


def test_keysets_hold_what_each_side_holds(tmp_path: Path) -> None:
    generate_keyset(tmp_path)
    snapshot = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    generate_keyset(tmp_path)  # again: nothing changes
    assert snapshot == {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    merchant = load_merchant_keys(tmp_path / MERCHANT_DIR)
    platform = load_platform_keys(tmp_path / PLATFORM_DIR)
    assert merchant.access_token == platform.access_token
    assert not any("private" in p.name for p in (tmp_path / MERCHANT_DIR).iterdir())
    for secret in ("merchant/access_token.txt", "platform/access_token.txt",
                   "platform/bureau_private_key.pem"):  # fmt: skip
        assert stat.S_IMODE((tmp_path / secret).stat().st_mode) == 0o600
    (tmp_path / MERCHANT_DIR / "access_token.txt").write_text("short\n")
    with pytest.raises(ValueError, match="token"):
        load_merchant_keys(tmp_path / MERCHANT_DIR)


async def test_cli_listens_declares_demo_cases_and_stops_on_sigterm(keys_root: Path) -> None:
    async with running_sim_cli("tax", keys_root, "--demo-cases", "2") as (url, proc):
        assert proc.stdout is not None
        demo = [(await asyncio.wait_for(proc.stdout.readline(), 30)).decode() for _ in range(2)]
        assert all(d.startswith("tax demo declaration 1") for d in demo)
        async with aiohttp.ClientSession() as session, session.get(f"{url}/sim/cases") as resp:
            assert resp.status == 200 and len(await resp.json()) == 2
        assert await stops_on_sigterm(proc)


def test_paid_at_in_utc_is_sent_in_beijing_time() -> None:
    assert wire_time(datetime(2026, 11, 26, 2, 30, tzinfo=UTC)) == "20261126103000"
