"""The whole path over real HTTP: QR → citizen pays at the simulator → signed callback → CLEARED.

And what goes wrong in life: forged, replayed and probing callbacks; lost callbacks; a citizen
paying a different amount; an order nobody pays."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.wechatpay import crypto
from clearing.api.keys import POOL
from tests.integration.service_harness import (
    Service,
    order_body,
    service_fixture,
    user_fixture,
)
from tests.integration.serving import polled

svc = service_fixture("flow", sim_retry_scale=0.01, workers=2, poll_first_s=0.3, poll_later_s=0.5)


@pytest.fixture(autouse=True)
async def _clean_faults(svc: Service) -> AsyncIterator[None]:
    await svc.sim.reset_faults()
    yield
    await svc.sim.reset_faults()


staff = user_fixture("supervisor", "HALL1")


async def _ledger(pool: asyncpg.Pool, order_no: str) -> list[tuple[str, int]]:
    rows = await pool.fetch(
        "SELECT a.code, p.amount_fen FROM postings p JOIN ledger_accounts a ON a.id = p.account_id"
        " JOIN orders o ON o.id = p.order_id WHERE o.order_no = $1 ORDER BY p.id",
        order_no,
    )
    return [(r["code"], r["amount_fen"]) for r in rows]


async def _new_qr(
    svc: Service, staff: str, amounts: tuple[int, ...] = (350_000_00, 80_00)
) -> tuple[str, str]:
    status, order = await svc.create_order(staff, order_body(amounts))
    assert status == 201, order
    qr = await svc.open_qr(staff, order["order_no"])
    return order["order_no"], qr["out_trade_no"]


async def test_scan_pay_and_the_window_sees_it_cleared(svc: Service, staff: str) -> None:
    order_no, otn = await _new_qr(svc, staff)

    started = time.monotonic()
    assert (await svc.sim.pay(otn))[0] == 200
    order = await svc.wait_state(staff, order_no, "CLEARED", within_s=1.0)
    assert time.monotonic() - started < 1.0
    assert order["state_zh"] == "已缴费"
    assert [p["outcome"] for p in order["payments"]] == ["CLEARED"]
    assert await _ledger(svc.app[POOL], order_no) == [
        ("receivable:wechatpay", 350_080_00),
        ("payable:TREASURY", -350_000_00),
        ("payable:FISCAL_NONTAX", -80_00),
    ]


async def test_duplicated_callbacks_clear_once(svc: Service, staff: str) -> None:
    await svc.sim.set_faults(duplicate_callbacks=5)
    order_no, otn = await _new_qr(svc, staff, (12_34,))
    await svc.sim.pay(otn)
    await svc.wait_state(staff, order_no, "CLEARED")
    # every duplicate delivered and answered, then the ledger still holds the payment once
    deadline = asyncio.get_running_loop().time() + 20
    while True:
        sim_order = await svc.sim.order(otn)
        answered = [d for d in sim_order["deliveries"] if d.get("status") is not None]
        if len(answered) >= 6:
            break
        assert asyncio.get_running_loop().time() < deadline, sim_order["deliveries"]
        await asyncio.sleep(0.05)
    assert len(await _ledger(svc.app[POOL], order_no)) == 2


async def test_lost_callbacks_are_found_by_polling(svc: Service, staff: str) -> None:
    await svc.sim.set_faults(drop_callbacks=1.0)
    order_no, otn = await _new_qr(svc, staff, (500_00,))
    await svc.sim.pay(otn)
    order = await svc.wait_state(staff, order_no, "CLEARED", within_s=5.0)
    assert order["payments"][0]["outcome"] == "CLEARED"
    source = await svc.app[POOL].fetchval(
        "SELECT source FROM payments WHERE out_trade_no = $1", otn
    )
    assert source == "query"


async def test_wrong_amount_goes_to_suspense_and_is_refunded(svc: Service, staff: str) -> None:
    order_no, otn = await _new_qr(svc, staff, (1000_00,))
    await svc.sim.pay(otn, amount_fen=999_00)
    order = await svc.wait_state(staff, order_no, "EXCEPTION")
    assert order["exception_reason"] == "AMOUNT_MISMATCH"
    pool = svc.app[POOL]
    state = await polled(
        lambda: pool.fetchval(
            "SELECT r.state FROM refunds r JOIN payments p ON p.id = r.payment_id"
            " WHERE p.out_trade_no = $1",
            otn,
        ),
        lambda state: state == "SUCCESS",
    )
    assert state == "SUCCESS"
    ledger = await _ledger(pool, order_no)
    # parked, then given back: nothing reached a beneficiary, suspense and receivable are square
    assert [c for c, _ in ledger if c.startswith("payable:")] == []
    assert sum(a for c, a in ledger if c == "suspense") == 0
    assert sum(a for c, a in ledger if c == "receivable:wechatpay") == 0
    assert (await svc.sim.order(otn))["refunds"]


def _signed_callback(
    svc: Service,
    out_trade_no: str,
    amount: int,
    *,
    timestamp: int | None = None,
    key: rsa.RSAPrivateKey | None = None,
    signature: str | None = None,
) -> tuple[dict[str, str], bytes]:
    platform = svc.sim.platform
    resource = {
        "mchid": platform.mchid,
        "appid": platform.appid,
        "out_trade_no": out_trade_no,
        "transaction_id": "4200009999" + str(time.time_ns())[-18:],
        "trade_type": "NATIVE",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": "OTHERS",
        "attach": "",
        "success_time": datetime.now(UTC).isoformat(),
        "payer": {"openid": "o-test"},
        "amount": {
            "total": amount,
            "payer_total": amount,
            "currency": "CNY",
            "payer_currency": "CNY",
        },
    }
    nonce = crypto.new_resource_nonce()
    body = json.dumps(
        {
            "id": "EV-test",
            "create_time": datetime.now(UTC).isoformat(),
            "event_type": "TRANSACTION.SUCCESS",
            "resource_type": "encrypt-resource",
            "summary": "支付成功",
            "resource": {
                "original_type": "transaction",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": crypto.encrypt_resource(
                    platform.apiv3_key, nonce, "transaction", json.dumps(resource).encode()
                ),
                "associated_data": "transaction",
                "nonce": nonce,
            },
        }
    ).encode()
    ts = str(timestamp if timestamp is not None else int(time.time()))
    hn = crypto.new_nonce()
    sig = signature or crypto.sign(
        key or platform.private_key, crypto.response_message(ts, hn, body)
    )
    headers = {
        "Wechatpay-Timestamp": ts,
        "Wechatpay-Nonce": hn,
        "Wechatpay-Signature": sig,
        "Wechatpay-Serial": platform.public_key_id,
        "Content-Type": "application/json",
    }
    return headers, body


async def _post_notify(svc: Service, headers: dict[str, str], body: bytes) -> int:
    async with svc.session.post(
        svc.base_url + "/notify/wechatpay", data=body, headers=headers
    ) as r:
        return r.status


async def test_forged_replayed_and_probing_callbacks_are_refused(svc: Service, staff: str) -> None:
    order_no, otn = await _new_qr(svc, staff, (77_00,))
    pool = svc.app[POOL]
    before = await pool.fetchval("SELECT count(*) FROM payments")
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cases = {
        "forged signature": _signed_callback(svc, otn, 77_00, key=forger),
        "replayed (stale)": _signed_callback(svc, otn, 77_00, timestamp=int(time.time()) - 3600),
        "probe": _signed_callback(svc, otn, 77_00, signature="WECHATPAY/SIGNTEST/abc"),
    }
    headers, body = _signed_callback(svc, otn, 77_00)
    cases["tampered body"] = (headers, body.replace(b"EV-test", b"EV-tost"))
    cases["no signature"] = ({"Content-Type": "application/json"}, body)
    for name, (h, b) in cases.items():
        assert await _post_notify(svc, h, b) == 401, name
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM payments") == before
    assert (await svc.request("GET", f"/api/v1/orders/{order_no}", staff))[1]["state"] == "PAYING"
    # the genuine one still goes through
    assert await _post_notify(svc, headers, body) == 204
    await svc.wait_state(staff, order_no, "CLEARED")


async def test_anonymous_refusals_leave_no_audit_rows_and_few_log_lines(
    svc: Service, staff: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Anyone can post to /notify: 200 forged callbacks cost a counter, not 200 permanent audit
    rows, and the log says so in a bounded number of lines."""
    _, otn = await _new_qr(svc, staff, (12_00,))
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    headers, body = _signed_callback(svc, otn, 12_00, key=forger)
    audit_before = await svc.app[POOL].fetchval("SELECT count(*) FROM audit_log")
    caplog.set_level(logging.WARNING, logger="clearing.api.routes_notify")
    statuses = await asyncio.gather(*(_post_notify(svc, headers, body) for _ in range(200)))
    assert set(statuses) == {401}
    async with svc.app[POOL].acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM audit_log") == audit_before
    refusals = [r for r in caplog.records if "notification refused" in r.getMessage()]
    assert 1 <= len(refusals) <= 20, len(refusals)
    async with svc.session.get(svc.ops_url + "/metrics") as r:
        text = await r.text()
    line = next(
        ln for ln in text.splitlines()
        if ln.startswith('tongjiao_notify_rejected_total{channel="wechatpay",code="SIGNATURE_INVALID"}')
    )  # fmt: skip
    assert float(line.split()[-1]) >= 200


