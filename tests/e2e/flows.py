"""Steps many browser tests take on the way to what they test: a declaration at the tax bureau's
simulator, an order taken at the window as a clerk takes it, the citizen paying at the simulator's
page, the receipt link, and an order keyed in by the hall's supervisor through the API.

Each step waits for what a user would see before it returns, so the test that follows asserts on a
settled screen."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import aiohttp
from playwright.async_api import Locator, expect

from tests.e2e.conftest import PageFactory, Stack, Watched

PAY_BUTTON = re.compile("支付|付款|确认")
T = TypeVar("T")


async def when(read: Callable[[], Awaitable[T]], done: Callable[[T], object], within_s: float) -> T:
    """What ``read`` gives once ``done`` holds of it, read every 0.2 s; when ``within_s`` runs
    out, the test fails showing the last value read."""
    deadline = time.monotonic() + within_s
    while not done(value := await read()):
        assert time.monotonic() < deadline, value
        await asyncio.sleep(0.2)
    return value


async def api_when(
    stack: Stack,
    path: str,
    done: Callable[[Any], object],
    user: str = "clerk1",
    within_s: float = 20,
) -> dict[str, Any]:
    """The answer to GET ``path`` as ``user`` once ``done`` holds of it (see ``when``)."""

    async def read() -> Any:
        status, body = await stack.api("GET", path, user)
        assert status == 200, body
        return body

    return dict(await when(read, done, within_s))


async def rows_when(
    stack: Stack, done: Callable[[list[Any]], object], within_s: float, query: str, *args: object
) -> list[Any]:
    """The rows ``query`` finds once ``done`` holds of them (see ``when``)."""
    async with stack.connected() as conn:
        return await when(lambda: conn.fetch(query, *args), done, within_s)


async def sim_post(url: str, body: dict[str, object]) -> dict[str, object]:
    """A JSON POST to a simulator's control API, which must take it."""
    async with aiohttp.ClientSession() as s, s.post(url, json=body) as r:
        data = await r.json()
        assert r.status in (200, 201), data
        return dict(data)


async def declaration(stack: Stack, name: str, pid: str) -> str:
    """A buyer's tax declaration, recorded at the tax bureau's simulator; its number."""
    body = await sim_post(f"{stack.sim('tax')}/sim/cases", {"buyer_name": name, "buyer_id": pid})
    return str(body["declaration_no"])


async def signed_in(page_as: PageFactory, username: str, path: str) -> Watched:
    """``username`` signed in and landed on ``path``, the page their role starts on."""
    page = await page_as(username)
    await page.wait_for_url(f"**{path}")
    return page


async def at_window(page_as: PageFactory, username: str) -> Watched:
    """A clerk or supervisor signed in, on the window screen, its live connection up."""
    page = await signed_in(page_as, username, "/window")
    await page.get_by_text("实时连接").wait_for()
    return page


async def window_ready(page: Watched) -> None:
    """Until the window screen has wired and reset its order form: typing sooner can be wiped
    by that reset (it happened to a supervisor's page on a busy machine)."""
    await page.locator("body[data-ready]").wait_for(state="attached")


async def look_up_case(page: Watched, stack: Stack, case_no: str, name: str, pid: str) -> None:
    """The clerk types the case and the payer with a fresh declaration, and the due lines show."""
    declared = await declaration(stack, name, pid)
    await window_ready(page)
    await page.fill("#case-no", case_no)
    await page.fill("#payer-name", name)
    await page.fill("#payer-id", pid)
    await page.fill("#declaration-no", declared)
    await page.click("#lookup-case")
    await page.locator("#due-lines tr").first.wait_for()


async def take_order(page: Watched, stack: Stack, case_no: str, name: str, pid: str) -> None:
    """The clerk looks the case up and makes the order; the current order shows."""
    await look_up_case(page, stack, case_no, name, pid)
    await page.click("#submit-order")
    await page.locator("#current").wait_for()


async def citizen_pays_at_sim_link(clerk: Watched) -> None:
    """The citizen scans and pays: the simulator's own page, as the clerk's link opens it."""
    sim_link = clerk.locator("#c-sim")
    await sim_link.wait_for()
    async with clerk.context.expect_page() as popup_info:
        await sim_link.click()
    citizen = await popup_info.value
    await citizen.wait_for_load_state()
    await citizen.get_by_role("button").filter(has_text=PAY_BUTTON).first.click()


