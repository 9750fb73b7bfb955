"""The acquirers' own phone pages (Alipay's cashier, UnionPay's card page) in a real Chromium at
phone width: the merchant's auto-submitted form gets there, the payer confirms, the demo
service captures the payment from the notification, and the browser comes back to the merchant
with the signed return that verifies as sent. No console errors on the way.

The merchant's return page here is a small local one that records what the browser brought; the
service's own return page belongs to the mobile payment page and is tested there."""

from __future__ import annotations

import html
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import expect

from adapters.alipay.client import AlipayClient
from adapters.alipay.keys import load_merchant_keys as alipay_keys
from adapters.alipay.notify import AlipayNotifyParser
from adapters.unionpay.client import UnionPayClient
from adapters.unionpay.keys import load_merchant_keys as unionpay_keys
from adapters.unionpay.notify import UnionPayNotifyParser
from clearing.ports import PaymentAsk, PayPage
from tests.e2e.conftest import PageFactory, Stack, Watched
from tests.e2e.flows import api_when
from tests.integration.service_harness import open_attempt_row, order_body
from tests.integration.serving import serving

PHONE = {"width": 375, "height": 667}


class Merchant:
    """The merchant's return page: records each arrival (method, query, form body)."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[str, str, bytes]] = []
        self.base_url = ""

    async def back(self, request: web.Request) -> web.Response:
        self.arrivals.append((request.method, request.query_string, await request.read()))
        return web.Response(
            text='<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
            '<link rel="icon" href="data:,"><title>返回</title></head>'
            '<body><p id="returned">确认中</p></body></html>',
            content_type="text/html",
        )

    def app(self, base_url: str) -> web.Application:
        self.base_url = base_url
        app = web.Application()
        app.router.add_route("*", "/back", self.back)
        return app


@pytest.fixture
async def merchant() -> AsyncIterator[Merchant]:
    m = Merchant()
    async with serving(m.app):
        yield m


async def _attempt(stack: Stack, provider: str, fen: int) -> tuple[str, str, datetime]:
    status, order = await stack.api(
        "POST",
        "/api/v1/orders",
        "super1",
        json=order_body((fen,)),
        headers={"Idempotency-Key": secrets.token_hex(10)},
    )
    assert status == 201, order
    async with stack.connected() as conn:
        otn, expires_at = await open_attempt_row(conn, order["order_no"], provider)
    return order["order_no"], otn, expires_at


async def _cleared(stack: Stack, order_no: str) -> None:
    await api_when(stack, f"/api/v1/orders/{order_no}", lambda o: o["state"] == "CLEARED", "super1")


async def _post_from_merchant_page(page: Any, pay: PayPage) -> None:
    """What the mobile payment page does with a POST PayPage: a form that submits itself."""
    inputs = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in pay.fields.items()
    )
    await page.set_content(
        '<!doctype html><html><head><meta charset="utf-8"></head><body>'
        f'<form id="go" method="post" action="{html.escape(pay.url)}">{inputs}</form>'
        "<script>document.getElementById('go').submit()</script></body></html>"
    )


async def _at_the_cashier(
    page_as: PageFactory,
    merchant: Merchant,
    client: AlipayClient | UnionPayClient,
    otn: str,
    fen: int,
    expires_at: datetime,
) -> Watched:
    """A phone browser that the merchant's page sent to the acquirer's own page for the
    attempt ``otn`` (the simulator's cashier), with ``merchant``'s page to come back to."""
    pay = await client.open_mobile_page(
        PaymentAsk(
            out_trade_no=otn, description="不动产登记税费", total_fen=fen, expires_at=expires_at
        ),
        return_url=merchant.base_url + "/back",
        payer_ip="203.0.113.7",
    )
    page = await page_as(None, viewport=PHONE, is_mobile=True, has_touch=True)
    await _post_from_merchant_page(page, pay)
    await page.wait_for_url("**/sim/wap/**")
    return page


async def _fits_the_phone(page: Any) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width}px wide on a {PHONE['width']}px phone"


async def test_alipay_cashier_in_a_phone_browser(
    stack: Stack, page_as: PageFactory, merchant: Merchant
) -> None:
    order_no, otn, expires_at = await _attempt(stack, "alipay", 1_234_56)
    keys = alipay_keys(stack.var_dir / "keys" / "alipay" / "merchant")
    async with aiohttp.ClientSession() as session:
        client = AlipayClient(
            session,
            gateway_url=stack.sim("alipay") + "/gateway.do",
            keys=keys,
            notify_url=stack.base_url + "/notify/alipay",
        )
        page = await _at_the_cashier(page_as, merchant, client, otn, 1_234_56, expires_at)
    await expect(page.locator("#amount")).to_have_text("¥1234.56", use_inner_text=True)
    await _fits_the_phone(page)
    await page.click("#confirm")
    await page.wait_for_url(merchant.base_url + "/back?**")
    await page.locator("#returned").wait_for()
    await _cleared(stack, order_no)
    # the signed return verifies as the browser brought it; it is still only a display hint
    method, query, _ = merchant.arrivals[-1]
    assert method == "GET"
    parser = AlipayNotifyParser(
        app_id=keys.app_id, seller_id=keys.seller_id, alipay_public_key=keys.alipay_public_key
    )
    back = parser.verify(query.encode())
    assert (back["out_trade_no"], back["total_amount"]) == (otn, "1234.56")


async def test_unionpay_card_page_in_a_phone_browser(
    stack: Stack, page_as: PageFactory, merchant: Merchant
) -> None:
    order_no, otn, expires_at = await _attempt(stack, "unionpay", 65_43)
    keys = unionpay_keys(stack.var_dir / "keys" / "unionpay" / "merchant")
    async with aiohttp.ClientSession() as session:
        client = UnionPayClient(
            session,
            base_url=stack.sim("unionpay"),
            keys=keys,
            notify_url=stack.base_url + "/notify/unionpay",
        )
        page = await _at_the_cashier(page_as, merchant, client, otn, 65_43, expires_at)
    await expect(page.locator("#amount")).to_have_text("¥65.43", use_inner_text=True)
    await _fits_the_phone(page)
    await page.click("#confirm")
    await page.locator("#status").wait_for()
    await expect(page.locator("#status")).to_have_text("支付成功", use_inner_text=True)
    await _fits_the_phone(page)
    # "返回商户" (or the countdown): the browser posts the signed front notification to frontUrl
    await page.click("#back")
    await page.locator("#returned").wait_for()
    await _cleared(stack, order_no)
    method, _, body = merchant.arrivals[-1]
    assert method == "POST"
    fields = UnionPayNotifyParser(keys).verify({}, body, datetime.now(UTC))
    assert (fields["orderId"], fields["txnAmt"], fields["respCode"]) == (otn, "6543", "00")
