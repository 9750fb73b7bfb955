"""UnionPay adapter against the real simulator over HTTP on 127.0.0.1 (no mocks)."""

from __future__ import annotations

import base64
import hashlib
import itertools
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import given
from hypothesis import strategies as st

from adapters.errors import AcquirerRejected, AcquirerUnavailable, NotifyRejected, ResponseForged
from adapters.unionpay import crypto, wire
from adapters.unionpay import keys as keyset
from adapters.unionpay.bill import BillUnreadable
from adapters.unionpay.client import UnionPayClient, reversal_id
from adapters.unionpay.gateway import QUERY_TRANS, Gateway, OutcomeUnknown
from adapters.unionpay.keys import (
    MERCHANT_DIR,
    PLATFORM_DIR,
    MerchantKeys,
    PlatformKeys,
    generate_keyset,
    issue_leaf,
    load_ca,
    load_merchant_keys,
    load_platform_keys,
)
from adapters.unionpay.notify import UnionPayNotifyParser
from adapters.unionpay.status import QUERY_SCHEDULE_S
from adapters.unionpay.txn_times import MemoryTxnTimes
from clearing.db.request_times import RequestTimes
from clearing.ports import CodeAsk, PaymentAsk, RefundAsk
from tests.integration.acquirer_steps import refunded_twice
from tests.integration.adapter_fixtures import acquirer_fixtures, keyset_fixture, regenerated_keyset
from tests.integration.serving import answering, in_minutes, open_acquirer_qr
from tests.integration.unionpay_harness import (
    NotifyReceiver,
    UnionPaySim,
    running_unionpay_sim,
)

RETRY_SCALE = 0.001
QUERY_SCALE = 0.02
FAST_QUERIES = tuple(s * QUERY_SCALE for s in QUERY_SCHEDULE_S)
_counter = itertools.count(1)


def trade_no() -> str:
    return f"TJ{os.getpid()}N{next(_counter):06d}P01"


def today() -> datetime:
    return datetime.now(UTC)


keys_root = keyset_fixture(keyset, "unionpay-keys")


@pytest.fixture(scope="session")
def loaded(keys_root: Path) -> tuple[MerchantKeys, PlatformKeys]:
    return load_merchant_keys(keys_root / MERCHANT_DIR), load_platform_keys(
        keys_root / PLATFORM_DIR
    )


@pytest.fixture
async def sim(
    keys_root: Path, loaded: tuple[MerchantKeys, PlatformKeys]
) -> AsyncIterator[UnionPaySim]:
    async with running_unionpay_sim(
        keys_root, retry_scale=RETRY_SCALE, seed=7, loaded=loaded
    ) as running:
        yield running


def client_for(sim: UnionPaySim, notify_url: str, **options: Any) -> UnionPayClient:
    """The simulator's client, resolving unknown outcomes on a fast query schedule."""
    return sim.client(notify_url, **{"query_schedule_s": FAST_QUERIES, **options})


# the simulator above reuses the keys loaded once; the endpoint and client are everyone's
receiver, client = acquirer_fixtures(
    running_unionpay_sim, client_options={"query_schedule_s": FAST_QUERIES}
)[1:]


async def open_qr(client: UnionPayClient, total_fen: int = 12_345) -> str:
    return await open_acquirer_qr(client, trade_no(), "https://qr.95516.com/00010000/01", total_fen)


async def paid_qr(sim: UnionPaySim, client: UnionPayClient, total_fen: int = 12_345) -> str:
    no = await open_qr(client, total_fen)
    status, answer = await sim.pay(no)
    assert status == 200, answer
    return no


async def pay_code(client: UnionPayClient, total_fen: int = 500) -> tuple[str, str]:
    no = trade_no()
    found = await client.pay_by_code(
        CodeAsk(
            out_trade_no=no,
            auth_code="6212345678901234567",
            description="契税",
            total_fen=total_fen,
        )
    )
    return no, found.state


