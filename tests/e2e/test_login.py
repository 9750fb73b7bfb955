"""Signing in, in a real browser: the lock after five wrong passwords, the forced change of a
temporary password (and the rule said in Chinese), and every page under its CSP with no
violation (the harness fails a test on any console error, CSP reports included)."""

from __future__ import annotations

import secrets

from playwright.async_api import expect

from clearing.db.pool import init_connection
from clearing.service import principals
from tests.e2e.conftest import PageFactory, Stack, sign_in
from tests.e2e.flows import audit_actions, shows

TEMPORARY = "Temp-pass-2026"


async def _new_user(stack: Stack, role: str = "clerk", *, must_change: bool = False) -> str:
    # users of their own: a lock on a demo user would spoil the other tests of the session
    name = f"e2e{secrets.token_hex(3)}"
    async with stack.connected() as conn:
        await init_connection(conn)
        await principals.add(
            conn,
            kind="staff",
            username=name,
            display_name="测试 新人",
            role=role,
            office="HALL1" if role in ("clerk", "supervisor") else None,
            password=TEMPORARY,
            # 窗口三: the demo's window without a clerk of its own
            window="W03" if role == "clerk" else None,
            actor="user:admin",
            must_change_password=must_change,
        )
    return name


async def test_five_wrong_passwords_lock_the_user_and_say_so_in_chinese(
    stack: Stack, page_as: PageFactory
) -> None:
    name = await _new_user(stack)
    page = await page_as(None)
    page.allow_console(r"status of (401|423)")
    await page.goto("/login")
    await page.fill("#username", name)
    for attempt in range(1, 6):
        await page.fill("#password", f"wrong-{attempt}")
        await page.click("#login-submit")
        error = page.locator("#login-error")
        if attempt < 5:
            await error.filter(has_text=f"再错{5 - attempt}次").wait_for()
    await page.locator("#login-error", has_text="已锁定").wait_for()
    await shows(page.locator("#login-error"), "连续5次登录失败", "30分钟", "管理员")
    # the right password does not open it either
    await page.fill("#password", TEMPORARY)
    await page.click("#login-submit")
    await page.locator("#login-submit:not([disabled])").wait_for()
    assert "/login" in page.url
    await expect(page.locator("#login-error")).to_contain_text("已锁定")
    # the admin unlocks; the user signs in
    status, body = await stack.api("POST", f"/api/v1/admin/users/{name}/unlock", "admin")
    assert (status, body["was_locked"]) == (200, True)
    await page.fill("#password", TEMPORARY)
    await page.click("#login-submit")
    await page.wait_for_url("**/window")


async def test_a_temporary_password_must_be_changed_before_the_window(
    stack: Stack, page_as: PageFactory
) -> None:
    name = await _new_user(stack, must_change=True)
    page = await page_as(None)
    page.allow_console(r"status of 422")
    await page.goto("/login")
    await page.fill("#username", name)
    await page.fill("#password", TEMPORARY)
    await page.click("#login-submit")
    await page.wait_for_url("**/password**")
    await expect(page.locator("#password-reason")).to_contain_text("临时密码")
    # the window screen is out of reach until the password is changed
    await page.goto("/window")
    await page.wait_for_url("**/password**")
    await expect(page.locator("#password-form")).to_be_visible()

    await page.fill("#current", TEMPORARY)
    await page.fill("#new", "abcdefgh")
    await page.fill("#again", "abcdefgh")
    await page.click("#password-submit")
    rule = page.locator("#password-error", has_text="至少3类")
    await rule.wait_for()
    await expect(rule).to_contain_text("至少8位")
    assert "/password" in page.url

    await page.fill("#new", "Mine-own-pass-1")
    await page.fill("#again", "Mine-own-pass-1")
    await page.click("#password-submit")
    await page.wait_for_url("**/window")
    await page.get_by_text("实时连接").wait_for()
    actions = await audit_actions(stack, name)
    assert actions[-2:] == ["session.login", "password.changed"], actions


async def test_pages_load_under_the_csp_without_violations(
    stack: Stack, page_as: PageFactory
) -> None:
    visitor = await page_as(None)
    for path in ("/login", "/password"):
        response = await visitor.goto(path)
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp, path
        await visitor.wait_for_load_state("networkidle")
    seen: list[str] = []
    for user, paths in (
        ("clerk1", ("/window", "/search", "/shifts")),
        ("finance1", ("/finance", "/reports/daily")),
        ("super1", ("/window", "/display")),
    ):
        page = await page_as(user)
        for path in paths:
            response = await page.goto(path)
            assert response.status == 200, (user, path)
            headers = response.headers
            assert "script-src 'self'" in headers["content-security-policy"], (user, path)
            assert headers["x-content-type-options"] == "nosniff"
            await page.wait_for_load_state("networkidle")
            seen.append(path)
    assert len(seen) == 7


async def test_the_password_page_signs_out_an_unknown_visitor(page_as: PageFactory) -> None:
    page = await page_as(None)
    await page.goto("/password")
    await page.wait_for_url("**/login**")


async def test_an_ordinary_user_is_never_sent_to_the_change_page(
    stack: Stack, page_as: PageFactory
) -> None:
    # an ordinary user is never sent to the change page
    page = await page_as(None)
    await sign_in(page, "clerk2")
    assert page.url.endswith("/window")
