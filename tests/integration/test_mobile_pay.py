"""The citizen's phone (/m/{token}) over real HTTP against the service and the WeChat Pay
simulator: what the page's JSON shows and hides, the refusals, the web authorization's state
check, the payer's address handed to WeChat, and a JSAPI payment through to the receipt."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from adapters.wechatpay.sim_state import STATE
from clearing.api.keys import POOL
from clearing.api.routes_mobile import PAY_LINK_KEY
from clearing.service import pay_links
from tests.integration.factories import PAYER_ID
from tests.integration.service_harness import Service, order_body, running_service
from tests.integration.wechat_harness import running_wechat_sim

PHONE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari/604.1"
WECHAT_UA = PHONE_UA + " MicroMessenger/8.0.47 NetType/WIFI Language/zh_CN"


@pytest.fixture(scope="module")
async def svc(db_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
    tmp: Path = tmp_path_factory.mktemp("mobile")
    async with (
        running_wechat_sim(tmp / "wechat", retry_scale=0.01) as sim,
        running_service(
            db_dsn, tmp, sim, workers=1, poll_first_s=0.3, poll_later_s=0.5,
            wechatpay_open_url=sim.base_url, wechatpay_sns_url=sim.base_url,
            trusted_proxies=["127.0.0.1"],
        ) as s,
    ):  # fmt: skip
        yield s


@pytest.fixture
async def phone() -> AsyncIterator[aiohttp.ClientSession]:
    # unsafe: everything is on 127.0.0.1, whose cookies the jar would otherwise drop
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(headers={"User-Agent": PHONE_UA}, cookie_jar=jar) as s:
        yield s


async def _order(svc: Service) -> tuple[dict[str, Any], str]:
    """A new order of 1080.00, and the token of its pay link (what the citizen's SMS carries)."""
    status, order = await svc.create_order(await svc.supervisor(), order_body((1000_00, 80_00)))
    assert status == 201, order
    expires_at = datetime.fromisoformat(order["expires_at"])
    return dict(order), pay_links.make_token(svc.app[PAY_LINK_KEY], order["order_no"], expires_at)


async def _pay_on_phone(
    svc: Service, phone: aiohttp.ClientSession, token: str, method: str, **headers: str
) -> tuple[int, Any]:
    """The phone asks the order's page to start a WeChat payment of ``method``."""
    async with phone.post(
        f"{svc.base_url}/m/{token}/payments",
        json={"channel": "wechatpay", "method": method},
        headers=headers,
    ) as r:
        return r.status, await r.json()


async def _get(
    session: aiohttp.ClientSession, url: str, **headers: str
) -> tuple[int, dict[str, str], str]:
    async with session.get(url, headers=headers, allow_redirects=False) as r:
        return r.status, dict(r.headers), await r.text()


async def test_the_order_as_the_phone_sees_it_and_the_ways_that_fit_the_browser(
    svc: Service, phone: aiohttp.ClientSession
) -> None:
    order, token = await _order(svc)
    url = f"{svc.base_url}/m/{token}/order.json"
    status, headers, text = await _get(phone, url)
    assert status == 200, text
    assert headers["Cache-Control"] == "no-store"
    assert PAYER_ID not in text and "张三" not in text
    body = json.loads(text)
    assert body["payer_id_masked"] == order["payer_id_masked"]
    assert (body["total_fen"], body["total_capital"]) == (1080_00, "壹仟零捌拾元整")
    assert re.fullmatch(r"\d{4}年\d{2}月\d{2}日 \d{2}:\d{2}", body["expires_bj"])
    for line in body["lines"]:
        # display names, not the codes of fee items and beneficiaries
        assert re.search(r"[\u4e00-\u9fff]", line["item_name"] + line["beneficiary_name"])
        assert not re.fullmatch(r"[A-Z0-9_]+", line["beneficiary_name"])
    assert body["ways"] == [{"channel": "wechatpay", "method": "h5", "name_zh": "微信支付"}]
    assert body["authorize_url"] is None and body["receipt"] is None

    _, _, text = await _get(phone, url, **{"User-Agent": WECHAT_UA})
    inside = json.loads(text)
    assert [(w["channel"], w["method"]) for w in inside["ways"]] == [("wechatpay", "jsapi")]
    assert inside["authorize_url"] == f"/m/{token}/wechat"

    status, headers, page = await _get(phone, f"{svc.base_url}/m/{token}")
    assert status == 200 and "手机缴费" in page
    # WeChat's H5 cashier wants our domain as Referer; the token stays out of it
    assert headers["Referrer-Policy"] == "origin"
    assert "script-src 'self'" in headers["Content-Security-Policy"]


async def test_bad_links_are_refused_everywhere_and_change_nothing(
    svc: Service, phone: aiohttp.ClientSession
) -> None:
    order, good = await _order(svc)
    no, exp, _mac = good.split(".")
    for token in (
        "x",
        f"{no}.{exp}.{'B' * 22}",
        pay_links.make_token(b"o" * 32, no, datetime.fromisoformat(order["expires_at"])),
    ):
        for path in ("", "/wechat", "/oauth?code=c&state=s", "/receipt.pdf"):
            status, _, text = await _get(phone, f"{svc.base_url}/m/{token}{path}")
            assert status == 404 and "缴费链接无效" in text, (token, path, text)
        status, _, text = await _get(phone, f"{svc.base_url}/m/{token}/order.json")
        assert status == 404 and json.loads(text)["code"] == "PAY_LINK_INVALID"
        async with phone.post(
            f"{svc.base_url}/m/{token}/payments", json={"channel": "wechatpay", "method": "h5"}
        ) as r:
            assert r.status == 404
    status, view = await svc.request("GET", f"/api/v1/orders/{no}", await svc.supervisor())
    assert status == 200 and view["attempts"] == []


async def test_jsapi_needs_the_web_authorization_and_its_own_state(
    svc: Service, phone: aiohttp.ClientSession
) -> None:
    order, token = await _order(svc)
    status, problem = await _pay_on_phone(svc, phone, token, "jsapi")
    assert (status, problem["code"]) == (409, "WECHAT_AUTHORIZATION_NEEDED")
    # an openid cookie made up by the browser is not the payer's
    phone.cookie_jar.update_cookies({"tj_wx_openid": "oFAKE0000000000.deadbeef"})
    status, _ = await _pay_on_phone(svc, phone, token, "jsapi")
    assert status == 409
    # WeChat coming back with a state this browser was never sent off with
    status, _, text = await _get(phone, f"{svc.base_url}/m/{token}/oauth?code=abc&state=abc")
    assert status == 400 and "微信授权失败" in text
    status, view = await svc.request(
        "GET", f"/api/v1/orders/{order['order_no']}", await svc.supervisor()
    )
    assert view["attempts"] == []


async def test_h5_hands_wechat_the_payers_own_address(
    svc: Service, phone: aiohttp.ClientSession
) -> None:
    order, token = await _order(svc)
    # the hall's proxy says who is calling
    status, started = await _pay_on_phone(
        svc, phone, token, "h5", **{"X-Forwarded-For": "203.0.113.9"}
    )
    assert status == 201, started
    assert started["method"] == "h5" and started["page"]["method"] == "GET"
    assert "redirect_url=" in started["page"]["url"]
    sent = svc.sim.app[STATE].orders[started["out_trade_no"]].request
    assert sent["scene_info"]["payer_client_ip"] == "203.0.113.9"
    async with svc.app[POOL].acquire() as conn:
        row = await conn.fetchrow(
            "SELECT method, started_by FROM payment_attempts WHERE out_trade_no = $1",
            started["out_trade_no"],
        )
        actor = await conn.fetchval(
            "SELECT actor FROM audit_log WHERE action = 'attempt.opened' AND object_id = $1",
            order["order_no"],
        )
    assert row is not None
    assert (row["method"], row["started_by"]) == ("h5", None)
    assert actor == "payer:mobile"


async def test_inside_wechat_from_authorization_to_the_receipt(
    svc: Service, phone: aiohttp.ClientSession
) -> None:
    order, token = await _order(svc)
    wechat = {"User-Agent": WECHAT_UA}
    url = f"{svc.base_url}/m/{token}/wechat"
    for _ in range(3):  # ours → WeChat's authorize → ours /oauth → the page
        status, headers, text = await _get(phone, url, **wechat)
        assert status == 302, text
        url = headers["Location"]
        url = url if url.startswith("http") else svc.base_url + url
    assert urlsplit(url).path == f"/m/{token}"
    status, started = await _pay_on_phone(svc, phone, token, "jsapi", **wechat)
    assert status == 201, started
    bridge = started["bridge"]
    assert bridge["package"].startswith("prepay_id=") and bridge["signType"] == "RSA"
    # WeChat's bridge checks paySign with our public key before the payer confirms
    async with phone.post(
        f"{svc.sim.base_url}/sim/wechatpay/bridge/pay",
        data=json.dumps(bridge),
        headers={"Content-Type": "text/plain"},
    ) as r:
        assert (r.status, await r.json()) == (200, {"err_msg": "get_brand_wcpay_request:ok"})
    await svc.wait_state(await svc.supervisor(), order["order_no"], "CLEARED")
    _, _, text = await _get(phone, f"{svc.base_url}/m/{token}/order.json", **wechat)
    body = json.loads(text)
    assert body["paid"] and body["ways"] == [] and body["state_zh"]
    assert body["receipt"]["pdf_url"] == f"/m/{token}/receipt.pdf"
    async with phone.get(svc.base_url + body["receipt"]["pdf_url"]) as r:
        assert r.status == 200 and r.content_type == "application/pdf"
        assert (await r.read()).startswith(b"%PDF")
    status, _, text = await _get(phone, body["receipt"]["verify_url"])
    assert status == 200 and "凭证真实有效" in text
    # a second payment for a paid order is refused before any channel is asked
    status, problem = await _pay_on_phone(svc, phone, token, "jsapi", **wechat)
    assert (status, problem["code"]) == (409, "ORDER_NOT_PAYABLE")


async def test_a_link_starts_only_a_few_payments_a_minute(
    svc: Service, phone: aiohttp.ClientSession
) -> None:
    from clearing.service.mobile_pay import MAX_PER_MINUTE

    order, token = await _order(svc)
    url = f"{svc.base_url}/m/{token}/payments"
    for _ in range(MAX_PER_MINUTE):
        async with phone.post(url, json={"channel": "wechatpay", "method": "h5"}) as r:
            assert r.status == 201, await r.text()
    async with phone.post(url, json={"channel": "wechatpay", "method": "h5"}) as r:
        assert r.status == 429
        assert (await r.json())["code"] == "PAY_ATTEMPTS_TOO_FREQUENT"
    status, view = await svc.request(
        "GET", f"/api/v1/orders/{order['order_no']}", await svc.supervisor()
    )
    assert status == 200 and len(view["attempts"]) == MAX_PER_MINUTE


async def test_a_channel_that_comes_back_with_a_form_post_lands_on_the_page(
    svc: Service, phone: aiohttp.ClientSession
) -> None:
    _, token = await _order(svc)
    async with phone.post(
        f"{svc.base_url}/m/{token}?back=unionpay", data={"respCode": "00"}, allow_redirects=False
    ) as r:
        assert r.status == 303
        assert r.headers["Location"] == f"/m/{token}?back=unionpay"


async def test_h5_paid_with_every_notification_lost_is_found_by_asking(
    svc: Service, phone: aiohttp.ClientSession
) -> None:
    order, token = await _order(svc)
    status, started = await _pay_on_phone(svc, phone, token, "h5")
    assert status == 201, started
    await svc.sim.set_faults(drop_callbacks=1.0)
    try:
        # the phone at WeChat's cashier, come from our page
        status, _, text = await _get(phone, started["page"]["url"], Referer=svc.base_url + "/")
        assert status == 200 and "确认支付" in text, text
        prepay_id = re.search(r'name="prepay_id" value="([^"]+)"', text)
        assert prepay_id is not None
        async with phone.post(
            f"{svc.sim.base_url}/sim/wechatpay/h5/pay",
            data={"prepay_id": prepay_id.group(1), "redirect_url": f"{svc.base_url}/m/{token}"},
            allow_redirects=False,
        ) as r:
            assert r.status == 302
            assert r.headers["Location"] == f"{svc.base_url}/m/{token}"
        await svc.wait_state(await svc.supervisor(), order["order_no"], "CLEARED", within_s=15)
    finally:
        await svc.sim.reset_faults()
    sim_order = await svc.sim.order(started["out_trade_no"])
    assert sim_order["notifications"] and not any(
        n["acknowledged"] for n in sim_order["notifications"]
    )
