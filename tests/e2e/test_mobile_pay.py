"""The citizen pays on their own phone (不见面缴费) in a real browser at phone size: the link on a
payment notice (/m/{token}) shows the order, pays through each channel's H5 page (WeChat H5,
and Alipay / UnionPay once their adapters offer it) or inside WeChat (JSAPI: the silent web
authorization, then the bridge), follows the order and ends on the receipt. The window sees a
phone payment at once; a phone and the window paying together clear the order once and refund the
other payment; bad, expired and altered links are refused."""

from __future__ import annotations

import base64
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from playwright.async_api import expect

from clearing.service import pay_links
from tests.e2e.conftest import PageFactory, Stack, Watched
from tests.e2e.flows import api_when, manual_order, rows_when, shows, when, window_ready

PHONE = {"width": 390, "height": 844}
PHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15"
    " (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
WECHAT_UA = PHONE_UA + " MicroMessenger/8.0.47(0x18002f2f) NetType/WIFI Language/zh_CN"
PAYER_ID = "11010519491231002X"
AMOUNTS = (1000_00, 80_00)  # 契税, 不动产登记费
MOBILE_CHANNELS = ("wechatpay", "alipay", "unionpay")


def _key(stack: Stack) -> bytes:
    raw = (stack.var_dir / "keys" / "pay-link-hmac.key").read_text().strip()
    return base64.b64decode(raw)


def _token(stack: Stack, order: dict[str, Any]) -> str:
    return pay_links.make_token(
        _key(stack), order["order_no"], datetime.fromisoformat(order["expires_at"])
    )


async def _order(stack: Stack) -> dict[str, Any]:
    return await manual_order(
        stack,
        f"2026-BDC-M{secrets.randbelow(10**6):06d}",
        zip(("DEED_TAX", "REG_FEE"), AMOUNTS, strict=True),
        payer=("张三", PAYER_ID),
    )


async def _wait(stack: Stack, order_no: str, done: Any) -> dict[str, Any]:
    return await api_when(stack, f"/api/v1/orders/{order_no}", done, within_s=30)


async def _phone(page_as: PageFactory, ua: str = PHONE_UA, **context: Any) -> Watched:
    return await page_as(
        None, viewport=PHONE, user_agent=ua, is_mobile=True, has_touch=True, **context
    )


async def _ways(stack: Stack, token: str) -> list[str]:
    status, body = await stack.api(
        "GET", f"/m/{token}/order.json", headers={"User-Agent": PHONE_UA}
    )
    assert status == 200, body
    return [w["channel"] for w in body["ways"]]


async def _shows_the_order(phone: Watched, order: dict[str, Any]) -> None:
    await phone.locator("#m-order").wait_for()
    await expect(phone.locator("#m-no")).to_have_text(order["order_no"], use_inner_text=True)
    await expect(phone.locator("#m-total")).to_contain_text("¥1,080.00", use_inner_text=True)
    await expect(phone.locator("#m-capital")).to_have_text("壹仟零捌拾元整", use_inner_text=True)
    # beneficiaries by their display names, never codes
    await shows(phone.locator("#m-lines"), "契税", "不动产登记费", re.compile(r"税务|财政|不动产"))
    expires = re.compile(r"^\d{4}年\d{2}月\d{2}日 \d{2}:\d{2}（北京时间）$")
    await expect(phone.locator("#m-expires")).to_have_text(expires, use_inner_text=True)
    assert PAYER_ID not in await phone.content()
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width


