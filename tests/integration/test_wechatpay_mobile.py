"""WeChat Pay on the payer's phone against the real simulator over HTTP: H5 (a phone browser
outside WeChat) and JSAPI (inside WeChat: web authorization, prepay, the bridge's paySign)."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from adapters.errors import AcquirerRejected
from adapters.wechatpay import crypto
from adapters.wechatpay import keys as keyset
from adapters.wechatpay.client import WeChatPayClient
from clearing.ports import PaymentAsk
from tests.integration.adapter_fixtures import keyset_fixture
from tests.integration.wechat_harness import (
    NotifyReceiver,
    WeChatSim,
    running_notify_receiver,
    running_wechat_sim,
)

_counter = iter(range(1, 1_000_000))
PHONE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari/604.1"
WECHAT_UA = PHONE_UA + " MicroMessenger/8.0.47(0x18002f2f) NetType/WIFI Language/zh_CN"


def trade_no() -> str:
    return f"TJ{os.getpid()}M{next(_counter):06d}"


def soon() -> datetime:
    return datetime.now(UTC) + timedelta(minutes=15)


keys_root = keyset_fixture(keyset, "wechat-mobile-keys")


@pytest.fixture
async def sim(keys_root: Path) -> AsyncIterator[WeChatSim]:
    async with running_wechat_sim(keys_root, retry_scale=0.01, seed=3) as running:
        yield running


@pytest.fixture
async def receiver(sim: WeChatSim) -> AsyncIterator[NotifyReceiver]:
    async with running_notify_receiver(sim.verifier()) as running:
        yield running


@pytest.fixture
def client(sim: WeChatSim, receiver: NotifyReceiver) -> WeChatPayClient:
    return WeChatPayClient(
        sim.session,
        base_url=sim.base_url,
        keys=sim.merchant,
        notify_url=receiver.url,
        timeout_s=2.0,
        open_url=sim.base_url,
        sns_url=sim.base_url,
    )


@pytest.fixture
async def phone() -> AsyncIterator[aiohttp.ClientSession]:
    """The payer's phone browser: its own cookies, never following redirects by itself."""
    # unsafe: the simulator is on 127.0.0.1, and the jar keeps no cookie of an IP host otherwise
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(headers={"User-Agent": PHONE_UA}, cookie_jar=jar) as s:
        yield s


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


async def open_h5(client: WeChatPayClient, receiver: NotifyReceiver, ip: str = "127.0.0.1"):  # type: ignore[no-untyped-def]
    no = trade_no()
    back = origin(receiver.url) + "/m/back"
    page = await client.open_mobile_page(
        PaymentAsk(
            out_trade_no=no, description="不动产登记税费 C1", total_fen=12_345, expires_at=soon()
        ),
        return_url=back,
        payer_ip=ip,
    )
    return no, back, page


async def test_h5_payer_confirms_and_comes_back_to_redirect_url(
    client: WeChatPayClient, receiver: NotifyReceiver, phone: aiohttp.ClientSession
) -> None:
    no, back, page = await open_h5(client, receiver)
    assert page.method == "GET"
    assert "redirect_url=" in page.url
    referer = {"Referer": origin(receiver.url) + "/m/token"}
    async with phone.get(page.url, headers=referer) as r:
        text = await r.text()
        assert r.status == 200, text
    assert "确认支付" in text and "123.45" in text
    prepay_id = parse_qs(urlsplit(page.url).query)["prepay_id"][0]
    form = {"prepay_id": prepay_id, "redirect_url": back}
    async with phone.post(
        origin(page.url) + "/sim/wechatpay/h5/pay", data=form, allow_redirects=False
    ) as r:
        assert r.status == 302
        assert r.headers["Location"] == back
    [delivery] = await receiver.wait_for(1)
    assert delivery.notice is not None and delivery.notice.out_trade_no == no
    assert delivery.notice.amount_fen == 12_345
    status = await client.query(no)
    assert status.paid and status.raw["trade_type"] == "MWEB"


@pytest.mark.parametrize(
    ("ip", "headers", "refusal"),
    [
        ("10.9.8.7", {"Referer": "R"}, "网络环境未能通过安全验证"),
        ("127.0.0.1", {}, "商家参数格式有误"),
        ("127.0.0.1", {"Referer": "http://elsewhere.example/x"}, "商家参数格式有误"),
        ("127.0.0.1", {"Referer": "R", "User-Agent": WECHAT_UA}, "请在微信外打开订单"),
    ],
)
async def test_h5_cashier_refuses_what_wechat_refuses(
    client: WeChatPayClient,
    receiver: NotifyReceiver,
    phone: aiohttp.ClientSession,
    sim: WeChatSim,
    ip: str,
    headers: dict[str, str],
    refusal: str,
) -> None:
    no, _back, page = await open_h5(client, receiver, ip)
    if headers.get("Referer") == "R":
        headers = {**headers, "Referer": origin(receiver.url) + "/m/token"}
    async with phone.get(page.url, headers=headers) as r:
        text = await r.text()
    assert r.status == 400
    assert refusal in text and "确认支付" not in text
    assert (await sim.order(no))["state"] == "NOTPAY"