async def paid_order_no(clerk: Watched) -> str:
    """The window shows the order paid; the order number its receipt link names."""
    await expect(clerk.locator("#c-paid")).to_contain_text(
        "已缴费", timeout=15_000, use_inner_text=True
    )
    receipt = await clerk.get_attribute("#c-print", "href")
    match = re.search(r"/orders/([^/]+)/receipt", receipt or "")
    assert match, receipt
    return match.group(1)


async def shows(locator: Locator, *words: str | re.Pattern[str]) -> None:
    """``locator`` comes to hold each of ``words`` as the user reads it (auto-waiting, so a read
    right after a click or navigation does not catch the screen half drawn)."""
    for word in words:
        await expect(locator).to_contain_text(word, use_inner_text=True)


async def fits_staff_screen(page: Any) -> None:
    """Nothing runs off to the side of the halls' 1366×768 monitors."""
    width = await page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= 1366, f"{page.url} is {width}px wide at 1366×768"


async def fits_device_screen(page: Watched, *selectors: str) -> None:
    """An unattended screen (the citizen's display, the kiosk): nothing scrolls, and each named
    part lies wholly on the screen."""
    size: dict[str, int] = await page.evaluate(
        "() => ({w: innerWidth, h: innerHeight,"
        " sw: document.documentElement.scrollWidth, sh: document.documentElement.scrollHeight})"
    )
    assert size["sw"] <= size["w"] and size["sh"] <= size["h"], size
    for selector in selectors:
        box: Any = await page.locator(selector).bounding_box()
        assert box is not None, selector
        assert box["x"] >= 0 and box["y"] >= 0, (selector, box)
        assert box["x"] + box["width"] <= size["w"] + 1, (selector, box, size)
        assert box["y"] + box["height"] <= size["h"] + 1, (selector, box, size)


async def submit_form(
    form: Locator, fields: dict[str, str], choices: dict[str, str] | None = None
) -> None:
    """Types ``fields`` into the form's inputs and picks ``choices`` in its selects, in the
    order given (a window's list follows the office chosen before it), then submits."""
    for name, value in fields.items():
        await form.locator(f"[name={name}]").fill(value)
    for name, value in (choices or {}).items():
        await form.locator(f"[name={name}]").select_option(value)
    await form.locator("button[type=submit]").click()


async def refused_page(page: Watched, path: str, words: str, status: int = 403) -> None:
    """Going to ``path`` is refused with ``status``, and the page says why in ``words``."""
    response = await page.goto(path)
    assert response is not None and response.status == status
    await expect(page.locator("body")).to_contain_text(words, use_inner_text=True)


async def audit_actions(stack: Stack, object_id: str) -> list[str]:
    """What the audit log recorded about ``object_id``, oldest first."""
    async with stack.connected() as conn:
        rows = await conn.fetch(
            "SELECT action FROM audit_log WHERE object_id = $1 ORDER BY id", object_id
        )
    return [str(r["action"]) for r in rows]


async def manual_order(
    stack: Stack,
    case_no: str,
    lines: Iterable[tuple[str, int]],
    *,
    payer: tuple[str, str] = ("张三", "11010519491231002X"),
    reason: str = "测试：主管手工录入",
) -> dict[str, Any]:
    """An order of HALL1's window W01 keyed in by hand by its supervisor (super1), as the API
    answers it."""
    body = {
        "case_no": case_no,
        "office": "HALL1",
        "window": "W01",
        "payer_name": payer[0],
        "payer_id": payer[1],
        "lines": [{"item_code": code, "amount_fen": fen} for code, fen in lines],
        "manual_reason": reason,
    }
    status, order = await stack.api(
        "POST",
        "/api/v1/orders",
        "super1",
        json=body,
        headers={"Idempotency-Key": secrets.token_hex(10)},
    )
    assert status == 201, order
    return dict(order)


async def paid_by_wechat_qr(stack: Stack, order_no: str) -> None:
    """The clerk (clerk1) starts a WeChat QR payment of ``order_no`` and the citizen pays it at
    the simulator; returns once the order is cleared (or already settled)."""
    status, started = await stack.api(
        "POST",
        f"/api/v1/orders/{order_no}/payments",
        "clerk1",
        json={"method": "qr", "channel": "wechatpay"},
    )
    assert status == 201, started
    async with (
        aiohttp.ClientSession() as s,
        s.post(f"{stack.sim('wechatpay')}/sim/orders/{started['out_trade_no']}/pay") as r,
    ):
        assert r.status == 200, await r.text()
    await api_when(
        stack, f"/api/v1/orders/{order_no}", lambda o: o["state"] in ("CLEARED", "SETTLED")
    )
