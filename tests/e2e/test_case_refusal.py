"""An authority's refusal at the window, in a real browser (issue 10, item 3): the authority's
reason in Chinese and no retry button, since asking again cannot change its answer; an authority
that does not answer gets a retry button that works once it is back; a reference another order
holds is named before the clerk submits."""

from __future__ import annotations

import re

import aiohttp
import pytest
from playwright.async_api import expect

from tests.e2e.conftest import PageFactory, Stack, Watched
from tests.e2e.flows import signed_in, window_ready

PAYER = ("李四", "440524188001010014")
UNKNOWN_DECLARATION = "199999999999999999"  # the bureau's number shape; never issued


async def _declaration(stack: Stack) -> str:
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            f"{stack.sim('tax')}/sim/cases", json={"buyer_name": PAYER[0], "buyer_id": PAYER[1]}
        ) as r,
    ):
        body = await r.json()
        assert r.status in (200, 201), body
        return str(body["declaration_no"])


async def _tax_faults(stack: Stack, method: str, body: dict[str, object] | None = None) -> None:
    async with (
        aiohttp.ClientSession() as s,
        s.request(method, f"{stack.sim('tax')}/sim/faults", json=body) as r,
    ):
        assert r.status == 200, await r.text()


async def _fill(page: Watched, case_no: str, declaration: str) -> None:
    await window_ready(page)
    await page.fill("#case-no", case_no)
    await page.fill("#payer-name", PAYER[0])
    await page.fill("#payer-id", PAYER[1])
    await page.fill("#declaration-no", declaration)


@pytest.mark.parametrize("user", ["clerk1", "super1"])
async def test_an_unknown_declaration_shows_the_bureau_s_reason_and_no_retry(
    stack: Stack, page_as: PageFactory, user: str
) -> None:
    page = await signed_in(page_as, user, "/window")
    await _fill(page, f"2026-BDC-REFUSED-{user}", UNKNOWN_DECLARATION)
    await page.click("#lookup-case")
    failure = page.locator("#lookup-failures li").first
    await expect(failure).to_contain_text(UNKNOWN_DECLARATION, use_inner_text=True)
    text = await failure.inner_text()
    assert text.startswith("税务部门："), text
    assert UNKNOWN_DECLARATION in text and "稍后" not in text
    await expect(page.locator("#lookup-failures button")).to_have_count(0)
    # submitting anyway: refused for good, in Chinese, nothing made
    page.allow_console(r"status of 422")
    await page.click("#submit-order")
    # whatever the answer, read it: a failure then says what the screen said instead
    # a locator's expectation, not wait_for_function: that polls through new Function(), which
    # the page's Content-Security-Policy (no unsafe-eval) refuses once the first try is false
    await expect(page.locator("#form-error")).to_have_text(re.compile("^主管部门不受理该凭证"))
    message = await page.inner_text("#form-error")
    assert message.startswith("主管部门不受理该凭证"), message
    assert "税务部门" in message and "稍后" not in message and "查询失败" not in message
    await expect(page.locator("#current")).to_be_hidden()


async def test_a_bureau_that_is_down_can_be_asked_again_once_it_is_back(
    stack: Stack, page_as: PageFactory
) -> None:
    page = await signed_in(page_as, "clerk1", "/window")
    await _fill(page, "2026-BDC-REFUSED-2", await _declaration(stack))
    await _tax_faults(stack, "PUT", {"down": True})
    try:
        await page.click("#lookup-case")
        retry = page.locator("#lookup-failures button", has_text="重新查询税务部门")
        await retry.wait_for()
        await expect(page.locator("#lookup-failures")).to_contain_text("稍后", use_inner_text=True)
    finally:
        await _tax_faults(stack, "DELETE")
    await retry.click()
    # the registration fee's line was there already (the local schedule); the bureau's join it
    await page.locator("#due-lines tr", has_text="契税").first.wait_for()
    await expect(page.locator("#lookup-failures li")).to_have_count(0)


async def test_a_reference_in_another_open_order_is_named_at_lookup(
    stack: Stack, page_as: PageFactory
) -> None:
    page = await signed_in(page_as, "clerk1", "/window")
    declaration = await _declaration(stack)
    await _fill(page, "2026-BDC-REFUSED-3", declaration)
    await page.click("#lookup-case")
    await page.locator("#due-lines tr").first.wait_for()
    await page.click("#submit-order")
    await page.locator("#current").wait_for()
    await expect(page.locator("#c-order-no")).to_have_text(re.compile(r"\S"), use_inner_text=True)
    order_no = await page.inner_text("#c-order-no")
    # the next citizen brings the same declaration
    await _fill(page, "2026-BDC-REFUSED-4", declaration)
    await page.click("#lookup-case")
    warning = page.locator("#lookup-failures li.warning").first
    await warning.wait_for()
    await expect(warning).to_contain_text(f"已在缴费单 {order_no}", use_inner_text=True)
    await expect(page.locator("#lookup-failures button")).to_have_count(0)
