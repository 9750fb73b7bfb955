"""The orders API as a client sees it: authentication, idempotency, every bad input refused with
its status and code and nothing changed, office scoping, cancellation, the OpenAPI document."""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

import asyncpg
import pytest

from clearing.api.keys import POOL
from tests.integration.service_harness import Service, order_body, service_fixture, user_fixture

svc = service_fixture("api", workers=0)


staff = user_fixture("supervisor", "HALL1")


async def _counts(pool: asyncpg.Pool) -> tuple[int, int, int]:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM order_lines),"
            " (SELECT count(*) FROM idempotency_keys)"
        )
        assert row is not None
        return (row[0], row[1], row[2])


async def test_every_api_route_needs_a_token(svc: Service) -> None:
    for method, path in [("GET", "/api/v1/orders?office=HALL1"), ("POST", "/api/v1/orders"),
                         ("GET", "/api/v1/orders/TJ2026010100000000"), ("GET", "/api/v1/me")]:  # fmt: skip
        status, body = await svc.request(method, path)
        assert (status, body["code"]) == (401, "TOKEN_MISSING"), path
    status, body = await svc.request("GET", "/api/v1/me", "tj_not-a-real-token-at-all-000000")
    assert (status, body["code"]) == (401, "TOKEN_INVALID")
    assert body["detail_zh"]


async def test_api_client_token_works(svc: Service) -> None:
    token = await svc.add_user("supervisor", "HALL9", client=True)
    status, body = await svc.request("GET", "/api/v1/me", token)
    assert (status, body["office"]) == (200, "HALL9")


async def test_create_read_and_list(svc: Service, staff: str) -> None:
    status, order = await svc.create_order(staff, order_body((123_45, 80_00)))
    assert status == 201, order
    assert order["total_fen"] == 203_45
    assert order["total_capital"] == "贰佰零叁元肆角伍分"
    assert order["payer_id_masked"] == "110***********002X"
    assert [ln["beneficiary_code"] for ln in order["lines"]] == ["TREASURY", "FISCAL_NONTAX"]
    status, again = await svc.request("GET", f"/api/v1/orders/{order['order_no']}", staff)
    assert (status, again["state"], again["state_zh"]) == (200, "OPEN", "待缴费")
    status, listing = await svc.request("GET", "/api/v1/orders?office=HALL1&window=W01", staff)
    assert order["order_no"] in [o["order_no"] for o in listing["orders"]]


async def test_amount_as_a_yuan_string(svc: Service, staff: str) -> None:
    body = order_body()
    body["lines"] = [{"item_code": "DEED_TAX", "amount": "1234.5"}]
    status, order = await svc.create_order(staff, body)
    assert (status, order["total_fen"]) == (201, 123450)


async def test_same_key_same_body_returns_the_first_response(svc: Service, staff: str) -> None:
    pool = svc.app[POOL]
    key = secrets.token_hex(10)
    body = order_body((999,))
    first = await svc.create_order(staff, body, key)
    before = await _counts(pool)
    second = await svc.create_order(staff, body, key)
    assert second == first
    assert await _counts(pool) == before
    status, problem = await svc.create_order(staff, order_body((1000,)), key)
    assert (status, problem["code"]) == (409, "IDEMPOTENCY_KEY_REUSED")
    assert await _counts(pool) == before


async def test_concurrent_requests_with_one_key_create_one_order(svc: Service, staff: str) -> None:
    key = secrets.token_hex(10)
    body = order_body((4242,))
    results = await asyncio.gather(*(svc.create_order(staff, body, key) for _ in range(10)))
    assert {r[0] for r in results} == {201}
    assert len({r[1]["order_no"] for r in results}) == 1


def _with_line(**line: Any) -> dict[str, Any]:
    body = order_body()
    body["lines"] = [{"item_code": "DEED_TAX", **line}]
    return body


