"""Smart-POS adapter against the real terminal-cloud simulator over HTTP on 127.0.0.1 (no mocks)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from adapters.errors import AcquirerRejected, AcquirerUnavailable, NotifyRejected, ResponseForged
from adapters.pos import keys as keyset
from adapters.pos import signing
from adapters.pos.client import PosClient
from adapters.pos.keys import (
    MERCHANT_DIR,
    PLATFORM_DIR,
    generate_keyset,
    load_merchant_keys,
    load_platform_keys,
)
from adapters.pos.notify import ACK_OK, ACK_REFUSED, PosNotifyParser
from adapters.pos.wire import BEIJING, mask_pan
from clearing.ports import PaymentDeclined, RefundAsk, RefundOutcome
from tests.integration.acquirer_steps import answered_too_late
from tests.integration.adapter_fixtures import acquirer_fixtures, keyset_fixture, regenerated_keyset
from tests.integration.pos_harness import (
    NotifyReceiver,
    PosSim,
    running_pos_sim,
)
from tests.integration.serving import answering, eventually

RETRY_SCALE = 0.01
FEE_PPM = 3800  # 0.38 %: government merchants pay none, but a zero rate would hide fee bugs
T1, T2 = "T0000001", "T0000002"
_counter = itertools.count(1)


def trade_no() -> str:
    return f"TJ{os.getpid()}P{next(_counter):06d}"


def today() -> Any:
    return datetime.now(BEIJING).date()


keys_root = keyset_fixture(keyset, "pos-keys")


sim, receiver, client = acquirer_fixtures(
    running_pos_sim, retry_scale=RETRY_SCALE, fee_rate_ppm=FEE_PPM, seed=7
)


async def open_sale(client: PosClient, terminal_id: str = T1, total_fen: int = 12_345) -> str:
    no = trade_no()
    await client.start_sale(
        out_trade_no=no,
        terminal_id=terminal_id,
        total_fen=total_fen,
        description="不动产登记费及契税",
    )
    return no


async def paid_sale(
    sim: PosSim, client: PosClient, terminal_id: str = T1, total_fen: int = 12_345
) -> str:
    no = await open_sale(client, terminal_id, total_fen)
    status, done = await sim.swipe(terminal_id)
    assert (status, done["state"]) == (200, "APPROVED"), done
    return no


async def give_back(
    client: PosClient, no: str, refund_no: str, refund_fen: int, total_fen: int
) -> RefundOutcome:
    return await client.refund(
        RefundAsk(
            out_trade_no=no,
            out_refund_no=refund_no,
            refund_fen=refund_fen,
            total_fen=total_fen,
            reason="退费",
        )
    )


# --- signatures and keys, no network -------------------------------------------------------


def test_request_signature_is_open_body_sig(keys_root: Path) -> None:
    merchant = load_merchant_keys(keys_root / MERCHANT_DIR)
    body = '{"金额":1}'.encode()
    header = signing.authorization_header(
        app_id=merchant.app_id,
        app_key=merchant.app_key,
        body=body,
        timestamp="20250314093015",
        nonce="n1",
    )
    text = merchant.app_id + "20250314093015" + "n1" + hashlib.sha256(body).hexdigest()
    expected = base64.b64encode(
        hmac.new(merchant.app_key, text.encode(), hashlib.sha256).digest()
    ).decode()
    assert header == (
        f'OPEN-BODY-SIG AppId="{merchant.app_id}", Timestamp="20250314093015", Nonce="n1", '
        f'Signature="{expected}"'
    )
    auth = signing.parse_authorization(header)
    assert (auth.app_id, auth.nonce, auth.signature) == (merchant.app_id, "n1", expected)
    for bad in ("Bearer x", 'OPEN-BODY-SIG AppId="a"', header + ', Nonce="again"'):
        with pytest.raises(ValueError):
            signing.parse_authorization(bad)


def test_cloud_signature_binds_the_answer_to_its_request(keys_root: Path) -> None:
    platform = load_platform_keys(keys_root / PLATFORM_DIR)
    args = {
        "key_id": platform.cloud_key_id,
        "timestamp": "20250314093015",
        "nonce": "c1",
        "body": b"{}",
    }
    answer = signing.cloud_signature(platform.cloud_key, **args, request_nonce="r1")
    lines = "\n".join(
        [platform.cloud_key_id, "20250314093015", "c1", "r1", hashlib.sha256(b"{}").hexdigest()]
    )
    assert (
        answer
        == base64.b64encode(
            hmac.new(platform.cloud_key, lines.encode(), hashlib.sha256).digest()
        ).decode()
    )
    assert answer != signing.cloud_signature(platform.cloud_key, **args, request_nonce="r2")
    assert answer != signing.cloud_signature(platform.cloud_key, **args)  # a notification


def test_keyset_is_idempotent_private_and_hidden_from_repr(keys_root: Path) -> None:
    merchant, platform = regenerated_keyset(keyset, keys_root, lambda p: p.suffix == ".txt", 4)
    assert (merchant.app_key, merchant.cloud_key) == (platform.app_key, platform.cloud_key)
    assert merchant.app_key != merchant.cloud_key
    assert merchant.terminals == platform.terminals == (T1, T2)
    assert len(merchant.merchant_id) == 15 and merchant.merchant_id.isdigit()
    for shown in (repr(merchant), repr(platform), repr(PosNotifyParser(merchant))):
        assert merchant.app_key.decode() not in shown and merchant.cloud_key.decode() not in shown


def test_card_numbers_are_only_ever_kept_masked() -> None:
    assert mask_pan("6222021234567890128") == "622202*********0128"
    assert mask_pan("6258071234564417") == "625807******4417"
    assert mask_pan("622202*********0128") == "622202*********0128"
    assert mask_pan("62220212345678901234567") == "**********"
    assert ACK_OK == (200, "text/plain", b"SUCCESS") and ACK_REFUSED[0] == 401


# --- the sale, the card and the result -------------------------------------------------------


async def test_sale_card_pin_and_signed_result(
    sim: PosSim, client: PosClient, receiver: NotifyReceiver
) -> None:
    no = await open_sale(client)
    assert (await client.query(no)).state == "NOTPAY"
    status, _ = await sim.insert(T1, card_no="6222021234567890128", entry_mode="071")
    assert status == 200
    assert (await client.query(no)).state == "USERPAYING"
    status, done = await sim.swipe(T1, pin="123456")
    assert status == 200 and done["resp_code"] == "00"
    [delivery] = await receiver.wait_for(1)
    notice = delivery.notice
    assert delivery.verdict == "OK" and notice is not None
    txn = f"{done['rrn']}-{T1}-{done['batch_no']}-{done['trace_no']}"
    assert (notice.provider, notice.out_trade_no, notice.amount_fen) == ("pos", no, 12_345)
    assert notice.provider_txn_id == txn
    assert notice.event_id == done["notify_id"]
    assert notice.details == {
        "merchant_id": sim.merchant.merchant_id, "terminal_id": T1, "batch_no": "000001",
        "trace_no": "000001", "rrn": done["rrn"], "auth_code": done["auth_code"],
        "card_no_masked": "622202*********0128", "card_type": "D", "entry_mode": "071",
        "resp_code": "00", "amount_fen": 12_345, "txn_time": notice.paid_at.astimezone(BEIJING).strftime("%Y%m%d%H%M%S"),
    }  # fmt: skip
    assert b"1234567890128" not in delivery.body
    status_ = await client.query(no)
    assert (status_.state, status_.paid, status_.provider_txn_id) == ("SUCCESS", True, txn)
    assert status_.paid_at == notice.paid_at and status_.details == notice.details
    card_fields = "merchant_id terminal_id batch_no trace_no rrn auth_code card_no amount txn_time"
    for name in card_fields.split():
        assert status_.raw[name], name
    assert status_.raw["card_no"] == "622202*********0128"
    order = await sim.acknowledged(no)
    assert [d["status"] for d in order["deliveries"]] == [200]
    # the terminal is free again
    await open_sale(client)


async def test_terminal_screen_in_chinese_for_the_demo(
    sim: PosSim, client: PosClient, receiver: NotifyReceiver
) -> None:
    page = f"{sim.base_url}/sim/terminals/{T2}"
    async with sim.session.get(page) as resp:
        assert "等待收银指令" in await resp.text()
    no = await open_sale(client, T2, 880_050)
    async with sim.session.get(page) as resp:
        text = await resp.text()
    assert "插卡/刷卡" in text and "¥8800.50" in text and no in text
    async with sim.session.post(f"{page}/insert", data={"card_no": "6258071234564417"}) as resp:
        text = await resp.text()
    assert (
        "输入密码" in text
        and "确认" in text
        and "625807******4417" in text
        and "1234564417" not in text
    )
    async with sim.session.post(f"{page}/swipe", data={"pin": "888888", "resp_code": "00"}) as resp:
        assert "交易成功" in await resp.text()
    [delivery] = await receiver.wait_for(1)
    assert delivery.notice is not None and delivery.notice.amount_fen == 880_050
    async with sim.session.get(page, headers={"Accept": "application/json"}) as resp:
        assert (await resp.json())["pending"] is None


@pytest.mark.parametrize(
    ("knobs", "code", "reason"),
    [
        ({"resp_code": "51"}, "51", "余额不足"),
        ({"resp_code": "55"}, "55", "密码错误"),
        ({"approve": False}, "05", "发卡行拒绝交易"),
    ],
)
async def test_declined_cards(
    sim: PosSim,
    client: PosClient,
    receiver: NotifyReceiver,
    knobs: dict[str, Any],
    code: str,
    reason: str,
) -> None:
    no = await open_sale(client)
    status, done = await sim.swipe(T1, **knobs)
    assert status == 200
    assert (done["state"], done["resp_code"], done["auth_code"]) == ("DECLINED", code, "")
    [delivery] = await receiver.wait_for(1)
    # nothing to capture, but the decline itself, with the reason the window shows
    assert (delivery.verdict, delivery.answered) == ("OK", 200)
    assert delivery.verified == PaymentDeclined("pos", no, code, reason)
    result = await client.query(no)
    assert (result.state, result.paid, result.provider_txn_id) == ("PAYERROR", False, None)
    assert result.raw["resp_code"] == code
    assert (result.decline_code, result.decline_zh) == (code, reason)
    await client.close(no)  # nothing to close, and that is fine
    await open_sale(client)  # the terminal took the next sale


async def test_start_sale_is_idempotent_and_guarded(client: PosClient) -> None:
    no = await open_sale(client)
    await client.start_sale(
        out_trade_no=no, terminal_id=T1, total_fen=12_345, description="不动产登记费及契税"
    )
    cases = [
        ({"out_trade_no": no, "terminal_id": T1, "total_fen": 1}, "94"),
        ({"out_trade_no": trade_no(), "terminal_id": T1, "total_fen": 1}, "T1"),
        ({"out_trade_no": trade_no(), "terminal_id": "T0000009", "total_fen": 1}, "T2"),
        ({"out_trade_no": "has-dash", "terminal_id": T2, "total_fen": 1}, "30"),
    ]
    for kwargs, code in cases:
        with pytest.raises(AcquirerRejected) as caught:
            await client.start_sale(description="契税", **kwargs)
        assert (caught.value.status, caught.value.code) == (200, code), kwargs
    with pytest.raises(ValueError):
        await client.start_sale(
            out_trade_no=trade_no(), terminal_id=T2, total_fen=0, description="x"
        )


async def test_close_takes_the_sale_off_the_terminal(sim: PosSim, client: PosClient) -> None:
    no = await open_sale(client)
    await client.close(no)
    await client.close(no)
    assert (await client.query(no)).state == "CLOSED"
    assert (await sim.swipe(T1))[0] == 409
    unknown = trade_no()
    await client.close(unknown)
    assert (await client.query(unknown)).state == "NOT_FOUND"
    with pytest.raises(AcquirerRejected) as late:  # a sale that arrives after its close
        await client.start_sale(
            out_trade_no=unknown, terminal_id=T1, total_fen=100, description="x"
        )
    assert late.value.code == "12"
    paid = await paid_sale(sim, client)
    with pytest.raises(AcquirerRejected) as caught:
        await client.close(paid)
    assert caught.value.code == "12"


async def test_reverse_undoes_whatever_happened(sim: PosSim, client: PosClient) -> None:
    paid = await paid_sale(sim, client)
    await client.reverse(paid)
    await client.reverse(paid)
    result = await client.query(paid)
    assert (result.state, result.paid) == ("REVOKED", False)
    journal = [t["txn_type"] for t in (await sim.order(paid))["journal"]]
    assert journal == ["SALE", "REVS"]
    waiting = await open_sale(client)
    await client.reverse(waiting)
    assert (await client.query(waiting)).state == "REVOKED"
    await open_sale(client)  # the terminal is free
    await client.reverse(trade_no())


async def test_lost_result_is_resolved_only_by_reversal(
    sim: PosSim, client: PosClient, receiver: NotifyReceiver
) -> None:
    await sim.set_faults(lose_result=True, lose_result_s=2.0)
    no = await open_sale(client)
    status, done = await sim.swipe(T1)
    assert (status, done["state"]) == (200, "APPROVED")
    impatient = sim.client(receiver.url, timeout_s=0.3)
    for call in (impatient.query(no), impatient.close(no)):
        with pytest.raises(AcquirerUnavailable) as caught:
            await call
        assert caught.value.status is None
    await impatient.reverse(no)
    assert (await impatient.query(no)).state == "REVOKED"
    assert receiver.deliveries == []
    await sim.settle()
    bill = await client.daily_bill(today())
    assert [(r.kind, r.out_trade_no, r.amount_fen, r.fee_millifen) for r in bill] == [
        ("PAYMENT", no, 12_345, 46_911),
        ("REVERSAL", no, 12_345, -46_911),
    ]
    assert bill[0].provider_txn_id == bill[1].provider_txn_id


async def test_refund_is_a_void_in_the_open_batch_and_a_refund_after_settlement(
    sim: PosSim, client: PosClient
) -> None:
    same_day = await paid_sale(sim, client)
    voided = await give_back(client, same_day, "RF" + same_day, 12_345, 12_345)
    assert (voided.state, voided.raw["refund_type"]) == ("SUCCESS", "VOID")
    again = await give_back(client, same_day, "RF" + same_day, 12_345, 12_345)
    assert again.provider_refund_id == voided.provider_refund_id
    status = await client.query(same_day)
    assert (status.state, status.paid, status.raw["refunded_amount"]) == ("REFUND", True, 12_345)

    settled = await paid_sale(sim, client, T2, 1_000)
    await sim.settle()
    whole = await give_back(client, settled, "RF" + settled, 1_000, 1_000)
    assert whole.raw["refund_type"] == "REFUND"

    part = await paid_sale(sim, client, T1, 1_000)
    await sim.set_faults(refund_status="PROCESSING")
    first = await give_back(client, part, "RA" + part, 300, 1_000)
    assert (first.state, first.raw["refund_type"]) == ("PROCESSING", "REFUND")
    with pytest.raises(AcquirerRejected) as too_much:
        await give_back(client, part, "RB" + part, 701, 1_000)
    assert too_much.value.code == "13"
    with pytest.raises(AcquirerRejected) as wrong_total:
        await give_back(client, part, "RC" + part, 1, 999)
    assert wrong_total.value.code == "64"
    with pytest.raises(AcquirerRejected) as other_sale:
        await give_back(client, settled, "RA" + part, 300, 1_000)
    assert other_sale.value.code == "94"
    found = await client.query_refund(out_trade_no=part, out_refund_no="RA" + part)
    assert (found.state, found.provider_refund_id) == ("PROCESSING", first.provider_refund_id)
    with pytest.raises(AcquirerRejected) as missing:
        await client.query_refund(out_trade_no=part, out_refund_no="RZ" + part)
    assert missing.value.code == "25"


async def test_reverse_after_settlement_refunds_the_rest_once(
    sim: PosSim, client: PosClient
) -> None:
    no = await paid_sale(sim, client, T2, 2_000)
    await sim.settle()
    await client.reverse(no)
    await client.reverse(no)
    journal = [
        (t["txn_type"], t["amount_fen"], t["out_refund_no"])
        for t in (await sim.order(no))["journal"]
    ]
    assert journal == [("SALE", 2_000, ""), ("RFND", 2_000, "RV" + no)]
    # part refunded in the open batch: a reversal would restore too much, so the rest is refunded
    part = await paid_sale(sim, client, T1, 2_000)
    await give_back(client, part, "RF" + part, 500, 2_000)
    await client.reverse(part)
    journal = [(t["txn_type"], t["amount_fen"]) for t in (await sim.order(part))["journal"]]
    assert journal == [("SALE", 2_000), ("RFND", 500), ("RFND", 1_500)]
    assert (await client.query(part)).raw["refunded_amount"] == 2_000


# --- the settlement file ----------------------------------------------------------------------


async def test_daily_bill_is_what_the_host_settled(sim: PosSim, client: PosClient) -> None:
    a = await paid_sale(sim, client, T1, 12_345)
    b = await paid_sale(sim, client, T1, 500)
    await give_back(client, a, "RF" + a, 12_345, 12_345)
    await client.reverse(b)
    c = await paid_sale(sim, client, T2, 1_001)
    declined = await open_sale(client, T2)
    await sim.swipe(T2, resp_code="51")
    await sim.settle()
    await give_back(client, c, "RP" + c, 333, 1_001)
    await sim.settle()
    bill = await client.daily_bill(today())
    rows = [
        (r.kind, r.out_trade_no, r.amount_fen, r.fee_millifen, r.out_refund_no, r.raw["txn_type"])
        for r in bill
    ]
    assert rows == [
        ("PAYMENT", a, 12_345, 46_911, None, "SALE"),
        ("PAYMENT", b, 500, 1_900, None, "SALE"),
        ("REVERSAL", b, 500, -1_900, None, "REVS"),
        ("REFUND", a, 12_345, -46_911, "RF" + a, "VOID"),
        ("PAYMENT", c, 1_001, 3_804, None, "SALE"),  # 1001 fen x 0.38 % = 3.8038 fen, half up
        ("REFUND", c, 333, -1_265, "RP" + c, "RFND"),  # 333 x 0.38 % = 1.2654 fen
    ]
    assert declined not in {r.out_trade_no for r in bill}
    sale_ids = {r.out_trade_no: r.provider_txn_id for r in bill if r.kind == "PAYMENT"}
    assert all(r.provider_txn_id == sale_ids[r.out_trade_no] for r in bill)
    assert (await client.query(a)).provider_txn_id == sale_ids[a]
    refund_ids = {r.provider_refund_id for r in bill if r.kind == "REFUND"}
    assert len(refund_ids) == 2 and None not in refund_ids
    assert all(r.raw["settle_date"] == today().strftime("%Y%m%d") for r in bill)
    assert await client.daily_bill(today() - timedelta(days=1)) == []
    with pytest.raises(AcquirerRejected) as future:
        await client.daily_bill(today() + timedelta(days=1))
    assert future.value.code == "98"


async def test_unsettled_business_is_not_billed_and_a_bad_digest_is_forged(
    sim: PosSim, client: PosClient
) -> None:
    await paid_sale(sim, client)
    assert await client.daily_bill(today()) == []
    await sim.set_faults(bad_file_digest=True)
    with pytest.raises(ResponseForged) as caught:
        await client.daily_bill(today())
    assert caught.value.reason == "file digest mismatch"


# --- notifications ---------------------------------------------------------------------------


async def test_only_200_success_acknowledges(sim: PosSim) -> None:
    async def no_content(_: web.Request) -> web.Response:
        return web.Response(status=204)

    async with answering("/n", no_content) as base_url:
        no = await paid_sale(sim, sim.client(base_url + "/n"))

        async def retried() -> bool:
            # a delivery still in flight is listed without a status: count finished ones only
            done = [d for d in (await sim.order(no))["deliveries"] if d["status"] is not None]
            return len(done) >= 3

        await eventually(retried)
        order = await sim.order(no)
        finished = [d["status"] for d in order["deliveries"] if d["status"] is not None]
        assert set(finished) == {204}
        assert order["notifications"][0]["acknowledged"] is False


async def test_a_replayed_callback_is_refused(
    sim: PosSim, client: PosClient, receiver: NotifyReceiver
) -> None:
    # duplicates sent afresh are in the contract suite; a replay reuses the signature
    await sim.set_faults(replay_callbacks=True)
    await paid_sale(sim, client)
    first, replay = await receiver.wait_for(2)
    assert (first.verdict, replay.verdict, replay.answered) == ("OK", "REPLAYED", 401)
    assert first.headers[signing.CLOUD_HEADER] == replay.headers[signing.CLOUD_HEADER]


async def test_reordered_callbacks_arrive_newest_first(
    sim: PosSim, client: PosClient, receiver: NotifyReceiver
) -> None:
    await sim.set_faults(reorder_callbacks=3)
    sales = [await paid_sale(sim, client, terminal) for terminal in (T1, T1, T2)]
    deliveries = await receiver.wait_for(3)
    assert [d.notice.out_trade_no for d in deliveries if d.notice] == sales[::-1]


async def test_delayed_callbacks(sim: PosSim, client: PosClient, receiver: NotifyReceiver) -> None:
    await sim.set_faults(delay_callbacks_s=0.3)
    started = asyncio.get_running_loop().time()
    await paid_sale(sim, client)
    await receiver.wait_for(1)
    assert receiver.deliveries[0].at - started >= 0.3


async def test_parser_refuses_anything_not_signed_for_us(
    sim: PosSim, client: PosClient, receiver: NotifyReceiver
) -> None:
    await paid_sale(sim, client)
    [good] = await receiver.wait_for(1)
    now = datetime.now(UTC)

    def code(
        headers: dict[str, str],
        body: bytes,
        parser: PosNotifyParser | None = None,
        at: datetime = now,
    ) -> str:
        with pytest.raises(NotifyRejected) as caught:
            (parser or PosNotifyParser(sim.merchant)).parse(headers, body, at)
        return caught.value.code

    def signed(envelope: Any, key: bytes = sim.platform.cloud_key) -> tuple[dict[str, str], bytes]:
        body = envelope if isinstance(envelope, bytes) else json.dumps(envelope).encode()
        header = signing.cloud_header(
            cloud_key=key, key_id=sim.platform.cloud_key_id, body=body,
            timestamp=signing.timestamp_now(now), nonce=signing.new_nonce(),
        )  # fmt: skip
        return {"x-open-signature": header}, body

    fresh = PosNotifyParser(sim.merchant)
    lowered = {k.lower(): v for k, v in good.headers.items()}
    assert fresh.parse(lowered, good.body, now) == good.notice
    assert code(good.headers, good.body, fresh) == "REPLAYED"
    assert (
        code(good.headers, good.body.replace(b'"amount":12345', b'"amount":12346'))
        == "SIGNATURE_INVALID"
    )
    assert code({}, good.body) == "SIGNATURE_MISSING"
    assert code({signing.CLOUD_HEADER: 'KeyId="x"'}, good.body) == "MALFORMED"
    assert code(good.headers, good.body, at=now + timedelta(seconds=301)) == "TIMESTAMP_SKEW"
    envelope = json.loads(good.body)
    assert code(*signed(envelope, key=b"0" * 64)) == "SIGNATURE_INVALID"
    assert (
        code(*signed({**envelope, "sale": {**envelope["sale"], "merchant_id": "898310093990000"}}))
        == "WRONG_MERCHANT"
    )
    assert (
        code(*signed({**envelope, "sale": {**envelope["sale"], "terminal_id": "T9999999"}}))
        == "UNKNOWN_TERMINAL"
    )
    assert (
        code(*signed({**envelope, "sale": {**envelope["sale"], "amount": "123.45"}})) == "MALFORMED"
    )
    assert code(*signed(b"not json")) == "MALFORMED"
    assert code(*signed({**envelope, "notify_id": ""})) == "MALFORMED"
    assert (
        PosNotifyParser(sim.merchant).parse(
            *signed({**envelope, "notify_type": "TERMINAL_STATUS"}), now
        )
        is None
    )


# --- API faults seen by the client -----------------------------------------------------------


async def test_sale_that_reached_the_terminal_after_the_client_gave_up(
    sim: PosSim, client: PosClient
) -> None:
    no = trade_no()
    await answered_too_late(
        sim,
        lambda impatient: impatient.start_sale(
            out_trade_no=no, terminal_id=T1, total_fen=500, description="契税"
        ),
    )
    assert (await client.query(no)).state == "NOTPAY"
    # sending the same sale again is safe: the terminal keeps the one it has
    await client.start_sale(out_trade_no=no, terminal_id=T1, total_fen=500, description="契税")
    assert (await sim.swipe(T1))[1]["out_trade_no"] == no


async def test_simulator_refuses_bad_request_signatures(sim: PosSim, tmp_path: Path) -> None:
    generate_keyset(tmp_path)
    stranger = load_merchant_keys(tmp_path / MERCHANT_DIR)
    forged = type(sim.merchant)(**{**sim.merchant.__dict__, "app_key": stranger.app_key})
    stale = datetime.now(UTC).timestamp() - 301
    for impostor in (
        PosClient(sim.session, base_url=sim.base_url, keys=forged, notify_url="http://x/n"),
        PosClient(
            sim.session,
            base_url=sim.base_url,
            keys=sim.merchant,
            notify_url="http://x/n",
            clock=lambda: stale,
        ),
    ):
        with pytest.raises(AcquirerRejected) as caught:
            await impostor.query(trade_no())
        assert (caught.value.status, caught.value.code) == (401, "A0")


# --- the command line ------------------------------------------------------------------------
