"""The citizen's screen (客显屏) in real browsers: a clerk's browser and the screen's own, each
with its cookies. Pair, the clerk opens an order and the screen shows the bill, its 大写 and
the QR; the citizen pays at the WeChat simulator; the screen says 缴费成功 and takes a 好差评
rating. The screen's browser opens no staff page, and another window's screen stays idle."""

from __future__ import annotations

import re
import secrets

from playwright.async_api import expect

from clearing.db.pool import init_connection
from clearing.service import principals
from tests.e2e.conftest import PageFactory, Stack, Watched, sign_in
from tests.e2e.flows import citizen_pays_at_sim_link, fits_device_screen, signed_in, take_order

PAYER = ("张三", "11010519491231002X")
WIDE = {"width": 1920, "height": 1080}


PASSWORD = "e2e-display-pass-5"


async def _clerk_at(stack: Stack, page_as: PageFactory, window: str) -> tuple[Watched, str]:
    """A clerk of HALL1 assigned to a window of its own (made here, as 系统管理 would), signed
    in: a window's screen is paired from the window screen of the clerk who works there."""
    username = f"dc{secrets.token_hex(3)}"
    async with stack.connected() as conn:
        await init_connection(conn)
        await conn.execute(
            "INSERT INTO windows (office_code, code, name) VALUES ('HALL1', $1, $2)"
            " ON CONFLICT DO NOTHING",
            window,
            f"测试窗口{window}",
        )
        await principals.add(
            conn,
            kind="staff",
            username=username,
            display_name="测试窗口",
            role="clerk",
            office="HALL1",
            window=window,
            password=PASSWORD,
        )
    page = await page_as(None)
    await sign_in(page, username, PASSWORD)
    await page.wait_for_url("**/window")
    await page.get_by_text("实时连接").wait_for()
    await expect(page.locator("#window-name")).to_have_text(
        f"测试窗口{window}", use_inner_text=True
    )
    return page, username


async def _pair(clerk: Watched, screen: Watched) -> None:
    await clerk.click("#display-open")
    await clerk.click("#display-new-code")
    code = clerk.locator("#display-code")
    await expect(code).to_have_text(re.compile(r"^[0-9]{6}$"), use_inner_text=True)
    digits = await code.inner_text()
    await screen.goto("/display")
    await screen.locator("#v-pair").wait_for()
    await screen.fill("#pair-code", digits)
    await screen.click("#pair-submit")
    await screen.locator("#v-idle").wait_for()
    # the clerk's dialog sees the pairing
    await clerk.get_by_text("已配对客显屏").wait_for()
    await clerk.click("#display-close")


async def _new_order(stack: Stack, clerk: Watched, case_no: str) -> str:
    await take_order(clerk, stack, case_no, *PAYER)
    await clerk.locator("#c-order-no").filter(has_text=re.compile(r"\S")).wait_for()
    return await clerk.inner_text("#c-order-no")