BAD_INPUTS: list[tuple[str, dict[str, Any] | bytes, dict[str, str], int, str, str | None]] = [
    # name, body, extra headers, status, code, text expected in the body
    ("no key", order_body(), {"Idempotency-Key": ""}, 400, "IDEMPOTENCY_KEY_REQUIRED", None),
    ("not json", b"{oops", {}, 400, "MALFORMED_JSON", None),
    ("json array", b"[1, 2]", {}, 400, "MALFORMED_JSON", None),
    ("thousands sep", _with_line(amount="1,234.567"), {}, 422, "VALIDATION_FAILED", "AMOUNT_FORMAT"),
    ("negative", _with_line(amount="-1"), {}, 422, "VALIDATION_FAILED", "AMOUNT_NEGATIVE"),
    ("exponent", _with_line(amount="1e3"), {}, 422, "VALIDATION_FAILED", "AMOUNT_FORMAT"),
    ("nan", _with_line(amount="NaN"), {}, 422, "VALIDATION_FAILED", "AMOUNT_FORMAT"),
    ("float fen", _with_line(amount_fen=1.5), {}, 422, "VALIDATION_FAILED", None),
    ("string fen", _with_line(amount_fen="100"), {}, 422, "VALIDATION_FAILED", None),
    ("both amounts", _with_line(amount_fen=1, amount="0.01"), {}, 422, "VALIDATION_FAILED", None),
    ("zero", _with_line(amount_fen=0), {}, 422, "AMOUNT_NOT_POSITIVE", None),
    ("unknown field", {**order_body(), "discount": 5}, {}, 422, "VALIDATION_FAILED", None),
    ("too many lines", order_body(tuple([100] * 21)), {}, 422, "LIMIT_LINES_PER_ORDER", None),
    ("line too big", _with_line(amount_fen=100_000_000_001), {}, 422, "LIMIT_AMOUNT_PER_LINE", None),
    ("order too big", order_body(tuple([100_000_000_000] * 6)), {}, 422, "LIMIT_AMOUNT_PER_ORDER",
     None),
    ("bad id", order_body(payer_id="110105194912310021"), {}, 422, "INVALID_PAYER_ID", None),
    ("unknown item", {**order_body(), "lines": [{"item_code": "NOPE", "amount_fen": 1}]}, {}, 422,
     "UNKNOWN_FEE_ITEM", None),
    ("other office", order_body(office="HALL2"), {}, 403, "OFFICE_FORBIDDEN", None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "headers", "status", "code", "text"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
async def test_bad_input_is_refused_and_changes_nothing(
    svc: Service,
    staff: str,
    body: dict[str, Any] | bytes,
    headers: dict[str, str],
    status: int,
    code: str,
    text: str | None,
) -> None:
    before = await _counts(svc.app[POOL])
    h = {"Idempotency-Key": secrets.token_hex(10), "Content-Type": "application/json", **headers}
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    got, problem = await svc.request("POST", "/api/v1/orders", staff, data=payload, headers=h)
    assert (got, problem["code"]) == (status, code), problem
    assert problem["detail"] and problem["detail_zh"] and problem["status"] == status
    if text:
        assert text in str(problem)
    assert await _counts(svc.app[POOL]) == before


async def test_problem_responses_are_problem_json(svc: Service) -> None:
    async with svc.session.get(svc.base_url + "/api/v1/me") as r:
        assert r.status == 401
        assert r.headers["Content-Type"].startswith("application/problem+json")
        assert r.headers["X-Request-Id"]


async def test_roles_that_may_not_create_orders(svc: Service) -> None:
    for role in ("finance", "auditor"):
        token = await svc.add_user(role, None)
        status, problem = await svc.create_order(token)
        assert (status, problem["code"]) == (403, "ROLE_FORBIDDEN")


async def test_a_clerk_sees_only_their_office(svc: Service, staff: str) -> None:
    other = await svc.add_user("supervisor", "HALL2")
    _, theirs = await svc.create_order(other, order_body(office="HALL2"))
    status, problem = await svc.request("GET", f"/api/v1/orders/{theirs['order_no']}", staff)
    assert (status, problem["code"]) == (404, "ORDER_NOT_FOUND")
    status, problem = await svc.request("GET", "/api/v1/orders?office=HALL2", staff)
    assert (status, problem["code"]) == (403, "OFFICE_FORBIDDEN")
    finance = await svc.add_user("finance", None)
    status, _ = await svc.request("GET", f"/api/v1/orders/{theirs['order_no']}", finance)
    assert status == 200


async def test_cancel_closes_the_qr_at_the_acquirer(svc: Service, staff: str) -> None:
    _, order = await svc.create_order(staff)
    qr = await svc.open_qr(staff, order["order_no"])
    assert qr["code_url"].startswith("weixin://wxpay/bizpayurl?pr=")
    status, body = await svc.request(
        "POST", f"/api/v1/orders/{order['order_no']}/cancel", staff, json={"reason": "缴款人放弃"}
    )
    assert (status, body["state"], body["state_zh"]) == (200, "CANCELLED", "已撤销")
    assert (await svc.sim.order(qr["out_trade_no"]))["state"] == "CLOSED"
    pay_status, _ = await svc.sim.pay(qr["out_trade_no"])
    assert pay_status == 409  # nobody can pay a cancelled order
    status, problem = await svc.request(
        "POST", f"/api/v1/orders/{order['order_no']}/cancel", staff, json={"reason": "again"}
    )
    assert (status, problem["code"]) == (409, "ORDER_NOT_CANCELLABLE")


async def test_qr_svg_is_rendered_server_side(svc: Service, staff: str) -> None:
    _, order = await svc.create_order(staff)
    await svc.open_qr(staff, order["order_no"])
    async with svc.session.get(
        f"{svc.base_url}/api/v1/orders/{order['order_no']}/qr.svg",
        headers={"Authorization": f"Bearer {staff}"},
    ) as r:
        assert r.status == 200
        assert r.content_type == "image/svg+xml"
        assert (await r.text()).startswith("<svg")


async def test_openapi_document_describes_the_api(svc: Service) -> None:
    status, doc = await svc.request("GET", "/api/v1/openapi.json")
    assert status == 200
    assert doc["openapi"] == "3.1.0"
    create = doc["paths"]["/api/v1/orders"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/OrderIn"
    )
    assert any(p["name"] == "Idempotency-Key" for p in create["parameters"])
    schemas = doc["components"]["schemas"]
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                refs.append(node["$ref"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(doc)
    assert refs
    for ref in refs:
        assert ref.removeprefix("#/components/schemas/") in schemas, ref
    assert "amount_fen" in schemas["LineIn"]["properties"]


async def test_health_readiness_and_metrics(svc: Service) -> None:
    assert (await svc.request("GET", "/healthz"))[0] == 200
    status, ready = await svc.request("GET", "/readyz")
    assert (status, ready["checks"]) == (200, {"database": "ok", "migrations": "ok"})
    async with svc.session.get(svc.ops_url + "/metrics") as r:
        text = await r.text()
    for name in ("tongjiao_capture_seconds", "tongjiao_task_backlog", "tongjiao_suspense_balance_fen",
                 "tongjiao_http_requests_total"):  # fmt: skip
        assert name in text
    async with svc.session.get(svc.ops_url + "/readyz") as r:
        assert r.status == 200


async def test_a_function_file_the_database_lacks_makes_the_node_not_ready(svc: Service) -> None:
    # as after deploying a changed clearing/db/sql file before `tongjiao migrate` has run
    async with svc.app[POOL].acquire() as conn:
        applied = await conn.fetchval(
            "SELECT checksum FROM schema_repeatables WHERE name = 'tj_capture'"
        )
        await conn.execute(
            "UPDATE schema_repeatables SET checksum = 'older' WHERE name = 'tj_capture'"
        )
        try:
            status, ready = await svc.request("GET", "/readyz")
        finally:
            await conn.execute(
                "UPDATE schema_repeatables SET checksum = $1 WHERE name = 'tj_capture'", applied
            )
    assert status == 503
    assert ready["checks"]["migrations"] == "1 pending: function tj_capture"
    assert (await svc.request("GET", "/readyz"))[0] == 200


async def test_metrics_are_not_on_the_public_listener(svc: Service) -> None:
    """Acquirers and browsers reach the public listener; amounts per channel are not theirs."""
    async with svc.session.get(svc.base_url + "/metrics") as r:
        assert r.status == 404
        assert "tongjiao_" not in await r.text()


async def test_login_with_a_wrong_password_is_refused(svc: Service) -> None:
    status, problem = await svc.request(
        "POST", "/api/v1/sessions", json={"username": "nobody", "password": "x"}
    )
    assert (status, problem["code"]) == (401, "LOGIN_FAILED")


async def test_typed_amounts_are_a_supervisors_audited_exception(svc: Service, staff: str) -> None:
    clerk = await svc.add_user("clerk", "HALL1")
    before = await _counts(svc.app[POOL])
    status, problem = await svc.create_order(clerk, order_body((500_00,)))
    assert (status, problem["code"]) == (403, "MANUAL_LINES_FORBIDDEN")
    assert "手工录入" in problem["detail_zh"]
    body = order_body((500_00,))
    del body["manual_reason"]
    status, problem = await svc.create_order(staff, body)
    assert (status, problem["code"]) == (422, "MANUAL_REASON_REQUIRED")
    status, problem = await svc.create_order(staff, {**body, "manual_reason": "   "})
    assert (status, problem["code"]) == (422, "MANUAL_REASON_REQUIRED")
    assert await _counts(svc.app[POOL]) == before  # nothing made, not even an idempotency key
    status, order = await svc.create_order(
        staff, {**body, "manual_reason": "对接中断，主管核对纸质票据"}
    )
    assert status == 201, order
    row = await svc.app[POOL].fetchrow(
        "SELECT actor, detail FROM audit_log WHERE action = 'order.lines_typed' AND object_id = $1",
        order["order_no"],
    )
    assert row is not None
    assert row["detail"]["reason"] == "对接中断，主管核对纸质票据"
    assert row["detail"]["lines"] == [["DEED_TAX", 500_00, None]]
