"""系统管理 and where each role lands, in a real browser: clerk2's orders land on 窗口二 from a
fresh browser; every role starts on a page it can use; an administrator creates a user, resets
a password, assigns a window and publishes a future fee schedule; others are refused /admin."""

from __future__ import annotations

import secrets
from datetime import date, timedelta

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import PageFactory, Stack, Watched
from tests.e2e.flows import (
    at_window,
    fits_staff_screen,
    refused_page,
    shows,
    signed_in,
    submit_form,
    take_order,
)


async def test_clerk2_in_a_fresh_browser_takes_orders_at_window_two(
    stack: Stack, page_as: PageFactory
) -> None:
    page = await at_window(page_as, "clerk2")
    await expect(page.locator("#window-name")).to_have_text("窗口二")
    await expect(page.locator("#office-name")).to_have_text("示范市不动产登记中心")
    await take_order(page, stack, "2026-BDC-E2EW02", "李四", "440524188001010014")
    async with stack.connected() as conn:
        window = await conn.fetchval(
            "SELECT window_no FROM orders WHERE case_no = '2026-BDC-E2EW02'"
        )
    assert window == "W02"
    # and it is on 窗口二's list, which is what this screen shows
    await page.locator("#orders tr", has_text="2026-BDC-E2EW02").first.wait_for()
    # a card goes to the terminal at 窗口二
    await expect(page.locator("#terminal")).to_have_value("T0000002")


@pytest.mark.parametrize(
    ("username", "home", "ready"),
    [
        ("clerk1", "/window", "实时连接"),
        ("super1", "/window", "实时连接"),
        ("finance1", "/finance", "审批退款"),
        ("auditor1", "/finance", "您可以查看退款申请"),
        ("admin", "/admin", "工作人员"),
    ],
)
async def test_each_role_lands_on_a_page_it_can_use(
    page_as: PageFactory, username: str, home: str, ready: str
) -> None:
    page = await page_as(username)
    await page.wait_for_url(f"**{home}")
    await page.get_by_text(ready).first.wait_for()
    await expect(page.locator("#page-error")).to_have_text("", use_inner_text=True)
    await expect(page.locator("body")).not_to_contain_text("正在连接", use_inner_text=True)
    if username == "super1":
        # a supervisor covers the hall: the windows by name, not a code to type
        options = await page.locator("#window-select option").all_inner_texts()
        assert options[:2] == ["窗口一", "窗口二"]
        colour = await page.eval_on_selector("#window-select", "s => getComputedStyle(s).color")
        assert colour != "rgb(255, 255, 255)", "the window's name is white on white"
    if username == "admin":
        await page.locator("#users tr[data-username='clerk2']").wait_for()
        row = page.locator("#users tr[data-username='clerk2']")
        await shows(row, "窗口收费员", "示范市不动产登记中心", "窗口二")
    await fits_staff_screen(page)


async def _secret(page: Watched) -> str:
    await page.locator("#secret-dialog[open]").wait_for()
    value = (await page.inner_text("#secret-value")).strip()
    await page.click("#secret-close")
    await page.locator("#secret-dialog[open]").wait_for(state="detached")
    return value


async def _signs_in(stack: Stack, username: str, password: str) -> int:
    status, _ = await stack.api(
        "POST", "/api/v1/sessions", json={"username": username, "password": password}
    )
    return status


async def test_admin_creates_a_user_resets_a_password_and_assigns_a_window(
    stack: Stack, page_as: PageFactory
) -> None:
    page = await page_as("admin")
    page.on("dialog", lambda d: d.accept())  # the 确定…？ questions
    await page.wait_for_url("**/admin")
    username = f"clerk{secrets.token_hex(3)}"
    form = page.locator("#user-form")
    await submit_form(
        form,
        {"username": username, "display_name": "窗口三 周洁"},
        {"role": "clerk", "office": "HALL1", "window": "W03"},
    )
    first = await _secret(page)
    assert len(first) == 12
    row = page.locator(f"#users tr[data-username='{username}']")
    await row.wait_for()
    await expect(row).to_contain_text("窗口三", use_inner_text=True)
    await expect(row).to_contain_text("待本人修改密码", use_inner_text=True)
    assert await _signs_in(stack, username, first) == 201

    await row.get_by_role("button", name="重置密码").click()
    second = await _secret(page)
    assert second != first
    assert await _signs_in(stack, username, first) == 401
    assert await _signs_in(stack, username, second) == 201

    await row.get_by_role("button", name="修改").click()
    await page.locator("#user-dialog[open]").wait_for()
    await page.locator("#user-edit [name=window]").select_option("W02")
    await page.locator("#user-edit button[type=submit]").click()
    await page.get_by_text("已保存").wait_for()
    await row.filter(has_text="窗口二").wait_for()
    async with stack.connected() as conn:
        window = await conn.fetchval(
            "SELECT window_code FROM principals WHERE username = $1", username
        )
        actions = await conn.fetch(
            "SELECT action FROM audit_log WHERE object_id = $1 ORDER BY id", username
        )
    assert window == "W02"
    assert [a["action"] for a in actions] == [
        "principal.created",
        "session.login",
        "principal.password_reset",
        "session.login_failed",  # the old password, refused after the reset
        "session.login",
        "principal.updated",
    ]