# --- wire, signatures, certificates and keys, no network ---------------------------------


def test_answers_keep_pem_and_braced_values() -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIB+/=\n-----END CERTIFICATE-----\n"
    body = wire.encode_answer({"respCode": "00", "signPubKeyCert": pem, "reserved": "{a=1&b=2}"})
    assert wire.decode_answer(body) == {
        "respCode": "00",
        "signPubKeyCert": pem,
        "reserved": "{a=1&b=2}",
    }
    for bad in (b"a=1&a=2", b"a=1&=2", b"a=1&b", b"a={1&b=2", "a=\xff".encode("latin-1")):
        with pytest.raises(ValueError):
            wire.decode_answer(bad)
    with pytest.raises(ValueError):
        wire.encode_answer({"a": "x&y"})
    assert wire.decode_form(wire.encode_form({"respMsg": "成功[0000000]", "x": "a&b=c"})) == {
        "respMsg": "成功[0000000]",
        "x": "a&b=c",
    }
    for bad in (b"a=1&a=2", b"a=%FF", b"a"):
        with pytest.raises(ValueError):
            wire.decode_form(bad)


_VALUE = st.text(
    alphabet=st.characters(exclude_characters="&{}[]", exclude_categories=["Cs"]), max_size=40
)


@given(st.dictionaries(st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,15}", fullmatch=True), _VALUE))
def test_answers_round_trip(fields: dict[str, str]) -> None:
    assert wire.decode_answer(wire.encode_answer(fields)) == fields
    assert wire.decode_form(wire.encode_form(fields)) == fields


@given(st.integers(min_value=0, max_value=10**12 - 1))
def test_fen_text_round_trip(fen: int) -> None:
    assert wire.parse_fen(wire.fen_text(fen)) == fen


def test_signature_is_over_the_sha256_hex_of_the_sorted_fields(keys_root: Path) -> None:
    merchant = load_merchant_keys(keys_root / MERCHANT_DIR)
    fields = {"txnAmt": "1", "b": "", "a": "成功", "signature": "ignored"}
    assert crypto.signing_string(fields) == "a=成功&b=&txnAmt=1".encode()
    signed = dict(fields, signature=crypto.sign(fields, merchant.private_key))
    public = merchant.sign_cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    assert crypto.verify(signed, public)
    assert not crypto.verify(dict(signed, txnAmt="2"), public)
    assert not crypto.verify(dict(signed, signature="not base64!"), public)
    # the RSA input is the hex text of the digest, not the digest bytes
    digest_hex = hashlib.sha256(crypto.signing_string(fields)).hexdigest().encode()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(
        base64.b64decode(signed["signature"]), digest_hex, padding.PKCS1v15(), hashes.SHA256()
    )


def test_chain_refuses_look_alikes(keys_root: Path) -> None:
    merchant = load_merchant_keys(keys_root / MERCHANT_DIR)
    platform = load_platform_keys(keys_root / PLATFORM_DIR)
    now = datetime.now(UTC)
    assert merchant.chain.check(platform.sign_cert, now) is not None
    ca_key, ca_cert = load_ca(keys_root)
    key = platform.private_key.public_key()

    def reason(cert: object, at: datetime = now) -> str:
        with pytest.raises(crypto.UntrustedCert) as caught:
            merchant.chain.check(cert, at)  # type: ignore[arg-type]
        return caught.value.reason

    assert reason(issue_leaf(ca_key, ca_cert, key, "某某支付公司", now)) == (
        "certificate owner is not UnionPay"
    )
    expired = issue_leaf(ca_key, ca_cert, key, crypto.UNIONPAY_OWNER, now - timedelta(10), days=2)
    assert reason(expired) == ("signing certificate is not valid now")
    assert reason(platform.sign_cert, now + timedelta(days=6 * 365)) == (
        "signing certificate is not valid now"
    )
    assert (
        reason(merchant.chain.middle) == "certificate does not chain to the UnionPay intermediate"
    )
    assert reason(merchant.sign_cert) == "certificate owner is not UnionPay"


def test_keyset_is_idempotent_private_and_hidden_from_repr(keys_root: Path) -> None:
    merchant, platform = regenerated_keyset(
        keyset, keys_root, lambda p: p.name.endswith("_key.pem"), 4
    )
    assert platform.mer_ids == (merchant.mer_id,) and len(merchant.mer_id) == 15
    assert merchant.cert_id in platform.merchant_certs
    assert merchant.cert_id == str(merchant.sign_cert.serial_number)
    for shown in (repr(merchant), repr(platform)):
        assert "PRIVATE" not in shown and "private_key" not in shown and "BEGIN" not in shown


def test_keyset_fills_in_only_what_is_missing(tmp_path: Path) -> None:
    generate_keyset(tmp_path)
    trust = tmp_path / MERCHANT_DIR / "unionpay_middle.pem"
    unionpay_key = (tmp_path / PLATFORM_DIR / "unionpay_sign_key.pem").read_bytes()
    old = trust.read_bytes()
    trust.unlink()
    generate_keyset(tmp_path)
    assert trust.read_bytes() == old
    assert (tmp_path / PLATFORM_DIR / "unionpay_sign_key.pem").read_bytes() == unionpay_key
    load_merchant_keys(tmp_path / MERCHANT_DIR)


# --- the QR the citizen scans ------------------------------------------------------------


async def test_qr_paid_by_the_citizen_is_notified_and_queried(
    sim: UnionPaySim, client: UnionPayClient, receiver: NotifyReceiver
) -> None:
    no = await open_qr(client)
    assert (await client.query(no)).state == "NOT_FOUND"  # nobody scanned it yet
    await sim.pay(no)
    [delivery] = await receiver.wait_for(1)
    assert (delivery.verdict, delivery.answered) == ("OK", 200)
    notice = delivery.notice
    assert notice is not None
    assert (notice.out_trade_no, notice.amount_fen, notice.provider) == (no, 12_345, "unionpay")
    assert notice.event_id == notice.provider_txn_id and len(notice.provider_txn_id) == 21
    assert notice.raw["reqReserved"] == "window=3" and "signature" not in notice.raw
    assert notice.details["accNo"].startswith("621700*")
    found = await client.query(no)
    assert (found.state, found.paid, found.amount_fen) == ("SUCCESS", True, 12_345)
    assert found.provider_txn_id == notice.provider_txn_id and found.paid_at == notice.paid_at
    assert found.paid_at is not None
    assert abs(found.paid_at - datetime.now(UTC)) < timedelta(minutes=1)
    state = await sim.order(no)
    assert state["notifications"][0]["acknowledged"] is True


async def test_a_transaction_is_queried_by_its_query_id(
    sim: UnionPaySim, client: UnionPayClient
) -> None:
    gateway = Gateway(
        sim.session,
        base_url=sim.base_url,
        file_url=sim.base_url,
        keys=sim.merchant,
        timeout_s=2.0,
        clock=lambda: datetime.now(UTC).timestamp(),
    )
    first, second = await paid_qr(sim, client), await paid_qr(sim, client, 500)
    query_id = (await client.query(first)).provider_txn_id
    assert query_id is not None
    sent = (await sim.order(first))["txn_time"]

    async def query(**named: str) -> dict[str, str]:
        fields = gateway.fields("00", "00", wire.CHANNEL_INTERNET) | named
        answer = await gateway.call("query", gateway.base_url + QUERY_TRANS, fields)
        return dict(answer.fields)

    found = await query(queryId=query_id)
    assert (found["respCode"], found["origRespCode"]) == ("00", "00")
    assert (found["orderId"], found["txnAmt"]) == (first, "12345")
    agreeing = await query(queryId=query_id, orderId=first, txnTime=sent)
    assert agreeing["respCode"] == "00" and agreeing["orderId"] == first
    crossed = await query(queryId=query_id, orderId=second, txnTime=sent)
    assert crossed["respCode"] == wire.NOT_FOUND
    assert (await query(queryId="0" * 21))["respCode"] == wire.NOT_FOUND
    assert (await query())["respCode"] == "10"
    assert (await query(orderId=first))["respCode"] == "10"  # an order id needs its txnTime


async def test_scan_page_pays_through_the_form(sim: UnionPaySim, client: UnionPayClient) -> None:
    no = await open_qr(client, total_fen=1_205)
    order = await sim.order(no)
    async with sim.session.get(order["scan_url"]) as resp:
        page = await resp.text()
    assert resp.status == 200 and "确认付款" in page and "¥12.05" in page and no in page
    async with sim.session.post(f"{sim.base_url}/sim/orders/{no}/pay", data={"ok": "1"}) as resp:
        assert resp.status == 200 and "付款成功" in await resp.text()
    assert (await client.query(no)).state == "SUCCESS"


async def test_expired_code_cannot_be_paid(sim: UnionPaySim, client: UnionPayClient) -> None:
    no = await open_qr(client)
    await sim.expire(no)
    status, answer = await sim.pay(no)
    assert (status, answer["code"]) == (409, "ORDER_CLOSED")
    assert (await client.query(no)).state == "NOT_FOUND"
    await client.close(no)  # nothing to close at UnionPay: the code lapsed


async def test_order_id_is_used_once(client: UnionPayClient) -> None:
    no = await open_qr(client)
    with pytest.raises(AcquirerRejected) as caught:
        await client.create_qr(
            PaymentAsk(out_trade_no=no, description="x", total_fen=1, expires_at=in_minutes(5))
        )
    assert (caught.value.status, caught.value.code) == (200, "12")
    for bad in ("short", "TJ-2025-0001", "T" * 31):
        with pytest.raises(ValueError):
            await client.create_qr(
                PaymentAsk(out_trade_no=bad, description="x", total_fen=1, expires_at=in_minutes(5))
            )


async def test_qr_applied_after_the_client_gave_up(
    sim: UnionPaySim, receiver: NotifyReceiver
) -> None:
    await sim.set_faults(pay_after_timeout=True, pay_after_timeout_s=2.0)
    impatient = client_for(sim, receiver.url, timeout_s=0.2)
    no = trade_no()
    with pytest.raises(OutcomeUnknown):
        await impatient.create_qr(
            PaymentAsk(
                out_trade_no=no, description="契税", total_fen=500, expires_at=in_minutes(10)
            )
        )
    # the txnTime was kept before sending, so the lost answer's order can still be queried
    assert (await impatient.query(no)).state == "NOT_FOUND"
    await sim.pay(no)
    assert (await impatient.query(no)).state == "SUCCESS"


# --- the payment code the clerk scans ----------------------------------------------------


async def test_pay_by_code_succeeds_and_is_notified(
    client: UnionPayClient, receiver: NotifyReceiver
) -> None:
    no, state = await pay_code(client)
    assert state == "SUCCESS"
    [delivery] = await receiver.wait_for(1)
    assert delivery.notice is not None and delivery.notice.out_trade_no == no
    assert delivery.fields["txnSubType"] == "06"
    with pytest.raises(ValueError):
        await client.pay_by_code(
            CodeAsk(
                out_trade_no=trade_no(),
                auth_code="1312345678901234567",
                description="x",
                total_fen=1,
            )
        )


async def test_unknown_outcome_is_queried_on_the_schedule(
    sim: UnionPaySim, receiver: NotifyReceiver
) -> None:
    schedule = tuple(s * 0.05 for s in QUERY_SCHEDULE_S)
    client = client_for(sim, receiver.url, query_schedule_s=schedule)
    await sim.set_faults(outcome_unknown=True, outcome_unknown_s=0.5)
    no, state = await pay_code(client)
    assert state == "USERPAYING"
    assert (await client.query_until_final(no)).state == "SUCCESS"
    queries = [datetime.fromisoformat(q) for q in (await sim.order(no))["queries"]]
    # done 0.5 s in: the queries at 0.05, 0.15 and 0.35 s see 05, the one at 0.75 s success
    assert len(queries) == 4
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(queries)]
    for gap, planned in zip(gaps, schedule[1:], strict=False):
        assert planned * 0.8 <= gap < planned + 0.3


