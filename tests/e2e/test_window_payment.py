"""The counter's main job in a real browser: sign in, order from the tax bureau's declaration,
show the WeChat QR, the citizen pays, the screen turns to 已缴费 by itself."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.e2e.conftest import PageFactory, Stack
from tests.e2e.flows import at_window, citizen_pays_at_sim_link, look_up_case, paid_order_no


async def test_clerk_takes_a_wechat_payment_and_the_screen_follows(
    stack: Stack, page_as: PageFactory
) -> None:
    page = await at_window(page_as, "clerk1")

    await look_up_case(page, stack, "2026-BDC-E2E001", "张三", "11010519491231002X")
    await expect(page.locator("#due-lines")).to_contain_text("契税", use_inner_text=True)
    await page.click("#submit-order")
    await page.locator("#current").wait_for()
    total = re.compile(r"¥[\d,]+\.\d\d")
    await expect(page.locator("#c-total")).to_have_text(total, use_inner_text=True)
    await expect(page.locator("#c-capital")).to_have_text(
        re.compile("[整分角]$"), use_inner_text=True
    )

    await page.locator("#qr-buttons button", has_text="微信").click()
    await citizen_pays_at_sim_link(page)
    order_no = await paid_order_no(page)
    status, order = await stack.api("GET", f"/api/v1/orders/{order_no}", "clerk1")
    assert status == 200, order
    assert order["state"] in ("CLEARED", "SETTLED")
