"""UnionPay 手机网页支付 (ACP 5.1.0 front consumption, channelType 08) end to end over real HTTP:
the service's UnionPay channel signs the form, a phone browser posts it to the real simulator's
frontTransReq.do, the payer enters a card and confirms, and the service captures the payment from
the back notification, exactly once. The front notification the browser carries to frontUrl
proves nothing and changes nothing."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.unionpay import crypto, wire
from adapters.unionpay.gateway import FRONT_TRANS
from clearing.ports import PayPage
from tests.integration.mobile_harness import PhonePay, back_url
from tests.integration.phone_browser import Page, PhoneBrowser
from tests.integration.service_harness import Service
from tests.integration.unionpay_harness import running_unionpay_sim

acquirer = PhonePay("unionpay", running_unionpay_sim)
svc, phone, _faults = acquirer.fixtures()


def _refused(page: Page) -> str | None:
    return page.by_id("resp-code")


async def _unknown_at_sim(svc: Service, otn: str) -> bool:
    status, _ = await acquirer.sim(svc).control("GET", f"/sim/orders/{otn}")
    return status == 404


def test_the_channel_offers_h5(svc: Service) -> None:
    assert acquirer.channel(svc).supports("h5")


async def test_page_is_the_signed_front_consumption(svc: Service) -> None:
    order_no, otn, expires_at = await svc.open_attempt("unionpay", 123_45)
    page = await acquirer.page(svc, otn, 123_45, expires_at, order_no)
    assert (page.method, page.url) == ("POST", acquirer.sim(svc).base_url + FRONT_TRANS)
    f = dict(page.fields)
    assert {k: f[k] for k in ("txnType", "txnSubType", "bizType", "channelType", "accessType")} == {
        "txnType": "01",
        "txnSubType": "01",
        "bizType": "000201",
        "channelType": "08",
        "accessType": "0",
    }
    assert (f["orderId"], f["txnAmt"], f["currencyCode"]) == (otn, "12345", "156")
    assert f["frontUrl"] == back_url(svc, order_no)
    assert f["backUrl"] == svc.base_url + "/notify/unionpay"
    assert f["payTimeout"] == wire.txn_time(expires_at)
    assert (f["version"], f["signMethod"]) == ("5.1.0", "01")
    cert = acquirer.sim(svc).platform.merchant_certs[f["certId"]]
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    assert crypto.verify(f, key)


async def test_paid_on_the_card_page_is_captured_once_from_the_back_notification(
    svc: Service, phone: PhoneBrowser
) -> None:
    order_no, otn, expires_at = await svc.open_attempt("unionpay", 350_080_01)
    # every notification round goes out three times
    await acquirer.sim(svc).set_faults(duplicate_callbacks=2)
    pay = await acquirer.page(svc, otn, 350_080_01, expires_at, order_no)
    card = await phone.open(pay)
    assert card.status == 200
    assert card.url.path.startswith("/sim/wap/")
    assert (await acquirer.sim(svc).order(otn))["page_url"] == str(card.url)
    assert card.by_id("amount") == "¥350080.01"
    # the browser posted the same form twice (reload): still the one page
    again = await phone.open(pay)
    assert again.url == card.url
    # nothing paid yet: UnionPay has no transaction to show
    assert (await acquirer.channel(svc).query(otn)).state == "NOT_FOUND"

    result, _ = await phone.submit(card, card.form())
    assert result.by_id("status") == "支付成功"
    front = result.form("front")
    assert front.action == back_url(svc, order_no)
    assert (front.fields["respCode"], front.fields["orderId"], front.fields["txnAmt"]) == (
        "00",
        otn,
        "35008001",
    )
    assert "*" in front.fields["accNo"]

    status = await acquirer.captured_once(svc, order_no, otn)
    assert (status.state, status.amount_fen) == ("SUCCESS", 350_080_01)
    assert status.provider_txn_id == front.fields["queryId"]

    # paid: the page offers no second payment, and confirming again changes nothing
    await phone.submit(card, card.form())
    refused = await phone.open(await acquirer.page(svc, otn, 350_080_01, expires_at, order_no))
    assert _refused(refused) == "12"
    assert await svc.payment_counts(otn) == (1, 1)
    assert len((await acquirer.sim(svc).order(otn))["notifications"]) == 1


async def test_the_front_notification_captures_nothing(svc: Service, phone: PhoneBrowser) -> None:
    order_no, otn, _, card = await acquirer.opened(svc, phone, 88_00, drop_callbacks=1.0)
    result, _ = await phone.submit(card, card.form())
    # "返回商户": the browser posts the signed front notification to frontUrl
    await phone.submit(result, result.form("front"))
    await acquirer.captured_when_the_lost_notification_comes_again(svc, order_no, otn)


async def test_amount_tampering_is_refused(svc: Service, phone: PhoneBrowser) -> None:
    order_no, otn, expires_at = await svc.open_attempt("unionpay", 500_00)
    page = await acquirer.page(svc, otn, 500_00, expires_at, order_no)
    cheaper = PayPage(page.url, "POST", {**page.fields, "txnAmt": "1"})
    refused = await phone.open(cheaper)
    assert refused.status == 200
    assert _refused(refused) == "11"
    assert refused.forms == []
    assert await _unknown_at_sim(svc, otn)
    # nor may the back notification be sent anywhere else
    elsewhere = PayPage(page.url, "POST", {**page.fields, "backUrl": "https://evil.example/n"})
    assert _refused(await phone.open(elsewhere)) == "11"
    assert await _unknown_at_sim(svc, otn)


async def test_a_form_signed_with_another_key_is_refused(svc: Service, phone: PhoneBrowser) -> None:
    order_no, otn, expires_at = await svc.open_attempt("unionpay", 500_00)
    page = await acquirer.page(svc, otn, 500_00, expires_at, order_no)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    fields = {k: v for k, v in page.fields.items() if k != "signature"}
    forged = PayPage(page.url, "POST", {**fields, "signature": crypto.sign(fields, stranger)})
    assert _refused(await phone.open(forged)) == "11"
    assert await _unknown_at_sim(svc, otn)


async def test_the_same_order_id_with_another_amount_is_refused(
    svc: Service, phone: PhoneBrowser
) -> None:
    other, otn = await acquirer.another_amount(svc, phone)
    assert _refused(other) == "12"
    assert (await acquirer.sim(svc).order(otn))["amount_fen"] == 700_00


async def test_expired_pages_cannot_be_paid(svc: Service, phone: PhoneBrowser) -> None:
    late, otn = await acquirer.late_page(svc, phone)
    assert _refused(late) == "10"
    assert await _unknown_at_sim(svc, otn)

    _, otn, _, card = await acquirer.opened(svc, phone, 9_99)
    await acquirer.sim(svc).expire(otn)
    closed, _ = await phone.submit(card, card.form())
    assert closed.by_id("status") == "订单已超时，不能付款"
    assert (await acquirer.sim(svc).order(otn))["state"] == "EXPIRED"
    assert (await acquirer.channel(svc).query(otn)).state == "NOT_FOUND"
    assert await svc.payment_counts(otn) == (0, 0)


async def test_a_bad_card_number_is_asked_again(svc: Service, phone: PhoneBrowser) -> None:
    _, otn, _, card = await acquirer.opened(svc, phone, 1_00)
    again, _ = await phone.submit(card, card.form(), accNo="1234")
    assert again.by_id("note") == "卡号应为16至19位数字"
    assert (await acquirer.sim(svc).order(otn))["state"] == "ISSUED"


async def test_what_unionpay_would_refuse_is_not_signed(svc: Service) -> None:
    order_no, otn, expires_at = await svc.open_attempt("unionpay", 1_00)
    for bad_no in ("TJ-2026-0001", "short", "X" * 31):
        with pytest.raises(ValueError):
            await acquirer.page(svc, bad_no, 1_00, expires_at, order_no)
    with pytest.raises(ValueError):
        await acquirer.page(svc, otn, 0, expires_at, order_no)
    with pytest.raises(TypeError):
        await acquirer.page(svc, otn, 1.0, expires_at, order_no)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        await acquirer.page(svc, otn, 1_00, expires_at.replace(tzinfo=None), order_no)


@pytest.mark.parametrize("amount", ["0", "12.34", "-100", "1e3", ""])
async def test_a_signed_form_with_a_bad_amount_is_refused(
    svc: Service, phone: PhoneBrowser, amount: str
) -> None:
    order_no, otn, expires_at = await svc.open_attempt("unionpay", 1_00)
    page = await acquirer.page(svc, otn, 1_00, expires_at, order_no)
    # signed again with our real key: only the amount is wrong
    fields = {k: v for k, v in page.fields.items() if k != "signature"} | {"txnAmt": amount}
    fields["signature"] = crypto.sign(fields, acquirer.sim(svc).merchant.private_key)
    refused = await phone.open(PayPage(page.url, "POST", fields))
    assert _refused(refused) == "10"
    assert await _unknown_at_sim(svc, otn)
