"""The receipt in a real browser: after a partial refund the old QR code says the paper is void,
the clerk reprints (补打) from the receipt page and the new paper shows 已退, the net paid and the
reprint count; roles that may not reprint are refused."""

from __future__ import annotations

import re
import secrets

from playwright.async_api import expect

from tests.e2e.conftest import PageFactory, Stack
from tests.e2e.flows import api_when, fits_staff_screen, manual_order, paid_by_wechat_qr

AMOUNTS = (1000_00, 80_00, 500_00)  # 契税, 不动产登记费, 住宅专项维修资金; line 2 is refunded


async def _paid_order(stack: Stack) -> str:
    case_no = f"2026-BDC-E2E{secrets.randbelow(10**6):06d}"
    lines = zip(("DEED_TAX", "REG_FEE", "MAINT_FUND"), AMOUNTS, strict=True)
    order = await manual_order(stack, case_no, lines)
    order_no = str(order["order_no"])
    await paid_by_wechat_qr(stack, order_no)
    return order_no


async def _refund_line_2(stack: Stack, order_no: str) -> None:
    status, req = await stack.api(
        "POST",
        f"/api/v1/orders/{order_no}/refunds",
        "super1",
        json={"lines": [2], "reason": "登记费减免"},
    )
    assert status == 201, req
    status, _ = await stack.api("POST", f"/api/v1/refunds/{req['id']}/approve", "finance1", json={})
    assert status == 200
    await api_when(
        stack,
        f"/api/v1/orders/{order_no}/refunds",
        lambda b: b["refunds"][-1]["state"] == "SUCCEEDED",
    )
    await api_when(
        stack, f"/api/v1/orders/{order_no}", lambda o: o["state"] in ("CLEARED", "SETTLED")
    )


async def test_a_partly_refunded_receipt_is_void_and_the_clerk_reprints_it(
    stack: Stack, page_as: PageFactory
) -> None:
    order_no = await _paid_order(stack)
    clerk = await page_as("clerk1")
    await clerk.goto(f"/orders/{order_no}/receipt")
    await clerk.locator("#verify-link").wait_for()
    await expect(clerk.locator("h1")).to_contain_text("不动产登记税费缴费凭证", use_inner_text=True)
    await expect(clerk.locator("#reprint-badge")).to_have_count(0)
    await fits_staff_screen(clerk)
    old_qr = await clerk.get_attribute("#verify-link", "href")
    assert old_qr and len(old_qr) <= 80, old_qr

    citizen = await page_as(None)
    await citizen.goto(old_qr)
    await expect(citizen.locator("#verdict-title")).to_have_text(
        "凭证真实有效", use_inner_text=True
    )

    await _refund_line_2(stack, order_no)
    # the paper's QR code now says it is void, and what stands
    await citizen.goto(old_qr)
    await expect(citizen.locator("#verdict-title")).to_have_text(
        "已部分退款，凭证已失效", use_inner_text=True
    )
    refunded = citizen.locator("tr.refunded")
    await expect(refunded).to_have_count(1)
    await expect(refunded).to_contain_text("不动产登记费", use_inner_text=True)
    await expect(refunded).to_contain_text("已退", use_inner_text=True)
    await expect(citizen.locator("#verdict-paid")).to_have_text("¥1,500.00", use_inner_text=True)

    # the clerk's receipt page says the printed paper is void and offers 补打, not 打印
    await clerk.reload()
    await clerk.locator("#receipt-banner").wait_for()
    await expect(clerk.locator("#receipt-banner")).to_contain_text(
        "凭证已失效", use_inner_text=True
    )
    await expect(clerk.locator("#print-receipt")).to_have_count(0)
    await clerk.select_option("#reprint-reason", "部分退款后重新出具")
    await clerk.click("#reprint")
    await clerk.wait_for_url(re.compile(r"/receipt\?n=2$"))
    await expect(clerk.locator("#reprint-badge")).to_have_text(
        "补打（第 1 次）", use_inner_text=True
    )
    await expect(clerk.locator("#receipt-no")).to_have_text(f"{order_no}-2", use_inner_text=True)
    row = clerk.locator("tr.refunded")
    await expect(row).to_contain_text("不动产登记费", use_inner_text=True)
    await expect(row).to_contain_text("已退", use_inner_text=True)
    await expect(clerk.locator("#net-paid")).to_have_text("¥1,500.00", use_inner_text=True)
    await expect(clerk.locator("#refunded-total")).to_have_text("¥80.00", use_inner_text=True)
    await expect(clerk.locator("#print-receipt")).to_be_visible()
    await fits_staff_screen(clerk)

    # the reprint's own QR code verifies, and says it is a reprint
    new_qr = await clerk.get_attribute("#verify-link", "href")
    assert new_qr and new_qr != old_qr and len(new_qr) <= 80
    await citizen.goto(new_qr)
    await expect(citizen.locator("#verdict-title")).to_have_text(
        "凭证真实有效", use_inner_text=True
    )
    await expect(citizen.locator("main")).to_contain_text("补打（第 1 次）", use_inner_text=True)
    await fits_staff_screen(citizen)


async def test_roles_that_may_not_reprint_are_refused(stack: Stack, page_as: PageFactory) -> None:
    order_no = await _paid_order(stack)
    clerk = await page_as("clerk1")
    await clerk.goto(f"/orders/{order_no}/receipt")  # the original print
    await clerk.locator("#reprint").wait_for()

    finance = await page_as("finance1")
    await finance.goto(f"/orders/{order_no}/receipt")
    await finance.locator("#verify-link").wait_for()
    await expect(finance.locator("#reprint")).to_have_count(0)  # no 补打 for finance
    # a hand-made form posted from our own page, as a finance user: the 403 screen
    finance.allow_console("403")
    await finance.evaluate(
        """(action) => {
            const f = document.createElement("form");
            f.method = "post";
            f.action = action;
            const r = document.createElement("input");
            r.name = "reason";
            r.value = "凭证遗失";
            f.append(r);
            document.body.append(f);
            f.submit();
        }""",
        f"/orders/{order_no}/receipt/reprints",
    )
    await finance.get_by_text("只有窗口收费员或值班主任可以补打缴费凭证").wait_for()
    await expect(finance.locator("h1")).to_have_text("无权补打", use_inner_text=True)

    for user in ("finance1", "auditor1", "admin"):
        status, problem = await stack.api(
            "POST",
            f"/api/v1/orders/{order_no}/receipt/reprints",
            user,
            json={"reason": "凭证遗失"},
        )
        assert (status, problem["code"]) == (403, "RECEIPT_REPRINT_FORBIDDEN"), user
    status, listed = await stack.api("GET", f"/api/v1/orders/{order_no}/receipt/prints", "clerk1")
    assert status == 200 and [p["reprint_no"] for p in listed["prints"]] == [0]