async def test_a_notification_in_another_media_type_is_refused_unread(
    svc: Service, staff: str
) -> None:
    order_no, otn = await _new_qr(svc, staff, (13_00,))
    headers, body = _signed_callback(svc, otn, 13_00)
    assert await _post_notify(svc, {**headers, "Content-Type": "text/plain"}, body) == 415
    assert await _post_notify(svc, {**headers, "Content-Type": "application/xml"}, body) == 415
    status, order = await svc.request("GET", f"/api/v1/orders/{order_no}", staff)
    assert (status, order["state"]) == (200, "PAYING")
    # as WeChat Pay sends it, it goes through
    assert await _post_notify(svc, headers, body) == 204
    await svc.wait_state(staff, order_no, "CLEARED")


async def test_unpaid_order_is_closed_at_the_acquirer_then_expired(
    svc: Service, staff: str
) -> None:
    order_no, otn = await _new_qr(svc, staff, (88_00,))
    async with svc.app[POOL].acquire() as conn:
        # time passes: the order's deadline is now
        await conn.execute("UPDATE orders SET expires_at = now() WHERE order_no = $1", order_no)
        await conn.execute(
            "UPDATE tasks SET run_at = now() WHERE dedupe_key = 'order.expire:' || $1::text",
            order_no,
        )
    order = await svc.wait_state(staff, order_no, "EXPIRED", within_s=5)
    assert order["state_zh"] == "已过期"
    assert (await svc.sim.order(otn))["state"] == "CLOSED"


