"""After the single payment, each leg is confirmed to its authority and the proof lands on the
order and the receipt; a refused confirmation puts the order in EXCEPTION with the reason."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from clearing.api.keys import POOL
from tests.integration.factories import paid_out
from tests.integration.fund_harness import FundSim, home, running_fund_sim
from tests.integration.service_harness import Service, order_body, running_wechat_service
from tests.integration.serving import polled


@pytest.fixture(scope="module")
async def env(
    db_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Service, FundSim]]:
    tmp = tmp_path_factory.mktemp("legs")
    async with (
        running_fund_sim(tmp / "fund") as fund,
        running_wechat_service(
            db_dsn,
            tmp,
            sim_retry_scale=0.01,
            workers=2,
            poll_first_s=0.3,
            fund_keys=tmp / "fund" / "merchant",
            fund_base_url=fund.base_url,
        ) as svc,
    ):
        yield svc, fund


@pytest.fixture(scope="module")
async def staff(env: tuple[Service, FundSim]) -> str:
    return await env[0].add_user("supervisor", "HALL1")


async def _paid_fund_order(svc: Service, fund: FundSim, staff: str) -> tuple[str, dict[str, Any]]:
    notice = await home(fund)
    body = order_body()
    body["lines"] = [
        {
            "item_code": "MAINT_FUND",
            "amount": notice["amount"],
            "reference": notice["noticeNo"],
        }
    ]
    status, order = await svc.create_order(staff, body)
    assert status == 201, order
    qr = await svc.open_qr(staff, order["order_no"])
    await svc.sim.pay(qr["out_trade_no"])
    return order["order_no"], notice


async def _order(svc: Service, staff: str, order_no: str) -> dict[str, Any]:
    _, order = await svc.request("GET", f"/api/v1/orders/{order_no}", staff)
    return dict(order)


async def _until(svc: Service, staff: str, order_no: str, state: str) -> dict[str, Any]:
    order = await polled(lambda: _order(svc, staff, order_no), lambda o: o["state"] == state)
    assert order["state"] == state, order
    return order


async def _confirmed(svc: Service, staff: str, order_no: str) -> dict[str, Any]:
    """The order once every leg with a reference is confirmed (it stays CLEARED until paid out)."""

    def confirmed(order: dict[str, Any]) -> bool:
        legs = [ln for ln in order["lines"] if ln["reference"]]
        return all(ln["confirm_state"] == "CONFIRMED" for ln in legs)

    order = await polled(lambda: _order(svc, staff, order_no), confirmed)
    assert confirmed(order), order
    return order


async def test_a_confirmed_leg_carries_its_proof_and_the_paid_out_order_settles(
    env: tuple[Service, FundSim], staff: str
) -> None:
    svc, fund = env
    order_no, notice = await _paid_fund_order(svc, fund, staff)
    order = await _confirmed(svc, staff, order_no)
    # confirmed by the authority, but the money has not reached the beneficiary yet
    assert order["state"] == "CLEARED"
    async with svc.app[POOL].acquire() as conn:
        await paid_out(conn)
    order = await _until(svc, staff, order_no, "SETTLED")
    leg = order["lines"][0]
    assert leg["confirm_state"] == "CONFIRMED" and leg["proof_no"]
    deposits = await fund.deposits()
    assert [d for d in deposits if notice["noticeNo"] in str(d)]
    async with svc.session.get(
        f"{svc.base_url}/orders/{order_no}/receipt", headers={"Authorization": f"Bearer {staff}"}
    ) as r:
        assert leg["proof_no"] in await r.text()


async def test_a_refused_confirmation_puts_the_order_in_exception(
    env: tuple[Service, FundSim], staff: str
) -> None:
    svc, fund = env
    await fund.set_faults(refuse_confirm=5, refuse_confirm_reason="分户账已冻结")
    try:
        order_no, _ = await _paid_fund_order(svc, fund, staff)
        order = await _until(svc, staff, order_no, "EXCEPTION")
    finally:
        await fund.reset_faults()
    assert order["exception_reason"].startswith("LEG_REFUSED:fund:")
    assert order["lines"][0]["confirm_state"] == "REFUSED"
    reason = await svc.app[POOL].fetchval(
        "SELECT detail->>'reason' FROM audit_log WHERE action = 'leg.refused' AND object_id = $1",
        order_no,
    )
    assert reason == "分户账已冻结"


async def test_an_authority_that_is_down_is_retried_until_it_answers(
    env: tuple[Service, FundSim], staff: str
) -> None:
    svc, fund = env
    await fund.set_faults(down=True)
    order_no, _ = await _paid_fund_order(svc, fund, staff)
    await _until(svc, staff, order_no, "CLEARED")
    # the office is asked and fails to answer at least twice before it is back
    failed = await polled(
        lambda: svc.app[POOL].fetchval(
            "SELECT t.attempts FROM tasks t JOIN orders o ON o.id = (t.payload->>'order_id')::bigint"
            " WHERE t.kind = 'leg.confirm' AND o.order_no = $1 AND t.last_error IS NOT NULL",
            order_no,
        ),
        lambda n: (n or 0) >= 2,
        30,
    )
    assert failed is not None and failed >= 2, failed
    await fund.reset_faults()
    async with svc.app[POOL].acquire() as conn:  # don't wait out the backoff in a test
        await conn.execute(
            "UPDATE tasks SET run_at = now() WHERE kind = 'leg.confirm' AND state = 'READY'"
        )
    order = await _confirmed(svc, staff, order_no)
    assert order["lines"][0]["proof_no"]
    confirmed = [d for d in await fund.deposits() if order_no in str(d)]
    assert len(confirmed) == 1  # confirmed once, whatever the retries
