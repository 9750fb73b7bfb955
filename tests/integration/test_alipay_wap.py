"""Alipay 手机网站支付 (alipay.trade.wap.pay) end to end over real HTTP: the service's Alipay
channel opens the page, a phone browser posts it to the real simulator, the payer confirms at
the cashier, and the service captures the payment from the notification, exactly once. The
browser's return to return_url proves nothing and changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urlsplit

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.alipay import crypto
from adapters.alipay.gateway import Gateway
from clearing.ports import PayPage
from tests.integration.alipay_harness import running_alipay_sim
from tests.integration.mobile_harness import PhonePay, back_url
from tests.integration.phone_browser import Page, PhoneBrowser
from tests.integration.service_harness import Service

acquirer = PhonePay("alipay", running_alipay_sim)
svc, phone, _faults = acquirer.fixtures()


def _refused(page: Page) -> str | None:
    return page.by_id("sub-code")


def test_the_channel_offers_h5(svc: Service) -> None:
    assert acquirer.channel(svc).supports("h5")


async def test_page_is_the_signed_wap_request(svc: Service) -> None:
    order_no, otn, expires_at = await svc.open_attempt("alipay", 123_45)
    page = await acquirer.page(svc, otn, 123_45, expires_at, order_no)
    assert page.method == "POST"
    split = urlsplit(page.url)
    assert f"{split.scheme}://{split.netloc}{split.path}" == acquirer.sim(svc).gateway_url
    params = dict(parse_qsl(split.query)) | dict(page.fields)
    assert params["method"] == "alipay.trade.wap.pay"
    assert params["notify_url"] == svc.base_url + "/notify/alipay"
    assert params["return_url"] == back_url(svc, order_no)
    assert crypto.verify(
        acquirer.sim(svc).platform.app_public_keys[params["app_id"]],
        crypto.request_content(params),
        params["sign"],
    )
    biz = json.loads(params["biz_content"])
    assert biz == {
        "out_trade_no": otn,
        "total_amount": "123.45",
        "subject": "不动产登记税费 2026-BDC-000777",
        "product_code": "QUICK_WAP_WAY",
        "quit_url": back_url(svc, order_no),
        "time_expire": crypto.beijing_text(expires_at),
    }


async def test_paid_at_the_cashier_is_captured_once_from_the_notification(
    svc: Service, phone: PhoneBrowser
) -> None:
    # every notification round goes out three times
    order_no, otn, expires_at, cashier = await acquirer.opened(
        svc, phone, 350_080_01, duplicate_callbacks=2
    )
    assert cashier.status == 200
    assert cashier.url.path.startswith("/sim/wap/")
    assert (await acquirer.sim(svc).order(otn))["cashier_url"] == str(cashier.url)
    assert cashier.by_id("amount") == "¥350080.01"
    assert "不动产登记税费 2026-BDC-000777" in cashier.text
    # the browser posted the same form twice (back button): still the one cashier
    again = await phone.open(await acquirer.page(svc, otn, 350_080_01, expires_at, order_no))
    assert again.url == cashier.url

    _, location = await phone.submit(cashier, cashier.form(), follow=False)
    assert location is not None and location.startswith(back_url(svc, order_no) + "?")
    back = dict(parse_qsl(urlsplit(location).query))
    assert (back["method"], back["out_trade_no"], back["total_amount"]) == (
        "alipay.trade.wap.pay.return",
        otn,
        "350080.01",
    )
    assert crypto.verify(
        acquirer.sim(svc).merchant.alipay_public_key, crypto.notify_content(back), back["sign"]
    )

    status = await acquirer.captured_once(svc, order_no, otn)
    assert (status.state, status.amount_fen) == ("SUCCESS", 350_080_01)

    # paid: the cashier offers no second payment, and confirming again changes nothing
    paid = await phone.get(str(cashier.url))
    assert paid.by_id("status") == "订单已支付"
    await phone.submit(cashier, cashier.form())
    refused = await phone.open(await acquirer.page(svc, otn, 350_080_01, expires_at, order_no))
    assert _refused(refused) == "ACQ.TRADE_HAS_SUCCESS"
    assert await svc.payment_counts(otn) == (1, 1)
    assert (await acquirer.sim(svc).order(otn))["paid_fen"] == 350_080_01


async def test_the_return_to_the_merchant_captures_nothing(
    svc: Service, phone: PhoneBrowser
) -> None:
    order_no, otn, _, cashier = await acquirer.opened(svc, phone, 88_00, drop_callbacks=1.0)
    _, location = await phone.submit(cashier, cashier.form(), follow=False)
    assert location is not None
    await phone.get(location)  # the browser arrives back at the service, signed parameters and all
    # the same signed parameters sent to the notify endpoint are no notification either
    back = urlsplit(location).query
    async with phone.session.post(
        svc.base_url + "/notify/alipay",
        data=back,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ) as resp:
        assert resp.status == 401
        assert await resp.text() != "success"
    await acquirer.captured_when_the_lost_notification_comes_again(svc, order_no, otn)


async def _refused_page(phone: PhoneBrowser, page: PayPage, **changed: str) -> Page:
    """Post the page with some parameters changed after signing, wherever they travel."""
    split = urlsplit(page.url)
    query = dict(parse_qsl(split.query))
    fields = dict(page.fields)
    for name, value in changed.items():
        (fields if name in fields else query)[name] = value
    url = split._replace(query=urlencode(query)).geturl()
    return await phone.open(PayPage(url=url, method="POST", fields=fields))


async def test_amount_tampering_is_refused(svc: Service, phone: PhoneBrowser) -> None:
    order_no, otn, expires_at = await svc.open_attempt("alipay", 500_00)
    page = await acquirer.page(svc, otn, 500_00, expires_at, order_no)
    biz = json.loads(page.fields["biz_content"])
    cheaper = crypto.compact_json({**biz, "total_amount": "0.01"})
    refused = await _refused_page(phone, page, biz_content=cheaper)
    assert refused.status == 200
    assert _refused(refused) == "isv.invalid-signature"
    assert refused.forms == []
    status, _ = await acquirer.sim(svc).control("GET", f"/sim/orders/{otn}")
    assert status == 404
    # nor may the browser be sent back anywhere else
    elsewhere = await _refused_page(phone, page, return_url="https://evil.example/steal")
    assert _refused(elsewhere) == "isv.invalid-signature"


async def test_a_request_signed_with_another_key_is_refused(
    svc: Service, phone: PhoneBrowser
) -> None:
    order_no, otn, expires_at = await svc.open_attempt("alipay", 500_00)
    page = await acquirer.page(svc, otn, 500_00, expires_at, order_no)
    params = dict(parse_qsl(urlsplit(page.url).query)) | dict(page.fields)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = crypto.sign(stranger, crypto.request_content(params))
    refused = await _refused_page(phone, page, sign=forged)
    assert _refused(refused) == "isv.invalid-signature"
    status, _ = await acquirer.sim(svc).control("GET", f"/sim/orders/{otn}")
    assert status == 404


async def test_the_same_out_trade_no_with_another_amount_is_refused(
    svc: Service, phone: PhoneBrowser
) -> None:
    other, otn = await acquirer.another_amount(svc, phone)
    assert _refused(other) == "ACQ.CONTEXT_INCONSISTENT"
    assert (await acquirer.sim(svc).order(otn))["total_fen"] == 700_00


async def test_expired_pages_cannot_be_paid(svc: Service, phone: PhoneBrowser) -> None:
    late, otn = await acquirer.late_page(svc, phone)
    assert _refused(late) == "ACQ.INVALID_PARAMETER"

    order_no, otn, expires_at, cashier = await acquirer.opened(svc, phone, 9_99)
    await acquirer.sim(svc).expire(otn)
    closed, _ = await phone.submit(cashier, cashier.form())
    assert closed.by_id("status") == "订单已关闭，不能付款"
    assert (await acquirer.sim(svc).order(otn))["paid_fen"] is None
    reopened = await phone.open(await acquirer.page(svc, otn, 9_99, expires_at, order_no))
    assert _refused(reopened) == "ACQ.TRADE_HAS_CLOSE"
    assert (await acquirer.channel(svc).query(otn)).state == "NOT_FOUND"
    assert await svc.payment_counts(otn) == (0, 0)


async def test_the_cashier_offers_the_way_back(svc: Service, phone: PhoneBrowser) -> None:
    order_no, _, _, cashier = await acquirer.opened(svc, phone, 1_00)
    assert f'href="{back_url(svc, order_no)}"' in cashier.text
    assert 'name="viewport"' in cashier.text


async def test_amounts_are_exact_int_fen(svc: Service) -> None:
    order_no, otn, expires_at = await svc.open_attempt("alipay", 1)
    page = await acquirer.page(svc, otn, 1, expires_at, order_no)
    assert json.loads(page.fields["biz_content"])["total_amount"] == "0.01"
    for bad, error in ((1.5, TypeError), (True, TypeError), (0, ValueError), (-100, ValueError)):
        with pytest.raises(error):
            await acquirer.page(svc, otn, bad, expires_at, order_no)  # type: ignore[arg-type]


@pytest.mark.parametrize("amount", ["0.00", "12.345", "-1.00", "1e3", "100000000.01"])
async def test_a_signed_request_with_a_bad_amount_is_refused(
    svc: Service, phone: PhoneBrowser, amount: str
) -> None:
    order_no, otn, _ = await svc.open_attempt("alipay", 1_00)
    async with aiohttp.ClientSession() as session:
        # signed with our real key: only the amount is wrong
        gateway = Gateway(
            session,
            url=acquirer.sim(svc).gateway_url,
            keys=acquirer.sim(svc).merchant,
            timeout_s=5,
            clock=lambda: datetime.now(UTC),
        )
        url, fields = gateway.page_request(
            "alipay.trade.wap.pay",
            {
                "out_trade_no": otn,
                "total_amount": amount,
                "subject": "不动产登记税费",
                "product_code": "QUICK_WAP_WAY",
            },
            notify_url=svc.base_url + "/notify/alipay",
            return_url=back_url(svc, order_no),
        )
    refused = await phone.open(PayPage(url=url, method="POST", fields=fields))
    assert _refused(refused) in ("ACQ.INVALID_PARAMETER", "ACQ.TOTAL_FEE_EXCEED")
    status, _ = await acquirer.sim(svc).control("GET", f"/sim/orders/{otn}")
    assert status == 404


async def test_closing_an_unpaid_page_stops_the_cashier(svc: Service, phone: PhoneBrowser) -> None:
    _, otn, _, cashier = await acquirer.opened(svc, phone, 2_00)
    await acquirer.channel(svc).close(otn)
    closed, _ = await phone.submit(cashier, cashier.form())
    assert closed.by_id("status") == "订单已关闭，不能付款"
    assert (await acquirer.sim(svc).order(otn))["paid_fen"] is None
    assert (await acquirer.channel(svc).query(otn)).state == "NOT_FOUND"