async def _ends_on_the_receipt(phone: Watched, stack: Stack, order_no: str) -> None:
    await phone.locator("#m-receipt").wait_for(timeout=20_000)
    await expect(phone.locator("#m-state")).to_contain_text("已缴费", use_inner_text=True)
    await expect(phone.locator("#m-ways button")).to_have_count(0)
    pdf_url = await phone.get_attribute("#m-pdf", "href")
    assert pdf_url and pdf_url.startswith("/m/")
    answer = await phone.context.request.get(stack.base_url + pdf_url)
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/pdf"
    assert (await answer.body()).startswith(b"%PDF")
    verify = await phone.get_attribute("#m-verify", "href")
    assert verify and "/v/" in verify
    await phone.goto(verify)
    await expect(phone.locator("#verdict-title")).to_have_text("凭证真实有效", use_inner_text=True)
    state = (await _wait(stack, order_no, lambda o: o["state"] in ("CLEARED", "SETTLED")))["state"]
    assert state in ("CLEARED", "SETTLED")


async def _pay_at_cashier(phone: Watched) -> None:
    """The channel's own cashier page, whatever channel: its confirm button."""
    button = phone.get_by_role("button").filter(has_text=re.compile("支付|付款|确认"))
    await button.first.click()


@pytest.mark.parametrize("channel", MOBILE_CHANNELS)
async def test_phone_browser_pays_by_h5_and_ends_on_the_receipt(
    stack: Stack, page_as: PageFactory, channel: str
) -> None:
    order = await _order(stack)
    token = _token(stack, order)
    # every acquirer of the demo pays in a phone browser: one that stops offering it fails here
    assert channel in await _ways(stack, token), f"{channel} no longer offers h5"
    phone = await _phone(page_as)
    await phone.goto(f"/m/{token}")
    await _shows_the_order(phone, order)
    await expect(phone.locator("#m-state")).to_contain_text("待支付", use_inner_text=True)
    await phone.locator(f"#m-ways button[data-channel={channel}]").click()
    await phone.wait_for_url(lambda url: "/m/" not in url)  # the channel's cashier
    await _pay_at_cashier(phone)
    await phone.wait_for_url(re.compile(r"/m/[^/]+\?back="), timeout=20_000)
    await _ends_on_the_receipt(phone, stack, order["order_no"])
    _, attempts = await stack.api("GET", f"/api/v1/orders/{order['order_no']}", "clerk1")
    assert [a["method"] for a in attempts["attempts"]] == ["h5"]


async def test_inside_wechat_the_phone_authorizes_then_pays_through_the_bridge(
    stack: Stack, page_as: PageFactory
) -> None:
    order = await _order(stack)
    token = _token(stack, order)
    async with (
        aiohttp.ClientSession() as s,
        s.get(f"{stack.sim('wechatpay')}/sim/wechatpay/jsbridge.js") as r,
    ):
        bridge = await r.text()
        assert r.status == 200
    # WeChat's browser injects its bridge natively, above the page's own policy
    phone = await _phone(page_as, WECHAT_UA, bypass_csp=True)
    await phone.add_init_script(script=bridge)
    await phone.goto(f"/m/{token}")
    # the silent web authorization went to WeChat and came back with the openid
    await phone.locator("#m-ways button[data-channel=wechatpay]").wait_for()
    assert urlsplit(phone.url).path == f"/m/{token}"
    await _shows_the_order(phone, order)
    await phone.click("#m-ways button[data-channel=wechatpay]")
    await phone.click("#wx-pay-confirm")  # WeChat's own pay sheet
    await _ends_on_the_receipt(phone, stack, order["order_no"])
    _, view = await stack.api("GET", f"/api/v1/orders/{order['order_no']}", "clerk1")
    assert [a["method"] for a in view["attempts"]] == ["jsapi"]


async def _window_order(stack: Stack, clerk: Watched) -> str:
    """The clerk opens an order at the window, as in the hall."""
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            f"{stack.sim('tax')}/sim/cases", json={"buyer_name": "张三", "buyer_id": PAYER_ID}
        ) as r,
    ):
        declaration = str((await r.json())["declaration_no"])
    await clerk.wait_for_url("**/window")
    await clerk.get_by_text("实时连接").wait_for()
    case_no = f"2026-BDC-W{secrets.randbelow(10**6):06d}"
    await window_ready(clerk)
    await clerk.fill("#case-no", case_no)
    await clerk.fill("#payer-name", "张三")
    await clerk.fill("#payer-id", PAYER_ID)
    await clerk.fill("#declaration-no", declaration)
    await clerk.click("#lookup-case")
    await clerk.locator("#due-lines tr").first.wait_for()
    await clerk.click("#submit-order")
    await clerk.locator("#current").wait_for()
    status, listed = await stack.api("GET", "/api/v1/orders?office=HALL1&window=W01", "clerk1")
    assert status == 200, listed
    [mine] = [o for o in listed["orders"] if o["case_no"] == case_no]
    return str(mine["order_no"])