async def test_payment_metrics_are_counted(svc: Service, staff: str) -> None:
    async with svc.session.get(svc.ops_url + "/metrics") as r:
        text = await r.text()
    assert 'tongjiao_payments_total{channel="wechatpay",outcome="CLEARED",source="notify"}' in text
    assert 'tongjiao_notify_rejected_total{channel="wechatpay",code="SIGNATURE_INVALID"}' in text
    assert "tongjiao_adapter_call_seconds_bucket" in text


async def test_fifty_concurrent_deliveries_over_http_make_one_payment(
    svc: Service, staff: str
) -> None:
    order_no, otn = await _new_qr(svc, staff, (66_00,))
    headers, body = _signed_callback(svc, otn, 66_00)
    statuses = await asyncio.gather(*(_post_notify(svc, headers, body) for _ in range(50)))
    assert set(statuses) == {204}
    await svc.wait_state(staff, order_no, "CLEARED")
    async with svc.app[POOL].acquire() as conn:
        assert (
            await conn.fetchval("SELECT count(*) FROM payments WHERE out_trade_no = $1", otn) == 1
        )
    ledger = await _ledger(svc.app[POOL], order_no)
    assert ledger == [("receivable:wechatpay", 66_00), ("payable:TREASURY", -66_00)]


async def test_the_service_witnesses_what_it_seals_outside_the_database(
    svc: Service, staff: str
) -> None:
    """Every sealed audit row reaches the witness file, closed by a signed checkpoint."""
    from clearing.api.keys import SETTINGS
    from clearing.service import audit, audit_witness

    status, _ = await svc.create_order(await svc.supervisor())
    assert status == 201
    key_file, witness_file, retired = svc.app[SETTINGS].audit_paths()
    keys = audit_witness.verifying_keys(key_file, retired)
    deadline = time.monotonic() + 15
    while True:
        async with svc.app[POOL].acquire() as conn:
            head = await conn.fetchval("SELECT max(seq) FROM audit_log")
            unsealed = await conn.fetchval("SELECT count(*) FROM audit_log WHERE seq IS NULL")
        view = audit_witness.read(witness_file, keys) if witness_file.exists() else None
        if view is not None and head and not unsealed and view.head_seq >= head:
            break
        assert time.monotonic() < deadline, (head, unsealed, view and view.head_seq)
        await asyncio.sleep(0.1)
    async with svc.app[POOL].acquire() as conn:
        report = await audit.verify(conn, witness=view)
    assert report.ok, report.problems
    assert view.checkpoints >= 1
