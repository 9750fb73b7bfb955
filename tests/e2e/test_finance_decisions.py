"""The second person's decision on the finance page, in a real browser: a refund the hall's
supervisor asked for, and a beneficiary account correction another finance user asked for. A
rejection needs a reason before anything is sent; a decision closes its dialog and says what
happened; the requester of a correction is not offered the decision on it."""

from __future__ import annotations

import secrets

from playwright.async_api import expect

from tests.e2e.conftest import PageFactory, Stack
from tests.e2e.flows import fits_staff_screen, manual_order, paid_by_wechat_qr


async def _paid_order(stack: Stack) -> str:
    case_no = f"2026-BDC-FD{secrets.randbelow(10**6):06d}"
    order = await manual_order(stack, case_no, (("DEED_TAX", 300_00), ("REG_FEE", 80_00)))
    order_no = str(order["order_no"])
    await paid_by_wechat_qr(stack, order_no)
    return order_no


async def test_finance_rejects_only_with_a_reason_and_approves_a_refund(
    stack: Stack, page_as: PageFactory
) -> None:
    order_no = await _paid_order(stack)
    status, refund = await stack.api(
        "POST",
        f"/api/v1/orders/{order_no}/refunds",
        "super1",
        json={"lines": [2], "reason": "登记费减免"},
    )
    assert status == 201, refund
    no = refund["out_refund_no"]

    page = await page_as("finance1")
    await page.goto("/finance")
    await page.get_by_role("button", name=f"驳回退款申请 {no}").click()
    dialog = page.locator("#decide-dialog")
    await expect(dialog).to_be_visible()
    await expect(page.locator("#decide-title")).to_have_text("驳回退款申请")
    await fits_staff_screen(page)
    await page.click("#decide-confirm")
    await expect(page.locator("#decide-error")).to_have_text(
        "请填写驳回原因，以便值班主任了解情况。"
    )
    await expect(page.locator("#decide-note")).to_have_attribute("aria-invalid", "true")
    await page.click("#decide-back")
    await expect(dialog).to_be_hidden()

    await page.get_by_role("button", name=f"同意退款申请 {no}").click()
    await expect(page.locator("#decide-title")).to_have_text("同意退款")
    await expect(page.locator("#decide-note")).to_have_value("")
    await expect(page.locator("#decide-error")).to_have_text("")
    await page.click("#decide-confirm")
    await expect(dialog).to_be_hidden()
    await expect(page.locator("#flash")).to_have_text(
        f"已同意退款申请 {no}（¥80.00），款项将按原支付渠道退回缴款人。"
    )
    await expect(page.get_by_role("button", name=f"同意退款申请 {no}")).to_have_count(0)
    status, refunds = await stack.api("GET", f"/api/v1/orders/{order_no}/refunds", "finance1")
    assert status == 200, refunds
    assert refunds["refunds"][-1]["state"] != "REQUESTED", refunds
    assert refunds["refunds"][-1]["decided_by"] == "finance1", refunds


async def test_another_person_rejects_an_account_correction_with_a_reason(
    stack: Stack, page_as: PageFactory
) -> None:
    status, listed = await stack.api("GET", "/api/v1/beneficiaries", "finance1")
    assert status == 200, listed
    target = next(b for b in listed["beneficiaries"] if not b["open_change"])
    status, change = await stack.api(
        "POST",
        f"/api/v1/beneficiaries/{target['code']}/account-changes",
        "finance1",
        json={
            "account_no": "6217000010000099999",
            "account_name": target["account_name"],
            "bank_name": "示范银行城东支行",
            "bank_code": "313100000099",
            "reason": "银行来函 2026-017",
        },
    )
    assert status == 201, change
    name = target["name"]

    requester = await page_as("finance1")
    await requester.goto("/finance")
    await expect(requester.locator("#changes")).to_contain_text("待其他财务人员审批")
    await expect(requester.get_by_role("button", name=f"同意 {name} 的账户更正")).to_have_count(0)

    admin = await page_as("admin")
    await admin.goto("/finance")
    await admin.get_by_role("button", name=f"驳回 {name} 的账户更正").click()
    await expect(admin.locator("#acct-decide-dialog")).to_be_visible()
    await expect(admin.locator("#acct-decide-title")).to_have_text("驳回账户更正")
    await expect(admin.locator("#ad-beneficiary")).to_have_text(name)
    await admin.click("#ad-confirm")
    await expect(admin.locator("#ad-error")).to_have_text("请填写驳回原因，以便申请人了解情况。")
    await expect(admin.locator("#ad-note")).to_have_attribute("aria-invalid", "true")
    await admin.fill("#ad-note", "联行号与来函不符")
    await expect(admin.locator("#ad-note")).not_to_have_attribute("aria-invalid", "true")
    await admin.click("#ad-confirm")
    await expect(admin.locator("#acct-decide-dialog")).to_be_hidden()
    await expect(admin.locator("#acct-flash")).to_have_text(
        f"已驳回 {name} 的账户更正申请，原账户不变。"
    )
    await expect(admin.get_by_role("button", name=f"驳回 {name} 的账户更正")).to_have_count(0)
    status, decided = await stack.api("GET", "/api/v1/account-changes", "finance1")
    assert status == 200, decided
    mine = next(c for c in decided["changes"] if c["id"] == change["id"])
    assert (mine["state"], mine["decided_by"], mine["note"]) == (
        "REJECTED",
        "admin",
        "联行号与来函不符",
    ), mine
