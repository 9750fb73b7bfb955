"""缴费通知书 in a real browser: a clerk opens an order at the window, issues its payment notice
with the payer's mobile number, the PDF opens in a new tab and the SMS went out once through the
simulator; finance, who may not issue one, is refused the PDF and the API. The demo itself issued
a notice at start and shows its mobile link."""

from __future__ import annotations

import io
import json
import secrets

import pypdf
from playwright.async_api import expect

from tests.e2e.conftest import PageFactory, Stack
from tests.e2e.flows import manual_order, refused_page, shows, signed_in

TAG = secrets.token_hex(3).upper()


async def _open_order(stack: Stack) -> dict[str, object]:
    lines = [("DEED_TAX", 2000_00), ("REG_FEE", 80_00)]
    return await manual_order(
        stack, f"2026-BDC-NT{TAG}", lines, payer=("李四", "440524188001010014")
    )


async def test_a_clerk_issues_a_notice_from_the_window_and_the_pdf_opens(
    stack: Stack, page_as: PageFactory
) -> None:
    order = await _open_order(stack)
    no = str(order["order_no"])
    page = await signed_in(page_as, "clerk1", "/window")
    row = page.locator(f'#orders tr[data-order-no="{no}"]')
    await row.wait_for()
    await row.get_by_role("button").click()
    # expectations, not wait_for_function (its polling needs eval, which the page's CSP refuses)
    await expect(page.locator("#c-order-no")).to_have_text(no)
    button = page.locator("#c-notice")
    await button.wait_for(state="visible")
    await expect(button).to_have_text("缴费通知书", use_inner_text=True)
    await button.click()
    await page.fill("#notice-phone", "139 0013 9000")
    async with page.expect_popup() as opened:
        await page.click("#notice-issue")
    tab = await opened.value
    info = page.locator("#c-notice-info")
    await info.wait_for(state="visible")
    await shows(info, "缴费通知书已开具", "短信已发送至 139****9000")
    href = await page.locator("#c-notice-pdf").get_attribute("href")
    assert href == f"/orders/{no}/notice.pdf"
    # the tab was pointed at the PDF; what it loads, with the clerk's own session, is the notice
    got = await page.context.request.get(stack.base_url + href)
    assert got.status == 200 and got.headers["content-type"] == "application/pdf"
    pdf = pypdf.PdfReader(io.BytesIO(await got.body()))
    words = "".join("".join(p.extract_text() for p in pdf.pages).split())
    assert "不动产登记税费缴费通知书" in words and order["case_no"] in words
    assert "李*" in words and "440524188001010014" not in words
    await tab.close()
    # the SMS went out once, to that number, carrying this order's link token
    status, listed = await stack.api("GET", f"/api/v1/orders/{no}/notices", "clerk1")
    assert status == 200 and len(listed["notices"]) == 1
    link = listed["notices"][0]["link"]
    status, outbox = await stack.api("GET", f"{stack.sim('sms')}/sim/outbox?phone=%2B8613900139000")
    [message] = [m for m in outbox["messages"] if m["params"][0] == order["case_no"]]
    assert link.endswith("/m/" + message["params"][3]) and link in message["content"]
    # later, or on another screen, the panel still says what was issued and sent
    await page.reload()
    await row.get_by_role("button").click()
    await expect(info).to_contain_text("139****9000")
    await expect(info).to_contain_text("开具缴费通知书", use_inner_text=True)
    # a paid-for or cancelled order offers no notice
    status, _ = await stack.api(
        "POST", f"/api/v1/orders/{no}/cancel", "clerk1", json={"reason": "缴款人放弃缴费"}
    )
    assert status == 200
    await button.wait_for(state="hidden")


async def test_finance_may_not_issue_or_open_a_notice(stack: Stack, page_as: PageFactory) -> None:
    order = await _open_order(stack)
    no = order["order_no"]
    status, issued = await stack.api("POST", f"/api/v1/orders/{no}/notice", "clerk1", json={})
    assert status == 201, issued
    page = await page_as("finance1")
    page.allow_console(r"403")
    await refused_page(page, f"/orders/{no}/notice.pdf", "无权查看缴费通知书")
    status, body = await stack.api("POST", f"/api/v1/orders/{no}/notice", "finance1", json={})
    assert (status, body["code"]) == (403, "ROLE_FORBIDDEN")
    assert "窗口工作人员" in body["detail_zh"]


async def test_the_demo_issued_a_notice_and_prints_its_mobile_link(stack: Stack) -> None:
    urls = json.loads((stack.var_dir / "demo-urls.json").read_text())
    link = urls["notice_link"]
    assert link and link.startswith(stack.base_url + "/m/") and len(link) <= 80
    assert link in (stack.var_dir / "demo.out").read_text()
    status, outbox = await stack.api("GET", f"{stack.sim('sms')}/sim/outbox?phone=%2B8613800138000")
    assert status == 200
    assert any(link in m["content"] for m in outbox["messages"])