async def test_pair_show_the_bill_and_qr_pay_and_rate(stack: Stack, page_as: PageFactory) -> None:
    clerk, username = await _clerk_at(stack, page_as, "E51")
    screen = await page_as(None)  # the monitor facing the citizen, at 1366×768
    await _pair(clerk, screen)

    order_no = await _new_order(stack, clerk, "2026-BDC-E2E051")
    await screen.locator("#v-order").wait_for()
    await expect(screen.locator("#o-no")).to_have_text(order_no, use_inner_text=True)
    await expect(screen.locator("#o-payer")).to_have_text("张*", use_inner_text=True)
    await expect(screen.locator("#o-total")).to_have_text(
        await clerk.inner_text("#c-total"), use_inner_text=True
    )
    await expect(screen.locator("#o-capital")).to_have_text(
        await clerk.inner_text("#c-capital"), use_inner_text=True
    )
    await expect(screen.locator("#o-lines")).to_contain_text("契税", use_inner_text=True)
    body = await screen.inner_text("body")
    assert PAYER[1] not in body and PAYER[1][-4:] not in body and "张三" not in body

    await clerk.locator("#qr-buttons button", has_text="微信").click()
    await screen.locator("#o-qr").wait_for()
    await expect(screen.locator("#o-qr-channel")).to_have_text("微信", use_inner_text=True)
    # an expectation, not wait_for_function (its polling needs eval, which the page's CSP refuses)
    qr_img = screen.locator("#o-qr-img")
    await expect(qr_img).to_have_js_property("complete", True)
    assert await qr_img.evaluate("i => i.naturalWidth") > 0
    await fits_device_screen(screen, "#o-total", "#o-capital", "#o-qr-img")

    await citizen_pays_at_sim_link(clerk)

    await screen.locator("#v-done").wait_for(timeout=15_000)
    await expect(screen.locator("#v-done")).to_contain_text("缴费成功", use_inner_text=True)
    await fits_device_screen(screen, "#r-grades", "#r-submit")
    await screen.get_by_role("radio", name="不满意", exact=True).click()
    await screen.fill("#r-reason", "等候时间较长")
    await fits_device_screen(screen, "#r-reason", "#r-submit")
    await screen.click("#r-submit")
    await screen.locator("#r-thanks").wait_for()
    await expect(screen.locator("#r-thanks")).to_contain_text("不满意", use_inner_text=True)

    async with stack.connected() as conn:
        row = await conn.fetchrow(
            "SELECT r.grade, r.reason, r.office, r.window_no, p.username"
            " FROM service_ratings r JOIN orders o ON o.id = r.order_id"
            " JOIN principals p ON p.id = r.clerk_id WHERE o.order_no = $1",
            order_no,
        )
    assert row is not None and dict(row) == {
        "grade": "dissatisfied",
        "reason": "等候时间较长",
        "office": "HALL1",
        "window_no": "E51",
        "username": username,
    }
    # a second rating of the same order is refused
    again = await screen.context.request.post(
        "/api/v1/display/ratings", data={"order_no": order_no, "grade": "very_satisfied"}
    )
    assert again.status == 409

    # the screen's browser is no staff browser: staff pages and the staff API refuse it
    await screen.goto("/window")
    await screen.wait_for_url(re.compile(r"/login"))
    for path in ("/api/v1/me", f"/api/v1/orders/{order_no}", "/api/v1/orders?office=HALL1"):
        refused = await screen.context.request.get(path)
        assert refused.status == 401, path
    finance = await screen.context.request.get("/finance", max_redirects=0)
    assert finance.status == 302


async def test_another_windows_screen_never_shows_this_windows_order(
    stack: Stack, page_as: PageFactory
) -> None:
    first_clerk, _ = await _clerk_at(stack, page_as, "E61")
    second_clerk, _ = await _clerk_at(stack, page_as, "E62")
    first = await page_as(None, viewport=WIDE)
    second = await page_as(None, viewport=WIDE)
    await _pair(first_clerk, first)
    await _pair(second_clerk, second)

    order_no = await _new_order(stack, first_clerk, "2026-BDC-E2E061")
    await first.locator("#v-order").wait_for()
    await expect(first.locator("#o-no")).to_have_text(order_no, use_inner_text=True)
    await fits_device_screen(first, "#o-total", "#o-capital", "#o-lines")

    # the second window's screen stays idle and knows nothing of the first window's order
    await second.reload()
    await second.locator("#v-idle").wait_for()
    await expect(second.locator("body")).not_to_contain_text(order_no, use_inner_text=True)
    state = await second.context.request.get("/api/v1/display/state")
    assert (await state.json())["phase"] == "idle"
    for probe in (
        second.context.request.get("/api/v1/display/qr.svg"),
        second.context.request.post(
            "/api/v1/display/ratings", data={"order_no": order_no, "grade": "satisfied"}
        ),
    ):
        assert (await probe).status in (403, 404)
    await fits_device_screen(second, "#idle-title")


async def test_who_may_pair_a_windows_screen(stack: Stack, page_as: PageFactory) -> None:
    supervisor = await signed_in(page_as, "super1", "/window")
    await supervisor.locator("#display-open").wait_for()
    await supervisor.click("#display-open")
    await supervisor.click("#display-new-code")
    code = supervisor.locator("#display-code").filter(has_text=re.compile(r"^[0-9]{6}$"))
    await code.wait_for()
    # auditors work no window: they start on /finance, the window screen sends them back there,
    # and no screen pairing is offered or accepted
    auditor = await signed_in(page_as, "auditor1", "/finance")
    await auditor.goto("/window")
    await auditor.wait_for_url("**/finance")
    await expect(auditor.locator("#display-open")).to_be_hidden()
    status, body = await stack.api(
        "POST", "/api/v1/display/pairing-codes", "auditor1", json={"window": "W01"}
    )
    assert (status, body["code"]) == (403, "ROLE_FORBIDDEN")
