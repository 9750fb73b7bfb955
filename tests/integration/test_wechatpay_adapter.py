"""WeChat Pay adapter against the real simulator over HTTP on 127.0.0.1 (no mocks)."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from adapters.errors import (
    AcquirerRejected,
    AcquirerUnavailable,
    NotifyRejected,
)
from adapters.wechatpay import crypto
from adapters.wechatpay import keys as keyset
from adapters.wechatpay.client import BEIJING, WeChatPayClient
from adapters.wechatpay.keys import (
    MERCHANT_DIR,
    PLATFORM_DIR,
    generate_keyset,
    load_merchant_keys,
    load_platform_keys,
)
from adapters.wechatpay.mapping import MalformedError, refund_outcome, trade_status
from adapters.wechatpay.notify import (
    ACK_OK,
    ACK_REFUSED,
    NotifyVerifier,
    VerifiedNotification,
    payment_notice,
)
from adapters.wechatpay.sim_bill import bill_text
from adapters.wechatpay.sim_state import STATE
from adapters.wechatpay.transport import Transport
from clearing.ports import ChannelRefused, CodeAsk, PaymentAsk, RefundAsk
from tests.integration.acquirer_steps import answered_too_late, qr_ask, refunded_twice
from tests.integration.adapter_fixtures import acquirer_fixtures, keyset_fixture, regenerated_keyset
from tests.integration.serving import in_minutes, open_acquirer_qr
from tests.integration.wechat_harness import (
    NotifyReceiver,
    WeChatSim,
    running_notify_receiver,
    running_wechat_sim,
)

RETRY_SCALE = 0.01
_counter = iter(range(1, 1_000_000))


def trade_no() -> str:
    return f"TJ{os.getpid()}N{next(_counter):06d}"


keys_root = keyset_fixture(keyset, "wechat-keys")


sim, receiver, client = acquirer_fixtures(running_wechat_sim, retry_scale=RETRY_SCALE, seed=7)


async def open_order(client: WeChatPayClient, total_fen: int = 12_345) -> str:
    return await open_acquirer_qr(client, trade_no(), "weixin://wxpay/bizpayurl?pr=", total_fen)


# --- crypto and keys, no network ---------------------------------------------------------


def test_request_signature_round_trip(keys_root: Path) -> None:
    merchant = load_merchant_keys(keys_root / MERCHANT_DIR)
    platform = load_platform_keys(keys_root / PLATFORM_DIR)
    body = '{"金额":1}'.encode()
    header = crypto.authorization_header(
        mchid=merchant.mchid,
        serial_no=merchant.merchant_serial,
        private_key=merchant.private_key,
        method="post",
        url_path="/v3/x?a=1",
        body=body,
        timestamp=1700000000,
        nonce="N1",
    )
    params = crypto.parse_authorization(header)
    assert (params.mchid, params.nonce_str, params.timestamp) == (
        merchant.mchid,
        "N1",
        "1700000000",
    )
    key = platform.merchant_public_keys[params.serial_no]
    message = crypto.request_message("POST", "/v3/x?a=1", 1700000000, "N1", body)
    assert message == b"POST\n/v3/x?a=1\n1700000000\nN1\n" + body + b"\n"
    assert crypto.verify(key, message, params.signature)
    assert not crypto.verify(key, message.replace(b"a=1", b"a=2"), params.signature)
    assert not crypto.verify(key, message, "not base64!")
    for bad in ("Bearer x", 'WECHATPAY2-SHA256-RSA2048 mchid="1"', header + ',mchid="2"'):
        with pytest.raises(ValueError):
            crypto.parse_authorization(bad)


def test_response_message_for_empty_body_keeps_an_empty_third_line(keys_root: Path) -> None:
    platform = load_platform_keys(keys_root / PLATFORM_DIR)
    merchant = load_merchant_keys(keys_root / MERCHANT_DIR)
    assert crypto.response_message("1700000000", "abc", b"") == b"1700000000\nabc\n\n"
    headers = crypto.response_headers(
        private_key=platform.private_key,
        serial=platform.public_key_id,
        body=b"",
        timestamp=1700000000,
        nonce="abc",
    )
    assert headers["Wechatpay-Serial"] == merchant.wechatpay_public_key_id
    message = crypto.response_message(1700000000, "abc", b"")
    assert crypto.verify(merchant.wechatpay_public_key, message, headers["Wechatpay-Signature"])


def test_resource_encryption_round_trip() -> None:
    key = b"0123456789abcdef0123456789ABCDEF"
    sealed = crypto.encrypt_resource(key, "nonce0nonce0", "transaction", b'{"a":1}')
    assert crypto.decrypt_resource(key, "nonce0nonce0", "transaction", sealed) == b'{"a":1}'
    for args in (
        (b"x" * 32, "nonce0nonce0", "transaction"),
        (key, "nonce0nonce1", "transaction"),
        (key, "nonce0nonce0", "refund"),
    ):
        with pytest.raises(crypto.DecryptError):
            crypto.decrypt_resource(*args, sealed)


def test_keyset_is_idempotent_private_and_hidden_from_repr(keys_root: Path) -> None:
    secret_names = ("apiclient_key.pem", "platform_private_key.pem", "apiv3_key.txt")
    merchant, platform = regenerated_keyset(keyset, keys_root, lambda p: p.name in secret_names, 4)
    assert merchant.wechatpay_public_key_id.startswith("PUB_KEY_ID_")
    assert platform.public_key_id == merchant.wechatpay_public_key_id
    assert merchant.apiv3_key == platform.apiv3_key and len(merchant.apiv3_key) == 32
    for shown in (repr(merchant), repr(platform)):
        assert merchant.apiv3_key.decode() not in shown
        assert "PRIVATE" not in shown and "private_key" not in shown


def test_keyset_fills_in_only_what_is_missing(tmp_path: Path) -> None:
    generate_keyset(tmp_path)
    merchant_pub = tmp_path / MERCHANT_DIR / "wechatpay_pub_key.pem"
    platform_key = (tmp_path / PLATFORM_DIR / "platform_private_key.pem").read_bytes()
    merchant_pub.unlink()
    generate_keyset(tmp_path)
    assert (tmp_path / PLATFORM_DIR / "platform_private_key.pem").read_bytes() == platform_key
    keys = load_merchant_keys(tmp_path / MERCHANT_DIR)
    platform = load_platform_keys(tmp_path / PLATFORM_DIR)
    assert keys.wechatpay_public_key.public_numbers() == (
        platform.private_key.public_key().public_numbers()
    )


def test_payment_notice_rejects_amounts_that_are_not_int_fen() -> None:
    def notification(
        total: object, event_type: str = "TRANSACTION.SUCCESS"
    ) -> VerifiedNotification:
        return VerifiedNotification(
            event_id="EV-1",
            event_type=event_type,
            create_time=datetime.now(UTC),
            summary="支付成功",
            resource={
                "trade_state": "SUCCESS",
                "out_trade_no": "T1",
                "transaction_id": "4200",
                "success_time": "2025-01-02T10:00:00+08:00",
                "amount": {"total": total},
            },
        )

    notice = payment_notice(notification(100))
    assert notice is not None and notice.amount_fen == 100
    assert notice.paid_at == datetime(2025, 1, 2, 2, 0, tzinfo=UTC)
    assert payment_notice(notification(100, "REFUND.SUCCESS")) is None
    for bad in ("100", 1.5, -1, True, None):
        with pytest.raises(NotifyRejected) as caught:
            payment_notice(notification(bad))
        assert caught.value.code == "MALFORMED"


# --- the payment flow over HTTP ----------------------------------------------------------


async def test_prepay_query_pay_and_notify(
    sim: WeChatSim, client: WeChatPayClient, receiver: NotifyReceiver
) -> None:
    no = await open_order(client)
    before = await client.query(no)
    assert (before.state, before.amount_fen, before.paid) == ("NOTPAY", 12_345, False)

    status, paid = await sim.pay(no)
    assert status == 200
    after = await client.query(no)
    assert after.state == "SUCCESS" and after.paid
    assert after.amount_fen == 12_345
    assert after.provider_txn_id == paid["transaction_id"]
    assert after.provider_txn_id is not None and len(after.provider_txn_id) == 28
    assert after.provider_txn_id.isdigit()
    assert after.paid_at is not None and after.paid_at.utcoffset() == timedelta(hours=8)

    [delivery] = await receiver.wait_for(1)
    assert delivery.verdict == "OK" and delivery.notice is not None
    notice = delivery.notice
    assert notice.provider == "wechatpay"
    assert notice.event_id == paid["event_id"]
    assert (notice.out_trade_no, notice.amount_fen) == (no, 12_345)
    assert notice.provider_txn_id == after.provider_txn_id
    assert notice.paid_at == after.paid_at
    assert notice.raw["attach"] == "window=3"
    state = await sim.acknowledged(no)
    assert [d["status"] for d in state["deliveries"]] == [204]


async def test_query_unknown_order_is_not_found(client: WeChatPayClient) -> None:
    status = await client.query("NEVER" + trade_no())
    assert status.state == "NOT_FOUND" and not status.paid


async def test_prepay_is_idempotent_for_the_same_body(
    sim: WeChatSim, client: WeChatPayClient
) -> None:
    no = trade_no()
    expires = in_minutes(10)
    first = await client.create_qr(
        PaymentAsk(out_trade_no=no, description="契税", total_fen=100, expires_at=expires)
    )
    again = await client.create_qr(
        PaymentAsk(out_trade_no=no, description="契税", total_fen=100, expires_at=expires)
    )
    assert first == again
    with pytest.raises(AcquirerRejected) as dup:
        await client.create_qr(
            PaymentAsk(out_trade_no=no, description="契税", total_fen=200, expires_at=expires)
        )
    assert (dup.value.status, dup.value.code) == (400, "INVALID_REQUEST")
    await sim.pay(no)
    assert (
        await client.create_qr(
            PaymentAsk(out_trade_no=no, description="契税", total_fen=100, expires_at=expires)
        )
        == first
    )
    with pytest.raises(AcquirerRejected) as paid:
        await client.create_qr(
            PaymentAsk(out_trade_no=no, description="契税", total_fen=200, expires_at=expires)
        )
    assert (paid.value.status, paid.value.code) == (403, "ORDERPAID")


async def test_bad_fields_are_param_errors(client: WeChatPayClient) -> None:
    with pytest.raises(AcquirerRejected) as caught:
        await client.create_qr(
            PaymentAsk(
                out_trade_no="bad no!", description="x", total_fen=1, expires_at=in_minutes(5)
            )
        )
    assert (caught.value.status, caught.value.code) == (400, "PARAM_ERROR")
    with pytest.raises(AcquirerRejected) as past:
        await client.create_qr(
            PaymentAsk(
                out_trade_no=trade_no(), description="x", total_fen=1, expires_at=in_minutes(-1)
            )
        )
    assert past.value.code == "PARAM_ERROR"


async def test_close_then_pay_refused(sim: WeChatSim, client: WeChatPayClient) -> None:
    no = await open_order(client)
    await client.close(no)
    await client.close(no)  # closing twice is fine
    assert (await client.query(no)).state == "CLOSED"
    status, answer = await sim.pay(no)
    assert (status, answer["code"]) == (409, "ORDER_CLOSED")
    with pytest.raises(AcquirerRejected) as caught:
        await client.create_qr(
            PaymentAsk(out_trade_no=no, description="x", total_fen=1, expires_at=in_minutes(5))
        )
    assert (caught.value.status, caught.value.code) == (400, "ORDER_CLOSED")


async def test_expired_order_cannot_be_paid(sim: WeChatSim, client: WeChatPayClient) -> None:
    no = await open_order(client)
    await sim.expire(no)
    status, answer = await sim.pay(no)
    assert (status, answer["code"]) == (409, "ORDER_CLOSED")
    assert (await client.query(no)).state == "CLOSED"


async def test_refund(sim: WeChatSim, client: WeChatPayClient) -> None:
    no = await open_order(client, total_fen=1_000)
    await sim.pay(no)
    await refunded_twice(client, no, "R" + no)
    assert (await client.query(no)).state == "REFUND"
    with pytest.raises(AcquirerRejected) as caught:
        await client.refund(
            RefundAsk(
                out_trade_no=no, out_refund_no="S" + no, refund_fen=601, total_fen=1_000, reason=""
            )
        )
    assert (caught.value.status, caught.value.code) == (403, "NOT_ENOUGH")
    await sim.set_faults(refund_status="ABNORMAL")
    abnormal = await client.refund(
        RefundAsk(
            out_trade_no=no, out_refund_no="T" + no, refund_fen=600, total_fen=1_000, reason=""
        )
    )
    assert abnormal.state == "ABNORMAL"


async def test_scan_page_pays_through_the_form(sim: WeChatSim, client: WeChatPayClient) -> None:
    code_url = await client.create_qr(
        PaymentAsk(
            out_trade_no=(no := trade_no()),
            description="维修资金<首期>",
            total_fen=1_205,
            expires_at=in_minutes(5),
        )
    )
    pr = code_url.split("pr=", 1)[1]
    async with sim.session.get(f"{sim.base_url}/sim/scan/{pr}") as resp:
        page = await resp.text()
    assert resp.status == 200
    assert "确认支付" in page and "¥12.05" in page and "维修资金&lt;首期&gt;" in page
    async with sim.session.post(
        f"{sim.base_url}/sim/orders/{no}/pay", data={"confirm": "1"}
    ) as resp:
        assert resp.status == 200
        assert "支付成功" in await resp.text()
    assert (await client.query(no)).state == "SUCCESS"


# --- notifications under faults ----------------------------------------------------------


async def test_probe_is_refused_before_the_real_callback(
    sim: WeChatSim, client: WeChatPayClient, receiver: NotifyReceiver
) -> None:
    await sim.set_faults(probe=True)
    no = await open_order(client)
    await sim.pay(no)
    probe, real = await receiver.wait_for(2)
    assert probe.verdict == "SIGNATURE_PROBE"
    assert probe.headers["Wechatpay-Signature"].startswith("WECHATPAY/SIGNTEST/")
    assert real.verdict == "OK"
    kinds = [d["kind"] for d in (await sim.acknowledged(no))["deliveries"]]
    assert kinds == ["probe", "notify"]


async def test_verifier_refuses_tampering_wrong_keys_and_missing_headers(
    sim: WeChatSim, client: WeChatPayClient, receiver: NotifyReceiver
) -> None:
    no = await open_order(client)
    await sim.pay(no)
    [good] = await receiver.wait_for(1)
    now = datetime.now(UTC)
    verifier = sim.verifier()

    lowered = {k.lower(): v for k, v in good.headers.items()}
    assert verifier.verify(lowered, good.body, now).event_id == good.notice.event_id  # type: ignore[union-attr]

    def refused(v: NotifyVerifier, headers: dict[str, str], body: bytes) -> str:
        with pytest.raises(NotifyRejected) as caught:
            v.verify(headers, body, now)
        return caught.value.code

    tampered = good.body.replace(b'"summary"', b'"summarY"')
    assert tampered != good.body
    assert refused(verifier, good.headers, tampered) == "SIGNATURE_INVALID"
    assert refused(verifier, good.headers, good.body + b" ") == "SIGNATURE_INVALID"
    wrong_apiv3 = NotifyVerifier(sim.merchant.wechatpay_public_keys, b"K" * 32)
    assert refused(wrong_apiv3, good.headers, good.body) == "DECRYPT_FAILED"
    no_keys = NotifyVerifier({}, sim.merchant.apiv3_key)
    assert refused(no_keys, good.headers, good.body) == "UNKNOWN_KEY"
    headers = {k: v for k, v in good.headers.items() if k != "Wechatpay-Signature"}
    assert refused(verifier, headers, good.body) == "SIGNATURE_MISSING"
    later = now + timedelta(seconds=301)
    with pytest.raises(NotifyRejected) as skew:
        verifier.verify(good.headers, good.body, later)
    assert skew.value.code == "TIMESTAMP_SKEW"
    assert "apiv3" not in repr(verifier).lower()


# --- API faults seen by the client -------------------------------------------------------


async def test_prepay_that_succeeds_after_the_client_gave_up(
    sim: WeChatSim, client: WeChatPayClient, receiver: NotifyReceiver
) -> None:
    ask = qr_ask(trade_no())
    await answered_too_late(
        sim, lambda impatient: impatient.create_qr(PaymentAsk(**ask)), receiver.url
    )
    assert (await client.query(ask["out_trade_no"])).state == "NOTPAY"
    # retrying with the same body is safe and yields the order the acquirer already has
    code_url = await client.create_qr(PaymentAsk(**ask))
    assert code_url.startswith("weixin://")


async def test_simulator_refuses_bad_request_signatures(
    sim: WeChatSim, keys_root: Path, tmp_path: Path
) -> None:
    generate_keyset(tmp_path)
    stranger = load_merchant_keys(tmp_path / MERCHANT_DIR)
    forged_keys = type(sim.merchant)(
        mchid=sim.merchant.mchid,
        appid=sim.merchant.appid,
        merchant_serial=sim.merchant.merchant_serial,
        wechatpay_public_key_id=sim.merchant.wechatpay_public_key_id,
        private_key=stranger.private_key,
        wechatpay_public_key=sim.merchant.wechatpay_public_key,
        apiv3_key=sim.merchant.apiv3_key,
    )
    for client in (
        WeChatPayClient(
            sim.session, base_url=sim.base_url, keys=forged_keys, notify_url="http://x/n"
        ),
        WeChatPayClient(
            sim.session,
            base_url=sim.base_url,
            keys=sim.merchant,
            notify_url="http://x/n",
            clock=lambda: datetime.now(UTC).timestamp() - 301,
        ),
    ):
        with pytest.raises(AcquirerRejected) as caught:
            await client.query(trade_no())
        assert (caught.value.status, caught.value.code) == (401, "SIGN_ERROR")


# --- the command line --------------------------------------------------------------------


def test_trade_states_map_to_the_core_vocabulary() -> None:
    base = {"out_trade_no": "T1", "amount": {"total": 5}}
    assert trade_status("T1", {**base, "trade_state": "ACCEPT"}).state == "USERPAYING"
    assert trade_status("T1", {**base, "trade_state": "REVOKED"}).state == "REVOKED"
    for bad in (
        {**base, "trade_state": "PAID"},
        {**base, "trade_state": "SUCCESS", "out_trade_no": "T2"},
        {**base, "trade_state": "SUCCESS", "amount": {"total": 1.0}},
    ):
        with pytest.raises(MalformedError):
            trade_status("T1", bad)
    refund = {"out_refund_no": "R1", "refund_status": "ABNORMAL", "refund_id": "50"}
    assert refund_outcome("R1", refund).state == "ABNORMAL"
    with pytest.raises(MalformedError):
        refund_outcome("R1", {**refund, "refund_status": "DONE"})


# --- payment codes (B scans C) ------------------------------------------------------------

AUTH_CODE = "134567890123456789"


async def test_code_payment_succeeds_at_once_without_a_callback(
    sim: WeChatSim, client: WeChatPayClient, receiver: NotifyReceiver
) -> None:
    no = trade_no()
    status = await client.pay_by_code(
        CodeAsk(
            out_trade_no=no, auth_code=AUTH_CODE, description="契税", total_fen=35_000, attach="W1"
        )
    )
    assert (status.state, status.paid, status.amount_fen) == ("SUCCESS", True, 35_000)
    assert status.provider_txn_id and status.paid_at is not None
    assert status.details["trade_type"] == "MICROPAY"
    queried = await client.query(no)
    assert (queried.state, queried.provider_txn_id) == ("SUCCESS", status.provider_txn_id)
    await asyncio.sleep(0.05)
    assert receiver.deliveries == []  # payment codes are never notified: the merchant asks
    # the same request again (after a timeout) is answered with the order as it stands
    again = await client.pay_by_code(
        CodeAsk(
            out_trade_no=no, auth_code=AUTH_CODE, description="契税", total_fen=35_000, attach="W1"
        )
    )
    assert again.provider_txn_id == status.provider_txn_id


async def test_code_payment_waits_for_the_citizen_to_confirm(
    sim: WeChatSim, client: WeChatPayClient
) -> None:
    await sim.set_faults(user_paying=True)
    no = trade_no()
    status = await client.pay_by_code(
        CodeAsk(out_trade_no=no, auth_code=AUTH_CODE, description="契税", total_fen=500)
    )
    assert (status.state, status.paid) == ("USERPAYING", False)
    assert (await client.query(no)).state == "USERPAYING"
    confirmed_status, confirmed = await sim.pay(no)
    assert (confirmed_status, confirmed["trade_state"]) == (200, "SUCCESS")
    final = await client.query(no)
    assert (final.state, final.amount_fen) == ("SUCCESS", 500)


async def poll_until(client: WeChatPayClient, no: str, states: set[str]) -> str:
    for _ in range(100):
        state = (await client.query(no)).state
        if state in states:
            return state
        await asyncio.sleep(0.02)
    raise AssertionError(f"{no} never reached {states}")


@pytest.mark.parametrize("result", ["SUCCESS", "PAYERROR"])
async def test_code_payment_confirmed_later_is_found_by_polling(
    sim: WeChatSim, client: WeChatPayClient, result: str
) -> None:
    await sim.set_faults(user_paying=True, user_paying_s=0.1, user_paying_result=result)
    no = trade_no()
    status = await client.pay_by_code(
        CodeAsk(out_trade_no=no, auth_code=AUTH_CODE, description="契税", total_fen=500)
    )
    assert status.state == "USERPAYING"
    assert await poll_until(client, no, {"SUCCESS", "PAYERROR"}) == result


async def test_refused_payment_code_is_a_channel_refusal(
    sim: WeChatSim, client: WeChatPayClient
) -> None:
    await sim.set_faults(codepay_error="NOTENOUGH")
    no = trade_no()
    with pytest.raises(AcquirerRejected) as caught:
        await client.pay_by_code(
            CodeAsk(out_trade_no=no, auth_code=AUTH_CODE, description="契税", total_fen=500)
        )
    assert (caught.value.status, caught.value.code) == (403, "NOTENOUGH")
    assert isinstance(caught.value, ChannelRefused)
    assert (await client.query(no)).state == "PAYERROR"


async def test_a_code_that_is_not_wechats_never_leaves(client: WeChatPayClient) -> None:
    for bad in ("284567890123456789", "13456789012345678", "16456789012345678x"):
        with pytest.raises(ValueError) as caught:
            await client.pay_by_code(
                CodeAsk(out_trade_no=trade_no(), auth_code=bad, description="契税", total_fen=1)
            )
        assert bad not in str(caught.value)


async def test_code_payment_answered_after_the_client_gave_up(
    sim: WeChatSim, client: WeChatPayClient, receiver: NotifyReceiver
) -> None:
    no = trade_no()
    await answered_too_late(
        sim,
        lambda impatient: impatient.pay_by_code(
            CodeAsk(out_trade_no=no, auth_code=AUTH_CODE, description="契税", total_fen=700)
        ),
        receiver.url,
    )
    # the money was taken: asking finds it
    assert (await client.query(no)).state == "SUCCESS"


# --- reverse -----------------------------------------------------------------------------


async def test_reverse_closes_an_unconfirmed_code_payment(
    sim: WeChatSim, client: WeChatPayClient
) -> None:
    await sim.set_faults(user_paying=True)
    no = trade_no()
    await client.pay_by_code(
        CodeAsk(out_trade_no=no, auth_code=AUTH_CODE, description="x", total_fen=9)
    )
    await client.reverse(no)
    await client.reverse(no)  # reversing twice is harmless
    assert (await client.query(no)).state == "REVOKED"
    status, answer = await sim.pay(no)  # too late to confirm
    assert (status, answer["code"]) == (409, "ORDER_CLOSED")
    assert (await sim.order(no))["reversal"] is None


async def test_reverse_gives_back_a_paid_code_payment(
    sim: WeChatSim, client: WeChatPayClient
) -> None:
    no = trade_no()
    await client.pay_by_code(
        CodeAsk(out_trade_no=no, auth_code=AUTH_CODE, description="x", total_fen=900)
    )
    await client.reverse(no)
    status = await client.query(no)
    assert (status.state, status.paid) == ("REVOKED", False)
    reversal = (await sim.order(no))["reversal"]
    assert (reversal["refund_fen"], reversal["status"]) == (900, "SUCCESS")
    with pytest.raises(AcquirerRejected):
        await client.refund(
            RefundAsk(
                out_trade_no=no, out_refund_no="R" + no, refund_fen=1, total_fen=900, reason=""
            )
        )


async def test_reverse_of_a_qr_payment_closes_or_refunds_instead(
    sim: WeChatSim, client: WeChatPayClient
) -> None:
    unpaid = await open_order(client)
    await client.reverse(unpaid)
    assert (await client.query(unpaid)).state == "CLOSED"
    paid = await open_order(client, total_fen=2_000)
    await sim.pay(paid)
    await client.reverse(paid)
    await client.reverse(paid)  # the refund number is derived, so nothing is refunded twice
    assert (await client.query(paid)).state == "REFUND"
    [refund] = (await sim.order(paid))["refunds"]
    assert (refund["out_refund_no"], refund["refund_fen"]) == (f"{paid}-RV", 2_000)


async def test_reverse_of_an_order_never_seen_is_nothing_to_undo(client: WeChatPayClient) -> None:
    await client.reverse(trade_no())


# --- refunds: query and notifications ------------------------------------------------------


async def paid_order(sim: WeChatSim, client: WeChatPayClient, total_fen: int = 1_000) -> str:
    no = await open_order(client, total_fen=total_fen)
    await sim.pay(no)
    return no


def _transport(sim: WeChatSim) -> Transport:
    """The signed HTTP transport our client rides on, for the v3 calls it does not wrap."""
    return Transport(
        sim.session,
        base_url=sim.base_url,
        keys=sim.merchant,
        timeout_s=2,
        max_skew_s=300,
        clock=time.time,
    )


async def test_a_transaction_is_found_and_refunded_by_its_transaction_id(
    sim: WeChatSim, client: WeChatPayClient
) -> None:
    transport = _transport(sim)
    first, second = await open_order(client, total_fen=1_000), await open_order(client)
    _, paid = await sim.pay(first)
    await sim.pay(second)
    transaction_id = paid["transaction_id"]
    mchid = f"?mchid={sim.merchant.mchid}"

    found = await transport.call(
        "query", "GET", f"/v3/pay/transactions/id/{transaction_id}{mchid}", None
    )
    assert found.status == 200
    assert (found.data["out_trade_no"], found.data["trade_state"]) == (first, "SUCCESS")
    unknown = await transport.call("query", "GET", f"/v3/pay/transactions/id/4200{mchid}", None)
    assert (unknown.status, unknown.code) == (404, "ORDER_NOT_EXIST")

    def refund_of(fen: int, **named: str) -> dict[str, object]:
        amount = {"refund": fen, "total": 1_000, "currency": "CNY"}
        return {"out_refund_no": f"R{fen}{first}", "amount": amount, **named}

    crossed = refund_of(100, transaction_id=transaction_id, out_trade_no=second)
    refused = await transport.call("refund", "POST", "/v3/refund/domestic/refunds", crossed)
    assert (refused.status, refused.code) == (404, "ORDER_NOT_EXIST")
    neither = await transport.call("refund", "POST", "/v3/refund/domestic/refunds", refund_of(200))
    assert (neither.status, neither.code) == (400, "PARAM_ERROR")
    agreeing = refund_of(300, transaction_id=transaction_id, out_trade_no=first)
    made = await transport.call("refund", "POST", "/v3/refund/domestic/refunds", agreeing)
    assert made.status == 200 and made.data["out_trade_no"] == first
    # only the one refund both numbers agreed on was made
    assert (await client.query(first)).state == "REFUND"
    assert (await client.query(second)).state == "SUCCESS"
    assert [r["refund_fen"] for r in (await sim.order(first))["refunds"]] == [300]


async def test_refund_query_follows_the_refund(
    sim: WeChatSim, client: WeChatPayClient, receiver: NotifyReceiver
) -> None:
    no = await paid_order(sim, client)
    await receiver.wait_for(1)
    await sim.set_faults(refund_status="PROCESSING")
    started = await client.refund(
        RefundAsk(
            out_trade_no=no, out_refund_no="R" + no, refund_fen=300, total_fen=1_000, reason="多缴"
        )
    )
    assert started.state == "PROCESSING"
    queried = await client.query_refund(out_trade_no=no, out_refund_no="R" + no)
    assert (queried.state, queried.provider_refund_id) == ("PROCESSING", started.provider_refund_id)
    await asyncio.sleep(0.05)
    assert len(receiver.deliveries) == 1  # nothing to say while it is processing
    await sim.complete_refund("R" + no, "SUCCESS")
    assert (await client.query_refund(out_trade_no=no, out_refund_no="R" + no)).state == "SUCCESS"
    with pytest.raises(AcquirerUnavailable):  # the refund belongs to another order
        await client.query_refund(out_trade_no="TJ_OTHER_01", out_refund_no="R" + no)
    with pytest.raises(AcquirerRejected) as missing:
        await client.query_refund(out_trade_no=no, out_refund_no="NEVER" + no)
    assert (missing.value.status, missing.value.code) == (404, "RESOURCE_NOT_EXISTS")


@pytest.mark.parametrize(
    ("status", "event"),
    [("SUCCESS", "REFUND.SUCCESS"), ("ABNORMAL", "REFUND.ABNORMAL"), ("CLOSED", "REFUND.CLOSED")],
)
async def test_refund_notifications_are_verified_like_payments(
    sim: WeChatSim, client: WeChatPayClient, receiver: NotifyReceiver, status: str, event: str
) -> None:
    no = await paid_order(sim, client)
    await receiver.wait_for(1)
    await sim.set_faults(refund_status=status)
    await client.refund(
        RefundAsk(
            out_trade_no=no, out_refund_no="R" + no, refund_fen=1_000, total_fen=1_000, reason=""
        )
    )
    _, delivery = await receiver.wait_for(2)
    assert delivery.verdict == "OK" and delivery.notification is not None
    assert delivery.notification.event_type == event
    assert delivery.notice is None  # nothing to capture
    assert delivery.refund is not None
    assert (delivery.refund.out_refund_no, delivery.refund.state) == ("R" + no, status)
    verifier = NotifyVerifier.for_merchant(sim.merchant)
    assert verifier.parse(delivery.headers, delivery.body, datetime.now(UTC)) is None


async def test_refund_notifications_are_retried_and_can_be_forged(
    sim: WeChatSim, client: WeChatPayClient
) -> None:
    async with running_notify_receiver(sim.verifier(), fail_first=3) as failing:
        no = await paid_order(sim, sim.client(failing.url))
        await failing.wait_for(4)  # the payment's own notification, after three failures
        await sim.set_faults(refund_status="PROCESSING", bad_signature=True)
        refunder = sim.client(failing.url)
        await refunder.refund(
            RefundAsk(
                out_trade_no=no, out_refund_no="R" + no, refund_fen=10, total_fen=1_000, reason=""
            )
        )
        await sim.complete_refund("R" + no, "SUCCESS")
        forged = (await failing.wait_for(5))[4]
        assert (forged.verdict, forged.answered) == ("SIGNATURE_INVALID", 401)
        await sim.reset_faults()
        good = (await failing.wait_for(6))[5]
    assert good.refund is not None and good.refund.state == "SUCCESS"
    [event] = [
        n for n in (await sim.order(no))["notifications"] if n["event_type"] == "REFUND.SUCCESS"
    ]
    assert [(a["round"], a["status"]) for a in event["attempts"]] == [(0, 401), (1, 204)]
    assert event["acknowledged"] is True


# --- the notification parser contract ------------------------------------------------------


async def test_parser_contract_acks_and_wrong_merchant(
    sim: WeChatSim, client: WeChatPayClient, receiver: NotifyReceiver
) -> None:
    assert ACK_OK == (204, "application/json", b"")
    status, content_type, body = ACK_REFUSED
    assert (status, content_type, json.loads(body)["code"]) == (401, "application/json", "FAIL")
    no = await paid_order(sim, client, total_fen=4_321)
    [delivery] = await receiver.wait_for(1)
    now = datetime.now(UTC)
    notice = NotifyVerifier.for_merchant(sim.merchant).parse(delivery.headers, delivery.body, now)
    assert notice is not None
    assert (notice.out_trade_no, notice.amount_fen, notice.provider) == (no, 4_321, "wechatpay")
    assert notice.details["trade_type"] == "NATIVE"
    for mchid, appid in (("1900000000", None), (sim.merchant.mchid, "wx00")):
        stranger = NotifyVerifier(
            sim.merchant.wechatpay_public_keys, sim.merchant.apiv3_key, mchid=mchid, appid=appid
        )
        with pytest.raises(NotifyRejected) as caught:
            stranger.parse(delivery.headers, delivery.body, now)
        assert caught.value.code == "WRONG_MERCHANT"


async def test_reordered_callbacks_arrive_newest_first(
    sim: WeChatSim, client: WeChatPayClient, receiver: NotifyReceiver
) -> None:
    await sim.set_faults(reorder_callbacks=True, reorder_window_s=0.3)
    paid = [await paid_order(sim, client) for _ in range(3)]
    deliveries = await receiver.wait_for(3)
    assert [d.notice.out_trade_no for d in deliveries if d.notice] == paid[::-1]
    assert {d.verdict for d in deliveries} == {"OK"}


# --- the daily trade bill ------------------------------------------------------------------


@pytest.fixture
async def billing_sim(keys_root: Path) -> AsyncIterator[WeChatSim]:
    async with running_wechat_sim(
        keys_root, retry_scale=RETRY_SCALE, seed=11, fee_rate="0.60%"
    ) as running:
        yield running


def today() -> date:
    return datetime.now(BEIJING).date()


async def test_daily_bill_lists_what_was_processed_with_exact_fees(
    billing_sim: WeChatSim, receiver: NotifyReceiver
) -> None:
    client = billing_sim.client(receiver.url)
    big = await paid_order(billing_sim, client, total_fen=12_345)
    tiny = await paid_order(billing_sim, client, total_fen=1)
    await open_order(client)  # never paid: never billed
    await client.refund(
        RefundAsk(
            out_trade_no=big, out_refund_no="R" + big, refund_fen=400, total_fen=12_345, reason=""
        )
    )
    code = trade_no()
    await client.pay_by_code(
        CodeAsk(out_trade_no=code, auth_code=AUTH_CODE, description="契税", total_fen=900)
    )
    await client.reverse(code)
    records = await client.daily_bill(today())
    by_kind = sorted((r.kind, r.out_trade_no, r.amount_fen, r.fee_millifen) for r in records)
    assert by_kind == sorted(
        [
            ("PAYMENT", big, 12_345, 74_070),
            ("PAYMENT", tiny, 1, 6),
            ("PAYMENT", code, 900, 5_400),
            ("REFUND", big, 400, -2_400),
            ("REVERSAL", code, 900, -5_400),
        ]
    )
    refund = next(r for r in records if r.kind == "REFUND")
    assert refund.out_refund_no == "R" + big and refund.provider_refund_id
    assert all(r.provider == "wechatpay" and r.occurred_at.tzinfo for r in records)
    assert [r.occurred_at for r in records] == sorted(r.occurred_at for r in records)


async def test_daily_bill_layout_is_exactly_wechats(billing_sim: WeChatSim) -> None:
    client = billing_sim.client("http://127.0.0.1:9/notify")
    no = await paid_order(billing_sim, client, total_fen=10_000)
    await client.refund(
        RefundAsk(
            out_trade_no=no, out_refund_no="R" + no, refund_fen=100, total_fen=10_000, reason=""
        )
    )
    state = billing_sim.app[STATE]
    all_bill = bill_text(state, today(), "ALL")
    assert all_bill is not None
    lines = all_bill.split("\n")
    assert lines[0] == (
        "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
        "交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,"
        "充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,"
        "费率备注"
    )
    assert all(v.startswith("`") for line in lines[1:3] for v in line.split(","))
    assert lines[1].split(",")[22:25] == ["`0.60000", "`0.60%", "`100.00"]
    assert lines[3] == (
        "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
    )
    assert lines[4] == "`2,`100.00,`1.00,`0.00,`0.59400,`100.00,`1.00"
    assert lines[5] == ""  # the file ends with a newline
    success = bill_text(state, today(), "SUCCESS")
    refunds = bill_text(state, today(), "REFUND")
    assert success is not None and refunds is not None
    assert len(success.split("\n")[0].split(",")) == 20
    assert success.split("\n")[2] == "总交易单数,应结订单总金额,手续费总金额,订单总金额"
    assert len(refunds.split("\n")[0].split(",")) == 29


async def test_daily_bill_edge_cases(billing_sim: WeChatSim, receiver: NotifyReceiver) -> None:
    client = billing_sim.client(receiver.url)
    assert await client.daily_bill(today() - timedelta(days=1)) == []  # NO_STATEMENT_EXIST
    await paid_order(billing_sim, client)
    await billing_sim.set_faults(bill_creating=True)
    with pytest.raises(AcquirerUnavailable) as creating:
        await client.daily_bill(today())
    assert creating.value.reason == "STATEMENT_CREATING"
    await billing_sim.set_faults(bill_creating=False, bad_bill_hash=True)
    with pytest.raises(AcquirerUnavailable) as hashed:
        await client.daily_bill(today())
    assert "SHA-1" in hashed.value.reason
    await billing_sim.set_faults(bad_bill_hash=False, truncate_bill=True)
    with pytest.raises(AcquirerUnavailable) as truncated:
        await client.daily_bill(today())
    assert "bill line 3" in truncated.value.reason and "truncated" in truncated.value.reason
    await billing_sim.reset_faults()
    assert len(await client.daily_bill(today())) == 1
    with pytest.raises(AcquirerRejected) as future:
        await client.daily_bill(today() + timedelta(days=1))
    assert future.value.code == "PARAM_ERROR"


async def test_bill_download_needs_a_signed_request_and_is_not_signed(
    billing_sim: WeChatSim, receiver: NotifyReceiver
) -> None:
    client = billing_sim.client(receiver.url)
    await paid_order(billing_sim, client)
    records = await client.daily_bill(today())
    assert len(records) == 1
    state = billing_sim.app[STATE]
    [token] = list(state.bill_links)
    url = f"{billing_sim.base_url}/v3/billdownload/file?token={token}&tartype=gzip"
    async with billing_sim.session.get(url) as resp:
        assert resp.status == 401  # unsigned request refused
    transport = _transport(billing_sim)
    packed = await transport.download("daily_bill", url)
    assert gzip.decompress(packed).startswith("交易时间,".encode())
    with pytest.raises(AcquirerRejected):
        await transport.download("daily_bill", url.replace(token, "expired"))