async def test_admin_refused_changing_own_access_sees_why(page_as: PageFactory) -> None:
    page = await signed_in(page_as, "admin", "/admin")
    page.allow_console(r"status of 403")
    row = page.locator("#users tr[data-username='admin']")
    await row.wait_for()
    await row.get_by_role("button", name="停用").click()
    await page.get_by_text("请由另一位管理员办理").wait_for()


async def test_admin_adds_a_window_with_its_terminal(stack: Stack, page_as: PageFactory) -> None:
    page = await signed_in(page_as, "admin", "/admin")
    hall = page.locator(".office-block[data-office='HALL1']")
    await hall.get_by_role("button", name="添加窗口").click()
    await page.locator("#window-dialog[open]").wait_for()
    code = f"W{secrets.randbelow(900) + 100}"
    await page.fill("#window-edit [name=code]", code)
    await page.fill("#window-edit [name=name]", "窗口九")
    await page.fill("#window-edit [name=terminal_id]", f"T{code}")
    await page.click("#window-edit button[type=submit]")
    await hall.locator(f"tr[data-window='{code}']").wait_for()
    assert f"T{code}" in await hall.locator(f"tr[data-window='{code}']").inner_text()
    status, me = await stack.api("GET", "/api/v1/windows", "super1")
    assert status == 200, me
    assert code in {w["code"] for w in me["windows"]}


async def test_admin_publishes_a_future_fee_schedule(stack: Stack, page_as: PageFactory) -> None:
    page = await page_as("admin")
    page.on("dialog", lambda d: d.accept())
    await page.wait_for_url("**/admin")
    await page.locator("#fees tr").first.wait_for()
    effective = (date.today() + timedelta(days=90)).isoformat()
    form = page.locator("#fee-form")
    await submit_form(
        form,
        {
            "effective_from": effective,
            "residential": "90.00",
            "non_residential": "600",
            "extra_certificate": "12.5",
            "basis": "示范市发改委 2027 年第 3 号公告",
        },
    )
    await page.get_by_text("起生效").first.wait_for()
    top = page.locator("#fees tr", has_text=effective)
    await top.wait_for()
    await shows(top, effective, "¥90.00", "¥12.50", "待生效")
    status, listed = await stack.api("GET", "/api/v1/fee-schedules", "admin")
    assert status == 200, listed
    mine = [s for s in listed["schedules"] if s["effective_from"] == effective]
    assert [(s["residential_fen"], s["non_residential_fen"]) for s in mine] == [(9000, 60000)]


@pytest.mark.parametrize("username", ["clerk1", "super1", "finance1", "auditor1"])
async def test_others_are_refused_the_admin_page(page_as: PageFactory, username: str) -> None:
    page = await page_as(username)
    page.allow_console(r"status of 403")
    await page.wait_for_url(lambda url: "/login" not in url)
    await refused_page(page, "/admin", "仅供系统管理员使用")


async def test_admin_creates_an_api_client_and_its_token_works(
    stack: Stack, page_as: PageFactory
) -> None:
    page = await signed_in(page_as, "admin", "/admin")
    name = f"yc{secrets.token_hex(3)}"
    form = page.locator("#client-form")
    await submit_form(
        form,
        {"username": name, "display_name": "一窗受理平台"},
        {"role": "clerk", "office": "HALL1"},
    )
    token = await _secret(page)
    await page.locator("#clients tr", has_text=name).wait_for()
    status, me = await stack.api("GET", "/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert (status, me["username"], me["office_name"]) == (200, name, "示范市不动产登记中心")