async def test_unknown_outcome_that_fails(sim: UnionPaySim, client: UnionPayClient) -> None:
    await sim.set_faults(
        outcome_unknown=True, outcome_unknown_s=0.05, outcome_unknown_result="fail"
    )
    no, state = await pay_code(client)
    assert state == "USERPAYING"
    assert (await client.query_until_final(no)).state == "PAYERROR"


async def test_charge_that_succeeds_after_the_client_gave_up(
    sim: UnionPaySim, receiver: NotifyReceiver
) -> None:
    await sim.set_faults(pay_after_timeout=True, pay_after_timeout_s=2.0)
    impatient = client_for(sim, receiver.url, timeout_s=0.2)
    no, state = await pay_code(impatient)
    # a read timeout is no answer: the money may have moved, so it is "in process", not an error
    assert state == "USERPAYING"
    assert (await impatient.query_until_final(no)).state == "SUCCESS"


async def test_the_core_schedule_is_exposed() -> None:
    assert QUERY_SCHEDULE_S == (1, 2, 4, 8, 16, 32)


# --- reversal, refunds -------------------------------------------------------------------


async def test_reverse_voids_today_and_is_idempotent(
    sim: UnionPaySim, client: UnionPayClient, receiver: NotifyReceiver
) -> None:
    no = await paid_qr(sim, client)
    await client.reverse(no)
    await client.reverse(no)
    found = await client.query(no)
    assert (found.state, found.paid) == ("REVOKED", False)
    void = await sim.order(reversal_id(no))
    assert (void["txn_type"], void["state"], void["amount_fen"]) == ("31", "SUCCESS", 12_345)
    deliveries = await receiver.wait_for(2)
    assert {d.fields["txnType"] for d in deliveries} == {"01", "31"}
    assert [d.notice is None for d in deliveries if d.fields["txnType"] == "31"] == [True]


