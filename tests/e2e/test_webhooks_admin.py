"""事件通知 on 系统管理, in a real browser: the demo's case system is subscribed; an event it could
not take (it was down for the whole, compressed, 24 hours) is in the dead-letter view, and the
administrator's 重新投递 brings it to the case system once it is back. Other roles are refused."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from tests.e2e.conftest import PageFactory, Stack
from tests.e2e.flows import (
    api_when,
    fits_staff_screen,
    manual_order,
    refused_page,
    shows,
    signed_in,
    when,
)


async def _casesys(stack: Stack, method: str, path: str, body: Any = None) -> Any:
    status, answer = await stack.api(method, stack.sim("casesys") + path, json=body)
    assert status == 200, answer
    return answer


async def _cancelled_order(stack: Stack) -> str:
    case_no = f"2026-BDC-HOOK{secrets.randbelow(10_000):04d}"
    order = await manual_order(stack, case_no, [("REG_FEE", 80_00)], reason="测试：事件通知")
    status, done = await stack.api(
        "POST", f"/api/v1/orders/{order['order_no']}/cancel", "super1", json={"reason": "测试"}
    )
    assert status == 200, done
    return str(order["order_no"])


async def _delivery_in(stack: Stack, order_no: str, state: str, within_s: float = 60) -> None:
    """The event of ``order_no`` is listed in ``state`` (DEAD, DELIVERED)."""
    path = f"/api/v1/admin/webhook-deliveries?state={state}&order_no={order_no}"
    await api_when(stack, path, lambda found: found["deliveries"], "admin", within_s=within_s)


async def test_admin_resends_a_dead_letter_and_the_case_system_gets_it(
    stack: Stack, page_as: PageFactory
) -> None:
    await _casesys(stack, "PUT", "/sim/faults", {"down": True})
    try:
        order_no = await _cancelled_order(stack)
        await _delivery_in(stack, order_no, "DEAD")
    finally:
        await _casesys(stack, "PUT", "/sim/faults", {"down": False})
    page = await signed_in(page_as, "admin", "/admin")
    hooks = page.locator("#hooks tr", has_text="不动产登记业务系统（模拟）")
    await hooks.first.wait_for()
    await shows(hooks.first, "缴费成功")
    await page.select_option("#delivery-filter", "DEAD")
    row = page.locator(f"#deliveries tr[data-order='{order_no}']")
    await row.wait_for()
    await shows(row, "投递失败（死信）", "缴费单已撤销", "503")
    await row.get_by_role("button", name="重新投递").click()
    await page.get_by_text(f"已安排重新投递：缴费单 {order_no}").wait_for()
    await when(
        lambda: _casesys(stack, "GET", "/sim/events"),
        lambda seen: seen["by_order"].get(order_no) == ["order.cancelled"],
        30,
    )
    # the case system has it; the delivery is recorded as delivered just after its answer
    await _delivery_in(stack, order_no, "DELIVERED", 30)
    await page.select_option("#delivery-filter", "DELIVERED")
    await page.locator(f"#deliveries tr[data-order='{order_no}']", has_text="已送达").wait_for()
    await fits_staff_screen(page)
    async with stack.connected() as conn:
        resent = await conn.fetchval(
            "SELECT actor FROM audit_log WHERE action = 'webhook.resent'"
            " AND detail->>'was' = 'DEAD' ORDER BY id DESC LIMIT 1"
        )
    assert resent == "user:admin"


async def test_the_case_system_hears_a_payment(stack: Stack) -> None:
    """The demo subscribes its case system: a paid order's event arrives there, signed."""
    order = await manual_order(
        stack,
        "2026-BDC-HOOKPAY",
        [("REG_FEE", 80_00)],
        payer=("李四", "440524188001010014"),
        reason="测试：事件通知",
    )
    status, started = await stack.api(
        "POST", f"/api/v1/orders/{order['order_no']}/payments", "super1",
        json={"method": "qr", "channel": "wechatpay"},
    )  # fmt: skip
    assert status == 201, started
    status, paid = await stack.api(
        "POST", f"{stack.sim('wechatpay')}/sim/orders/{started['out_trade_no']}/pay"
    )
    assert status == 200, paid
    seen = await when(
        lambda: _casesys(stack, "GET", "/sim/events"),
        lambda seen: "order.paid" in seen["by_order"].get(order["order_no"], []),
        30,
    )
    [event] = [e for e in seen["events"] if e["order_no"] == order["order_no"]]
    assert (event["case_no"], event["paid_fen"]) == ("2026-BDC-HOOKPAY", 80_00)


@pytest.mark.parametrize("username", ["clerk1", "super1", "finance1", "auditor1"])
async def test_other_roles_are_refused_the_webhooks(
    stack: Stack, page_as: PageFactory, username: str
) -> None:
    for method, path in (
        ("GET", "/api/v1/admin/webhooks"),
        ("GET", "/api/v1/admin/webhook-deliveries?state=DEAD"),
        ("POST", "/api/v1/admin/webhook-deliveries/1/resend"),
        ("POST", "/api/v1/admin/webhooks/1/secret"),
    ):
        status, problem = await stack.api(method, path, username)
        assert (status, problem["code"]) == (403, "ROLE_FORBIDDEN"), (username, path)
        assert problem["detail_zh"] == "您的角色无权执行此操作"
    page = await page_as(username)
    page.allow_console(r"status of 403")
    await refused_page(page, "/admin", "无权访问系统管理")
