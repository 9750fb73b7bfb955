"""Refunds staff ask for: four eyes, exactly the refunded lines reversed, followed to the end."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from clearing.api.keys import POOL
from tests.integration.factories import ledger_balances
from tests.integration.service_harness import Service, order_body, service_fixture, staff_fixture

svc = service_fixture("refunds", sim_retry_scale=0.01, workers=2, poll_first_s=0.3)


staff = staff_fixture(clerk="HALL1", supervisor="HALL1", finance=None, finance2=None)


@pytest.fixture(autouse=True)
async def _faults(svc: Service) -> AsyncIterator[None]:
    await svc.sim.reset_faults()
    yield
    await svc.sim.reset_faults()


async def _paid_order(svc: Service, clerk: str, amounts: tuple[int, ...]) -> str:
    status, order = await svc.create_order(await svc.supervisor(), order_body(amounts))
    assert status == 201, order
    qr = await svc.open_qr(clerk, order["order_no"])
    await svc.sim.pay(qr["out_trade_no"])
    await svc.wait_state(clerk, order["order_no"], "CLEARED")
    return str(order["order_no"])


async def test_whole_order_refund_reverses_every_line(svc: Service, staff: dict[str, str]) -> None:
    order_no = await _paid_order(svc, staff["clerk"], (350_000_00, 80_00))
    status, req = await svc.request(
        "POST",
        f"/api/v1/orders/{order_no}/refunds",
        staff["supervisor"],
        json={"reason": "重复缴费，缴款人申请退回"},
    )
    assert (status, req["state"], req["amount_fen"]) == (201, "REQUESTED", 350_080_00)
    status, decided = await svc.request(
        "POST", f"/api/v1/refunds/{req['id']}/approve", staff["finance"], json={"note": "同意"}
    )
    assert (status, decided["state"]) == (200, "APPROVED")
    await svc.wait_refund(staff["clerk"], order_no, "SUCCEEDED")
    order = await svc.wait_state(staff["clerk"], order_no, "REFUNDED")
    assert order["state_zh"] == "已退款"
    assert await ledger_balances(svc.app[POOL], order_no) == {
        "receivable:wechatpay": 0,
        "payable:TREASURY": 0,
        "payable:FISCAL_NONTAX": 0,
    }


async def test_partial_refund_reverses_only_the_chosen_line(
    svc: Service, staff: dict[str, str]
) -> None:
    order_no = await _paid_order(svc, staff["clerk"], (1000_00, 80_00))
    _, req = await svc.request(
        "POST",
        f"/api/v1/orders/{order_no}/refunds",
        staff["supervisor"],
        json={"lines": [2], "reason": "登记费减免"},
    )
    assert req["amount_fen"] == 80_00
    await svc.request("POST", f"/api/v1/refunds/{req['id']}/approve", staff["finance"], json={})
    await svc.wait_refund(staff["clerk"], order_no, "SUCCEEDED")
    order = await svc.wait_state(staff["clerk"], order_no, "CLEARED")
    assert order["state"] == "CLEARED"
    assert await ledger_balances(svc.app[POOL], order_no) == {
        "receivable:wechatpay": 1000_00,
        "payable:TREASURY": -1000_00,
        "payable:FISCAL_NONTAX": 0,
    }
    # the same line cannot be refunded twice
    status, problem = await svc.request(
        "POST",
        f"/api/v1/orders/{order_no}/refunds",
        staff["supervisor"],
        json={"lines": [2], "reason": "again"},
    )
    assert (status, problem["code"]) == (409, "LINE_ALREADY_REFUNDED")


async def test_who_may_request_and_decide(svc: Service, staff: dict[str, str]) -> None:
    order_no = await _paid_order(svc, staff["clerk"], (500,))
    status, problem = await svc.request(
        "POST", f"/api/v1/orders/{order_no}/refunds", staff["clerk"], json={"reason": "x"}
    )
    assert (status, problem["code"]) == (403, "ROLE_FORBIDDEN")
    _, req = await svc.request(
        "POST", f"/api/v1/orders/{order_no}/refunds", staff["supervisor"], json={"reason": "x"}
    )
    status, problem = await svc.request(
        "POST", f"/api/v1/refunds/{req['id']}/approve", staff["supervisor"], json={}
    )
    assert (status, problem["code"]) == (403, "ROLE_FORBIDDEN")
    # rejected: the lines are free again, and a decided request cannot be decided twice
    status, rejected = await svc.request(
        "POST", f"/api/v1/refunds/{req['id']}/reject", staff["finance"], json={"note": "材料不全"}
    )
    assert (status, rejected["state"]) == (200, "REJECTED")
    status, problem = await svc.request(
        "POST", f"/api/v1/refunds/{req['id']}/approve", staff["finance2"], json={}
    )
    assert (status, problem["code"]) == (409, "REFUND_ALREADY_DECIDED")
    status, again = await svc.request(
        "POST", f"/api/v1/orders/{order_no}/refunds", staff["supervisor"], json={"reason": "补材料"}
    )
    assert status == 201 and again["state"] == "REQUESTED"
    # and the database itself refuses one person on both sides
    async with svc.app[POOL].acquire() as conn:
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(
                "UPDATE refund_requests SET decided_by = requested_by WHERE id = $1", again["id"]
            )


async def test_unpaid_orders_cannot_be_refunded(svc: Service, staff: dict[str, str]) -> None:
    _, order = await svc.create_order(await svc.supervisor(), order_body((100,)))
    status, problem = await svc.request(
        "POST",
        f"/api/v1/orders/{order['order_no']}/refunds",
        staff["supervisor"],
        json={"reason": "x"},
    )
    assert (status, problem["code"]) == (409, "ORDER_NOT_REFUNDABLE")


async def test_abnormal_refund_is_tracked(svc: Service, staff: dict[str, str]) -> None:
    order_no = await _paid_order(svc, staff["clerk"], (700,))
    await svc.sim.set_faults(refund_status="ABNORMAL")
    _, req = await svc.request(
        "POST", f"/api/v1/orders/{order_no}/refunds", staff["supervisor"], json={"reason": "x"}
    )
    await svc.request("POST", f"/api/v1/refunds/{req['id']}/approve", staff["finance"], json={})
    await svc.wait_refund(staff["clerk"], order_no, "ABNORMAL")
    _, waiting = await svc.request("GET", "/api/v1/refunds", staff["finance"])
    assert req["id"] in [r["id"] for r in waiting["refunds"] if r["state"] == "ABNORMAL"]
    # nothing posted while the money has not gone back
    assert await ledger_balances(svc.app[POOL], order_no) == {
        "receivable:wechatpay": 700,
        "payable:TREASURY": -700,
    }


async def test_a_line_already_paid_out_becomes_a_claim_on_its_beneficiary(
    svc: Service, staff: dict[str, str]
) -> None:
    order_no = await _paid_order(svc, staff["clerk"], (900_00, 80_00))
    await svc.app[POOL].execute(
        "UPDATE order_lines SET settled_at = now() FROM orders o WHERE o.id = order_id"
        " AND o.order_no = $1 AND line_no = 1",
        order_no,
    )
    _, req = await svc.request(
        "POST", f"/api/v1/orders/{order_no}/refunds", staff["supervisor"], json={"reason": "x"}
    )
    await svc.request("POST", f"/api/v1/refunds/{req['id']}/approve", staff["finance"], json={})
    await svc.wait_refund(staff["clerk"], order_no, "SUCCEEDED")
    assert await ledger_balances(svc.app[POOL], order_no) == {
        "receivable:wechatpay": 0,
        "payable:TREASURY": -900_00,
        "clawback:TREASURY": 900_00,
        "payable:FISCAL_NONTAX": 0,
    }
    task = await svc.app[POOL].fetchrow(
        "SELECT payload FROM tasks WHERE kind = 'leg.clawback'"
        " AND (payload->>'refund_id')::bigint = $1",
        req["id"],
    )
    assert task is not None and task["payload"]["beneficiary"] == "TREASURY"