async def test_reverse_refunds_after_the_clearing_day(
    sim: UnionPaySim, client: UnionPayClient
) -> None:
    no = await paid_qr(sim, client)
    await sim.age(no, days=1)
    await client.reverse(no)
    assert (await client.query(no)).state == "REFUND"
    assert (await sim.order(reversal_id(no)))["txn_type"] == "04"


async def test_reverse_of_an_unpaid_code_does_nothing(client: UnionPayClient) -> None:
    no = await open_qr(client)
    await client.reverse(no)
    assert (await client.query(no)).state == "NOT_FOUND"


async def test_reverse_waits_for_an_outcome_still_in_process(
    sim: UnionPaySim, client: UnionPayClient
) -> None:
    await sim.set_faults(outcome_unknown=True, outcome_unknown_s=0.1)
    no, state = await pay_code(client)
    assert state == "USERPAYING"
    await client.reverse(no)
    assert (await client.query(no)).state == "REVOKED"


async def test_refund_is_idempotent_and_bounded(sim: UnionPaySim, client: UnionPayClient) -> None:
    no = await paid_qr(sim, client, total_fen=1_000)
    await refunded_twice(client, no, "RF" + no)
    assert (await sim.order(no))["refunded_fen"] == 400
    queried = await client.query_refund(out_trade_no=no, out_refund_no="RF" + no)
    assert queried.state == "SUCCESS"
    with pytest.raises(AcquirerRejected) as caught:
        await client.refund(
            RefundAsk(
                out_trade_no=no, out_refund_no="RG" + no, refund_fen=601, total_fen=1_000, reason=""
            )
        )
    assert caught.value.code == "33"
    await sim.set_faults(refund_result="processing")
    pending = await client.refund(
        RefundAsk(
            out_trade_no=no, out_refund_no="RH" + no, refund_fen=100, total_fen=1_000, reason=""
        )
    )
    assert pending.state == "PROCESSING"
    await sim.set_faults(refund_result="fail")
    failed = await client.refund(
        RefundAsk(
            out_trade_no=no, out_refund_no="RI" + no, refund_fen=100, total_fen=1_000, reason=""
        )
    )
    assert failed.state == "CLOSED"


