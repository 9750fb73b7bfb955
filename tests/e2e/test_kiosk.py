"""The self-service kiosk (自助缴费终端) in real browsers, portrait 1080×1920 and landscape
1920×1080: the administrator registers it in 系统管理, the kiosk's browser enrols with the code;
a citizen finds the order by 业务受理号 and the ID's last 6 characters (or scans the notice's
QR), checks the bill, pays by QR at the WeChat simulator, gets the receipt (80 mm print layout,
QR of its short link), and the screen clears itself. The kiosk's browser opens no staff page,
and once revoked it is refused at once."""

from __future__ import annotations

import asyncio
import re
import secrets
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from playwright.async_api import expect

from clearing import security
from clearing.service import pay_links
from tests.e2e.conftest import PageFactory, Stack, Watched
from tests.e2e.flows import fits_device_screen, manual_order, rows_when, shows

PORTRAIT = {"width": 1080, "height": 1920}
LANDSCAPE = {"width": 1920, "height": 1080}
VIEWPORTS = [pytest.param(PORTRAIT, id="portrait"), pytest.param(LANDSCAPE, id="landscape")]
PAYER_ID = "11010519491231002X"
IDLE_S = 4  # the page honours ?idle= from 3 to 60 seconds


async def _register(stack: Stack) -> str:
    status, body = await stack.api(
        "POST",
        "/api/v1/admin/kiosks",
        "admin",
        json={"office": "HALL1", "name": f"测试自助机{secrets.token_hex(2)}"},
    )
    assert status == 201, body
    return str(body["enrol_code"])


async def _kiosk(stack: Stack, page_as: PageFactory, viewport: dict[str, int]) -> Watched:
    """A browser enrolled as a kiosk of HALL1 by typing its code, on the home screen."""
    code = await _register(stack)
    kiosk = await page_as(None, viewport=viewport)
    await kiosk.goto(f"/kiosk?idle={IDLE_S}")
    await kiosk.locator("#v-enrol").wait_for()
    await kiosk.fill("#enrol-code", code)
    await kiosk.click("#enrol-form button[type=submit]")
    await kiosk.locator("#v-home").wait_for()
    return kiosk


async def _order(stack: Stack) -> tuple[str, str]:
    case_no = f"2026-BDC-K{secrets.randbelow(10**8):08d}"
    lines = [("DEED_TAX", 12_345_00), ("REG_FEE", 80_00)]
    order = await manual_order(stack, case_no, lines, payer=("张三", PAYER_ID))
    return case_no, str(order["order_no"])


async def _find(kiosk: Watched, case_no: str, tail: str = PAYER_ID[-6:]) -> None:
    await kiosk.fill("#case-no", case_no)
    await kiosk.fill("#id-tail", tail)
    await kiosk.click("#lookup-submit")


async def _touchable(page: Watched) -> None:
    """Every visible button and field is at least 48 px high (a finger, not a mouse)."""
    small = await page.evaluate(
        "() => [...document.querySelectorAll('button, input')]"
        ".filter(e => e.offsetParent !== null && e.getBoundingClientRect().height < 48)"
        ".map(e => e.id || e.textContent)"
    )
    assert small == [], small


async def _open_attempt(stack: Stack, order_no: str) -> str:
    [found] = await rows_when(
        stack,
        bool,
        15,
        "SELECT a.out_trade_no FROM payment_attempts a JOIN orders o ON o.id = a.order_id"
        " WHERE o.order_no = $1 AND a.state = 'OPEN' ORDER BY a.id DESC LIMIT 1",
        order_no,
    )
    return str(found["out_trade_no"])