async def test_the_window_sees_a_phone_payment_at_once(stack: Stack, page_as: PageFactory) -> None:
    clerk = await page_as("clerk1")
    order_no = await _window_order(stack, clerk)
    _, order = await stack.api("GET", f"/api/v1/orders/{order_no}", "clerk1")
    phone = await _phone(page_as)
    await phone.goto(f"/m/{_token(stack, order)}")
    await phone.click("#m-ways button[data-channel=wechatpay]")
    await phone.wait_for_url(lambda url: "/m/" not in url)
    await _pay_at_cashier(phone)
    await clerk.locator("#c-paid").wait_for(timeout=15_000)
    await expect(clerk.locator("#c-paid")).to_contain_text("已缴费", use_inner_text=True)
    await phone.locator("#m-receipt").wait_for(timeout=20_000)


async def _sim(stack: Stack, method: str, path: str, body: Any = None) -> Any:
    async with (
        aiohttp.ClientSession() as s,
        s.request(method, f"{stack.sim('wechatpay')}{path}", json=body) as r,
    ):
        assert r.status == 200, await r.text()
        return await r.json()


async def _at_the_cashier_and_the_window(
    stack: Stack, page_as: PageFactory
) -> tuple[str, Watched, str]:
    """An order whose payer's phone is at WeChat's H5 cashier while the window shows its QR."""
    order = await _order(stack)
    phone = await _phone(page_as)
    await phone.goto(f"/m/{_token(stack, order)}")
    await phone.click("#m-ways button[data-channel=wechatpay]")
    await phone.wait_for_url(lambda url: "/m/" not in url)
    status, qr = await stack.api(
        "POST", f"/api/v1/orders/{order['order_no']}/payments", "clerk1",
        json={"method": "qr", "channel": "wechatpay"},
    )  # fmt: skip
    assert status == 201, qr
    return order["order_no"], phone, str(qr["out_trade_no"])


async def _payments(stack: Stack, order_no: str, count: int) -> list[Any]:
    return await rows_when(
        stack,
        lambda rows: len(rows) >= count,
        30,
        "SELECT p.outcome, a.method, a.out_trade_no FROM payments p"
        " JOIN payment_attempts a ON a.id = p.attempt_id"
        " JOIN orders o ON o.id = p.order_id WHERE o.order_no = $1 ORDER BY p.id",
        order_no,
    )


async def test_phone_and_window_both_pay_one_clears_the_other_is_refunded(
    stack: Stack, page_as: PageFactory
) -> None:
    order_no, phone, qr_no = await _at_the_cashier_and_the_window(stack, page_as)
    # both payments are taken at WeChat before our service hears of either
    await _sim(stack, "PUT", "/sim/faults", {"delay_callbacks_s": 2.0})
    try:
        await _pay_at_cashier(phone)
        await phone.wait_for_url(re.compile(r"/m/[^/]+\?back="), timeout=20_000)
        await _sim(stack, "POST", f"/sim/orders/{qr_no}/pay")
    finally:
        await _sim(stack, "DELETE", "/sim/faults")
    rows = await _payments(stack, order_no, 2)
    assert sorted(r["outcome"] for r in rows) == ["CLEARED", "SUSPENSE"]
    assert sorted(r["method"] for r in rows) == ["h5", "qr"]
    cleared = next(r for r in rows if r["outcome"] == "CLEARED")
    second = next(r for r in rows if r["outcome"] == "SUSPENSE")
    # the second payment is refunded
    await when(
        lambda: _sim(stack, "GET", f"/sim/orders/{second['out_trade_no']}"),
        lambda o: o["refunds"],
        30,
    )
    assert not (await _sim(stack, "GET", f"/sim/orders/{cleared['out_trade_no']}"))["refunds"]
    # the phone, still following the order, ends on the one receipt
    await phone.locator("#m-receipt").wait_for(timeout=20_000)
    final = await _wait(stack, order_no, lambda o: o["state"] in ("CLEARED", "SETTLED"))
    assert len(await _payments(stack, order_no, 2)) == 2
    assert final["total_fen"] == sum(AMOUNTS)