async def test_refund_needs_a_payment(client: UnionPayClient) -> None:
    no = await open_qr(client)
    with pytest.raises(AcquirerRejected) as caught:
        await client.refund(
            RefundAsk(
                out_trade_no=no, out_refund_no="RF" + no, refund_fen=1, total_fen=1, reason=""
            )
        )
    assert caught.value.code == "ORDER_NOT_PAID"


async def test_queries_need_the_kept_txn_time(sim: UnionPaySim, client: UnionPayClient) -> None:
    no = await paid_qr(sim, client)
    stranger = client_for(sim, "http://127.0.0.1:9/n")
    with pytest.raises(AcquirerRejected) as caught:
        await stranger.query(no)
    assert caught.value.code == "TXN_TIME_UNKNOWN"
    shared = MemoryTxnTimes()
    first = client_for(sim, "http://127.0.0.1:9/n", txn_times=shared)
    second = client_for(sim, "http://127.0.0.1:9/n", txn_times=shared)
    other = await paid_qr(sim, first)
    assert (await second.query(other)).state == "SUCCESS"


async def test_an_order_id_never_sent_is_not_found_when_every_time_sent_is_kept(
    sim: UnionPaySim, pool: asyncpg.Pool
) -> None:
    """A node that dies between recording an attempt and sending it to UnionPay leaves an
    attempt UnionPay never saw. With the shared, durable store every process writes before it
    sends, no kept txnTime proves that: the poller and the closer hear NOT_FOUND and finish,
    instead of failing until their tasks are dead (found by tests/bench/campaign.py)."""
    durable = client_for(sim, "http://127.0.0.1:9/n", txn_times=RequestTimes(pool, "unionpay"))
    never_sent = trade_no()
    assert (await durable.query(never_sent)).state == "NOT_FOUND"
    await durable.close(never_sent)
    await durable.reverse(never_sent)
    # what was sent is still found, by any client sharing the store
    other = client_for(sim, "http://127.0.0.1:9/n", txn_times=RequestTimes(pool, "unionpay"))
    paid = await paid_qr(sim, durable)
    assert (await other.query(paid)).state == "SUCCESS"


