"""The counter's main job in a real browser: sign in, order from the tax bureau's declaration,
show the WeChat QR, the citizen pays, the screen turns to 已缴费 by itself."""

from __future__ import annotations

import re

import aiohttp

from tests.e2e.conftest import PageFactory, Stack


async def _declaration(stack: Stack, name: str, pid: str) -> str:
    async with (
        aiohttp.ClientSession() as s,
        s.post(f"{stack.sim('tax')}/sim/cases", json={"buyer_name": name, "buyer_id": pid}) as r,
    ):
        body = await r.json()
        assert r.status in (200, 201), body
        return str(body["declaration_no"])


async def test_clerk_takes_a_wechat_payment_and_the_screen_follows(
    stack: Stack, page_as: PageFactory
) -> None:
    page = await page_as("clerk1")
    await page.wait_for_url("**/window")
    await page.get_by_text("实时连接").wait_for()
    declaration = await _declaration(stack, "张三", "11010519491231002X")

    await page.fill("#case-no", "2026-BDC-E2E001")
    await page.fill("#payer-name", "张三")
    await page.fill("#payer-id", "11010519491231002X")
    await page.fill("#declaration-no", declaration)
    await page.click("#lookup-case")
    await page.locator("#due-lines tr").first.wait_for()
    assert "契税" in await page.inner_text("#due-lines")
    await page.click("#submit-order")
    await page.locator("#current").wait_for()
    total = await page.inner_text("#c-total")
    assert re.search(r"¥[\d,]+\.\d\d", total), total
    assert (await page.inner_text("#c-capital")).endswith(("整", "分", "角"))

    await page.locator("#qr-buttons button", has_text="微信").click()
    sim_link = page.locator("#c-sim")
    await sim_link.wait_for()
    # the citizen scans and pays: the simulator's own page, as its link opens it
    async with page.context.expect_page() as popup_info:
        await sim_link.click()
    citizen = await popup_info.value
    await citizen.wait_for_load_state()
    await citizen.get_by_role("button").filter(has_text=re.compile("支付|付款|确认")).first.click()

    await page.locator("#c-paid").wait_for(timeout=15_000)
    assert "已缴费" in await page.inner_text("#c-paid")
    receipt = await page.get_attribute("#c-print", "href")
    match = re.search(r"/orders/([^/]+)/receipt", receipt or "")
    assert match, receipt
    order_no = match.group(1)
    status, order = await stack.api("GET", f"/api/v1/orders/{order_no}", "clerk1")
    assert status == 200, order
    assert order["state"] in ("CLEARED", "SETTLED")
