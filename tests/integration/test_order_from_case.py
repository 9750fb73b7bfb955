"""An order from a case: amounts come from the tax bureau, the fiscal non-tax system, the fund
office and the fee schedule; each reference is paid once; after payment every leg is confirmed
and its proof is on the order."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from clearing.api.keys import POOL
from tests.integration.factories import PAYER_ID
from tests.integration.fiscal_harness import running_fiscal_sim
from tests.integration.fund_harness import home, running_fund_sim
from tests.integration.service_harness import Service, running_service
from tests.integration.tax_harness import running_tax_sim
from tests.integration.wechat_harness import running_wechat_sim


@pytest.fixture(scope="module")
async def env(
    db_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("case")
    async with (
        running_wechat_sim(tmp / "wechat", retry_scale=0.01) as sim,
        running_tax_sim(tmp / "tax") as tax,
        running_fiscal_sim(tmp / "fiscal") as fiscal,
        running_fund_sim(tmp / "fund") as fund,
        running_service(
            db_dsn,
            tmp,
            sim,
            workers=2,
            poll_first_s=0.3,
            authority_timeout_s=2.0,
            tax_keys=tmp / "tax" / "merchant",
            tax_base_url=tax.base_url,
            fiscal_keys=tmp / "fiscal" / "merchant",
            fiscal_base_url=fiscal.base_url,
            fund_keys=tmp / "fund" / "merchant",
            fund_base_url=fund.base_url,
        ) as svc,
    ):
        yield {
            "svc": svc,
            "tax": tax,
            "fiscal": fiscal,
            "fund": fund,
            "clerk": await svc.add_user("clerk", "HALL1"),
        }


async def _case(env: dict[str, Any]) -> dict[str, Any]:
    decl = await env["tax"].create_case(buyer_name="张三", buyer_id=PAYER_ID)
    notice = await env["fiscal"].issue(payer_name="张三", item="LAND_TRANSFER", amount="12345.67")
    fund = await home(env["fund"])
    return {
        "declaration_no": decl["declaration_no"] if "declaration_no" in decl else decl["DeclNo"],
        "payment_codes": [
            notice["payment_code"] if "payment_code" in notice else notice["PayCode"]
        ],
        "fund_notice": fund["noticeNo"],
        "matters": [{"kind": "residential", "extra_certificates": 1}],
    }


def _body(case: dict[str, Any]) -> dict[str, Any]:
    return {
        "case_no": "2026-BDC-CASE01",
        "office": "HALL1",
        "window": "W01",
        "payer_name": "张三",
        "payer_id": PAYER_ID,
        "case": case,
    }


async def test_order_from_references_is_paid_and_every_leg_confirmed(env: dict[str, Any]) -> None:
    svc: Service = env["svc"]
    case = await _case(env)
    status, found = await svc.request(
        "POST",
        "/api/v1/cases/lookup",
        env["clerk"],
        json={"payer_name": "张三", "payer_id": PAYER_ID, "case": case},
    )
    assert status == 200, found
    assert found["failures"] == []
    by_item = {i["item_code"] for i in found["items"]}
    assert {"DEED_TAX", "LAND_TRANSFER", "MAINT_FUND", "REG_FEE"} <= by_item
    reg = [i for i in found["items"] if i["item_code"] == "REG_FEE"]
    assert [i["amount_fen"] for i in reg] == [90_00]  # 80 元 + one extra certificate
    status, order = await svc.create_order(env["clerk"], _body(case))
    assert status == 201, order
    assert order["total_fen"] == found["total_fen"]
    # the same references cannot be in a second order
    status, problem = await svc.create_order(env["clerk"], _body(case))
    assert (status, problem["code"]) == (409, "REFERENCE_HELD")
    assert problem["order_no"] == order["order_no"]
    qr = await svc.open_qr(env["clerk"], order["order_no"])
    await svc.sim.pay(qr["out_trade_no"])
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        _, now = await svc.request("GET", f"/api/v1/orders/{order['order_no']}", env["clerk"])
        if now["state"] == "SETTLED":
            break
        await asyncio.sleep(0.2)
    async with svc.app[POOL].acquire() as conn:
        tasks = await conn.fetch(
            "SELECT kind, state, attempts, last_error FROM tasks WHERE kind = 'leg.confirm'"
            " ORDER BY id DESC LIMIT 8"
        )
    assert now["state"] == "SETTLED", (now["state"], [dict(t) for t in tasks])
    proofs = {ln["item_code"]: ln["proof_no"] for ln in now["lines"] if ln["reference"]}
    assert all(proofs.values()) and {"DEED_TAX", "LAND_TRANSFER", "MAINT_FUND"} <= set(proofs)


async def test_an_authority_down_makes_no_order_and_names_itself(env: dict[str, Any]) -> None:
    svc: Service = env["svc"]
    case = await _case(env)
    await env["fiscal"].set_faults(down=True)
    try:
        async with svc.app[POOL].acquire() as conn:
            before = await conn.fetchval("SELECT count(*) FROM orders")
        status, problem = await svc.create_order(env["clerk"], _body(case), secrets.token_hex(8))
        assert (status, problem["code"]) == (502, "AUTHORITY_LOOKUP_FAILED")
        assert [f["authority"] for f in problem["failures"]] == ["fiscal"]
        assert "财政非税系统" in problem["detail_zh"]
        async with svc.app[POOL].acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM orders") == before
    finally:
        await env["fiscal"].reset_faults()
    # asked again when it is back, the same case makes its order
    status, order = await svc.create_order(env["clerk"], _body(case))
    assert status == 201, order


async def test_an_amount_changed_at_the_authority_is_caught_before_the_qr(
    env: dict[str, Any],
) -> None:
    svc: Service = env["svc"]
    case = await _case(env)
    status, order = await svc.create_order(env["clerk"], _body(case))
    assert status == 201, order
    await env["fund"].set_faults(amount_changed=case["fund_notice"])  # the house is re-measured
    try:
        status, problem = await svc.request(
            "POST",
            f"/api/v1/orders/{order['order_no']}/payments",
            env["clerk"],
            json={"method": "qr", "channel": "wechatpay"},
        )
    finally:
        await env["fund"].reset_faults()
    assert (status, problem["code"]) == (409, "AMOUNT_CHANGED_AT_AUTHORITY")
    assert [c["reference"] for c in problem["changed"]] == [case["fund_notice"]]
    _, now = await svc.request("GET", f"/api/v1/orders/{order['order_no']}", env["clerk"])
    assert now["attempts"] == []  # no QR was shown
