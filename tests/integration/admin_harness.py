"""Shared steps of the 系统管理 API tests: offices with windows, accounts made through the API,
audit rows, an order from a registration matter."""

from __future__ import annotations

import secrets
from typing import Any

from clearing.api.keys import POOL
from tests.integration.factories import PAYER_ID
from tests.integration.service_harness import Service, service_fixture, user_fixture


def admin_fixtures() -> tuple[Any, Any]:
    """The module fixtures of a 系统管理 test module, for ``svc, admin = admin_fixtures()``: the
    service (no workers: nothing here waits for a task) and an admin's token."""
    return service_fixture("admin", workers=0), user_fixture("admin", None)


def name(prefix: str = "u") -> str:
    return f"{prefix}{secrets.token_hex(4)}"


async def office_with_windows(
    svc: Service, admin: str, windows: tuple[str, ...] = ("W01", "W02")
) -> str:
    code = name("H").upper()
    await svc.answered(
        "POST",
        "/api/v1/admin/offices",
        admin,
        json={"code": code, "name": "示范市不动产登记中心"},
        expect=201,
    )
    for i, w in enumerate(windows, start=1):
        await svc.answered(
            "POST",
            f"/api/v1/admin/offices/{code}/windows",
            admin,
            json={"code": w, "name": f"窗口{'一二三四'[i - 1]}", "terminal_id": f"T{code}{i}"},
            expect=201,
        )
    return code


async def sign_in(svc: Service, username: str, password: str) -> tuple[int, Any]:
    return await svc.request(
        "POST", "/api/v1/sessions", json={"username": username, "password": password}
    )


async def user(svc: Service, admin: str, **body: Any) -> tuple[str, str]:
    """Create a staff account through the API; its token (signed in) and its username."""
    username = body.setdefault("username", name())
    body.setdefault("display_name", "测试员")
    out = await svc.answered("POST", "/api/v1/admin/users", admin, json=body, expect=201)
    status, session = await sign_in(svc, username, out["temporary_password"])
    assert status == 201, session
    token = str(session["token"])
    await choose_password(svc, token, out["temporary_password"])
    return token, username


async def choose_password(svc: Service, token: str, temporary: str) -> None:
    """What a new user does first: replace the temporary password (nothing else is allowed)."""
    await svc.answered(
        "POST",
        "/api/v1/me/password",
        token,
        json={"current_password": temporary, "new_password": "Own-pass-word-1"},
    )


async def audit_rows(svc: Service, action: str, object_id: str) -> list[dict[str, Any]]:
    rows = await svc.app[POOL].fetch(
        "SELECT actor, detail FROM audit_log WHERE action = $1 AND object_id = $2 ORDER BY id",
        action,
        object_id,
    )
    return [dict(r) for r in rows]


def case_order(office: str, window: str | None = None) -> dict[str, Any]:
    # a registration matter only: its amount comes from the fee schedule, no authority is asked
    body: dict[str, Any] = {
        "case_no": "2026-BDC-ADMIN1",
        "office": office,
        "payer_name": "张三",
        "payer_id": PAYER_ID,
        "case": {"matters": [{"kind": "residential", "extra_certificates": 0}]},
    }
    if window is not None:
        body["window"] = window
    return body
