"""/api/v1/admin/webhooks over HTTP: subscribe (secret once), rotate, disable, the dead-letter
view and re-send, and who may do it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration.casesys_harness import CaseSys, running_casesys, wait_deliveries
from tests.integration.service_harness import Service, running_wechat_service


@pytest.fixture(scope="module")
async def svc(db_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
    tmp: Path = tmp_path_factory.mktemp("webhooks")
    async with running_wechat_service(db_dsn, tmp, webhook_schedule_scale=0.00002) as s:
        yield s


@pytest.fixture
async def casesys() -> AsyncIterator[CaseSys]:
    async with running_casesys() as sim:
        yield sim


async def test_an_admin_subscribes_the_case_system_and_resends_a_dead_letter(
    svc: Service, casesys: CaseSys
) -> None:
    from clearing.api.keys import POOL

    admin = await svc.add_user("admin", None)
    made = await svc.answered(
        "POST",
        "/api/v1/admin/webhooks",
        admin,
        json={"name": "不动产登记业务系统", "url": casesys.url, "event_types": ["order.cancelled"]},
        expect=201,
    )
    secret, sub = made["secret"], made["subscription"]
    assert secret.startswith("whsec_") and sub["event_types_zh"] == ["缴费单已撤销"]
    status, listed = await svc.request("GET", "/api/v1/admin/webhooks", admin)
    assert status == 200 and secret not in str(listed)  # shown once, never listed
    await casesys.set_secrets(secret)
    await casesys.set_faults(down=True)
    supervisor = await svc.supervisor()
    status, order = await svc.create_order(supervisor)
    assert status == 201, order
    status, _ = await svc.request(
        "POST", f"/api/v1/orders/{order['order_no']}/cancel", supervisor, json={"reason": "测试"}
    )
    assert status == 200
    await wait_deliveries(
        svc.app[POOL], sub["id"], lambda rows: rows and rows[0]["state"] == "DEAD"
    )
    status, dead = await svc.request("GET", "/api/v1/admin/webhook-deliveries?state=DEAD", admin)
    assert status == 200
    [letter] = [d for d in dead["deliveries"] if d["order_no"] == order["order_no"]]
    assert (letter["type_zh"], letter["state_zh"], letter["attempts"]) == (
        "缴费单已撤销",
        "投递失败（死信）",
        12,
    )
    await casesys.set_faults(down=False)
    status, again = await svc.request(
        "POST", f"/api/v1/admin/webhook-deliveries/{letter['id']}/resend", admin
    )
    assert status == 202 and again["state"] == "PENDING", again
    seen = await casesys.wait_events(1)
    assert seen["by_order"] == {order["order_no"]: ["order.cancelled"]}
    # rotating gives a new secret, shown once; the old one still signs for the overlap
    status, rotated = await svc.request("POST", f"/api/v1/admin/webhooks/{sub['id']}/secret", admin)
    assert status == 200 and rotated["secret"] != secret
    assert rotated["subscription"]["secrets_active"] == 2
    status, off = await svc.request("POST", f"/api/v1/admin/webhooks/{sub['id']}/disable", admin)
    assert status == 200 and off["active"] is False
    status, refused = await svc.request(
        "POST", f"/api/v1/admin/webhook-deliveries/{letter['id']}/resend", admin
    )
    assert (status, refused["code"]) == (409, "SUBSCRIPTION_DISABLED")


async def test_bad_subscriptions_are_refused_and_change_nothing(svc: Service) -> None:
    admin = await svc.add_user("admin", None)
    _, before = await svc.request("GET", "/api/v1/admin/webhooks", admin)
    for body in (
        {"name": "x", "url": "ftp://case.example/hook", "event_types": ["order.paid"]},
        {"name": "x", "url": "https://case.example/hook", "event_types": ["order.created"]},
        {"name": "x", "url": "https://case.example/hook", "event_types": []},
        {"name": "", "url": "https://case.example/hook", "event_types": ["order.paid"]},
    ):
        status, problem = await svc.request("POST", "/api/v1/admin/webhooks", admin, json=body)
        assert status == 422 and problem["detail_zh"], problem
    status, problem = await svc.request("GET", "/api/v1/admin/webhook-deliveries?state=LOST", admin)
    assert (status, problem["code"]) == (422, "DELIVERY_STATE_UNKNOWN")
    status, problem = await svc.request("POST", "/api/v1/admin/webhooks/999999/secret", admin)
    assert (status, problem["code"]) == (404, "SUBSCRIPTION_NOT_FOUND")
    status, problem = await svc.request(
        "POST", "/api/v1/admin/webhook-deliveries/999999/resend", admin
    )
    assert (status, problem["code"]) == (404, "DELIVERY_NOT_FOUND")
    _, after = await svc.request("GET", "/api/v1/admin/webhooks", admin)
    assert after == before


async def test_only_an_admin_without_an_office_manages_subscriptions(svc: Service) -> None:
    from clearing.api.keys import POOL
    from clearing.service import principals

    body = {"name": "x", "url": "https://case.example/hook", "event_types": ["order.paid"]}
    for role in ("clerk", "supervisor", "finance", "auditor"):
        token = await svc.add_user(role, "HALL1")
        for method, path in (
            ("GET", "/api/v1/admin/webhooks"),
            ("POST", "/api/v1/admin/webhooks"),
            ("GET", "/api/v1/admin/webhook-deliveries?state=DEAD"),
            ("POST", "/api/v1/admin/webhook-deliveries/1/resend"),
        ):
            status, problem = await svc.request(method, path, token, json=body)
            assert (status, problem["code"]) == (403, "ROLE_FORBIDDEN"), (role, path)
    async with svc.app[POOL].acquire() as conn:
        _, token = await principals.add(
            conn,
            kind="client",
            username="hall-admin-hooks",
            display_name="大厅管理员",
            role="admin",
            office="HALL1",
            window=None,
            password=None,
        )
    assert token is not None
    status, problem = await svc.request("POST", "/api/v1/admin/webhooks", token, json=body)
    assert (status, problem["code"]) == (403, "WEBHOOK_ADMIN_ONLY")
    assert "全局系统管理员" in problem["detail_zh"]
