"""同城通办 in a real browser: the clerk of the bank outlet (outlet1, 建设银行城东支行同城通办网点)
takes an order at the outlet's window, the citizen pays, the clerk prints the receipt; the hall's
order and 系统管理 are refused. The administrator records a new outlet with its bank and branch."""

from __future__ import annotations

import secrets

from playwright.async_api import expect

from tests.e2e.conftest import PageFactory, Stack
from tests.e2e.flows import (
    at_window,
    audit_actions,
    citizen_pays_at_sim_link,
    fits_staff_screen,
    manual_order,
    paid_order_no,
    refused_page,
    signed_in,
    take_order,
)

OUTLET = "CCB01"
OUTLET_NAME = "建设银行城东支行同城通办网点"


async def _hall_order(stack: Stack) -> str:
    """An order of the hall (HALL1), taken by its supervisor."""
    case_no = f"2026-BDC-E2H{secrets.randbelow(10**6):06d}"
    order = await manual_order(
        stack, case_no, [("REG_FEE", 80_00)], payer=("李四", "440524188001010014")
    )
    return str(order["order_no"])


async def test_outlet_clerk_takes_pays_and_prints_and_is_kept_to_the_outlet(
    stack: Stack, page_as: PageFactory
) -> None:
    page = await at_window(page_as, "outlet1")
    page.allow_console(r"status of 40[34]")
    await expect(page.locator("#office-name")).to_have_text(OUTLET_NAME)
    await expect(page.locator("#window-name")).to_have_text("网点窗口一")
    # a card goes to the terminal at the outlet's window
    await expect(page.locator("#terminal")).to_have_value("T0000003")
    await fits_staff_screen(page)

    case_no = f"2026-BDC-E2O{secrets.randbelow(10**6):06d}"
    await take_order(page, stack, case_no, "王五", "320102197506153018")

    await page.locator("#qr-buttons button", has_text="微信").click()
    await citizen_pays_at_sim_link(page)
    order_no = await paid_order_no(page)
    async with stack.connected() as conn:
        row = await conn.fetchrow(
            "SELECT office, window_no, state FROM orders WHERE order_no = $1", order_no
        )
    assert row is not None and (row["office"], row["window_no"]) == (OUTLET, "W01")
    assert row["state"] in ("CLEARED", "SETTLED")
    # the outlet's own list shows it
    await page.locator("#orders tr", has_text=case_no).first.wait_for()

    # the receipt, with the outlet's name on it
    await page.goto(f"/orders/{order_no}/receipt")
    await page.locator("#verify-link").wait_for()
    await expect(page.locator("h1")).to_contain_text("不动产登记税费缴费凭证", use_inner_text=True)
    await expect(page.locator("body")).to_contain_text(OUTLET_NAME, use_inner_text=True)
    await fits_staff_screen(page)

    # the hall's order does not exist for the outlet's clerk, on the page or through the API
    theirs = await _hall_order(stack)
    response = await page.goto(f"/orders/{theirs}/receipt")
    assert response is not None and response.status == 404
    await expect(page.locator("body")).not_to_contain_text("李四", use_inner_text=True)
    status, problem = await stack.api("GET", f"/api/v1/orders/{theirs}", "outlet1")
    assert (status, problem["code"]) == (404, "ORDER_NOT_FOUND")
    status, problem = await stack.api("GET", "/api/v1/orders?office=HALL1", "outlet1")
    assert (status, problem["code"]) == (403, "OFFICE_FORBIDDEN")

    # nor is 系统管理 theirs
    await refused_page(page, "/admin", "无权访问系统管理")


async def test_admin_records_an_outlet_with_its_bank_and_branch(
    stack: Stack, page_as: PageFactory
) -> None:
    page = await signed_in(page_as, "admin", "/admin")
    page.allow_console(r"status of 422")
    # the demo's outlet shows its bank and branch
    demo = page.locator(f".office-block[data-office='{OUTLET}']")
    await expect(demo).to_contain_text("中国建设银行 · 示范市分行城东支行", use_inner_text=True)

    form = page.locator("#office-form")
    bank = form.locator("[name=partner_bank]")
    await expect(bank).to_be_hidden()  # a hall has no bank
    code = f"CCB{secrets.randbelow(10**4):04d}"
    await form.locator("[name=code]").fill(code)
    await form.locator("[name=name]").fill("建设银行城西支行同城通办网点")
    await form.locator("[name=kind]").select_option("branch")
    await bank.wait_for()
    # without the bank and branch the server says what is missing, and nothing is made
    await form.locator("button[type=submit]").click()
    await page.locator("#page-error", has_text="合作银行").wait_for()
    status, listed = await stack.api("GET", "/api/v1/admin/offices", "admin")
    assert code not in [o["code"] for o in listed["offices"]]

    await bank.fill("中国建设银行")
    await form.locator("[name=branch_name]").fill("示范市分行城西支行")
    await form.locator("button[type=submit]").click()
    block = page.locator(f".office-block[data-office='{code}']")
    await block.wait_for()
    await expect(block).to_contain_text("银行网点", use_inner_text=True)
    await expect(block).to_contain_text("中国建设银行 · 示范市分行城西支行", use_inner_text=True)
    await fits_staff_screen(page)

    # its branch is renamed in the 修改类型 dialog
    await block.get_by_role("button", name="修改类型").click()
    await page.fill("#office-edit [name=branch_name]", "示范市分行城北支行")
    await page.click("#office-edit button[type=submit]")
    await block.get_by_text("中国建设银行 · 示范市分行城北支行").wait_for()

    status, listed = await stack.api("GET", "/api/v1/admin/offices", "admin")
    assert status == 200, listed
    [made] = [o for o in listed["offices"] if o["code"] == code]
    assert (made["kind"], made["partner_bank"], made["branch_name"]) == (
        "branch",
        "中国建设银行",
        "示范市分行城北支行",
    )
    actions = await audit_actions(stack, code)
    assert actions == ["office.created", "office.updated"]
