"""Who may call what, proven: every operation of the OpenAPI document called as every kind of
caller, against the one table that says who may (``clearing.api.access``).

A caller the row names gets past the gate (whatever the answer then is: 200, 404 for an id that
does not exist, 422 for the empty body sent here — never 401 or 403); a signed-in caller it does
not name gets 403 ``ROLE_FORBIDDEN`` (or the row's own refusal); somebody without a token gets 401 ``TOKEN_MISSING``; the
citizen's screen's routes answer 401 to all of them (they take its cookie, not a token). An
enrolled self-service kiosk calls every operation too, with its credential as its cookie and as
a bearer token at once: it passes the kiosk's rows only, and every other route refuses it. An
/api/v1 route without a row, or a row without a route, fails here too.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from clearing.api import access, routes_kiosk
from clearing.api.keys import POOL
from clearing.api.openapi import document
from tests.integration.factories import enrolled_kiosk
from tests.integration.service_harness import Service, service_fixture

DOCUMENT = document()
# signing out ends the session it is called with: last, with tokens of its own
OPERATIONS = sorted(
    (f"{method.upper()} {path}" for path, item in DOCUMENT["paths"].items() for method in item),
    key=lambda op: op == "DELETE /api/v1/sessions",
)
# who calls: each staff role, an API client (a program with the clerk role) and nobody
CALLERS = {**{role: role for role in access.CALLERS}, "api-client": "clerk"}


svc = service_fixture("access", workers=0)


async def _tokens(svc: Service) -> dict[str, str | None]:
    tokens: dict[str, str | None] = {access.ANONYMOUS: None}
    for caller, role in CALLERS.items():
        if caller != access.ANONYMOUS:
            tokens[caller] = await svc.add_user(role, "HALL1", client=caller == "api-client")
    return tokens


@pytest.fixture(scope="module")
async def kiosk_token(svc: Service) -> str:
    """An enrolled kiosk of HALL1 (a device credential, not a role)."""
    async with svc.app[POOL].acquire() as conn:
        return await enrolled_kiosk(conn, "matrix-admin", "矩阵自助机")


@pytest.fixture(scope="module")
async def tokens(svc: Service) -> dict[str, str | None]:
    return await _tokens(svc)


@pytest.fixture(scope="module")
async def order_no(svc: Service) -> str:
    status, order = await svc.create_order(await svc.supervisor())
    assert status == 201, order
    return str(order["order_no"])


def _path(template: str, order_no: str) -> str:
    samples = {
        "{order_no}": order_no,
        "{code}": "TREASURY",
        "{msg_id}": "TJ_NONE_20260101_001",
        "{kiosk_id}": "999999",  # not the matrix's own kiosk, which an admin would revoke
    }
    for name, value in samples.items():
        template = template.replace(name, value)
    return access._PARAM.sub("1", template)  # database ids


async def _call(
    svc: Service, operation: str, token: str | None, order_no: str, *, kiosk: bool = False
) -> Any:
    method, template = operation.split(" ", 1)
    headers = {"Idempotency-Key": secrets.token_hex(8)}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if token and kiosk:
        headers["Cookie"] = f"{routes_kiosk.COOKIE}={token}"
    spec = DOCUMENT["paths"][template][method.lower()]
    body = {} if "requestBody" in spec else None
    url = svc.base_url + _path(template, order_no)
    async with svc.session.request(method, url, headers=headers, json=body) as r:
        # the answer's head is enough (an event stream never ends)
        problem = await r.json() if r.content_type == "application/problem+json" else None
        return r.status, problem


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_every_caller_gets_what_the_table_says(
    svc: Service,
    tokens: dict[str, str | None],
    kiosk_token: str,
    order_no: str,
    operation: str,
) -> None:
    method, path = operation.split(" ", 1)
    allowed = access.callers(method, path)
    assert allowed is not None, f"{operation} has no row in clearing/api/access.py: add one"
    if operation == "DELETE /api/v1/sessions":
        tokens = await _tokens(svc)  # signing out spends them
    wrong: list[str] = []
    for caller, role in CALLERS.items():
        status, problem = await _call(svc, operation, tokens[caller], order_no)
        code = problem["code"] if problem else None
        if not allowed & set(access.CALLERS):
            # another credential altogether (the citizen's screen): none of these callers has it
            ok = status == 401
        elif role in allowed:
            ok = status not in (401, 403) and status < 500
        elif caller == access.ANONYMOUS:
            ok = (status, code) == (401, "TOKEN_MISSING")
        else:
            ok = (status, code) == (403, access.refusal(method, path)[0])
        if not ok:
            wrong.append(f"{caller}: {status} {code} (allowed: {sorted(allowed)})")
    if operation != "DELETE /api/v1/sessions":
        # the kiosk: through where its row (or a public one) lets it, refused (401 or 403)
        # everywhere else
        status, problem = await _call(svc, operation, kiosk_token, order_no, kiosk=True)
        if access.KIOSK_CALLER in allowed or access.ANONYMOUS in allowed:
            ok = status not in (401, 403) and status < 500
        else:
            ok = status in (401, 403)
        if not ok:
            wrong.append(f"kiosk: {status} {problem and problem['code']}")
    assert not wrong, f"{operation}:\n" + "\n".join(wrong)


def test_the_document_states_each_row() -> None:
    for operation in OPERATIONS:
        method, path = operation.split(" ", 1)
        spec = DOCUMENT["paths"][path][method.lower()]
        assert set(spec["x-roles"]) == access.callers(method, path), operation


async def test_every_api_route_has_a_row_and_every_row_a_route(svc: Service) -> None:
    routes = {
        access.operation_key(r.method, r.resource.canonical)
        for r in svc.app.router.routes()
        if r.resource is not None
        and r.resource.canonical.startswith("/api/")
        and r.method not in ("HEAD", "*")
    }
    rows = {access.operation_key(*op.split(" ", 1)) for op in access.ACCESS}
    documented = {access.operation_key(*op.split(" ", 1)) for op in OPERATIONS}
    assert routes - rows == set(), "routes without a row in clearing/api/access.py"
    assert rows - routes == set(), "rows of clearing/api/access.py without a route"
    assert routes - documented == set(), "routes missing from the OpenAPI document"
