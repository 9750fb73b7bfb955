"""The citizen's screen (客显屏) over real HTTP: pairing, the feed scoped to its own window,
and the refusals (staff routes, other windows, other offices)."""

from __future__ import annotations

import asyncio
from datetime import timedelta, timezone

from clearing.api import routes_display
from clearing.api.keys import POOL
from tests.integration.display_harness import (
    Screen,
    new_code,
    new_order,
    next_data,
    pair,
    pair_raw,
    screen_fixtures,
    show,
    shown_order,
)
from tests.integration.service_harness import (
    Service,
    device_refused_as_staff,
    order_body,
)

BEIJING = timezone(timedelta(hours=8))


svc, clerk = screen_fixtures()


async def test_a_code_pairs_one_screen_once(svc: Service, clerk: str) -> None:
    code = await new_code(svc, clerk, "P01")
    assert len(code) == 6 and code.isdigit()
    resp = await pair_raw(svc, code)
    assert resp.status == 201
    set_cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
    assert "Path=/api/v1/display" in set_cookie
    screen = Screen(svc, resp.cookies[routes_display.COOKIE].value)
    assert await screen.state() == {
        "office": "HALL1",
        "window": "P01",
        "phase": "idle",
        "order": None,
    }
    again = await pair_raw(svc, code)
    assert again.status == 422
    status, status_body = await svc.request("GET", "/api/v1/display/windows/P01", clerk)
    assert status == 200 and status_body["paired"] is True


async def test_pairing_again_replaces_the_old_screen_and_unpairing_revokes(
    svc: Service, clerk: str
) -> None:
    old = await pair(svc, clerk, "P02")
    new = await pair(svc, clerk, "P02")
    status, body = await old.get("/api/v1/display/state")
    assert (status, body["code"]) == (401, "DISPLAY_NOT_PAIRED")
    assert (await new.state())["window"] == "P02"

    status, body = await svc.request("DELETE", "/api/v1/display/windows/P02/device", clerk)
    assert status == 200 and body["paired"] is False
    assert (await new.get("/api/v1/display/state"))[0] == 401
    actions = await svc.app[POOL].fetch(
        "SELECT action FROM audit_log WHERE object_id = 'HALL1/P02' ORDER BY id"
    )
    assert [r["action"] for r in actions] == ["display.paired", "display.paired", "display.revoked"]


async def test_wrong_codes_are_refused_then_slowed(svc: Service) -> None:
    svc.app[routes_display.PAIR_FAILURES].clear()
    try:
        for _ in range(routes_display.PAIR_FAILURES_ALLOWED):
            status, body = await svc.request("POST", "/api/v1/display/pair", json={"code": "x1"})
            assert (status, body["code"]) == (422, "PAIRING_CODE_INVALID")
            assert "配对码无效" in body["detail_zh"]
        status, body = await svc.request("POST", "/api/v1/display/pair", json={"code": "000000"})
        assert (status, body["code"]) == (429, "PAIRING_TOO_MANY_ATTEMPTS")
    finally:
        svc.app[routes_display.PAIR_FAILURES].clear()


async def test_the_screen_credential_opens_no_staff_route(svc: Service, clerk: str) -> None:
    screen, order_no = await shown_order(svc, clerk, "W05")
    await svc.open_qr(await svc.supervisor(), order_no)
    staff_routes = [
        ("GET", "/api/v1/me"),
        ("GET", f"/api/v1/orders/{order_no}"),
        ("GET", f"/api/v1/orders/{order_no}/qr.svg"),
        ("GET", "/api/v1/orders?office=HALL1"),
        ("GET", "/api/v1/events?office=HALL1&window=W05"),
        ("GET", "/api/v1/display/windows/W05"),
        ("POST", "/api/v1/display/pairing-codes"),
        ("PUT", "/api/v1/display/current"),
        ("DELETE", "/api/v1/display/windows/W05/device"),
    ]
    await device_refused_as_staff(screen, staff_routes, {"window": "W05"})
    # and the screen still works: refusals changed nothing
    assert (await screen.state())["phase"] == "pay"


async def test_another_windows_screen_never_sees_this_windows_order(
    svc: Service, clerk: str
) -> None:
    first = await pair(svc, clerk, "W06")
    second = await pair(svc, clerk, "W07")
    order_no = await new_order(svc, "W06")
    await show(svc, clerk, "W06", order_no)
    assert (await first.state())["order"]["order_no"] == order_no
    assert (await second.state())["phase"] == "idle"
    assert (await second.get("/api/v1/display/qr.svg"))[0] == 404

    async with svc.session.get(
        svc.base_url + "/api/v1/display/events", headers=second.cookie
    ) as stream:
        assert await stream.content.readline() == b": connected\n"
        # the first window's order is paid, then the second window's clerk opens one: the
        # second screen hears of its own window only (events reach it in the order sent)
        qr = await svc.open_qr(await svc.supervisor(), order_no)
        assert (await svc.sim.pay(qr["out_trade_no"]))[0] == 200
        await svc.wait_state(await svc.supervisor(), order_no, "CLEARED")
        await show(svc, clerk, "W06", None)
        own = await new_order(svc, "W07")
        await show(svc, clerk, "W07", own)
        event = await asyncio.wait_for(next_data(stream), 20)
        assert event == {"type": "changed", "cause": "display"}
    view = await second.state()
    assert view["order"]["order_no"] == own
    status, body = await second.rate(order_no, "satisfied")
    assert (status, body["code"]) == (403, "ORDER_NOT_ON_DISPLAY")


async def test_the_clerk_shows_only_orders_of_their_office(svc: Service, clerk: str) -> None:
    other_office = await svc.add_user("supervisor", "HALL2")
    status, order = await svc.create_order(other_office, order_body(office="HALL2"))
    assert status == 201, order
    status, body = await svc.request(
        "PUT",
        "/api/v1/display/current",
        clerk,
        json={"window": "W01", "order_no": order["order_no"]},
    )
    assert (status, body["code"]) == (404, "ORDER_NOT_FOUND")
    status, body = await svc.request(
        "POST",
        "/api/v1/display/pairing-codes",
        clerk,
        json={"window": "W01", "office": "HALL2"},
    )
    assert (status, body["code"]) == (403, "OFFICE_FORBIDDEN")
    finance = await svc.add_user("finance", None)
    status, body = await svc.request(
        "POST", "/api/v1/display/pairing-codes", finance, json={"window": "W01"}
    )
    assert (status, body["code"]) == (403, "ROLE_FORBIDDEN")


async def test_the_page_and_whether_this_browser_is_a_paired_screen(
    svc: Service, clerk: str
) -> None:
    async with svc.session.get(svc.base_url + "/display") as page:
        assert page.status == 200 and "客显屏" in await page.text()
        assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert await svc.request("GET", "/api/v1/display/me") == (200, {"paired": False})
    screen = await pair(svc, clerk, "W08")
    status, body = await screen.get("/api/v1/display/me")
    assert (status, body) == (200, {"paired": True, "office": "HALL1", "window": "W08"})


async def test_the_openapi_document_lists_the_screen_routes(svc: Service) -> None:
    status, doc = await svc.request("GET", "/api/v1/openapi.json")
    assert status == 200
    rating = doc["paths"]["/api/v1/display/ratings"]["post"]
    assert rating["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "RatingIn"
    )
    assert "security" not in rating  # the screen's cookie, never a staff token
    assert "security" in doc["paths"]["/api/v1/display/pairing-codes"]["post"]
