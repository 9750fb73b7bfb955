"""Card sales at the window's terminal, sales whose result never arrives, and one order paid on
two channels at once — through the real service, the real WeChat and terminal simulators."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from clearing.api.keys import POOL
from tests.integration.factories import ledger_balances
from tests.integration.pos_harness import PosSim, card_service_fixture
from tests.integration.service_harness import Service, order_body
from tests.integration.serving import polled, refused_once

env = card_service_fixture(
    "card",
    ["T0000001"],
    workers=2,
    poll_first_s=0.3,
    code_poll_s=0.3,
    card_wait_s=2.0,
)


@pytest.fixture(autouse=True)
async def _faults(env: tuple[Service, PosSim]) -> AsyncIterator[None]:
    svc, pos = env
    await pos.reset_faults()
    await svc.sim.reset_faults()
    yield


@pytest.fixture(scope="module")
async def staff(env: tuple[Service, PosSim]) -> str:
    return await env[0].add_user("supervisor", "HALL1")


async def _card(svc: Service, staff: str, order_no: str) -> dict[str, object]:
    started = await svc.start_payment(staff, order_no, method="card", terminal_id="T0000001")
    return dict(started)


async def test_card_swipe_clears_with_the_card_facts(
    env: tuple[Service, PosSim], staff: str
) -> None:
    svc, pos = env
    _, order = await svc.create_order(staff, order_body((120_000_00, 80_00)))
    started = await _card(svc, staff, order["order_no"])
    assert started["state"] == "OPEN" and started["message_zh"]
    status, _ = await pos.swipe("T0000001")
    assert status == 200
    await svc.wait_state(staff, order["order_no"], "CLEARED")
    details = await svc.app[POOL].fetchval(
        "SELECT details FROM payments WHERE out_trade_no = $1", started["out_trade_no"]
    )
    assert details["terminal_id"] == "T0000001"
    assert {"rrn", "batch_no", "trace_no"} <= set(details), details
    assert "*" in str(details)  # the card number only masked
    assert await ledger_balances(svc.app[POOL], order["order_no"]) == {
        "receivable:pos": 120_080_00,
        "payable:TREASURY": -120_000_00,
        "payable:FISCAL_NONTAX": -80_00,
    }


async def test_a_sale_whose_result_never_arrives_is_reversed(
    env: tuple[Service, PosSim], staff: str
) -> None:
    svc, pos = env
    _, order = await svc.create_order(staff, order_body((300_00,)))
    await pos.set_faults(lose_result=True)
    started = await _card(svc, staff, order["order_no"])
    await pos.swipe("T0000001")  # the card is charged, but nobody hears of it
    sim_order = await polled(
        lambda: pos.order(str(started["out_trade_no"])),
        lambda o: o["state"] == "REVERSED",
        every_s=0.2,
    )
    assert sim_order["state"] == "REVERSED", sim_order
    state = await svc.app[POOL].fetchval(
        "SELECT state FROM payment_attempts WHERE out_trade_no = $1", started["out_trade_no"]
    )
    assert state == "REVERSED"
    _, now = await svc.request("GET", f"/api/v1/orders/{order['order_no']}", staff)
    assert now["state"] == "PAYING"  # unpaid: the staff can take the payment again
    assert await ledger_balances(svc.app[POOL], order["order_no"]) == {}


async def test_one_order_paid_on_two_channels_at_once_clears_once(
    env: tuple[Service, PosSim], staff: str
) -> None:
    svc, pos = env
    _, order = await svc.create_order(staff, order_body((456_00,)))
    qr = await svc.open_qr(staff, order["order_no"])
    await _card(svc, staff, order["order_no"])
    results = await asyncio.gather(svc.sim.pay(qr["out_trade_no"]), pos.swipe("T0000001"))
    assert [r[0] for r in results] == [200, 200]
    await svc.wait_state(staff, order["order_no"], "CLEARED")
    pool = svc.app[POOL]
    rows = await polled(
        lambda: pool.fetch(
            "SELECT p.outcome, p.reason, r.state AS refund FROM payments p"
            " LEFT JOIN refunds r ON r.payment_id = p.id JOIN orders o ON o.id = p.order_id"
            " WHERE o.order_no = $1 ORDER BY p.id",
            order["order_no"],
        ),
        lambda rows: len(rows) == 2 and any(r["refund"] == "SUCCESS" for r in rows),
        timeout_s=15,
        every_s=0.2,
    )
    assert sorted((r["outcome"], r["reason"], r["refund"]) for r in rows) == [
        ("CLEARED", None, None),
        ("SUSPENSE", "ALREADY_PAID", "SUCCESS"),
    ]
    ledger = await ledger_balances(pool, order["order_no"])
    assert ledger.get("suspense", 0) == 0
    assert ledger["payable:TREASURY"] == -456_00


async def test_card_payment_refunded_and_balanced(env: tuple[Service, PosSim], staff: str) -> None:
    svc, pos = env
    supervisor = await svc.add_user("supervisor", "HALL1")
    finance = await svc.add_user("finance", None)
    _, order = await svc.create_order(staff, order_body((2_000_00, 80_00)))
    await _card(svc, staff, order["order_no"])
    await pos.swipe("T0000001")
    await svc.wait_state(staff, order["order_no"], "CLEARED")
    _, req = await svc.request(
        "POST", f"/api/v1/orders/{order['order_no']}/refunds", supervisor, json={"reason": "退回"}
    )
    await svc.request("POST", f"/api/v1/refunds/{req['id']}/approve", finance, json={})
    await svc.wait_state(staff, order["order_no"], "REFUNDED", within_s=10)
    assert await ledger_balances(svc.app[POOL], order["order_no"]) == {
        "receivable:pos": 0,
        "payable:TREASURY": 0,
        "payable:FISCAL_NONTAX": 0,
    }


async def test_card_results_all_lost_still_clear_by_polling(
    env: tuple[Service, PosSim], staff: str
) -> None:
    svc, pos = env
    await pos.set_faults(drop_callbacks=1.0)
    _, order = await svc.create_order(staff, order_body((55_00,)))
    started = await _card(svc, staff, order["order_no"])
    await pos.swipe("T0000001")
    await svc.wait_state(staff, order["order_no"], "CLEARED", within_s=5)
    source = await svc.app[POOL].fetchval(
        "SELECT source FROM payments WHERE out_trade_no = $1", started["out_trade_no"]
    )
    assert source == "query"


async def test_badly_signed_card_results_are_refused(
    env: tuple[Service, PosSim], staff: str
) -> None:
    svc, pos = env
    await pos.set_faults(bad_signature=True)
    _, order = await svc.create_order(staff, order_body((44_00,)))
    await svc.app[POOL].execute(
        "UPDATE tasks SET run_at = now() + interval '1 hour'"
        " WHERE kind = 'attempt.poll' AND state = 'READY'"
    )
    started = await _card(svc, staff, order["order_no"])
    async with svc.app[POOL].acquire() as conn:
        await conn.execute(  # the new attempt's poller too
            "UPDATE tasks SET run_at = now() + interval '1 hour'"
            " WHERE kind = 'attempt.poll' AND state = 'READY'"
        )
    await pos.swipe("T0000001")
    sim_order = await polled(
        lambda: pos.order(str(started["out_trade_no"])), refused_once, timeout_s=20
    )
    assert refused_once(sim_order), sim_order
    assert await ledger_balances(svc.app[POOL], order["order_no"]) == {}