# --- the clearing file -------------------------------------------------------------------


async def test_daily_bill_lists_what_was_processed_with_fees(
    sim: UnionPaySim, client: UnionPayClient
) -> None:
    paid = await paid_qr(sim, client, total_fen=12_345)
    code_paid, _ = await pay_code(client, total_fen=500)
    await client.refund(
        RefundAsk(
            out_trade_no=paid,
            out_refund_no="RF" + paid,
            refund_fen=345,
            total_fen=12_345,
            reason="",
        )
    )
    await client.reverse(code_paid)
    aged = await paid_qr(sim, client, total_fen=777)
    await sim.age(aged, days=1)
    day = wire.settle_day(today())
    records = {(r.kind, r.out_trade_no): r for r in await client.daily_bill(day)}
    assert set(records) == {
        ("PAYMENT", paid),
        ("PAYMENT", code_paid),
        ("REFUND", paid),
        ("REVERSAL", code_paid),
    }
    # 0.38 %: 46.911 fen → 47; 1.9 → 2; 1.311 → 1; a void gives back the whole fee
    assert records["PAYMENT", paid].fee_millifen == 47_000
    assert records["PAYMENT", code_paid].fee_millifen == 2_000
    refund = records["REFUND", paid]
    assert (refund.amount_fen, refund.fee_millifen, refund.out_refund_no) == (
        345,
        -1_000,
        "RF" + paid,
    )
    void = records["REVERSAL", code_paid]
    assert (void.amount_fen, void.fee_millifen) == (500, -2_000)
    assert void.provider_txn_id == records["PAYMENT", code_paid].provider_txn_id
    yesterday = await client.daily_bill(day - timedelta(days=1))
    assert [(r.kind, r.out_trade_no, r.amount_fen) for r in yesterday] == [("PAYMENT", aged, 777)]


