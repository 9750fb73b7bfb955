"""缴费单查询 and 日结交班 in a real browser: a clerk finds an order by 业务受理号 and by ID
number and reads its history; another office's order stays out of reach; a clerk closes a
shift and prints the 日结单; the supervisor closes the office's day.

The stack is shared by the whole session, so these tests work in an office of their own (its
clerk and supervisor made here) and never assume what other tests did in HALL1.
"""

from __future__ import annotations

import secrets
from typing import Any

import aiohttp
import pytest
from playwright.async_api import expect

from clearing.db.pool import init_connection
from clearing.domain.money import capital_amount
from clearing.service import principals
from tests.e2e.conftest import HALL, PageFactory, Stack, sign_in
from tests.e2e.flows import refused_page, shows

PASSWORD = "e2e-pass-word-6"


def resident_id(seq: int) -> str:
    body = f"31010119900307{seq % 1000:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
    return body + check


@pytest.fixture(scope="module")
async def office(stack: Stack) -> dict[str, str]:
    """A fresh office with a clerk and a supervisor of its own."""
    code = f"E6{secrets.token_hex(2).upper()}"
    people = {"office": code}
    async with stack.connected() as conn:
        await init_connection(conn)
        # the office and its window W09, as 系统管理 makes them; the clerk works at W09
        await conn.execute("INSERT INTO offices (code, name) VALUES ($1, '测试大厅')", code)
        await conn.execute(
            "INSERT INTO windows (office_code, code, name) VALUES ($1, 'W09', '窗口九')", code
        )
        for role in ("clerk", "supervisor"):
            name = f"h6{role[:3]}{secrets.token_hex(3)}"
            await principals.add(
                conn,
                kind="staff",
                username=name,
                display_name="测试" + ("窗口" if role == "clerk" else "主任"),
                role=role,
                office=code,
                window="W09" if role == "clerk" else None,
                password=PASSWORD,
            )
            people[role] = name
    return people


async def _token(stack: Stack, username: str) -> str:
    status, body = await stack.api(
        "POST", "/api/v1/sessions", json={"username": username, "password": PASSWORD}
    )
    assert status == 201, body
    return str(body["token"])


async def paid_order(
    stack: Stack, token: str, office: str, *, case_no: str, payer_id: str, window: str = "W09"
) -> dict[str, Any]:
    """A clerk's order from a tax declaration, paid by the citizen with WeChat."""
    auth = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as s:
        async with s.post(
            f"{stack.sim('tax')}/sim/cases", json={"buyer_name": "赵六", "buyer_id": payer_id}
        ) as r:
            declaration = (await r.json())["declaration_no"]
        status, order = await stack.api(
            "POST",
            "/api/v1/orders",
            headers={**auth, "Idempotency-Key": secrets.token_hex(10)},
            json={
                "case_no": case_no,
                "office": office,
                "window": window,
                "payer_name": "赵六",
                "payer_id": payer_id,
                "case": {"declaration_no": declaration},
            },
        )
        assert status == 201, order
        no = order["order_no"]
        status, qr = await stack.api(
            "POST", f"/api/v1/orders/{no}/payments", headers=auth, json={"channel": "wechatpay"}
        )
        assert status == 201, qr
        async with s.post(f"{stack.sim('wechatpay')}/sim/orders/{qr['out_trade_no']}/pay") as r:
            assert r.status == 200, await r.text()
    for _ in range(300):
        status, view = await stack.api("GET", f"/api/v1/orders/{no}", headers=auth)
        if view["state"] in ("CLEARED", "SETTLED"):
            return dict(view)
        await _pause()
    raise AssertionError(f"order {no} was not paid: {view['state']}")


async def _pause() -> None:
    import asyncio

    await asyncio.sleep(0.1)


async def _fits(page: Any, selector: str) -> None:
    box = await page.locator(selector).bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= HALL["width"], box


async def test_clerk_finds_an_order_by_case_no_and_by_id_and_reads_its_history(
    stack: Stack, page_as: PageFactory, office: dict[str, str]
) -> None:
    token = await _token(stack, office["clerk"])
    case_no = f"2026-BDC-{secrets.token_hex(4).upper()}"
    payer = resident_id(61)
    order = await paid_order(stack, token, office["office"], case_no=case_no, payer_id=payer)

    page = await page_as(None)
    await sign_in(page, office["clerk"], PASSWORD)
    await page.goto("/search")
    await page.fill("#q-case", case_no)
    await page.click("#search")
    row = page.locator("#results tr", has_text=order["order_no"])
    await row.wait_for()
    await expect(row).to_contain_text("已缴费", use_inner_text=True)
    await row.click()
    timeline = page.locator("#timeline")
    await timeline.get_by_text("收到支付结果，已入账分账").wait_for()
    await shows(timeline, "开具缴费单", "发起支付", "微信支付")
    reprint = page.locator("#reprint")
    await expect(reprint).to_be_visible()
    await expect(reprint).to_have_attribute("href", f"/orders/{order['order_no']}/receipt")
    await _fits(page, ".detail-card")
    await _fits(page, "#search-form")

    # by the payer's ID number: the number is matched, never shown
    await page.click("#clear")
    await page.fill("#q-payer", payer)
    await page.click("#search")
    await page.locator("#results tr", has_text=order["order_no"]).wait_for()
    await expect(page.locator("#results tr")).to_have_count(1)
    await expect(page.locator("#results")).not_to_contain_text(payer, use_inner_text=True)


