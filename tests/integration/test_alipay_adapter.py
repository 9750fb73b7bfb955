"""Alipay adapter against the real simulator over HTTP on 127.0.0.1 (no mocks)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pytest
from aiohttp import web

from adapters.alipay import crypto
from adapters.alipay import keys as keyset
from adapters.alipay.client import AlipayClient
from adapters.alipay.gateway import Answer, Gateway
from adapters.alipay.keys import (
    MERCHANT_DIR,
    PLATFORM_DIR,
    AppKeys,
    PlatformKeys,
    generate_keyset,
    load_merchant_keys,
    load_platform_keys,
)
from adapters.alipay.notify import ACK_OK, ACK_REFUSED, AlipayNotifyParser
from adapters.alipay.sim_state import RETRY_SCHEDULE_S
from adapters.errors import AcquirerRejected, AcquirerUnavailable, NotifyRejected, ResponseForged
from clearing.ports import CodeAsk, PaymentAsk, RefundAsk
from tests.integration.acquirer_steps import answered_too_late, qr_ask
from tests.integration.adapter_fixtures import acquirer_fixtures, keyset_fixture, regenerated_keyset
from tests.integration.alipay_harness import (
    AlipaySim,
    NotifyReceiver,
    load_keys,
    running_alipay_sim,
    running_notify_receiver,
)
from tests.integration.serving import answering, eventually, in_minutes, open_acquirer_qr

RETRY_SCALE = 0.001
FEE_RATE_PPM = 6000  # 0.6 %: government merchants pay none, but the bill must carry fees right
_counter = iter(range(1, 1_000_000))


def trade_no() -> str:
    return f"TJ{os.getpid()}N{next(_counter):06d}"


def buyer_code() -> str:
    return "28" + f"{next(_counter):016d}"


keys_root = keyset_fixture(keyset, "alipay-keys")


@pytest.fixture(scope="session")
def both_keys(keys_root: Path) -> tuple[AppKeys, PlatformKeys]:
    return load_keys(keys_root)


@pytest.fixture
async def sim(keys_root: Path, both_keys: tuple[AppKeys, PlatformKeys]) -> AsyncIterator[AlipaySim]:
    async with running_alipay_sim(
        keys_root, retry_scale=RETRY_SCALE, fee_rate_ppm=FEE_RATE_PPM, seed=7, keys=both_keys
    ) as running:
        yield running


# the simulator above reuses the keys loaded once; the endpoint and client are everyone's
receiver, client = acquirer_fixtures(running_alipay_sim)[1:]


async def open_qr(client: AlipayClient, total_fen: int = 12_345) -> str:
    return await open_acquirer_qr(client, trade_no(), "https://qr.alipay.com/bax", total_fen)


# --- signing and keys, no network --------------------------------------------------------


def test_request_content_is_sorted_raw_and_without_sign_or_empty_values() -> None:
    params = {
        "sign": "x",
        "method": "alipay.trade.query",
        "biz_content": '{"out_trade_no":"T 1&2"}',
        "app_id": "2021",
        "notify_url": "",
        "sign_type": "RSA2",
    }
    assert crypto.request_content(params) == (
        'app_id=2021&biz_content={"out_trade_no":"T 1&2"}&method=alipay.trade.query&sign_type=RSA2'
    )
    # notifications: sign and sign_type out, empty values kept (as the official SDKs check)
    assert crypto.notify_content({"b": "", "a": "1", "sign": "s", "sign_type": "RSA2"}) == "a=1&b="


def test_response_spans_cut_the_exact_text() -> None:
    body = '{ "alipay_trade_query_response" : {"a":"}{\\"","b":[1,{"c":"d"}]} ,"sign":"S=="}'
    spans = crypto.top_level_spans(body)
    start, end = spans["alipay_trade_query_response"]
    assert body[start:end] == '{"a":"}{\\"","b":[1,{"c":"d"}]}'
    assert body[slice(*spans["sign"])] == '"S=="'
    for bad in (
        '{"x_response":{},"x_response":{}}',  # which one was signed?
        '{"x_response":{}} trailing',
        '["not an object"]',
        '{"x_response":{}',
    ):
        with pytest.raises(ValueError):
            crypto.top_level_spans(bad)


def test_signed_response_verifies_only_over_the_text_as_sent(keys_root: Path) -> None:
    merchant = load_merchant_keys(keys_root / MERCHANT_DIR)
    platform = load_platform_keys(keys_root / PLATFORM_DIR)
    payload = {"code": "10000", "msg": "Success", "sub_msg": "交易成功"}
    body = crypto.signed_response("alipay_trade_query_response", payload, platform.private_key)
    spans = crypto.top_level_spans(body)
    inner = body[slice(*spans["alipay_trade_query_response"])]
    signature = body[slice(*spans["sign"])].strip('"')
    assert "交易成功" in inner  # Chinese is signed as UTF-8 text, not \\u escapes
    assert crypto.verify(merchant.alipay_public_key, inner, signature)
    assert not crypto.verify(merchant.alipay_public_key, inner.replace(",", ", "), signature)
    assert not crypto.verify(merchant.alipay_public_key, inner, "not base64!")


def test_keyset_is_idempotent_private_and_hidden_from_repr(keys_root: Path) -> None:
    secret_names = ("app_private_key.pem", "alipay_private_key.pem")
    merchant, platform = regenerated_keyset(keyset, keys_root, lambda p: p.name in secret_names, 2)
    assert (merchant.app_id, merchant.seller_id) == (platform.app_id, platform.seller_id)
    assert merchant.seller_id.startswith("2088") and len(merchant.seller_id) == 16
    assert set(platform.app_public_keys) == {merchant.app_id}
    assert platform.app_public_keys[merchant.app_id].public_numbers() == (
        merchant.private_key.public_key().public_numbers()
    )
    for shown in (repr(merchant), repr(platform)):
        assert "private_key" not in shown and "PRIVATE" not in shown


def test_keyset_fills_in_only_what_is_missing(tmp_path: Path) -> None:
    generate_keyset(tmp_path)
    platform_key = (tmp_path / PLATFORM_DIR / "alipay_private_key.pem").read_bytes()
    (tmp_path / MERCHANT_DIR / "alipay_public_key.pem").unlink()
    generate_keyset(tmp_path)
    assert (tmp_path / PLATFORM_DIR / "alipay_private_key.pem").read_bytes() == platform_key
    merchant = load_merchant_keys(tmp_path / MERCHANT_DIR)
    platform = load_platform_keys(tmp_path / PLATFORM_DIR)
    assert merchant.alipay_public_key.public_numbers() == (
        platform.private_key.public_key().public_numbers()
    )


# --- the QR flow over HTTP -----------------------------------------------------------------


async def test_precreate_scan_pay_and_notify(
    sim: AlipaySim, client: AlipayClient, receiver: NotifyReceiver
) -> None:
    no = await open_qr(client)
    # precreate makes no trade: before the scan Alipay has never heard of it
    assert (await client.query(no)).state == "NOT_FOUND"
    status, _ = await sim.scan(no)
    assert status == 200
    scanned = await client.query(no)
    assert (scanned.state, scanned.amount_fen, scanned.paid) == ("USERPAYING", 12_345, False)

    status, paid = await sim.pay(no)
    assert status == 200
    after = await client.query(no)
    assert after.state == "SUCCESS" and after.paid and after.amount_fen == 12_345
    assert after.provider_txn_id == paid["trade_no"]
    assert after.provider_txn_id is not None and len(after.provider_txn_id) == 28
    assert after.paid_at is not None and after.paid_at.utcoffset() == timedelta(hours=8)
    assert after.details["fund_channel"] == "ALIPAYACCOUNT"
    assert "*" in after.details["buyer_logon_id"]

    [delivery] = await receiver.wait_for(1)
    assert delivery.verdict == "OK" and delivery.notice is not None
    notice = delivery.notice
    assert (notice.provider, notice.event_id) == ("alipay", paid["notify_id"])
    assert (notice.out_trade_no, notice.amount_fen) == (no, 12_345)
    assert (notice.provider_txn_id, notice.paid_at) == (after.provider_txn_id, after.paid_at)
    assert notice.raw["body"] == "window=3"
    assert delivery.answered == 200
    state = await sim.acknowledged(no)
    assert [(d["status"], d["body"]) for d in state["deliveries"]] == [(200, "success")]


async def test_precreate_is_idempotent_for_the_same_request(
    sim: AlipaySim, client: AlipayClient
) -> None:
    no, expires = trade_no(), in_minutes(10)

    async def precreate(total_fen: int) -> str:
        return await client.create_qr(
            PaymentAsk(out_trade_no=no, description="契税", total_fen=total_fen, expires_at=expires)
        )

    first = await precreate(100)
    assert await precreate(100) == first
    with pytest.raises(AcquirerRejected) as changed:
        await precreate(200)
    assert (changed.value.status, changed.value.code) == (200, "ACQ.CONTEXT_INCONSISTENT")
    await sim.pay(no)
    with pytest.raises(AcquirerRejected) as paid:
        await precreate(100)
    assert paid.value.code == "ACQ.TRADE_HAS_SUCCESS"


async def test_bad_fields_are_invalid_parameters(sim: AlipaySim, client: AlipayClient) -> None:
    for out_trade_no, expires in (("bad no!", in_minutes(5)), (trade_no(), in_minutes(-1))):
        with pytest.raises(AcquirerRejected) as caught:
            await client.create_qr(
                PaymentAsk(
                    out_trade_no=out_trade_no, description="x", total_fen=1, expires_at=expires
                )
            )
        assert caught.value.code == "ACQ.INVALID_PARAMETER"
    with pytest.raises(AcquirerRejected) as too_much:
        await client.create_qr(
            PaymentAsk(
                out_trade_no=trade_no(),
                description="x",
                total_fen=100_000_000_01,
                expires_at=in_minutes(5),
            )
        )
    assert too_much.value.code == "ACQ.TOTAL_FEE_EXCEED"
    # Alipay refuses / = & in a subject; the client writes their full-width forms instead
    no = trade_no()
    await client.create_qr(
        PaymentAsk(
            out_trade_no=no,
            description="契税/登记费&工本费=1",
            total_fen=1,
            expires_at=in_minutes(5),
        )
    )
    assert (await sim.order(no))["subject"] == "契税／登记费＆工本费＝1"
    with pytest.raises(TypeError):
        await client.create_qr(
            PaymentAsk(
                out_trade_no=no,
                description="x",
                total_fen=1.0,  # type: ignore[arg-type]
                expires_at=in_minutes(5),
            )
        )


async def test_closing_an_unscanned_qr_voids_it(sim: AlipaySim, client: AlipayClient) -> None:
    no = await open_qr(client)
    await client.close(no)  # close says TRADE_NOT_EXIST; cancel is what voids the QR
    await client.close(no)  # closing twice is fine
    assert (await sim.order(no))["cancel_action"] == "close"
    status, answer = await sim.pay(no)
    assert (status, answer["code"]) == (409, "TRADE_HAS_CLOSE")
    assert (await client.query(no)).state == "NOT_FOUND"


async def test_closing_a_scanned_trade_twice(
    sim: AlipaySim, client: AlipayClient, receiver: NotifyReceiver
) -> None:
    no = await open_qr(client)
    await sim.scan(no)
    await client.close(no)
    assert (await client.query(no)).state == "CLOSED"
    await client.close(no)  # TRADE_STATUS_ERROR, but the trade is closed: fine
    status, _ = await sim.pay(no)
    assert status == 409
    # the TRADE_CLOSED notification is verified and acknowledged, and reports no payment
    [delivery] = await receiver.wait_for(1)
    assert (delivery.verdict, delivery.notice, delivery.answered) == ("OK", None, 200)


async def test_expired_codes_cannot_be_paid(sim: AlipaySim, client: AlipayClient) -> None:
    unscanned, scanned = await open_qr(client), await open_qr(client)
    await sim.scan(scanned)
    for no in (unscanned, scanned):
        await sim.expire(no)
        status, _ = await sim.pay(no)
        assert status == 409
    assert (await client.query(unscanned)).state == "NOT_FOUND"
    assert (await client.query(scanned)).state == "CLOSED"


async def test_scan_page_pays_through_the_form(sim: AlipaySim, client: AlipayClient) -> None:
    no = trade_no()
    qr = await client.create_qr(
        PaymentAsk(
            out_trade_no=no, description="维修资金<首期>", total_fen=1_205, expires_at=in_minutes(5)
        )
    )
    token = qr.rsplit("/", 1)[1]
    async with sim.session.get(f"{sim.base_url}/sim/scan/{token}") as resp:
        page = await resp.text()
    assert resp.status == 200
    assert "确认付款" in page and "¥12.05" in page and "维修资金&lt;首期&gt;" in page
    assert (await client.query(no)).state == "USERPAYING"  # scanning made the trade
    async with sim.session.post(f"{sim.base_url}/sim/orders/{no}/pay", data={"ok": "1"}) as resp:
        assert resp.status == 200 and "付款成功" in await resp.text()
    assert (await client.query(no)).state == "SUCCESS"
    async with sim.session.get(f"{sim.base_url}/sim/scan/unknown") as resp:
        assert resp.status == 404


# --- payment codes (B scans C) ---------------------------------------------------------------


async def test_pay_by_code(sim: AlipaySim, client: AlipayClient, receiver: NotifyReceiver) -> None:
    no, code = trade_no(), buyer_code()
    paid = await client.pay_by_code(
        CodeAsk(out_trade_no=no, auth_code=code, description="契税", total_fen=50_000, attach="w=1")
    )
    assert paid.state == "SUCCESS" and paid.paid and paid.amount_fen == 50_000
    assert paid.paid_at is not None
    [delivery] = await receiver.wait_for(1)
    assert delivery.notice is not None and delivery.notice.provider_txn_id == paid.provider_txn_id
    # the clerk's retry of a payment that went through reports the trade as it is
    again = await client.pay_by_code(
        CodeAsk(out_trade_no=no, auth_code=code, description="契税", total_fen=50_000, attach="w=1")
    )
    assert (again.state, again.provider_txn_id) == ("SUCCESS", paid.provider_txn_id)


@pytest.mark.parametrize("code", ["1312345678901234", "2812345", "2812345678901234567890123", "x"])
async def test_codes_alipay_would_not_read_are_refused(client: AlipayClient, code: str) -> None:
    no = trade_no()
    with pytest.raises(AcquirerRejected) as caught:
        await client.pay_by_code(
            CodeAsk(out_trade_no=no, auth_code=code, description="x", total_fen=1)
        )
    assert caught.value.code == "ACQ.PAYMENT_AUTH_CODE_INVALID"
    assert code not in str(caught.value)  # a payment code is a credential: never echoed


async def test_user_paying_then_confirmed(sim: AlipaySim, client: AlipayClient) -> None:
    await sim.set_faults(user_paying=True, user_paying_s=0.2)
    no = trade_no()
    waiting = await client.pay_by_code(
        CodeAsk(out_trade_no=no, auth_code=buyer_code(), description="契税", total_fen=300)
    )
    assert (waiting.state, waiting.paid) == ("USERPAYING", False)
    assert waiting.provider_txn_id is not None

    async def paid() -> bool:
        return (await client.query(no)).state == "SUCCESS"

    await eventually(paid)


async def test_user_paying_never_then_reversed(sim: AlipaySim, client: AlipayClient) -> None:
    await sim.set_faults(user_paying=True, user_paying_completes=False)
    no = trade_no()
    waiting = await client.pay_by_code(
        CodeAsk(out_trade_no=no, auth_code=buyer_code(), description="契税", total_fen=300)
    )
    assert waiting.state == "USERPAYING"
    await client.reverse(no)
    assert (await client.query(no)).state == "CLOSED"
    assert (await sim.order(no))["cancel_action"] == "close"


async def test_payment_that_succeeded_after_the_client_gave_up_is_reversed(
    sim: AlipaySim, client: AlipayClient, receiver: NotifyReceiver
) -> None:
    no = trade_no()
    await answered_too_late(
        sim,
        lambda impatient: impatient.pay_by_code(
            CodeAsk(out_trade_no=no, auth_code=buyer_code(), description="契税", total_fen=700)
        ),
        receiver.url,
    )
    assert (await client.query(no)).state == "SUCCESS"
    await client.reverse(no)  # cancel refunds it in full
    await client.reverse(no)  # and says the same again
    reversed_ = await client.query(no)
    assert (reversed_.state, reversed_.paid) == ("REFUND", True)
    state = await sim.order(no)
    assert state["cancel_action"] == "refund"
    assert [(r["out_request_no"], r["refund_fen"]) for r in state["refunds"]] == [(None, 700)]


async def test_reversing_a_payment_that_never_arrived_blocks_it(
    sim: AlipaySim, client: AlipayClient
) -> None:
    no = trade_no()
    await client.reverse(no)
    with pytest.raises(AcquirerRejected) as caught:
        await client.pay_by_code(
            CodeAsk(out_trade_no=no, auth_code=buyer_code(), description="契税", total_fen=700)
        )
    assert caught.value.code == "ACQ.TRADE_HAS_CLOSE"


async def test_cancel_is_retried_while_alipay_asks_for_it(
    sim: AlipaySim, client: AlipayClient
) -> None:
    no = trade_no()
    await client.pay_by_code(
        CodeAsk(out_trade_no=no, auth_code=buyer_code(), description="契税", total_fen=700)
    )
    await sim.set_faults(cancel_retry=2)
    await client.reverse(no)  # two retry_flag=Y answers, then done
    assert (await sim.order(no))["cancel_action"] == "refund"
    await sim.set_faults(cancel_retry=3)
    with pytest.raises(AcquirerUnavailable) as caught:
        await client.reverse(trade_no())
    assert caught.value.reason == "ACQ.SYSTEM_ERROR"


# --- refunds -------------------------------------------------------------------------------


async def test_refunds(sim: AlipaySim, client: AlipayClient, receiver: NotifyReceiver) -> None:
    no = await open_qr(client, total_fen=1_000)
    await sim.pay(no)

    async def refund(out_refund_no: str, refund_fen: int) -> str:
        outcome = await client.refund(
            RefundAsk(
                out_trade_no=no,
                out_refund_no=out_refund_no,
                refund_fen=refund_fen,
                total_fen=1_000,
                reason="多缴",
            )
        )
        return f"{outcome.state} {outcome.raw['fund_change']} {outcome.raw['refund_fee']}"

    assert await refund("R1" + no, 400) == "SUCCESS Y 4.00"
    assert await refund("R1" + no, 400) == "SUCCESS N 4.00"  # same out_request_no: no money moves
    for out_refund_no, fen, code in (
        ("R1" + no, 300, "ACQ.DISCORDANT_REPEAT_REQUEST"),
        ("R2" + no, 601, "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"),
    ):
        with pytest.raises(AcquirerRejected) as caught:
            await refund(out_refund_no, fen)
        assert caught.value.code == code
    found = await client.query_refund(out_trade_no=no, out_refund_no="R1" + no)
    assert (found.state, found.raw["refund_amount"]) == ("SUCCESS", "4.00")
    with pytest.raises(AcquirerRejected) as missing:
        await client.query_refund(out_trade_no=no, out_refund_no="R9" + no)
    assert missing.value.code == "REFUND_NOT_FOUND"
    assert (await client.query(no)).state == "SUCCESS"
    assert await refund("R2" + no, 600) == "SUCCESS Y 10.00"
    closed = await client.query(no)
    assert (closed.state, closed.paid) == ("REFUND", True)  # TRADE_CLOSED after a full refund
    # payment, then two refund notifications: all verified, only the first is a payment
    deliveries = await receiver.wait_for(3)
    assert [d.verdict for d in deliveries] == ["OK"] * 3
    assert [d.notice is not None for d in deliveries] == [True, False, False]
    with pytest.raises(ValueError):
        await client.refund(
            RefundAsk(out_trade_no=no, out_refund_no="R3", refund_fen=2, total_fen=1, reason="")
        )


async def test_refund_of_an_unpaid_trade(sim: AlipaySim, client: AlipayClient) -> None:
    no = await open_qr(client)
    with pytest.raises(AcquirerRejected) as unscanned:
        await client.refund(
            RefundAsk(out_trade_no=no, out_refund_no="R" + no, refund_fen=1, total_fen=1, reason="")
        )
    assert unscanned.value.code == "ACQ.TRADE_NOT_EXIST"
    await sim.scan(no)
    with pytest.raises(AcquirerRejected) as waiting:
        await client.refund(
            RefundAsk(out_trade_no=no, out_refund_no="R" + no, refund_fen=1, total_fen=1, reason="")
        )
    assert waiting.value.code == "ACQ.TRADE_STATUS_ERROR"


async def test_refund_whose_answer_was_lost_is_found_by_query(
    sim: AlipaySim, client: AlipayClient
) -> None:
    no = await open_qr(client, total_fen=1_000)
    await sim.pay(no)
    await sim.set_faults(refund_error="ACQ.SYSTEM_ERROR")
    with pytest.raises(AcquirerUnavailable):
        await client.refund(
            RefundAsk(
                out_trade_no=no, out_refund_no="R1" + no, refund_fen=100, total_fen=1_000, reason=""
            )
        )
    assert (await client.query_refund(out_trade_no=no, out_refund_no="R1" + no)).state == (
        "SUCCESS"
    )
    await sim.set_faults(refund_error="ACQ.SELLER_BALANCE_NOT_ENOUGH")
    with pytest.raises(AcquirerRejected) as refused:
        await client.refund(
            RefundAsk(
                out_trade_no=no, out_refund_no="R2" + no, refund_fen=100, total_fen=1_000, reason=""
            )
        )
    assert refused.value.code == "ACQ.SELLER_BALANCE_NOT_ENOUGH"
    with pytest.raises(AcquirerRejected):
        await client.query_refund(out_trade_no=no, out_refund_no="R2" + no)


# --- notifications -------------------------------------------------------------------------


def _notification(sim: AlipaySim, **changes: str) -> dict[str, str]:
    """A payment notification as Alipay would sign it (tests of the parser alone)."""
    now = datetime.now(crypto.BEIJING)
    params = {
        "notify_time": crypto.beijing_text(now),
        "notify_type": "trade_status_sync",
        "notify_id": "ac05099524730693a8b330c5ecf72da9786",
        "app_id": sim.merchant.app_id,
        "charset": "utf-8",
        "version": "1.0",
        "trade_no": "2026010122001400000000000001",
        "out_trade_no": "TJ20260101ABCDEF123456P01",
        "seller_id": sim.merchant.seller_id,
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "1234.56",
        "subject": "契税 & 登记费",
        "gmt_create": crypto.beijing_text(now),
        "gmt_payment": crypto.beijing_text(now),
        "sign_type": "RSA2",
    }
    params.update(changes)
    params = {k: v for k, v in params.items() if v != "<drop>"}
    params["sign"] = crypto.sign(sim.platform.private_key, crypto.notify_content(params))
    return params


def _refused(parser: AlipayNotifyParser, body: bytes, now: datetime | None = None) -> str:
    with pytest.raises(NotifyRejected) as caught:
        parser.parse({}, body, now or datetime.now(UTC))
    return caught.value.code


def test_notify_parser_accepts_payments_and_passes_other_events(sim: AlipaySim) -> None:
    parser = sim.parser()
    notice = parser({}, urlencode(_notification(sim)).encode(), datetime.now(UTC))
    assert notice is not None
    assert (notice.amount_fen, notice.event_id) == (123_456, "ac05099524730693a8b330c5ecf72da9786")
    assert notice.raw["subject"] == "契税 & 登记费"
    finished = _notification(sim, trade_status="TRADE_FINISHED")
    assert parser({}, urlencode(finished).encode(), datetime.now(UTC)) is not None
    for changes in (
        {"trade_status": "WAIT_BUYER_PAY"},
        {"trade_status": "TRADE_CLOSED"},
        {"out_biz_no": "R1", "refund_fee": "1.00", "gmt_refund": "2026-01-01 10:00:00.123"},
        {"notify_type": "trade_status_other"},
    ):
        assert parser({}, urlencode(_notification(sim, **changes)).encode(), datetime.now(UTC)) is (
            None
        ), changes
    assert ACK_OK == (200, "text/plain", b"success")
    assert ACK_REFUSED[0] == 401 and ACK_REFUSED[2] != b"success"


def test_notify_parser_refuses_forgeries_and_strangers(sim: AlipaySim) -> None:
    parser = sim.parser()
    good = _notification(sim)
    body = urlencode(good).encode()
    tampered = body.replace(b"total_amount=1234.56", b"total_amount=1.00")
    assert tampered != body
    assert _refused(parser, tampered) == "SIGNATURE_INVALID"
    assert _refused(parser, body + b"&extra=1") == "SIGNATURE_INVALID"
    unsigned = {k: v for k, v in good.items() if k != "sign"}
    assert _refused(parser, urlencode(unsigned).encode()) == "SIGNATURE_MISSING"
    assert _refused(parser, urlencode({**good, "sign_type": "RSA"}).encode()) == "SIGNATURE_INVALID"
    assert _refused(parser, urlencode({**good, "alipay_cert_sn": "abc"}).encode()) == "UNKNOWN_KEY"
    assert _refused(parser, body + b"&total_amount=1.00") == "MALFORMED"  # verify one, use other
    assert _refused(parser, b"\xff\xfe=1") == "MALFORMED"
    assert _refused(parser, b"no-equals-sign") == "MALFORMED"
    # genuinely signed by Alipay, but for somebody else
    for changes in ({"app_id": "2021000000000000"}, {"seller_id": "2088000000000000"}):
        other = urlencode(_notification(sim, **changes)).encode()
        assert _refused(parser, other) == "WRONG_MERCHANT"
    for changes in ({"total_amount": "12.345"}, {"gmt_payment": "2026/01/01"}, {"trade_no": ""}):
        broken = urlencode(_notification(sim, **changes)).encode()
        assert _refused(parser, broken) == "MALFORMED", changes
    assert _refused(parser, body, datetime.now(UTC) - timedelta(minutes=10)) == "TIMESTAMP_SKEW"
    strict = sim.parser(max_age_s=60)
    assert _refused(strict, body, datetime.now(UTC) + timedelta(minutes=2)) == "TIMESTAMP_SKEW"
    stranger = AlipayNotifyParser(
        app_id=sim.merchant.app_id,
        seller_id=sim.merchant.seller_id,
        alipay_public_key=sim.merchant.private_key.public_key(),  # not Alipay's key
    )
    assert _refused(stranger, body) == "SIGNATURE_INVALID"
    assert "PRIVATE" not in repr(parser)


async def test_resent_notifications_are_signed_afresh_at_each_sending(
    sim: AlipaySim, client: AlipayClient
) -> None:
    # the resend schedule itself is in tests/contract/test_acquirer_contract.py
    async with running_notify_receiver(sim.parser(), fail_first=1) as failing:
        no = await open_qr(sim.client(failing.url))
        await sim.pay(no)
        deliveries = await failing.wait_for(2)
    assert [d.verdict for d in deliveries] == ["OK", "OK"]
    # notify_time is the time of sending, so each resend is signed again
    sent = [dict(parse_qsl(d.body.decode()))["notify_time"] for d in deliveries]
    assert all(sent)


def test_retry_schedule_is_alipays() -> None:
    # protocols-cn.md 2.6: 4m, 10m, 10m, 1h, 2h, 6h, 15h after the first attempt (~25 h, 8 sends)
    assert [s / 60 for s in RETRY_SCHEDULE_S] == [4, 10, 10, 60, 120, 360, 900]
    assert sum(RETRY_SCHEDULE_S) / 3600 == pytest.approx(24.4)


async def test_a_body_other_than_success_is_not_an_acknowledgement(
    sim: AlipaySim, client: AlipayClient
) -> None:
    async def wrong_ack(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=200, text="SUCCESS ")  # close, but not the word

    async with answering("/notify/alipay", wrong_ack) as base_url:
        no = await open_qr(sim.client(base_url + "/notify/alipay"))
        await sim.pay(no)

        async def retried() -> bool:
            return len((await sim.order(no))["deliveries"]) >= 2

        await eventually(retried)
    assert (await sim.order(no))["notifications"][0]["acknowledged"] is False


async def test_reordered_callbacks_arrive_in_reverse(
    sim: AlipaySim, client: AlipayClient, receiver: NotifyReceiver
) -> None:
    await sim.set_faults(reorder_callbacks=True, reorder_window_s=0.3)
    paid = [await open_qr(client) for _ in range(3)]
    for no in paid:
        await sim.pay(no)
    deliveries = await receiver.wait_for(3)
    assert [d.notice.out_trade_no for d in deliveries if d.notice] == paid[::-1]


# --- gateway faults seen by the client -----------------------------------------------------


async def test_a_busy_gateway_is_unavailable_then_recovers(
    sim: AlipaySim, client: AlipayClient
) -> None:
    # a plain 5xx is in the contract suite; Alipay also answers 200 with isp.unknow-error
    await sim.set_faults(system_error=1)
    with pytest.raises(AcquirerUnavailable) as busy:
        await client.query(trade_no())
    assert busy.value.reason == "isp.unknow-error"
    await open_qr(client)


async def test_precreate_that_succeeded_after_the_client_gave_up(
    sim: AlipaySim, client: AlipayClient, receiver: NotifyReceiver
) -> None:
    ask = qr_ask(trade_no())
    await answered_too_late(
        sim, lambda impatient: impatient.create_qr(PaymentAsk(**ask)), receiver.url
    )
    # retrying the same request is safe and yields the QR Alipay already issued
    qr = await client.create_qr(PaymentAsk(**ask))
    assert qr == (await sim.order(ask["out_trade_no"]))["qr_code"]


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        # a success must be signed
        (
            '{"alipay_trade_query_response":{"code":"10000","trade_status":"TRADE_SUCCESS"}}',
            "forged",
        ),
        # "no such trade" makes the core treat the QR as unscanned: it must be signed too
        (
            '{"alipay_trade_query_response":{"code":"40004","sub_code":"ACQ.TRADE_NOT_EXIST"}}',
            "forged",
        ),
        # any other unsigned refusal can only make us stop
        (
            '{"alipay_trade_query_response":{"code":"40004","sub_code":"ACQ.X","sub_msg":"x"}}',
            "rejected",
        ),
        ('{"error_response":{"code":"40002","sub_code":"isv.invalid-app-id"}}', "rejected"),
        ('{"something_else":{}}', "unavailable"),
        ("<html>maintenance</html>", "unavailable"),
    ],
)
async def test_unsigned_answers(sim: AlipaySim, answer: str, outcome: str) -> None:
    async def gateway(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text=answer, content_type="application/json")

    async with answering("/gateway.do", gateway) as base_url:
        impostor = AlipayClient(
            sim.session,
            gateway_url=base_url + "/gateway.do",
            keys=sim.merchant,
            notify_url="http://127.0.0.1/n",
        )
        expected = {
            "forged": ResponseForged,
            "rejected": AcquirerRejected,
            "unavailable": AcquirerUnavailable,
        }[outcome]
        with pytest.raises(expected):
            await impostor.query("T1")


def _skewed(skew: timedelta) -> Callable[[], datetime]:
    return lambda: datetime.now(UTC) + skew


async def test_simulator_refuses_bad_request_signatures(sim: AlipaySim) -> None:
    ours = sim.merchant
    # signed with a key the app never uploaded (the simulator's own will do)
    forged = AppKeys(ours.app_id, ours.seller_id, sim.platform.private_key, ours.alipay_public_key)
    unknown_app = AppKeys(
        "2021000000000000", ours.seller_id, ours.private_key, ours.alipay_public_key
    )
    cases: list[tuple[AppKeys, timedelta, str]] = [
        (forged, timedelta(0), "isv.invalid-signature"),
        (ours, timedelta(minutes=-11), "isv.invalid-timestamp"),
        (unknown_app, timedelta(0), "isv.invalid-app-id"),
    ]
    for keys, skew, code in cases:
        client = AlipayClient(
            sim.session,
            gateway_url=sim.gateway_url,
            keys=keys,
            notify_url="http://127.0.0.1/n",
            clock=_skewed(skew),
        )
        with pytest.raises(AcquirerRejected) as caught:
            await client.query(trade_no())
        assert (caught.value.status, caught.value.code) == (200, code)


# --- a trade named by Alipay's trade_no -------------------------------------------------


def gateway_for(sim: AlipaySim) -> Gateway:
    """Signed calls with any ``biz_content``, for what our client never sends."""
    return Gateway(
        sim.session,
        url=sim.gateway_url,
        keys=sim.merchant,
        timeout_s=2.0,
        clock=lambda: datetime.now(UTC),
    )


async def test_every_trade_call_takes_trade_no_instead_of_out_trade_no(
    sim: AlipaySim, client: AlipayClient
) -> None:
    gateway = gateway_for(sim)

    async def call(method: str, **biz: str) -> Answer:
        return await gateway.call("probe", f"alipay.trade.{method}", biz)

    waiting = await open_qr(client)
    await sim.scan(waiting)
    waiting_trade_no = (await sim.order(waiting))["trade_no"]
    closed = await call("close", trade_no=waiting_trade_no)
    assert closed.ok and closed.data["out_trade_no"] == waiting
    assert (await client.query(waiting)).state == "CLOSED"

    paid = await open_qr(client, total_fen=1_000)
    _, paid_answer = await sim.pay(paid)
    trade = paid_answer["trade_no"]
    found = await call("query", trade_no=trade)
    assert (found.ok, found.data["out_trade_no"], found.data["trade_status"]) == (
        True,
        paid,
        "TRADE_SUCCESS",
    )
    refunded = await call("refund", trade_no=trade, out_request_no="R1", refund_amount="4.00")
    assert refunded.ok and refunded.data["refund_fee"] == "4.00"
    asked = await call("fastpay.refund.query", trade_no=trade, out_request_no="R1")
    assert asked.ok and asked.data["refund_amount"] == "4.00"
    # the refund made by trade_no is the one our client finds by out_trade_no
    outcome = await client.query_refund(out_trade_no=paid, out_refund_no="R1")
    assert outcome.state == "SUCCESS"

    reversed_no = await open_qr(client, total_fen=500)
    _, reversed_answer = await sim.pay(reversed_no)
    cancelled = await call("cancel", trade_no=reversed_answer["trade_no"])
    assert cancelled.ok and (cancelled.data["out_trade_no"], cancelled.data["action"]) == (
        reversed_no,
        "refund",
    )


async def test_trade_no_and_out_trade_no_must_name_the_same_trade(
    sim: AlipaySim, client: AlipayClient
) -> None:
    gateway = gateway_for(sim)
    first, second = await open_qr(client), await open_qr(client)
    _, paid = await sim.pay(first)
    await sim.pay(second)
    agreeing = await gateway.call(
        "probe", "alipay.trade.query", {"out_trade_no": first, "trade_no": paid["trade_no"]}
    )
    assert agreeing.ok and agreeing.data["out_trade_no"] == first
    for method in (
        "alipay.trade.query",
        "alipay.trade.close",
        "alipay.trade.cancel",
        "alipay.trade.refund",
        "alipay.trade.fastpay.refund.query",
    ):
        extra = {"out_request_no": "R1", "refund_amount": "1.00"}
        crossed = await gateway.call(
            "probe", method, {"out_trade_no": second, "trade_no": paid["trade_no"], **extra}
        )
        assert (crossed.code, crossed.sub_code) == ("40004", "ACQ.TRADE_NOT_EXIST"), method
        unknown = await gateway.call("probe", method, {"trade_no": "2026" + "0" * 24, **extra})
        assert unknown.sub_code == "ACQ.TRADE_NOT_EXIST", method
        neither = await gateway.call("probe", method, extra)
        assert (neither.code, neither.sub_code) == ("40004", "ACQ.INVALID_PARAMETER"), method
        assert "trade_no" in str(neither.data["sub_msg"])
    # none of the refused calls touched the trades
    assert (await client.query(first)).state == "SUCCESS"
    assert (await client.query(second)).state == "SUCCESS"


# --- the daily bill ------------------------------------------------------------------------


async def test_daily_bill_carries_payments_refunds_reversals_and_fees(
    sim: AlipaySim, client: AlipayClient
) -> None:
    first = await open_qr(client, total_fen=12_345)  # fee 74.07 fen → 74
    second = await open_qr(client, total_fen=250)  # fee 1.5 fen → 2 (half up)
    await sim.pay(first)
    await sim.pay(second)
    code_paid = trade_no()
    await client.pay_by_code(
        CodeAsk(
            out_trade_no=code_paid, auth_code=buyer_code(), description="契税", total_fen=10_000
        )
    )
    await client.refund(
        RefundAsk(
            out_trade_no=first,
            out_refund_no="R" + first,
            refund_fen=345,
            total_fen=12_345,
            reason="",
        )
    )
    await client.reverse(code_paid)  # fee 60 charged, then all of it given back
    unpaid = await open_qr(client)  # never paid: not on the bill
    today = datetime.now(crypto.BEIJING).date()

    records = [r for r in await client.daily_bill(today) if r.out_trade_no.startswith("TJ")]
    ours = {first, second, code_paid, unpaid}
    seen = [
        (r.kind, r.out_trade_no, r.amount_fen, r.fee_millifen, r.out_refund_no)
        for r in records
        if r.out_trade_no in ours
    ]
    assert seen == [
        ("PAYMENT", first, 12_345, 74_000, None),
        ("PAYMENT", second, 250, 2_000, None),
        ("PAYMENT", code_paid, 10_000, 60_000, None),
        ("REFUND", first, 345, -2_000, "R" + first),
        ("REVERSAL", code_paid, 10_000, -60_000, None),
    ]
    by_no = {r.out_trade_no: r for r in records if r.kind == "PAYMENT"}
    assert by_no[first].provider_txn_id == (await client.query(first)).provider_txn_id
    assert by_no[first].occurred_at.date() == today
    assert by_no[first].raw["商品名称"] == "不动产登记费及契税"
    assert {r.provider for r in records} == {"alipay"}


async def test_bill_days(sim: AlipaySim, client: AlipayClient) -> None:
    today = datetime.now(crypto.BEIJING).date()
    assert await client.daily_bill(today - timedelta(days=3)) == []  # nothing happened then
    with pytest.raises(AcquirerRejected) as future:
        await client.daily_bill(today + timedelta(days=2))
    assert future.value.code == "isp.bill_not_exist"
    async with sim.session.get(f"{sim.base_url}/downloadBillFile.resource?token=x") as resp:
        assert resp.status == 403


# --- the command line ----------------------------------------------------------------------
