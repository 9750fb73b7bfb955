"""A declined card at the window, in a real browser (issue 10, item 1): while the sale is on the
terminal the other ways of paying are disabled; when the terminal declines, the screen stops
waiting and says why in Chinese within two seconds, and the clerk can start the next sale."""

from __future__ import annotations

import time

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import PageFactory, Stack, Watched
from tests.e2e.flows import at_window, sim_post, window_ready

# the second terminal: the first is the one a clerk picks by default in other tests
TERMINAL = "T0000002"
PAYER = ("张三", "11010519491231002X")


async def _new_order(stack: Stack, page: Watched, case_no: str) -> None:
    """An order from the tax bureau's declaration, made at the screen as the clerk makes it."""
    decl = await sim_post(
        f"{stack.sim('tax')}/sim/cases", {"buyer_name": PAYER[0], "buyer_id": PAYER[1]}
    )
    await window_ready(page)
    await page.fill("#case-no", case_no)
    await page.fill("#payer-name", PAYER[0])
    await page.fill("#payer-id", PAYER[1])
    await page.fill("#declaration-no", str(decl["declaration_no"]))
    await page.click("#lookup-case")
    await page.locator("#due-lines tr").first.wait_for()
    await page.click("#submit-order")
    await page.locator("#pay").wait_for()


async def _disabled(page: Watched, selector: str) -> list[bool]:
    return [await b.is_disabled() for b in await page.locator(selector).all()]


@pytest.mark.parametrize("user", ["clerk1", "super1"])
async def test_a_declined_card_tells_the_clerk_why_and_the_buttons_work_again(
    stack: Stack, page_as: PageFactory, user: str
) -> None:
    page = await at_window(page_as, user)
    await _new_order(stack, page, f"2026-BDC-DECL-{user}")

    await page.select_option("#terminal", TERMINAL)
    await page.click("#card-start")
    await page.locator("#c-wait").wait_for()
    await expect(page.locator("#c-wait-text")).to_contain_text("插卡", use_inner_text=True)
    # while the sale is on the terminal, no other way of paying can start
    assert await _disabled(page, "#qr-buttons button") == [True, True, True]
    await expect(page.locator("#code-submit")).to_be_disabled()
    await expect(page.locator("#card-start")).to_be_disabled()

    # the citizen's card has too little money on it
    declined_at = time.monotonic()
    sale = await sim_post(f"{stack.sim('pos')}/sim/terminals/{TERMINAL}/swipe", {"resp_code": "51"})
    assert sale["state"] == "DECLINED", sale
    await page.locator("#pay-error", has_text="余额不足").wait_for(timeout=2_000)
    shown_after = time.monotonic() - declined_at
    assert shown_after < 2.0, f"the reason appeared after {shown_after:.2f}s"
    await page.locator("#c-wait").wait_for(state="hidden", timeout=2_000)
    await expect(page.locator("#pay-error")).to_contain_text("刷卡未成功", use_inner_text=True)
    assert await _disabled(page, "#qr-buttons button") == [False, False, False]
    assert not await page.is_disabled("#code-submit")

    # the clerk tries again; this time the PIN is right and the card pays
    await page.click("#card-start")
    await page.locator("#c-wait").wait_for()
    await expect(page.locator("#pay-error")).to_have_text("", use_inner_text=True)
    await sim_post(f"{stack.sim('pos')}/sim/terminals/{TERMINAL}/swipe", {})
    await page.locator("#c-paid").wait_for(timeout=15_000)
    await expect(page.locator("#c-paid")).to_contain_text("已缴费", use_inner_text=True)


async def test_a_wrong_pin_reads_as_such_and_another_way_of_paying_is_open(
    stack: Stack, page_as: PageFactory
) -> None:
    page = await at_window(page_as, "clerk1")
    await _new_order(stack, page, "2026-BDC-DECL-PIN")
    await page.select_option("#terminal", TERMINAL)
    await page.click("#card-start")
    await page.locator("#c-wait").wait_for()
    await sim_post(f"{stack.sim('pos')}/sim/terminals/{TERMINAL}/swipe", {"resp_code": "55"})
    await page.locator("#pay-error", has_text="密码错误").wait_for(timeout=2_000)
    # the citizen would rather scan: the WeChat QR opens
    await page.locator("#qr-buttons button", has_text="微信").click()
    await page.locator("#c-qr").wait_for()
    assert (
        await page.get_attribute("#qr-buttons button[data-provider=wechatpay]", "aria-pressed")
        == "true"
    )