async def test_daily_bill_of_tomorrow_does_not_exist(client: UnionPayClient) -> None:
    with pytest.raises(AcquirerRejected) as caught:
        await client.daily_bill(wire.settle_day(today()) + timedelta(days=1))
    assert caught.value.code == "98"
    assert await client.daily_bill(wire.settle_day(today()) - timedelta(days=3)) == []


async def test_truncated_bill_names_the_line(sim: UnionPaySim, client: UnionPayClient) -> None:
    await paid_qr(sim, client)
    await paid_qr(sim, client)
    await sim.set_faults(bill_truncated=True)
    with pytest.raises(BillUnreadable) as caught:
        await client.daily_bill(wire.settle_day(today()))
    assert caught.value.why == "truncated: no line end" and caught.value.where == "ZM line 2"
    assert isinstance(caught.value, AcquirerUnavailable)


# --- notifications under faults ----------------------------------------------------------


async def test_302_is_an_acknowledgement(sim: UnionPaySim) -> None:
    async def redirect(_: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "/elsewhere"})

    async with answering("/n", redirect) as base_url:
        no = await paid_qr(sim, client_for(sim, base_url + "/n"))
        state = await sim.acknowledged(no)
        assert [d["status"] for d in state["deliveries"]] == [302]


async def test_reordered_callbacks_arrive_newest_first(
    sim: UnionPaySim, client: UnionPayClient, receiver: NotifyReceiver
) -> None:
    await sim.set_faults(reorder_callbacks=2)
    first = await paid_qr(sim, client)
    second = await paid_qr(sim, client)
    deliveries = await receiver.wait_for(2)
    assert [d.fields["orderId"] for d in deliveries] == [second, first]


async def test_a_lone_held_callback_goes_after_the_hold(
    sim: UnionPaySim, client: UnionPayClient, receiver: NotifyReceiver
) -> None:
    await sim.set_faults(reorder_callbacks=3, reorder_hold_s=0.1)
    no = await paid_qr(sim, client)
    [delivery] = await receiver.wait_for(1)
    assert delivery.fields["orderId"] == no


async def test_parser_refuses_tampering_and_malformed_bodies(
    sim: UnionPaySim, client: UnionPayClient, receiver: NotifyReceiver, keys_root: Path
) -> None:
    await paid_qr(sim, client)
    [good] = await receiver.wait_for(1)
    parser = UnionPayNotifyParser(sim.merchant)
    now = datetime.now(UTC)
    assert parser({}, good.body, now) is not None

    def refused(body: bytes) -> str:
        with pytest.raises(NotifyRejected) as caught:
            parser.parse({}, body, now)
        return caught.value.code

    fields = dict(good.fields)
    assert refused(wire.encode_form(dict(fields, txnAmt="1"))) == "SIGNATURE_INVALID"
    assert refused(wire.encode_form(dict(fields, version="5.0.0"))) == "SIGNATURE_INVALID"
    no_sig = {k: v for k, v in fields.items() if k != "signature"}
    assert refused(wire.encode_form(no_sig)) == "SIGNATURE_MISSING"
    assert refused(b"\xff\xfe") == "MALFORMED"
    assert refused(good.body + b"&txnAmt=1") == "MALFORMED"
    # a certificate from the right CA but for another owner
    ca_key, ca_cert = load_ca(keys_root)
    impostor = issue_leaf(ca_key, ca_cert, sim.platform.private_key.public_key(), "某某公司", now)
    forged = dict(fields, signPubKeyCert=crypto.pem_text(impostor))
    forged["signature"] = crypto.sign(forged, sim.platform.private_key)
    assert refused(wire.encode_form(forged)) == "UNKNOWN_KEY"
    with pytest.raises(ValueError):
        parser.parse({}, good.body, datetime.now())


