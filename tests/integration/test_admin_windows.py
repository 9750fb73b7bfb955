"""The window a clerk's orders and shift land on comes from their assignment, not from the
browser; each role is sent to a page it can use."""

from __future__ import annotations

import pytest

from clearing.api.keys import POOL
from tests.integration.admin_harness import (
    admin_fixtures,
    case_order,
    choose_password,
    name,
    office_with_windows,
    sign_in,
    user,
)
from tests.integration.service_harness import Service

svc, admin = admin_fixtures()


# -- the window an order lands on ------------------------------------------------------------


async def test_a_clerks_order_lands_on_their_assigned_window(svc: Service, admin: str) -> None:
    office = await office_with_windows(svc, admin)
    clerk2, _ = await user(svc, admin, role="clerk", office=office, window="W02")
    status, me = await svc.request("GET", "/api/v1/me", clerk2)
    assert status == 200
    assert (me["window"], me["window_name"], me["office_name"]) == (
        "W02",
        "窗口二",
        "示范市不动产登记中心",
    )
    assert me["terminal_id"] == f"T{office}2" and me["home"] == "/window"
    # a fresh browser says nothing about the window: the order still lands on W02
    status, order = await svc.create_order(clerk2, case_order(office))
    assert status == 201, order
    assert order["window"] == "W02"
    status, listed = await svc.request("GET", f"/api/v1/orders?office={office}&window=W02", clerk2)
    assert [o["order_no"] for o in listed["orders"]] == [order["order_no"]]
    # saying the right window is fine too
    status, order = await svc.create_order(clerk2, case_order(office, "W02"))
    assert (status, order["window"]) == (201, "W02")


async def test_a_clerk_cannot_take_an_order_at_another_window(svc: Service, admin: str) -> None:
    office = await office_with_windows(svc, admin)
    clerk2, _ = await user(svc, admin, role="clerk", office=office, window="W02")
    status, problem = await svc.create_order(clerk2, case_order(office, "W01"))
    assert (status, problem["code"]) == (409, "WINDOW_MISMATCH")
    assert "W02" in problem["detail_zh"] and problem["assigned"] == "W02"
    async with svc.app[POOL].acquire() as conn:
        assert not await conn.fetchval("SELECT count(*) FROM orders WHERE office = $1", office)


async def test_a_clerk_without_a_window_is_told_to_ask_for_one(svc: Service, admin: str) -> None:
    office = await office_with_windows(svc, admin)
    clerk, _ = await user(svc, admin, role="clerk", office=office)
    status, problem = await svc.create_order(clerk, case_order(office))
    assert (status, problem["code"]) == (403, "WINDOW_UNASSIGNED")
    assert "管理员" in problem["detail_zh"]


async def test_a_supervisor_names_a_window_in_service(svc: Service, admin: str) -> None:
    office = await office_with_windows(svc, admin)
    sup, _ = await user(svc, admin, role="supervisor", office=office)
    status, listed = await svc.request("GET", "/api/v1/windows", sup)
    assert [w["code"] for w in listed["windows"]] == ["W01", "W02"]
    status, order = await svc.create_order(sup, case_order(office, "W02"))
    assert (status, order["window"]) == (201, "W02")
    status, problem = await svc.create_order(sup, case_order(office, "W09"))
    assert (status, problem["code"]) == (422, "WINDOW_UNKNOWN")
    status, problem = await svc.create_order(sup, case_order(office))
    assert (status, problem["code"]) == (422, "WINDOW_REQUIRED")
    # a closed window takes no more orders
    status, _ = await svc.request(
        "PATCH", f"/api/v1/admin/offices/{office}/windows/W02", admin, json={"active": False}
    )
    assert status == 200
    status, problem = await svc.create_order(sup, case_order(office, "W02"))
    assert (status, problem["code"]) == (422, "WINDOW_UNKNOWN")
    # nor does any window of a closed office
    status, _ = await svc.request(
        "PATCH", f"/api/v1/admin/offices/{office}", admin, json={"active": False}
    )
    assert status == 200
    status, problem = await svc.create_order(sup, case_order(office, "W01"))
    assert (status, problem["code"]) == (422, "WINDOW_UNKNOWN")


@pytest.mark.parametrize(
    ("role", "home"),
    [
        ("clerk", "/window"),
        ("supervisor", "/window"),
        ("finance", "/finance"),
        ("auditor", "/finance"),
        ("admin", "/admin"),
    ],
)
async def test_each_role_is_sent_to_a_page_it_can_use(
    svc: Service, admin: str, role: str, home: str
) -> None:
    office = await office_with_windows(svc, admin, ("W01",))
    place_ = {"office": office, "window": "W01"} if role == "clerk" else {}
    if role == "supervisor":
        place_ = {"office": office}
    username = name()
    out = await svc.answered(
        "POST",
        "/api/v1/admin/users",
        admin,
        json={"username": username, "display_name": "测试员", "role": role, **place_},
        expect=201,
    )
    status, session = await sign_in(svc, username, out["temporary_password"])
    assert (status, session["user"]["home"]) == (201, home)
    await choose_password(svc, session["token"], out["temporary_password"])
    cookie = {"Cookie": f"tj_session={session['token']}"}
    async with svc.session.get(svc.base_url + "/", headers=cookie, allow_redirects=False) as r:
        assert (r.status, r.headers["Location"]) == (302, home)
    async with svc.session.get(svc.base_url + home, headers=cookie, allow_redirects=False) as r:
        assert r.status == 200, home
    async with svc.session.get(
        svc.base_url + "/window", headers=cookie, allow_redirects=False
    ) as r:
        assert r.status == (200 if home == "/window" else 302)


async def test_a_clerks_shift_is_at_their_assigned_window(svc: Service, admin: str) -> None:
    office = await office_with_windows(svc, admin)
    clerk2, _ = await user(svc, admin, role="clerk", office=office, window="W02")
    status, shift = await svc.request("GET", "/api/v1/shifts/current", clerk2)
    assert (status, shift["window"]) == (200, "W02")
    status, problem = await svc.request("GET", "/api/v1/shifts/current?window=W01", clerk2)
    assert (status, problem["code"]) == (409, "WINDOW_MISMATCH")
    status, problem = await svc.request(
        "POST", "/api/v1/shifts/close", clerk2, json={"window": "W01"}
    )
    assert (status, problem["code"]) == (409, "WINDOW_MISMATCH")