async def test_a_window_payment_closes_the_phones_open_payment(
    stack: Stack, page_as: PageFactory
) -> None:
    order_no, phone, qr_no = await _at_the_cashier_and_the_window(stack, page_as)
    await _sim(stack, "POST", f"/sim/orders/{qr_no}/pay")
    await _wait(stack, order_no, lambda o: o["state"] in ("CLEARED", "SETTLED"))
    view = await _wait(
        stack, order_no, lambda o: [a["state"] for a in o["attempts"]] == ["CLOSED", "SUCCEEDED"]
    )
    assert [a["method"] for a in view["attempts"]] == ["h5", "qr"]
    # the cashier still open on the phone can no longer take the money
    phone.allow_console(r"status of 409")
    await _pay_at_cashier(phone)
    await phone.get_by_text("该订单当前不可支付").wait_for()
    assert len(await _payments(stack, order_no, 1)) == 1


async def test_bad_expired_and_altered_links_are_refused(
    stack: Stack, page_as: PageFactory
) -> None:
    order = await _order(stack)
    other = await _order(stack)
    good = _token(stack, order)
    expires = datetime.fromisoformat(order["expires_at"])
    order_part, exp_part, mac = good.split(".")
    refused = [
        "not-a-token",
        f"{order_part}.{exp_part}.{'A' * 22}",  # forged MAC
        f"{other['order_no']}.{exp_part}.{mac}",  # another order's number under this MAC
        pay_links.make_token(b"k" * 32, order["order_no"], expires),  # another key
        pay_links.make_token(
            _key(stack), order["order_no"], datetime.now(UTC) - timedelta(seconds=1)
        ),
    ]
    phone = await _phone(page_as)
    phone.allow_console(r"404")
    for token in refused:
        answer = await phone.goto(f"/m/{token}")
        assert answer is not None and answer.status == 404, token
        await expect(phone.locator("body")).to_contain_text("缴费链接无效", use_inner_text=True)
        status, body = await stack.api("GET", f"/m/{token}/order.json")
        assert status == 404 and body["code"] == "PAY_LINK_INVALID", body
        status, body = await stack.api(
            "POST", f"/m/{token}/payments", json={"channel": "wechatpay", "method": "h5"}
        )
        assert status == 404, body
    _, view = await stack.api("GET", f"/api/v1/orders/{order['order_no']}", "clerk1")
    assert view["attempts"] == []


async def test_a_cancelled_order_shows_so_and_offers_no_payment(
    stack: Stack, page_as: PageFactory
) -> None:
    order = await _order(stack)
    status, body = await stack.api(
        "POST", f"/api/v1/orders/{order['order_no']}/cancel", "super1", json={"reason": "测试撤销"}
    )
    assert status == 200, body
    phone = await _phone(page_as)
    await phone.goto(f"/m/{_token(stack, order)}")
    await phone.locator("#m-order").wait_for()
    await expect(phone.locator("#m-state")).to_contain_text("不能缴费", use_inner_text=True)
    await expect(phone.locator("#m-ways button")).to_have_count(0)
    status, body = await stack.api(
        "POST", f"/m/{_token(stack, order)}/payments",
        json={"channel": "wechatpay", "method": "h5"},
    )  # fmt: skip
    assert status == 409 and body["code"] == "ORDER_NOT_PAYABLE", body
