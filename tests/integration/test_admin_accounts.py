"""系统管理 over /api/v1/admin: accounts, offices and windows, API clients, the fee schedule;
office scope, nobody changes their own access, every change audited."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from clearing import security
from clearing.api.keys import POOL
from clearing.service import principals
from tests.integration.admin_harness import (
    admin_fixtures,
    audit_rows,
    case_order,
    name,
    office_with_windows,
    sign_in,
    user,
)
from tests.integration.service_harness import Service

svc, admin = admin_fixtures()


# -- accounts ---------------------------------------------------------------------------------


async def test_an_admin_creates_a_user_who_must_change_the_password(
    svc: Service, admin: str
) -> None:
    office = await office_with_windows(svc, admin)
    username = name()
    out = await svc.answered(
        "POST",
        "/api/v1/admin/users",
        admin,
        json={
            "username": username,
            "display_name": "窗口三 周洁",
            "role": "clerk",
            "office": office,
            "window": "W01",
        },
        expect=201,
    )
    assert out["user"]["must_change_password"] is True
    assert out["user"]["window"] == "W01"
    password = out["temporary_password"]
    assert len(password) == 12
    status, session = await sign_in(svc, username, password)
    assert status == 201 and session["user"]["must_change_password"] is True
    (row,) = await audit_rows(svc, "principal.created", username)
    assert row["detail"]["window"] == "W01" and row["actor"].startswith("user:t")
    assert password not in str(row["detail"])
    status, listed = await svc.request("GET", "/api/v1/admin/users", admin)
    assert username in {u["username"] for u in listed["users"]}
    status, problem = await svc.request(
        "POST",
        "/api/v1/admin/users",
        admin,
        json={"username": username, "display_name": "重名", "role": "finance"},
    )
    assert (status, problem["code"]) == (409, "USERNAME_TAKEN")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"role": "clerk"}, "OFFICE_REQUIRED"),
        ({"role": "clerk", "office": "NOSUCH"}, "OFFICE_UNKNOWN"),
        ({"role": "clerk", "office": "{office}", "window": "W77"}, "WINDOW_UNKNOWN"),
        ({"role": "finance", "office": "{office}", "window": "W01"}, "WINDOW_NOT_FOR_ROLE"),
        ({"role": "emperor"}, "VALIDATION_FAILED"),
        ({"role": "clerk", "username": "Bad Name"}, "VALIDATION_FAILED"),
        ({"role": "clerk", "password_hash": "x"}, "VALIDATION_FAILED"),
    ],
)
async def test_an_invalid_user_is_refused_and_nothing_is_made(
    svc: Service, admin: str, body: dict[str, Any], code: str
) -> None:
    office = await office_with_windows(svc, admin)
    body = {k: v.replace("{office}", office) if isinstance(v, str) else v for k, v in body.items()}
    username = body.setdefault("username", name())
    status, problem = await svc.request(
        "POST", "/api/v1/admin/users", admin, json={"display_name": "某人", **body}
    )
    assert (status, problem["code"]) == (422, code), problem
    assert problem["detail_zh"]
    async with svc.app[POOL].acquire() as conn:
        assert not await conn.fetchval("SELECT 1 FROM principals WHERE username = $1", username)


async def test_reset_password_ends_sessions_and_forces_a_change(svc: Service, admin: str) -> None:
    office = await office_with_windows(svc, admin)
    token, username = await user(svc, admin, role="clerk", office=office, window="W01")
    out = await svc.answered("POST", f"/api/v1/admin/users/{username}/password-reset", admin)
    assert out["user"]["must_change_password"] is True
    status, _ = await svc.request("GET", "/api/v1/me", token)
    assert status == 401  # the old session ended with the old password
    status, _ = await sign_in(svc, username, out["temporary_password"])
    assert status == 201
    assert len(await audit_rows(svc, "principal.password_reset", username)) == 1


async def test_an_admin_assigns_a_window_and_disables_a_user(svc: Service, admin: str) -> None:
    office = await office_with_windows(svc, admin)
    token, username = await user(svc, admin, role="clerk", office=office, window="W01")
    status, out = await svc.request(
        "PATCH", f"/api/v1/admin/users/{username}", admin, json={"window": "W02"}
    )
    assert (status, out["window"]) == (200, "W02")
    status, order = await svc.create_order(token, case_order(office))
    assert (status, order["window"]) == (201, "W02")
    (row,) = await audit_rows(svc, "principal.updated", username)
    assert row["detail"] == {"window": {"from": "W01", "to": "W02"}}
    # role and display name
    status, out = await svc.request(
        "PATCH",
        f"/api/v1/admin/users/{username}",
        admin,
        json={"role": "supervisor", "display_name": "值班主任 周洁"},
    )
    assert (status, out["role"], out["display_name"]) == (200, "supervisor", "值班主任 周洁")
    status, _ = await svc.request("GET", "/api/v1/me", token)
    assert status == 401  # a new role: the old session's rights no longer hold
    # disabled: cannot sign in
    status, out = await svc.request(
        "PATCH", f"/api/v1/admin/users/{username}", admin, json={"disabled": True}
    )
    assert (status, out["disabled"]) == (200, True)
    await svc.app[POOL].execute(
        "UPDATE principals SET password_hash = $2 WHERE username = $1",
        username,
        security.hash_password("pass-word-123"),
    )
    status, problem = await sign_in(svc, username, "pass-word-123")
    assert (status, problem["code"]) == (401, "LOGIN_FAILED")


@pytest.mark.parametrize(
    ("body", "code", "status"),
    [
        ({"window": "W99"}, "WINDOW_UNKNOWN", 422),
        ({"role": None}, "VALUE_REQUIRED", 422),
        ({}, "VALIDATION_FAILED", 422),
        ({"office": "NOSUCH"}, "OFFICE_UNKNOWN", 422),
    ],
)
async def test_an_invalid_change_is_refused_and_nothing_changes(
    svc: Service, admin: str, body: dict[str, Any], code: str, status: int
) -> None:
    office = await office_with_windows(svc, admin)
    _, username = await user(svc, admin, role="clerk", office=office, window="W01")
    got, problem = await svc.request("PATCH", f"/api/v1/admin/users/{username}", admin, json=body)
    assert (got, problem["code"]) == (status, code), problem
    row = await svc.app[POOL].fetchrow(
        "SELECT role, office, window_code FROM principals WHERE username = $1", username
    )
    assert tuple(row) == ("clerk", office, "W01")
    assert await audit_rows(svc, "principal.updated", username) == []


async def test_nobody_changes_their_own_access(svc: Service, admin: str) -> None:
    me_token, me_name = await user(svc, admin, role="admin")
    for path, body in (
        (f"/api/v1/admin/users/{me_name}", {"disabled": True}),
        (f"/api/v1/admin/users/{me_name}", {"role": "auditor"}),
        (f"/api/v1/admin/users/{me_name}/password-reset", None),
    ):
        method = "PATCH" if body is not None else "POST"
        status, problem = await svc.request(method, path, me_token, json=body)
        assert (status, problem["code"]) == (403, "SELF_CHANGE_FORBIDDEN"), path
        assert "另一位管理员" in problem["detail_zh"]
    # one's own display name is not a question of access
    status, out = await svc.request(
        "PATCH", f"/api/v1/admin/users/{me_name}", me_token, json={"display_name": "管理员 甲"}
    )
    assert (status, out["display_name"]) == (200, "管理员 甲")


async def test_an_office_admin_manages_their_own_office_only(svc: Service, admin: str) -> None:
    mine = await office_with_windows(svc, admin)
    theirs = await office_with_windows(svc, admin)
    async with svc.app[POOL].acquire() as conn:
        await principals.add(
            conn,
            kind="staff",
            username=(scoped := name("oa")),
            display_name="大厅管理员",
            role="admin",
            office=mine,
            password="pass-word-123",
        )
    _, session = await sign_in(svc, scoped, "pass-word-123")
    office_admin = session["token"]
    _, other_clerk = await user(svc, admin, role="clerk", office=theirs, window="W01")
    _, my_clerk = await user(svc, admin, role="clerk", office=mine, window="W01")
    refusals = [
        ("PATCH", f"/api/v1/admin/users/{other_clerk}", {"window": "W02"}),
        ("POST", f"/api/v1/admin/users/{other_clerk}/password-reset", None),
        ("PATCH", f"/api/v1/admin/users/{my_clerk}", {"office": theirs}),
        ("POST", "/api/v1/admin/users", {"username": name(), "display_name": "某", "role": "clerk", "office": theirs}),
        ("POST", "/api/v1/admin/users", {"username": name(), "display_name": "某", "role": "finance"}),
        ("POST", f"/api/v1/admin/offices/{theirs}/windows", {"code": "W09", "name": "窗口九"}),
        ("PATCH", f"/api/v1/admin/offices/{theirs}", {"name": "改名"}),
        ("POST", "/api/v1/admin/offices", {"code": name("X"), "name": "新大厅"}),
    ]  # fmt: skip
    for method, path, body in refusals:
        status, problem = await svc.request(method, path, office_admin, json=body)
        assert (status, problem["code"]) == (403, "OFFICE_FORBIDDEN"), (path, problem)
    status, listed = await svc.request("GET", "/api/v1/admin/users", office_admin)
    assert {u["office"] for u in listed["users"]} == {mine}
    status, listed = await svc.request("GET", "/api/v1/admin/offices", office_admin)
    assert [o["code"] for o in listed["offices"]] == [mine]
    # within the office, everything works
    status, out = await svc.request(
        "PATCH", f"/api/v1/admin/users/{my_clerk}", office_admin, json={"window": "W02"}
    )
    assert (status, out["window"]) == (200, "W02")


async def test_non_admins_are_refused_everywhere(svc: Service, admin: str) -> None:
    office = await office_with_windows(svc, admin)
    for role in ("clerk", "supervisor", "finance", "auditor"):
        token = await svc.add_user(role, office)
        for method, path in (
            ("GET", "/api/v1/admin/users"),
            ("POST", "/api/v1/admin/users"),
            ("GET", "/api/v1/admin/offices"),
            ("POST", f"/api/v1/admin/offices/{office}/windows"),
            ("GET", "/api/v1/admin/clients"),
            ("POST", "/api/v1/admin/fee-schedules"),
        ):
            status, problem = await svc.request(method, path, token, json={})
            assert (status, problem["code"]) == (403, "ROLE_FORBIDDEN"), (role, path)
        async with svc.session.get(
            svc.base_url + "/admin", headers={"Cookie": f"tj_session={token}"}
        ) as r:
            assert r.status == 403 and "仅供系统管理员使用" in await r.text()
    status, problem = await svc.request("GET", "/api/v1/admin/users")
    assert status == 401


# -- offices, windows, terminals ----------------------------------------------------------------


async def test_offices_windows_and_terminals(svc: Service, admin: str) -> None:
    office = await office_with_windows(svc, admin)
    status, listed = await svc.request("GET", "/api/v1/admin/offices", admin)
    mine = next(o for o in listed["offices"] if o["code"] == office)
    assert mine["kind_zh"] == "登记大厅"
    assert [(w["code"], w["terminal_id"]) for w in mine["windows"]] == [
        ("W01", f"T{office}1"),
        ("W02", f"T{office}2"),
    ]
    # one terminal stands at one window
    status, problem = await svc.request(
        "PATCH",
        f"/api/v1/admin/offices/{office}/windows/W02",
        admin,
        json={"terminal_id": f"T{office}1"},
    )
    assert (status, problem["code"]) == (409, "TERMINAL_IN_USE")
    status, out = await svc.request(
        "PATCH",
        f"/api/v1/admin/offices/{office}/windows/W02",
        admin,
        json={"terminal_id": f"T{office}9", "name": "窗口二（综合）"},
    )
    assert (status, out["terminal_id"], out["name"]) == (200, f"T{office}9", "窗口二（综合）")
    (row,) = await audit_rows(svc, "window.updated", f"{office}/W02")
    assert row["detail"]["terminal_id"] == {"from": f"T{office}2", "to": f"T{office}9"}
    assert len(await audit_rows(svc, "window.created", f"{office}/W01")) == 1
    assert len(await audit_rows(svc, "office.created", office)) == 1
    status, problem = await svc.request(
        "POST", f"/api/v1/admin/offices/{office}/windows", admin, json={"code": "W01", "name": "x"}
    )
    assert (status, problem["code"]) == (409, "WINDOW_EXISTS")
    status, problem = await svc.request(
        "POST", "/api/v1/admin/offices", admin, json={"code": office, "name": "x"}
    )
    assert (status, problem["code"]) == (409, "OFFICE_EXISTS")
    status, problem = await svc.request(
        "POST", "/api/v1/admin/offices", admin, json={"code": "有空格 的", "name": "x"}
    )
    assert (status, problem["code"]) == (422, "VALIDATION_FAILED")
    status, out = await svc.request(
        "PATCH",
        f"/api/v1/admin/offices/{office}",
        admin,
        json={"name": "东区便民中心", "kind": "centre"},
    )
    assert (status, out["kind_zh"], out["name"]) == (200, "便民服务中心", "东区便民中心")
    status, problem = await svc.request(
        "PATCH", "/api/v1/admin/offices/NOSUCH", admin, json={"name": "x"}
    )
    assert (status, problem["code"]) == (404, "OFFICE_NOT_FOUND")


# -- API clients --------------------------------------------------------------------------------


async def test_api_clients_get_a_token_once_and_can_be_cut_off(svc: Service, admin: str) -> None:
    office = await office_with_windows(svc, admin)
    username = name("c")
    out = await svc.answered(
        "POST",
        "/api/v1/admin/clients",
        admin,
        json={
            "username": username,
            "display_name": "一窗受理系统",
            "role": "clerk",
            "office": office,
        },
        expect=201,
    )
    token = out["token"]
    status, me = await svc.request("GET", "/api/v1/me", token)
    assert (status, me["username"]) == (200, username)
    status, listed = await svc.request("GET", "/api/v1/admin/clients", admin)
    assert username in {c["username"] for c in listed["users"]}
    status, rotated = await svc.request("POST", f"/api/v1/admin/clients/{username}/token", admin)
    assert status == 200
    assert (await svc.request("GET", "/api/v1/me", token))[0] == 401
    assert (await svc.request("GET", "/api/v1/me", rotated["token"]))[0] == 200
    status, out = await svc.request(
        "PATCH", f"/api/v1/admin/clients/{username}", admin, json={"disabled": True}
    )
    assert (status, out["disabled"]) == (200, True)
    assert (await svc.request("GET", "/api/v1/me", rotated["token"]))[0] == 401
    assert len(await audit_rows(svc, "client.token_rotated", username)) == 1
    assert len(await audit_rows(svc, "client.updated", username)) == 1
    status, problem = await svc.request(
        "POST",
        "/api/v1/admin/clients",
        admin,
        json={"username": name("c"), "display_name": "x", "role": "admin"},
    )
    assert (status, problem["code"]) == (422, "VALIDATION_FAILED")
    # a staff account is not an API client, and the other way round
    status, problem = await svc.request(
        "POST", f"/api/v1/admin/users/{username}/password-reset", admin
    )
    assert (status, problem["code"]) == (404, "USER_NOT_FOUND")


# -- fee schedules --------------------------------------------------------------------------------


async def test_fee_schedule_versions_on_the_admin_api(svc: Service, admin: str) -> None:
    body = {
        "effective_from": (date.today() + timedelta(days=60)).isoformat(),
        "residential_fen": 7000,
        "non_residential_fen": 50000,
        "extra_certificate_fen": 1000,
        "exemptions": [],
        "basis": "示范市发改委 2026 年第 12 号公告",
    }
    status, out = await svc.request("POST", "/api/v1/admin/fee-schedules", admin, json=body)
    assert (status, out["residential_fen"]) == (201, 7000)
    status, listed = await svc.request("GET", "/api/v1/admin/fee-schedules", admin)
    assert out["version"] in {s["version"] for s in listed["schedules"]}
    assert len(await audit_rows(svc, "fee_schedule.published", str(out["version"]))) == 1
    body["effective_from"] = date.today().isoformat()
    status, problem = await svc.request("POST", "/api/v1/admin/fee-schedules", admin, json=body)
    assert (status, problem["code"]) == (422, "SCHEDULE_NOT_IN_FUTURE")


async def test_the_admin_api_is_in_the_openapi_document(svc: Service) -> None:
    status, doc = await svc.request("GET", "/api/v1/openapi.json")
    assert status == 200
    assert {"get", "post"} <= set(doc["paths"]["/api/v1/admin/users"])
    assert "patch" in doc["paths"]["/api/v1/admin/offices/{office}/windows/{window}"]
    assert "UserIn" in doc["components"]["schemas"]
    assert "window" in doc["components"]["schemas"]["Me"]["properties"]