async def test_a_clerk_cannot_open_another_office_s_order(
    stack: Stack, page_as: PageFactory, office: dict[str, str]
) -> None:
    token = await _token(stack, office["clerk"])
    order = await paid_order(
        stack,
        token,
        office["office"],
        case_no=f"2026-BDC-{secrets.token_hex(4).upper()}",
        payer_id=resident_id(62),
    )
    page = await page_as("clerk1")  # HALL1
    page.allow_console(r"status of 404")
    await page.goto(f"/search#order={order['order_no']}")
    error = page.locator("#detail-error")
    await error.get_by_text("缴费单不存在，或不属于本大厅").wait_for()
    await expect(page.locator("#results tr")).to_have_count(0)
    await expect(page.locator("#reprint")).to_be_hidden()


async def test_a_clerk_closes_a_shift_and_the_supervisor_closes_the_day(
    stack: Stack, page_as: PageFactory, office: dict[str, str]
) -> None:
    token = await _token(stack, office["clerk"])
    await paid_order(
        stack,
        token,
        office["office"],
        case_no=f"2026-BDC-{secrets.token_hex(4).upper()}",
        payer_id=resident_id(63),
    )
    status, live = await stack.api(
        "GET", "/api/v1/shifts/current?window=W09", headers={"Authorization": f"Bearer {token}"}
    )
    assert status == 200 and live["received_count"] >= 1, live

    # the supervisor cannot close the day while a window is still open
    boss = await page_as(None)
    await sign_in(boss, office["supervisor"], PASSWORD)
    boss.allow_console(r"status of 409")
    await boss.goto("/shifts")
    await boss.locator("#day-open-list li", has_text="W09").wait_for()
    await boss.click("#close-day")
    await boss.locator("#day-error").get_by_text("尚未交班").wait_for()

    clerk = await page_as(None)
    await sign_in(clerk, office["clerk"], PASSWORD)
    await clerk.goto("/shifts")
    # the clerk's window is the one assigned, not typed
    await expect(clerk.locator("#window-no")).to_have_value("W09")
    assert await clerk.is_editable("#window-no") is False
    await clerk.locator("#current-totals").get_by_text("收款").wait_for()
    # W09's shift, with the payment in it (not the page's first read, of another window)
    await clerk.locator("#current-since").get_by_text("接班时间").wait_for()
    await clerk.click("#close-shift")
    await clerk.click("#confirm-yes")
    await clerk.locator("#flash").get_by_text("已交班").wait_for()
    await clerk.locator("#shift-rows tr").first.wait_for()
    await _fits(clerk, "#current-card")

    async with clerk.context.expect_page() as sheet_info:
        await clerk.click("#print-last")
    sheet = await sheet_info.value
    await sheet.wait_for_load_state()
    await shows(
        sheet.locator("body"),
        "窗口收费日结单",
        capital_amount(live["received_fen"]),
        "经办人（签字）",
        "复核人（签字）",
    )
    assert await sheet.evaluate("getComputedStyle(document.querySelector('.sheet')).maxWidth")

    # now the day balances with the ledger and the supervisor closes it
    await boss.click("#day-refresh")
    await boss.locator("#day-total").get_by_text("账实相符").wait_for()
    await expect(boss.locator("#day-open")).to_be_hidden()
    await boss.click("#close-day")
    await boss.locator("#day-status").get_by_text("已由").wait_for()
    await expect(boss.locator("#day-status")).to_contain_text("账实相符", use_inner_text=True)
    await expect(boss.locator("#day-actions")).to_be_hidden()
    await _fits(boss, "#day-card")
    # the supervisor sees every window's shift of the office
    await boss.locator("#list-date").dispatch_event("change")
    await boss.locator("#shift-rows tr", has_text="W09").wait_for()
    async with boss.context.expect_page() as day_info:
        await boss.click("#print-day")
    day_sheet = await day_info.value
    await day_sheet.wait_for_load_state()
    await shows(day_sheet.locator("body"), "大厅收费轧账单", "账实相符", "值班主任（签字）")


async def test_finance_staff_are_refused_the_shift_page_in_chinese(page_as: PageFactory) -> None:
    page = await page_as("finance1")
    page.allow_console(r"status of 403")
    await refused_page(page, "/shifts", "无权访问日结交班")


async def test_an_auditor_searches_any_office(
    stack: Stack, page_as: PageFactory, office: dict[str, str]
) -> None:
    token = await _token(stack, office["clerk"])
    case_no = f"2026-BDC-{secrets.token_hex(4).upper()}"
    order = await paid_order(
        stack, token, office["office"], case_no=case_no, payer_id=resident_id(64)
    )
    page = await page_as("auditor1")
    await page.goto("/search")
    await expect(page.locator("#q-office")).to_be_visible()
    await page.fill("#q-office", office["office"])
    await page.fill("#q-case", case_no)
    await page.click("#search")
    await page.locator("#results tr", has_text=order["order_no"]).click()
    await page.locator("#timeline").get_by_text("开具缴费单").wait_for()