@pytest.mark.parametrize("viewport", VIEWPORTS)
async def test_find_pay_by_qr_receipt_then_the_screen_clears(
    stack: Stack, page_as: PageFactory, viewport: dict[str, int]
) -> None:
    kiosk = await _kiosk(stack, page_as, viewport)
    await fits_device_screen(kiosk, "#lookup-form", "#scan-form")
    await _touchable(kiosk)
    case_no, order_no = await _order(stack)
    await _find(kiosk, case_no)

    await kiosk.locator("#v-order").wait_for()
    await expect(kiosk.locator("#o-case")).to_have_text(case_no, use_inner_text=True)
    await expect(kiosk.locator("#o-payer")).to_have_text("张*", use_inner_text=True)
    # the beneficiary by name, not "TREASURY"
    await shows(kiosk.locator("#o-lines"), "契税", "国家金库示范市中心支库")
    await expect(kiosk.locator("#o-total")).to_have_text("¥12,425.00", use_inner_text=True)
    await expect(kiosk.locator("#o-capital")).to_have_text(
        "壹万贰仟肆佰贰拾伍元整", use_inner_text=True
    )
    body = await kiosk.inner_text("body")
    assert PAYER_ID not in body and "张三" not in body
    await fits_device_screen(kiosk, "#o-total", "#o-capital", "#pay-choose")
    await _touchable(kiosk)

    await kiosk.click("[data-channel=wechatpay]")
    await kiosk.locator("#pay-qr").wait_for()
    # an expectation, not wait_for_function (its polling needs eval, which the page's CSP refuses)
    await expect(kiosk.locator("#qr-img")).to_have_js_property("complete", True)
    assert await kiosk.locator("#qr-img").evaluate("i => i.naturalWidth") > 0
    await fits_device_screen(kiosk, "#qr-img", "#o-total")
    # the citizen scans it with the phone and pays
    out_trade_no = await _open_attempt(stack, order_no)
    async with (
        aiohttp.ClientSession() as s,
        s.post(f"{stack.sim('wechatpay')}/sim/orders/{out_trade_no}/pay") as r,
    ):
        assert r.status == 200, await r.text()

    await kiosk.locator("#v-receipt").wait_for(timeout=20_000)
    await expect(kiosk.locator("#v-receipt")).to_contain_text("缴费成功", use_inner_text=True)
    await expect(kiosk.locator("#r-no")).to_have_text(f"{order_no}-1", use_inner_text=True)
    await expect(kiosk.locator("#r-total")).to_have_text("¥12,425.00", use_inner_text=True)
    # an expectation, not wait_for_function (its polling needs eval, which the page's CSP refuses)
    await expect(kiosk.locator("#r-qr")).to_have_js_property("complete", True)
    assert await kiosk.locator("#r-qr").evaluate("i => i.naturalWidth") > 0
    await fits_device_screen(kiosk, "#receipt", "#print")
    # printed: the receipt alone, 80 mm wide (302 CSS px)
    await kiosk.emulate_media(media="print")
    width = await kiosk.evaluate("() => document.getElementById('receipt').offsetWidth")
    assert abs(width - 302) <= 2, width
    await expect(kiosk.locator("#print")).to_be_hidden()
    await expect(kiosk.locator(".k-top")).to_be_hidden()
    await kiosk.emulate_media(media="screen")

    # nobody touches it: the screen clears itself, and so does the kiosk's hold on the order
    await kiosk.locator("#v-home").wait_for(timeout=(IDLE_S + 10) * 1000)
    await expect(kiosk.locator("body")).not_to_contain_text(order_no, use_inner_text=True)
    current = await kiosk.context.request.get("/api/v1/kiosk/current")
    assert (await current.json())["order"] is None
    async with stack.connected() as conn:
        cleared = await conn.fetchval(
            "SELECT detail->>'why' FROM audit_log WHERE action = 'kiosk.cleared'"
            " AND object_id = $1",
            order_no,
        )
        printed_by = await conn.fetchval(
            "SELECT actor FROM audit_log WHERE action = 'receipt.printed' AND object_id = $1",
            order_no,
        )
    assert cleared == "paid" and printed_by.startswith("kiosk:")


@pytest.mark.parametrize("viewport", VIEWPORTS)
async def test_scanning_the_notices_qr_opens_its_order_and_idle_clears_it(
    stack: Stack, page_as: PageFactory, viewport: dict[str, int]
) -> None:
    kiosk = await _kiosk(stack, page_as, viewport)
    case_no, order_no = await _order(stack)
    key = security.load_or_create_key(stack.var_dir / "keys" / "pay-link-hmac.key")
    token = pay_links.make_token(key, order_no, datetime.now(UTC) + timedelta(hours=1))
    # the scanner types the notice's link into the focused field and presses Enter
    await kiosk.keyboard.type(pay_links.link_url(stack.base_url, token))
    await kiosk.keyboard.press("Enter")
    await kiosk.locator("#v-order").wait_for()
    await expect(kiosk.locator("#o-case")).to_have_text(case_no, use_inner_text=True)
    await fits_device_screen(kiosk, "#o-total", "#pay-choose")
    # the citizen walks away: after the idle time nothing of the order is left on screen
    await kiosk.locator("#v-home").wait_for(timeout=(IDLE_S + 10) * 1000)
    await expect(kiosk.locator("body")).not_to_contain_text(case_no, use_inner_text=True)
    current = await kiosk.context.request.get("/api/v1/kiosk/current")
    assert (await current.json())["phase"] == "idle"


