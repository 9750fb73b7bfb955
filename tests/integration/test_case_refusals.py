"""An authority's final refusal is not an outage (issue 10, item 3): an unknown, malformed or
already paid reference gives 422 (409 when paid, naming the paying order) with the authority's
reason and nothing to retry; only an authority that did not answer gives 502/504 and a retry.
The lookup warns of a reference another order holds. Real tax, fiscal and fund simulators."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest

from clearing.api.keys import POOL
from tests.integration.case_harness import (
    all_confirmed,
    case_body,
    case_fixture,
    case_order,
    confirmed_order,
    new_case,
)
from tests.integration.factories import PAYER_ID
from tests.integration.service_harness import Service

UNKNOWN_DECLARATION = "199999999999999999"  # the shape of the bureau's numbers; never issued


env = case_fixture("refusals", workers=2, poll_first_s=0.3, authority_timeout_s=1.0)


@pytest.fixture(autouse=True)
async def _faults(env: dict[str, Any]) -> AsyncIterator[None]:
    yield
    for name in ("tax", "fiscal"):
        await env[name].reset_faults()


async def _case(env: dict[str, Any]) -> dict[str, Any]:
    return await new_case(env, "2345.67")


def _body(case: dict[str, Any]) -> dict[str, Any]:
    return case_body("2026-BDC-REFUSE", case)


async def _orders(svc: Service) -> int:
    async with svc.app[POOL].acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM orders"))


async def _lookup(env: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
    status, found = await env["svc"].request(
        "POST",
        "/api/v1/cases/lookup",
        env["clerk"],
        json={"payer_name": "张三", "payer_id": PAYER_ID, "case": case},
    )
    assert status == 200, found
    return dict(found)


async def test_an_unknown_reference_is_refused_for_good_not_an_outage(
    env: dict[str, Any],
) -> None:
    svc: Service = env["svc"]
    before = await _orders(svc)
    case = {"declaration_no": UNKNOWN_DECLARATION}
    status, problem = await svc.create_order(env["clerk"], _body(case), secrets.token_hex(8))
    assert (status, problem["code"]) == (422, "AUTHORITY_REFUSED"), problem
    (failure,) = problem["failures"]
    assert (failure["authority"], failure["code"]) == ("tax", "NOT_FOUND")
    assert (failure["kind"], failure["retryable"]) == ("refused", False)
    # the bureau's reason, in Chinese, and no "try again later"
    assert problem["detail_zh"].startswith("主管部门不受理该凭证")
    assert "税务部门：" in problem["detail_zh"] and UNKNOWN_DECLARATION in problem["detail_zh"]
    assert "稍后" not in problem["detail_zh"] and "查询失败" not in problem["detail_zh"]
    assert await _orders(svc) == before
    # the lookup says the same: the refusal is final, nothing to ask again
    (failure,) = (await _lookup(env, case))["failures"]
    assert (failure["code"], failure["retryable"]) == ("NOT_FOUND", False)


async def test_a_malformed_reference_is_refused_with_its_reason(env: dict[str, Any]) -> None:
    status, problem = await env["svc"].create_order(
        env["clerk"], _body({"declaration_no": "12345"}), secrets.token_hex(8)
    )
    assert (status, problem["code"]) == (422, "AUTHORITY_REFUSED"), problem
    assert "号码格式不正确" in problem["detail_zh"]
    assert [f["retryable"] for f in problem["failures"]] == [False]


async def test_an_already_paid_case_is_409_naming_the_order_that_paid(
    env: dict[str, Any],
) -> None:
    svc: Service = env["svc"]
    case = await _case(env)
    paid = await case_order(env, _body(case))
    qr = await svc.open_qr(env["clerk"], paid["order_no"])
    await svc.sim.pay(qr["out_trade_no"])
    # once every authority has heard of the payment, each says "already paid"
    now = await confirmed_order(env, paid["order_no"], within_s=20)
    assert all_confirmed(now), now
    status, problem = await svc.create_order(env["clerk"], _body(case), secrets.token_hex(8))
    assert (status, problem["code"]) == (409, "REFERENCE_ALREADY_PAID"), problem
    assert problem["order_no"] == paid["order_no"]
    assert {f["code"] for f in problem["failures"]} == {"ALREADY_PAID"}
    assert not any(f["retryable"] for f in problem["failures"])
    assert {f["order_no"] for f in problem["failures"]} == {paid["order_no"]}
    assert f"已由缴费单 {paid['order_no']} 缴纳" in problem["detail_zh"]
    assert "稍后" not in problem["detail_zh"]


async def test_an_authority_that_does_not_answer_in_time_is_504_and_retryable(
    env: dict[str, Any],
) -> None:
    svc: Service = env["svc"]
    case = await _case(env)
    await env["tax"].set_faults(api_delay_s=3.0)
    status, problem = await svc.create_order(env["clerk"], _body(case), secrets.token_hex(8))
    assert (status, problem["code"]) == (504, "AUTHORITY_TIMEOUT"), problem
    assert [(f["authority"], f["retryable"]) for f in problem["failures"]] == [("tax", True)]
    assert "稍后重试" in problem["detail_zh"]


async def test_an_authority_down_is_502_and_retryable(env: dict[str, Any]) -> None:
    svc: Service = env["svc"]
    case = await _case(env)
    await env["fiscal"].set_faults(down=True)
    status, problem = await svc.create_order(env["clerk"], _body(case), secrets.token_hex(8))
    assert (status, problem["code"]) == (502, "AUTHORITY_LOOKUP_FAILED"), problem
    assert [(f["authority"], f["retryable"]) for f in problem["failures"]] == [("fiscal", True)]


async def test_a_refusal_beside_an_outage_is_still_final(env: dict[str, Any]) -> None:
    svc: Service = env["svc"]
    case = await _case(env)
    case["declaration_no"] = UNKNOWN_DECLARATION
    await env["fiscal"].set_faults(down=True)
    status, problem = await svc.create_order(env["clerk"], _body(case), secrets.token_hex(8))
    # retrying the fiscal system could never make this case whole
    assert (status, problem["code"]) == (422, "AUTHORITY_REFUSED"), problem
    retry = {f["authority"]: f["retryable"] for f in problem["failures"]}
    assert retry == {"tax": False, "fiscal": True}


async def test_the_lookup_warns_of_a_reference_another_open_order_holds(
    env: dict[str, Any],
) -> None:
    svc: Service = env["svc"]
    case = await _case(env)
    assert (await _lookup(env, case))["warnings"] == []
    held = await case_order(env, _body(case))
    found = await _lookup(env, case)
    assert found["failures"] == []  # the authorities still say it is due
    warnings = found["warnings"]
    held_refs = {ln["reference"] for ln in held["lines"] if ln["reference"]}
    assert {w["reference"] for w in warnings} == held_refs
    assert {(w["order_no"], w["order_state"]) for w in warnings} == {(held["order_no"], "OPEN")}
    assert all(f"已在缴费单 {held['order_no']}（待缴费）中" in w["message_zh"] for w in warnings)
    # once that order is cancelled the references are free again, and so is the warning
    status, _ = await svc.request(
        "POST", f"/api/v1/orders/{held['order_no']}/cancel", env["clerk"], json={"reason": "重开"}
    )
    assert status == 200
    assert (await _lookup(env, case))["warnings"] == []


async def test_a_notice_voided_after_the_order_was_made_is_refused_at_payment_not_retried(
    env: dict[str, Any],
) -> None:
    svc: Service = env["svc"]
    case = await _case(env)
    order = await case_order(env, _body(case))
    status, _ = await env["fiscal"].void(case["payment_codes"][0])  # the agency cancels it
    assert status == 200
    status, problem = await svc.request(
        "POST",
        f"/api/v1/orders/{order['order_no']}/payments",
        env["clerk"],
        json={"method": "qr", "channel": "wechatpay"},
    )
    assert (status, problem["code"]) == (409, "AUTHORITY_REFUSED"), problem
    assert "请撤销本缴费单" in problem["detail_zh"] and "稍后" not in problem["detail_zh"]
    assert [f["retryable"] for f in problem["failures"] if f["authority"] == "fiscal"] == [False]


async def test_the_payers_phone_is_refused_a_voided_notice_too(env: dict[str, Any]) -> None:
    from datetime import datetime

    from clearing.api.routes_mobile import PAY_LINK_KEY
    from clearing.service import pay_links

    svc: Service = env["svc"]
    case = await _case(env)
    order = await case_order(env, _body(case))
    status, _ = await env["fiscal"].void(case["payment_codes"][0])
    assert status == 200
    token = pay_links.make_token(
        svc.app[PAY_LINK_KEY], order["order_no"], datetime.fromisoformat(order["expires_at"])
    )
    status, problem = await svc.request(
        "POST", f"/m/{token}/payments", json={"channel": "wechatpay", "method": "h5"}
    )
    assert (status, problem["code"]) == (409, "AUTHORITY_REFUSED"), problem
    status, view = await svc.request("GET", f"/api/v1/orders/{order['order_no']}", env["clerk"])
    assert view["attempts"] == []
