"""A card declined at the window's terminal (issue 10, item 1): the attempt fails with the
terminal's reason in Chinese within two seconds, the window's event stream says so, and the
clerk can start the next sale — through the real service and the real terminal simulator."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from clearing.api.keys import POOL
from tests.integration.pos_harness import PosSim, card_service_fixture
from tests.integration.service_harness import Service, order_body

TERMINAL = "T0000001"


env = card_service_fixture(
    "decline",
    [TERMINAL],
    workers=2,
    # the poller asks as the service does by default: the decline must not wait for it
    code_poll_s=2.0,
    card_wait_s=60.0,
)


@pytest.fixture(autouse=True)
async def _faults(env: tuple[Service, PosSim]) -> AsyncIterator[None]:
    await env[1].reset_faults()
    yield


@pytest.fixture(scope="module")
async def clerk(env: tuple[Service, PosSim]) -> str:
    return await env[0].add_user("clerk", "HALL1")


async def _order(svc: Service) -> str:
    status, order = await svc.create_order(await svc.supervisor(), order_body((1234_00,)))
    assert status == 201, order
    return str(order["order_no"])


async def _card(svc: Service, clerk: str, order_no: str) -> tuple[int, Any]:
    return await svc.request(
        "POST",
        f"/api/v1/orders/{order_no}/payments",
        clerk,
        json={"method": "card", "terminal_id": TERMINAL},
    )


async def _attempt(svc: Service, clerk: str, order_no: str, out_trade_no: str) -> dict[str, Any]:
    order = await svc.answered("GET", f"/api/v1/orders/{order_no}", clerk)
    return next(a for a in order["attempts"] if a["out_trade_no"] == out_trade_no)


async def _failed_within(
    svc: Service, clerk: str, order_no: str, out_trade_no: str, within_s: float
) -> dict[str, Any]:
    deadline = time.monotonic() + within_s
    while True:
        attempt = await _attempt(svc, clerk, order_no, out_trade_no)
        if attempt["state"] != "OPEN" or time.monotonic() > deadline:
            return attempt
        await asyncio.sleep(0.05)


async def _next_event(stream: aiohttp.StreamReader) -> dict[str, Any]:
    while True:
        line = (await stream.readline()).decode()
        if line.startswith("data: "):
            return dict(json.loads(line[6:]))


@pytest.mark.parametrize(("resp_code", "reason"), [("51", "余额不足"), ("55", "密码错误")])
async def test_a_declined_card_fails_the_attempt_and_tells_the_window_why(
    env: tuple[Service, PosSim], clerk: str, resp_code: str, reason: str
) -> None:
    svc, pos = env
    order_no = await _order(svc)
    status, started = await _card(svc, clerk, order_no)
    assert status == 201, started
    async with svc.session.get(
        f"{svc.base_url}/api/v1/events?office=HALL1&window=W01",
        headers={"Authorization": f"Bearer {clerk}"},
    ) as stream:
        assert await stream.content.readline() == b": connected\n"
        began = time.monotonic()
        status, sale = await pos.swipe(TERMINAL, resp_code=resp_code)
        assert status == 200 and sale["state"] == "DECLINED", sale
        async with asyncio.timeout(2):
            event = await _next_event(stream.content)
            while event.get("type") != "attempt_failed":
                event = await _next_event(stream.content)
        heard = time.monotonic() - began
    assert heard < 2.0, f"the window heard of the decline after {heard:.2f}s"
    assert event["order_no"] == order_no and event["out_trade_no"] == started["out_trade_no"]
    assert event["reason_zh"] == reason
    attempt = await _attempt(svc, clerk, order_no, started["out_trade_no"])
    assert (attempt["state"], attempt["failure_zh"]) == ("FAILED", reason)
    audited = await svc.app[POOL].fetchval(
        "SELECT detail FROM audit_log WHERE action = 'attempt.failed' AND object_id = $1",
        order_no,
    )
    assert audited is not None and audited["code"] == resp_code
    # the order's history says it too, in words staff read
    history = await svc.answered("GET", f"/api/v1/orders/{order_no}/timeline", clerk)
    failed = [e for e in history["events"] if e["kind"] == "attempt.failed"]
    assert [(e["title"], e["who"]) for e in failed] == [("支付未成功", "银行卡")]
    assert reason in failed[0]["detail"]

    # the clerk tries again at once: the terminal takes the next sale, and this card pays
    status, again = await _card(svc, clerk, order_no)
    assert status == 201, again
    status, _ = await pos.swipe(TERMINAL)
    assert status == 200
    await svc.wait_state(clerk, order_no, "CLEARED")


async def test_a_decline_whose_notification_is_lost_is_found_by_asking(
    env: tuple[Service, PosSim], clerk: str
) -> None:
    svc, pos = env
    await pos.set_faults(drop_callbacks=1.0)
    order_no = await _order(svc)
    status, started = await _card(svc, clerk, order_no)
    assert status == 201, started
    status, _ = await pos.swipe(TERMINAL, resp_code="51")
    assert status == 200
    # the poller asks every 2 s; a loaded machine gets a little more
    attempt = await _failed_within(svc, clerk, order_no, started["out_trade_no"], 6.0)
    assert (attempt["state"], attempt["failure_zh"]) == ("FAILED", "余额不足")
    status, order = await svc.request("GET", f"/api/v1/orders/{order_no}", clerk)
    assert order["state"] in ("OPEN", "PAYING")  # still payable another way


async def test_a_payment_code_the_citizen_gives_up_on_ends_its_attempt_too(
    env: tuple[Service, PosSim], clerk: str
) -> None:
    svc, _ = env
    # the citizen is asked for the password on the phone, then gives up
    await svc.sim.set_faults(user_paying=True, user_paying_s=0.3, user_paying_result="PAYERROR")
    try:
        order_no = await _order(svc)
        status, started = await svc.request(
            "POST",
            f"/api/v1/orders/{order_no}/payments",
            clerk,
            json={"method": "code", "auth_code": "134567890123456789"},
        )
        assert (status, started["state"]) == (201, "OPEN"), started
        attempt = await _failed_within(svc, clerk, order_no, started["out_trade_no"], 8.0)
    finally:
        await svc.sim.reset_faults()
    # before, it stayed open (the window waiting) until the reversal a minute later
    assert (attempt["state"], attempt["failure_zh"]) == ("FAILED", "支付渠道报告付款失败")