async def test_a_wrong_pair_gets_a_neutral_answer(stack: Stack, page_as: PageFactory) -> None:
    kiosk = await _kiosk(stack, page_as, LANDSCAPE)
    kiosk.allow_console(r"status of 404")
    case_no, order_no = await _order(stack)
    await _find(kiosk, case_no, "000000")
    error = kiosk.locator("#home-error")
    await error.filter(has_text="未找到待缴费的业务").wait_for()
    await expect(kiosk.locator("body")).not_to_contain_text(order_no, use_inner_text=True)
    await expect(kiosk.locator("#v-home")).to_be_visible()


async def test_an_administrator_registers_and_revokes_and_the_kiosk_opens_no_staff_page(
    stack: Stack, page_as: PageFactory
) -> None:
    admin = await page_as("admin")
    await admin.goto("/admin")
    await admin.locator("#kiosk-form").wait_for()
    name = f"一楼自助机{secrets.token_hex(2)}"
    await admin.fill("#kiosk-form input[name=name]", name)
    await admin.select_option("#kiosk-form select[name=office]", "HALL1")
    await admin.click("#kiosk-form button[type=submit]")
    await admin.locator("#secret-dialog").wait_for()
    await expect(admin.locator("#secret-title")).to_have_text("启用码", use_inner_text=True)
    code = await admin.inner_text("#secret-value")
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", code), code
    await admin.click("#secret-close")
    row = admin.locator("#kiosks tr", has_text=name)
    await row.filter(has_text="待启用").wait_for()

    # the kiosk's browser: the link with the code enrols it, and the code leaves the address
    kiosk = await page_as(None, viewport=PORTRAIT)
    await kiosk.goto(f"/kiosk#enrol={code}")
    await kiosk.locator("#v-home").wait_for()
    assert "enrol" not in kiosk.url
    await expect(kiosk.locator("#k-name")).to_have_text(name, use_inner_text=True)
    await admin.reload()
    await admin.locator("#kiosks tr", has_text=name).filter(has_text="在用").wait_for()

    # a kiosk is no staff browser: staff pages send it to sign in, the staff API refuses it
    kiosk.allow_console(r"status of 401")
    for path in ("/api/v1/me", "/api/v1/orders?office=HALL1", "/api/v1/admin/kiosks"):
        refused = await kiosk.context.request.get(path)
        assert refused.status == 401, path
    await kiosk.goto("/window")
    await kiosk.wait_for_url(re.compile(r"/login"))
    await kiosk.goto("/admin")
    await kiosk.wait_for_url(re.compile(r"/login"))

    # revoked in 系统管理: the kiosk is refused at its very next request
    await kiosk.goto("/kiosk")
    await kiosk.locator("#v-home").wait_for()
    admin.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await admin.locator("#kiosks tr", has_text=name).get_by_role("button", name="停用").click()
    await admin.locator("#kiosks tr", has_text=name).filter(has_text="已停用").wait_for()
    case_no, _ = await _order(stack)
    await _find(kiosk, case_no)
    await kiosk.locator("#v-enrol").wait_for()
    me = await kiosk.context.request.get("/api/v1/kiosk/me")
    assert (await me.json()) == {"enrolled": False}


async def test_paying_with_the_payment_code_the_scanner_reads(
    stack: Stack, page_as: PageFactory
) -> None:
    kiosk = await _kiosk(stack, page_as, PORTRAIT)
    case_no, order_no = await _order(stack)
    await _find(kiosk, case_no)
    await kiosk.locator("#v-order").wait_for()
    await kiosk.click("#pay-code")
    await kiosk.locator("#pay-code-form").wait_for()
    # the scanner types the code shown on the citizen's phone into the focused field, and Enter
    await kiosk.keyboard.type("134567890123456789")
    await kiosk.keyboard.press("Enter")
    await kiosk.locator("#v-receipt").wait_for(timeout=20_000)
    await expect(kiosk.locator("#r-no")).to_have_text(f"{order_no}-1", use_inner_text=True)
    await expect(kiosk.locator("#r-with")).to_have_text("微信", use_inner_text=True)
    await kiosk.click("#receipt-done")
    await kiosk.locator("#v-home").wait_for()
    await expect(kiosk.locator("body")).not_to_contain_text(order_no, use_inner_text=True)