async def test_h5_prepay_needs_a_payer_ip(
    client: WeChatPayClient, receiver: NotifyReceiver
) -> None:
    with pytest.raises(AcquirerRejected) as caught:
        await open_h5(client, receiver, ip="999.1.1.1")
    assert caught.value.code == "PARAM_ERROR"


async def authorized_openid(client: WeChatPayClient, phone: aiohttp.ClientSession) -> str:
    url = client.oauth_url(redirect_uri="http://127.0.0.1:1/m/tok/oauth?x=1", state="abc123")
    assert url.endswith("&scope=snsapi_base&state=abc123#wechat_redirect")
    async with phone.get(url, allow_redirects=False) as r:
        assert r.status == 302, await r.text()
        back = urlsplit(r.headers["Location"])
    query = parse_qs(back.query)
    assert back.path == "/m/tok/oauth" and query["state"] == ["abc123"] and query["x"] == ["1"]
    code = query["code"][0]
    openid = await client.openid_for(code)
    with pytest.raises(AcquirerRejected) as used:
        await client.openid_for(code)  # single use
    assert used.value.code == "40029"
    return openid


async def test_jsapi_authorize_prepay_and_bridge_verifies_pay_sign(
    client: WeChatPayClient,
    receiver: NotifyReceiver,
    phone: aiohttp.ClientSession,
    sim: WeChatSim,
) -> None:
    openid = await authorized_openid(client, phone)
    # the same phone is the same WeChat user
    assert await authorized_openid(client, phone) == openid
    no = trade_no()
    ask = PaymentAsk(no, "不动产登记税费 C2", 500, soon())
    params = await client.create_jsapi(ask, openid=openid)
    assert set(params) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert params["signType"] == "RSA" and params["package"].startswith("prepay_id=")
    message = crypto.bridge_message(
        params["appId"], params["timeStamp"], params["nonceStr"], params["package"]
    )
    assert message.endswith(b"\n") and message.count(b"\n") == 4
    merchant_public = sim.merchant.private_key.public_key()
    assert crypto.verify(merchant_public, message, params["paySign"])

    async def bridge(path: str, body: dict[str, str]) -> tuple[int, dict[str, Any]]:
        async with phone.post(
            sim.base_url + path, data=json.dumps(body), headers={"Content-Type": "text/plain"}
        ) as r:
            assert r.headers["Access-Control-Allow-Origin"] == "*"
            return r.status, await r.json()

    forged = {**params, "nonceStr": params["nonceStr"] + "x"}
    status, answer = await bridge("/sim/wechatpay/bridge/check", forged)
    assert (status, answer["code"]) == (400, "SIGN_ERROR")
    status, answer = await bridge("/sim/wechatpay/bridge/pay", forged)
    assert status == 400 and (await sim.order(no))["state"] == "NOTPAY"

    status, answer = await bridge("/sim/wechatpay/bridge/check", params)
    assert status == 200 and answer["total_fen"] == 500
    status, answer = await bridge("/sim/wechatpay/bridge/pay", params)
    assert (status, answer) == (200, {"err_msg": "get_brand_wcpay_request:ok"})
    [delivery] = await receiver.wait_for(1)
    assert delivery.notice is not None and delivery.notice.out_trade_no == no
    status_now = await client.query(no)
    assert status_now.paid and status_now.raw["payer"]["openid"] == openid
    assert status_now.raw["trade_type"] == "JSAPI"


async def test_jsapi_refuses_an_openid_of_another_app(
    client: WeChatPayClient, receiver: NotifyReceiver
) -> None:
    with pytest.raises(AcquirerRejected) as caught:
        ask = PaymentAsk(trade_no(), "x", 1, soon())
        await client.create_jsapi(ask, openid="oSomebodyElsesOpenid0000000")
    assert caught.value.code == "PARAM_ERROR"


async def test_code_exchange_needs_the_app_secret(
    sim: WeChatSim, receiver: NotifyReceiver, phone: aiohttp.ClientSession
) -> None:
    wrong = WeChatPayClient(
        sim.session,
        base_url=sim.base_url,
        keys=dataclasses.replace(sim.merchant, app_secret="0" * 32),
        notify_url=receiver.url,
        open_url=sim.base_url,
        sns_url=sim.base_url,
    )
    url = wrong.oauth_url(redirect_uri="http://127.0.0.1:1/back", state="s1")
    async with phone.get(url, allow_redirects=False) as r:
        code = parse_qs(urlsplit(r.headers["Location"]).query)["code"][0]
    with pytest.raises(AcquirerRejected) as caught:
        await wrong.openid_for(code)
    assert caught.value.code == "40125"