async def test_refund_notifications_capture_nothing(
    sim: UnionPaySim, client: UnionPayClient, receiver: NotifyReceiver
) -> None:
    no = await paid_qr(sim, client)
    await client.refund(
        RefundAsk(
            out_trade_no=no, out_refund_no="RF" + no, refund_fen=1, total_fen=12_345, reason=""
        )
    )
    deliveries = await receiver.wait_for(2)
    refund = next(d for d in deliveries if d.fields["txnType"] == "04")
    assert (refund.verdict, refund.notice) == ("OK", None)


# --- API faults seen by the client -------------------------------------------------------


async def test_slow_api_times_out(sim: UnionPaySim, receiver: NotifyReceiver) -> None:
    await sim.set_faults(api_delay_s=1.0)
    with pytest.raises(OutcomeUnknown) as caught:
        await client_for(sim, receiver.url, timeout_s=0.2).daily_bill(wire.settle_day(today()))
    assert (caught.value.status, caught.value.reason) == (None, "TimeoutError")


async def test_an_answer_signed_with_an_untrusted_certificate_is_forged(
    sim: UnionPaySim, client: UnionPayClient
) -> None:
    no = await paid_qr(sim, client)
    await sim.set_faults(untrusted_response_cert=True)
    with pytest.raises(ResponseForged) as untrusted:
        await client.query(no)
    assert untrusted.value.reason == "certificate does not chain to the UnionPay intermediate"


async def test_simulator_refuses_bad_requests(sim: UnionPaySim, tmp_path: Path) -> None:
    generate_keyset(tmp_path)
    stranger = load_merchant_keys(tmp_path / MERCHANT_DIR)
    forged = type(sim.merchant)(
        mer_id=sim.merchant.mer_id,
        cert_id=sim.merchant.cert_id,
        private_key=stranger.private_key,
        sign_cert=sim.merchant.sign_cert,
        chain=sim.merchant.chain,
    )
    late = datetime.now(UTC).timestamp() - 3600
    cases = (
        (
            UnionPayClient(
                sim.session, base_url=sim.base_url, keys=forged, notify_url="http://x/n"
            ),
            "11",
        ),
        (
            UnionPayClient(
                sim.session,
                base_url=sim.base_url,
                keys=sim.merchant,
                notify_url="http://x/n",
                clock=lambda: late,
            ),
            "10",
        ),
    )
    for client, code in cases:
        with pytest.raises(AcquirerRejected) as caught:
            await open_qr(client)
        assert (caught.value.status, caught.value.code) == (200, code)


async def test_connection_refused_is_plainly_unavailable(sim: UnionPaySim) -> None:
    closed = UnionPayClient(
        sim.session, base_url="http://127.0.0.1:9", keys=sim.merchant, notify_url="http://x/n"
    )
    with pytest.raises(AcquirerUnavailable) as caught:
        await closed.pay_by_code(
            CodeAsk(
                out_trade_no=trade_no(),
                auth_code="6212345678901234567",
                description="x",
                total_fen=1,
            )
        )
    # nothing was sent, so nothing can have been charged: not an unknown outcome
    assert not isinstance(caught.value, OutcomeUnknown)


# --- the command line --------------------------------------------------------------------
