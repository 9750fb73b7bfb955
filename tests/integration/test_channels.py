"""Every QR/payment-code channel, end to end through the real service and its real simulator:
pay → CLEARED with the exact split; refund → REFUNDED with the ledger balanced; every callback
lost → cleared by polling; payment codes, including the citizen confirming on the phone."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from clearing.api.keys import POOL
from tests.integration.alipay_harness import running_alipay_sim
from tests.integration.factories import ledger_balances
from tests.integration.service_harness import (
    Service,
    order_body,
    running_wechat_service,
    staff_fixture,
)
from tests.integration.serving import polled, refused_once
from tests.integration.unionpay_harness import running_unionpay_sim

# a valid-looking payment code of each wallet (prefix rules in clearing/domain/codes.py)
CODES = {
    "wechatpay": "134567890123456789",
    "alipay": "284567890123456789",
    "unionpay": "6212345678901234567",
}
ALL = ["wechatpay", "alipay", "unionpay"]


@pytest.fixture(scope="module")
async def svc(db_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
    tmp = tmp_path_factory.mktemp("channels")
    async with (
        running_alipay_sim(tmp / "alipay", retry_scale=0.001) as alipay,
        running_unionpay_sim(tmp / "unionpay", retry_scale=0.001) as unionpay,
        running_wechat_service(
            db_dsn,
            tmp,
            sim_retry_scale=0.01,
            others={"alipay": alipay, "unionpay": unionpay},
            workers=2,
            poll_first_s=0.3,
            code_poll_s=0.3,
            code_wait_s=3.0,
        ) as s,
    ):
        s.sims = {"wechatpay": s.sim, "alipay": alipay, "unionpay": unionpay}  # type: ignore[attr-defined]
        yield s


def sim(svc: Service, channel: str) -> Any:
    return svc.sims[channel]  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
async def _faults(svc: Service) -> AsyncIterator[None]:
    for s in svc.sims.values():  # type: ignore[attr-defined]
        await s.reset_faults()
    yield


staff = staff_fixture(clerk="HALL1", supervisor="HALL1", finance=None)


async def _qr(svc: Service, clerk: str, channel: str, amounts: tuple[int, ...]) -> tuple[str, str]:
    status, order = await svc.create_order(await svc.supervisor(), order_body(amounts))
    assert status == 201, order
    qr = await svc.start_payment(clerk, order["order_no"], method="qr", channel=channel)
    return order["order_no"], qr["out_trade_no"]


@pytest.mark.parametrize("channel", ALL)
async def test_pay_then_refund(svc: Service, staff: dict[str, str], channel: str) -> None:
    order_no, otn = await _qr(svc, staff["clerk"], channel, (350_000_00, 80_00))
    status, _ = await sim(svc, channel).pay(otn)
    assert status == 200
    await svc.wait_state(staff["clerk"], order_no, "CLEARED")
    receivable = f"receivable:{channel}"
    assert await ledger_balances(svc.app[POOL], order_no) == {
        receivable: 350_080_00,
        "payable:TREASURY": -350_000_00,
        "payable:FISCAL_NONTAX": -80_00,
    }
    _, req = await svc.request(
        "POST", f"/api/v1/orders/{order_no}/refunds", staff["supervisor"], json={"reason": "退回"}
    )
    await svc.request("POST", f"/api/v1/refunds/{req['id']}/approve", staff["finance"], json={})
    await svc.wait_state(staff["clerk"], order_no, "REFUNDED", within_s=10)
    assert await ledger_balances(svc.app[POOL], order_no) == {
        receivable: 0,
        "payable:TREASURY": 0,
        "payable:FISCAL_NONTAX": 0,
    }


@pytest.mark.parametrize("channel", ALL)
async def test_every_callback_lost_still_clears_by_polling(
    svc: Service, staff: dict[str, str], channel: str
) -> None:
    await sim(svc, channel).set_faults(drop_callbacks=1.0)
    order_no, otn = await _qr(svc, staff["clerk"], channel, (500_00,))
    await sim(svc, channel).pay(otn)
    started = time.monotonic()
    await svc.wait_state(staff["clerk"], order_no, "CLEARED", within_s=5)
    assert time.monotonic() - started < 5
    async with svc.app[POOL].acquire() as conn:
        assert (
            await conn.fetchval("SELECT source FROM payments WHERE out_trade_no = $1", otn)
            == "query"
        )


@pytest.mark.parametrize("channel", ALL)
async def test_payment_code_paid_at_once(svc: Service, staff: dict[str, str], channel: str) -> None:
    _, order = await svc.create_order(await svc.supervisor(), order_body((66_00,)))
    started = await svc.start_payment(
        staff["clerk"], order["order_no"], method="code", auth_code=CODES[channel]
    )
    assert (started["provider"], started["state"], started["order_state"]) == (
        channel,
        "SUCCEEDED",
        "CLEARED",
    )
    assert await ledger_balances(svc.app[POOL], order["order_no"]) == {
        f"receivable:{channel}": 66_00,
        "payable:TREASURY": -66_00,
    }


@pytest.mark.parametrize("channel", ["wechatpay", "alipay"])
async def test_payment_code_confirmed_on_the_phone(
    svc: Service, staff: dict[str, str], channel: str
) -> None:
    await sim(svc, channel).set_faults(user_paying=True, user_paying_s=0.5)
    _, order = await svc.create_order(await svc.supervisor(), order_body((77_00,)))
    status, started = await svc.request(
        "POST",
        f"/api/v1/orders/{order['order_no']}/payments",
        staff["clerk"],
        json={"method": "code", "auth_code": CODES[channel]},
    )
    assert (status, started["state"]) == (201, "OPEN"), started
    await svc.wait_state(staff["clerk"], order["order_no"], "CLEARED", within_s=5)


async def test_payment_code_never_confirmed_is_reversed(
    svc: Service, staff: dict[str, str]
) -> None:
    await sim(svc, "wechatpay").set_faults(user_paying=True, user_paying_s=0)
    _, order = await svc.create_order(await svc.supervisor(), order_body((88_00,)))
    _, started = await svc.request(
        "POST",
        f"/api/v1/orders/{order['order_no']}/payments",
        staff["clerk"],
        json={"method": "code", "auth_code": CODES["wechatpay"]},
    )
    state = await polled(
        lambda: svc.app[POOL].fetchval(
            "SELECT state FROM payment_attempts WHERE out_trade_no = $1", started["out_trade_no"]
        ),
        lambda state: state == "REVERSED",
        every_s=0.2,
    )
    assert state == "REVERSED"
    assert (await sim(svc, "wechatpay").order(started["out_trade_no"]))["state"] in (
        "REVOKED",
        "CLOSED",
    )


async def test_an_unknown_payment_code_is_refused(svc: Service, staff: dict[str, str]) -> None:
    _, order = await svc.create_order(await svc.supervisor(), order_body((100,)))
    status, problem = await svc.request(
        "POST",
        f"/api/v1/orders/{order['order_no']}/payments",
        staff["clerk"],
        json={"method": "code", "auth_code": "9912345678901234"},
    )
    assert (status, problem["code"]) == (422, "PAYMENT_CODE_UNKNOWN")


async def test_alipay_forged_notification_is_refused(svc: Service, staff: dict[str, str]) -> None:
    order_no, otn = await _qr(svc, staff["clerk"], "alipay", (99_00,))
    form = {
        "app_id": "x",
        "out_trade_no": otn,
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "99.00",
        "trade_no": "2026112622001",
        "sign_type": "RSA2",
        "sign": "AAAA",
    }
    async with svc.session.post(svc.base_url + "/notify/alipay", data=form) as r:
        assert r.status == 401
        assert await r.text() == "fail"
    _, order = await svc.request("GET", f"/api/v1/orders/{order_no}", staff["clerk"])
    assert order["payments"] == []


@pytest.mark.parametrize("channel", ALL)
async def test_badly_signed_callbacks_are_refused_and_change_nothing(
    svc: Service, staff: dict[str, str], channel: str
) -> None:
    await sim(svc, channel).set_faults(bad_signature=True)
    order_no, otn = await _qr(svc, staff["clerk"], channel, (123_00,))
    async with svc.app[POOL].acquire() as conn:
        await conn.execute(  # keep the poller away while the forged callbacks come in
            "UPDATE tasks SET run_at = now() + interval '1 hour'"
            " WHERE kind = 'attempt.poll' AND state = 'READY'"
        )
    await sim(svc, channel).pay(otn)
    order = await polled(lambda: sim(svc, channel).order(otn), refused_once, timeout_s=20)
    assert refused_once(order), order
    _, ours = await svc.request("GET", f"/api/v1/orders/{order_no}", staff["clerk"])
    assert (ours["state"], ours["payments"]) == ("PAYING", [])
    assert await ledger_balances(svc.app[POOL], order_no) == {}
