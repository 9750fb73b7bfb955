"""The citizen's screen (客显屏) over real HTTP: pairing, the feed scoped to its own window, the
好差评 rating once per order, and the refusals (staff routes, other windows' orders)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
import pytest

from clearing.api import routes_display
from clearing.api.keys import POOL
from reconciliation import reports
from tests.integration.factories import PAYER_ID
from tests.integration.service_harness import Service, order_body, running_service
from tests.integration.wechat_harness import running_wechat_sim

BEIJING = timezone(timedelta(hours=8))


@pytest.fixture(scope="module")
async def svc(db_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
    tmp = tmp_path_factory.mktemp("display")
    async with (
        running_wechat_sim(tmp / "wechat", retry_scale=0.01) as sim,
        running_service(db_dsn, tmp, sim, workers=1, poll_first_s=0.3, poll_later_s=0.5) as s,
    ):
        yield s


@pytest.fixture(scope="module")
async def clerk(svc: Service) -> str:
    return await svc.add_user("clerk", "HALL1")


@dataclass
class Screen:
    svc: Service
    token: str

    @property
    def cookie(self) -> dict[str, str]:
        return {"Cookie": f"{routes_display.COOKIE}={self.token}"}

    async def get(self, path: str) -> tuple[int, Any]:
        return await self.svc.request("GET", path, headers=self.cookie)

    async def state(self) -> dict[str, Any]:
        status, body = await self.get("/api/v1/display/state")
        assert status == 200, body
        return dict(body)

    async def rate(self, order_no: str, grade: str, reason: str | None = None) -> tuple[int, Any]:
        body: dict[str, Any] = {"order_no": order_no, "grade": grade}
        if reason is not None:
            body["reason"] = reason
        return await self.svc.request(
            "POST", "/api/v1/display/ratings", json=body, headers=self.cookie
        )


async def _code(svc: Service, staff: str, window: str) -> str:
    status, body = await svc.request(
        "POST", "/api/v1/display/pairing-codes", staff, json={"window": window}
    )
    assert status == 201, body
    assert body["window"] == window and body["office"] == "HALL1"
    return str(body["code"])


async def _pair_raw(svc: Service, code: str) -> aiohttp.ClientResponse:
    async with svc.session.post(svc.base_url + "/api/v1/display/pair", json={"code": code}) as resp:
        await resp.read()
        return resp


async def _pair(svc: Service, staff: str, window: str) -> Screen:
    resp = await _pair_raw(svc, await _code(svc, staff, window))
    assert resp.status == 201
    morsel = resp.cookies[routes_display.COOKIE]
    return Screen(svc, morsel.value)


async def _show(svc: Service, staff: str, window: str, order_no: str | None) -> dict[str, Any]:
    status, body = await svc.request(
        "PUT", "/api/v1/display/current", staff, json={"window": window, "order_no": order_no}
    )
    assert status == 200, body
    return dict(body)


async def _order(svc: Service, window: str = "W01") -> str:
    status, order = await svc.create_order(await svc.supervisor(), order_body(window=window))
    assert status == 201, order
    return str(order["order_no"])


async def _paid_order(svc: Service, window: str = "W01") -> str:
    order_no = await _order(svc, window)
    qr = await svc.open_qr(await svc.supervisor(), order_no)
    assert (await svc.sim.pay(qr["out_trade_no"]))[0] == 200
    await svc.wait_state(await svc.supervisor(), order_no, "CLEARED")
    return order_no


async def _until(check: Any, within_s: float = 5.0) -> Any:
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        value = await check()
        if value or asyncio.get_running_loop().time() > deadline:
            assert value
            return value
        await asyncio.sleep(0.05)


async def test_a_code_pairs_one_screen_once(svc: Service, clerk: str) -> None:
    code = await _code(svc, clerk, "P01")
    assert len(code) == 6 and code.isdigit()
    resp = await _pair_raw(svc, code)
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
    again = await _pair_raw(svc, code)
    assert again.status == 422
    status, status_body = await svc.request("GET", "/api/v1/display/windows/P01", clerk)
    assert status == 200 and status_body["paired"] is True


async def test_pairing_again_replaces_the_old_screen_and_unpairing_revokes(
    svc: Service, clerk: str
) -> None:
    old = await _pair(svc, clerk, "P02")
    new = await _pair(svc, clerk, "P02")
    status, body = await old.get("/api/v1/display/state")
    assert (status, body["code"]) == (401, "DISPLAY_NOT_PAIRED")
    assert (await new.state())["window"] == "P02"

    status, body = await svc.request("DELETE", "/api/v1/display/windows/P02/device", clerk)
    assert status == 200 and body["paired"] is False
    assert (await new.get("/api/v1/display/state"))[0] == 401
    async with svc.app[POOL].acquire() as conn:
        actions = await conn.fetch(
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


async def test_the_screen_follows_the_order_through_payment_to_one_rating(
    svc: Service, clerk: str
) -> None:
    screen = await _pair(svc, clerk, "W01")
    order_no = await _order(svc, "W01")
    await _show(svc, clerk, "W01", order_no)

    status, text = await screen.get("/api/v1/display/state")
    assert status == 200
    raw = json.dumps(text, ensure_ascii=False)
    # the payer is 张三: the name is masked and no part of the ID number is sent
    assert PAYER_ID not in raw and PAYER_ID[-4:] not in raw and "张三" not in raw
    view = await screen.state()
    assert view["phase"] == "pay"
    order = view["order"]
    assert order["payer_masked"] == "张*"
    assert order["total_display"] == "¥350,080.00"
    assert order["total_capital"] == "叁拾伍万零捌拾元整"
    assert [ln["amount_fen"] for ln in order["lines"]] == [350_000_00, 80_00]
    assert order["qr"] is None
    assert (await screen.get("/api/v1/display/qr.svg"))[0] == 404

    qr = await svc.open_qr(await svc.supervisor(), order_no)
    view = await screen.state()
    assert view["order"]["qr"]["channel_zh"] == "微信"
    status, svg = await screen.get("/api/v1/display/qr.svg")
    assert status == 200 and str(svg).startswith("<svg")

    async with svc.session.get(
        svc.base_url + "/api/v1/display/events", headers=screen.cookie
    ) as stream:
        assert stream.status == 200
        assert await stream.content.readline() == b": connected\n"
        assert (await svc.sim.pay(qr["out_trade_no"]))[0] == 200
        line = await asyncio.wait_for(_next_data(stream), 5)
        assert line["type"] == "changed"

    view = await _until(lambda: _phase(screen, "rate"))
    assert view["order"]["state_zh"] == "已缴费" and view["order"]["paid_with_zh"] == "微信"

    status, body = await screen.rate(order_no, "dissatisfied", "  等候时间太长 ")
    assert status == 201, body
    assert body["grade_zh"] == "不满意"
    view = await screen.state()
    assert view["phase"] == "thanks" and view["order"]["rating"]["grade_zh"] == "不满意"

    status, body = await screen.rate(order_no, "very_satisfied")
    assert (status, body["code"]) == (409, "ALREADY_RATED")
    async with svc.app[POOL].acquire() as conn:
        rows = await conn.fetch(
            "SELECT r.office, r.window_no, r.grade, r.reason, p.username"
            " FROM service_ratings r JOIN orders o ON o.id = r.order_id"
            " JOIN principals p ON p.id = r.clerk_id WHERE o.order_no = $1",
            order_no,
        )
    me = (await svc.request("GET", "/api/v1/me", clerk))[1]
    assert [dict(r) for r in rows] == [
        {
            "office": "HALL1",
            "window_no": "W01",
            "grade": "dissatisfied",
            "reason": "等候时间太长",
            "username": me["username"],
        }
    ]

    # the clerk moves on: the screen waits for the next citizen
    await _show(svc, clerk, "W01", None)
    assert (await screen.state())["phase"] == "idle"


async def _phase(screen: Screen, phase: str) -> dict[str, Any] | None:
    view = await screen.state()
    return view if view["phase"] == phase else None


async def _next_data(stream: aiohttp.ClientResponse) -> dict[str, Any]:
    while True:
        line = await stream.content.readline()
        if line.startswith(b"data: "):
            return dict(json.loads(line[6:]))


async def test_ratings_are_refused_unless_paid_shown_here_and_well_formed(
    svc: Service, clerk: str
) -> None:
    screen = await _pair(svc, clerk, "W03")
    unpaid = await _order(svc, "W03")
    await _show(svc, clerk, "W03", unpaid)
    status, body = await screen.rate(unpaid, "satisfied")
    assert (status, body["code"]) == (409, "ORDER_NOT_PAID")

    # an order paid and on display at another window cannot be rated from this one
    elsewhere = await _paid_order(svc, "W04")
    await _show(svc, clerk, "W04", elsewhere)
    status, body = await screen.rate(elsewhere, "very_satisfied")
    assert (status, body["code"]) == (403, "ORDER_NOT_ON_DISPLAY")

    paid = await _paid_order(svc, "W03")
    await _show(svc, clerk, "W03", paid)
    status, body = await screen.rate(paid, "satisfied", "很好")
    assert (status, body["code"]) == (422, "REASON_ONLY_FOR_BAD_GRADE")
    status, body = await screen.rate(paid, "very_dissatisfied", "慢" * 201)
    assert (status, body["code"]) == (422, "REASON_TOO_LONG")
    status, body = await screen.rate(paid, "excellent")
    assert (status, body["code"]) == (422, "VALIDATION_FAILED")
    status, body = await svc.request(
        "POST", "/api/v1/display/ratings", json={"order_no": paid, "grade": "satisfied"}
    )
    assert (status, body["code"]) == (401, "DISPLAY_NOT_PAIRED")
    async with svc.app[POOL].acquire() as conn:
        n = await conn.fetchval(
            "SELECT count(*) FROM service_ratings r JOIN orders o ON o.id = r.order_id"
            " WHERE o.order_no = ANY($1::text[])",
            [unpaid, elsewhere, paid],
        )
    assert n == 0
    status, _ = await screen.rate(paid, "very_dissatisfied")
    assert status == 201


async def test_the_screen_credential_opens_no_staff_route(svc: Service, clerk: str) -> None:
    screen = await _pair(svc, clerk, "W05")
    order_no = await _order(svc, "W05")
    await _show(svc, clerk, "W05", order_no)
    await svc.open_qr(await svc.supervisor(), order_no)
    as_bearer = {"Authorization": f"Bearer {screen.token}"}
    as_session = {"Cookie": f"tj_session={screen.token}"}
    for headers in (screen.cookie, as_bearer, as_session):
        for method, path in (
            ("GET", "/api/v1/me"),
            ("GET", f"/api/v1/orders/{order_no}"),
            ("GET", f"/api/v1/orders/{order_no}/qr.svg"),
            ("GET", "/api/v1/orders?office=HALL1"),
            ("GET", "/api/v1/events?office=HALL1&window=W05"),
            ("GET", "/api/v1/display/windows/W05"),
            ("POST", "/api/v1/display/pairing-codes"),
            ("PUT", "/api/v1/display/current"),
            ("DELETE", "/api/v1/display/windows/W05/device"),
        ):
            status, body = await svc.request(method, path, headers=headers, json={"window": "W05"})
            assert status == 401, (path, headers, body)
        async with svc.session.get(
            svc.base_url + "/window", headers=headers, allow_redirects=False
        ) as page:
            assert page.status == 302 and page.headers["Location"].startswith("/login")
    # and the screen still works: refusals changed nothing
    assert (await screen.state())["phase"] == "pay"


async def test_another_windows_screen_never_sees_this_windows_order(
    svc: Service, clerk: str
) -> None:
    first = await _pair(svc, clerk, "W06")
    second = await _pair(svc, clerk, "W07")
    order_no = await _order(svc, "W06")
    await _show(svc, clerk, "W06", order_no)
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
        await _show(svc, clerk, "W06", None)
        own = await _order(svc, "W07")
        await _show(svc, clerk, "W07", own)
        event = await asyncio.wait_for(_next_data(stream), 5)
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


async def test_ratings_count_per_window_and_clerk_in_the_daily_report(svc: Service) -> None:
    first, second = await svc.add_user("clerk", "HALL1"), await svc.add_user("clerk", "HALL1")
    names = []
    for token in (first, second):
        me = (await svc.request("GET", "/api/v1/me", token))[1]
        names.append(f"{me['display_name']}（{me['username']}）")
    given = [
        (first, "R01", "very_satisfied", None),
        (first, "R01", "dissatisfied", "窗口人员态度冷淡"),
        (second, "R02", "satisfied", None),
        (second, "R02", "basically_satisfied", None),
    ]
    screens = {w: await _pair(svc, first if w == "R01" else second, w) for w in ("R01", "R02")}
    rated = []
    for clerk, window, grade, reason in given:
        order_no = await _paid_order(svc, window)
        await _show(svc, clerk, window, order_no)
        status, body = await screens[window].rate(order_no, grade, reason)
        assert status == 201, body
        rated.append(order_no)

    day = datetime.now(BEIJING).date()
    async with svc.app[POOL].acquire() as conn, reports.snapshot(conn):
        report = await reports.daily(conn, day)
    mine = [r for r in report.ratings if r.window in ("R01", "R02")]
    assert [(r.window, r.clerk, r.very_satisfied, r.satisfied, r.basically_satisfied,
             r.dissatisfied, r.very_dissatisfied, r.total, r.bad) for r in mine] == [
        ("R01", names[0], 1, 0, 0, 1, 0, 2, 1),
        ("R02", names[1], 0, 1, 1, 0, 0, 2, 0),
    ]  # fmt: skip
    (bad,) = [b for b in report.bad_ratings if b.window == "R01"]
    assert (bad.order_no, bad.grade_zh, bad.reason) == (rated[1], "不满意", "窗口人员态度冷淡")

    finance = await svc.add_user("finance", None)
    async with svc.session.get(
        f"{svc.base_url}/reports/daily.csv?date={day}", headers={"Cookie": f"tj_session={finance}"}
    ) as resp:
        assert resp.status == 200
        text = (await resp.read()).decode("utf-8-sig")
    assert f"HALL1,R01,{names[0]},1,0,0,1,0,2,1\r\n" in text
    assert f"HALL1,R02,{names[1]},0,1,1,0,0,2,0\r\n" in text
    assert f"{rated[1]},HALL1,R01,{names[0]},不满意,窗口人员态度冷淡," in text
    status, data = await svc.request("GET", f"/api/v1/reports/daily?date={day}", finance)
    assert status == 200
    assert {"office": "HALL1", "window": "R02", "clerk": names[1], "very_satisfied": 0,
            "satisfied": 1, "basically_satisfied": 1, "dissatisfied": 0,
            "very_dissatisfied": 0} in data["ratings"]  # fmt: skip


async def test_the_page_and_whether_this_browser_is_a_paired_screen(
    svc: Service, clerk: str
) -> None:
    async with svc.session.get(svc.base_url + "/display") as page:
        assert page.status == 200 and "客显屏" in await page.text()
        assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert await svc.request("GET", "/api/v1/display/me") == (200, {"paired": False})
    screen = await _pair(svc, clerk, "W08")
    status, body = await screen.get("/api/v1/display/me")
    assert (status, body) == (200, {"paired": True, "office": "HALL1", "window": "W08"})


async def test_the_screen_goes_idle_by_itself_after_thanks_or_a_closed_order(
    svc: Service, clerk: str
) -> None:
    screen = await _pair(svc, clerk, "W09")
    order_no = await _order(svc, "W09")
    await _show(svc, clerk, "W09", order_no)
    status, _ = await svc.request(
        "POST", f"/api/v1/orders/{order_no}/cancel", clerk, json={"reason": "缴款人放弃缴费"}
    )
    assert status == 200
    view = await screen.state()
    assert view["phase"] == "closed" and view["order"]["state_zh"] == "已撤销"
    assert "until" in view
    async with svc.app[POOL].acquire() as conn:
        await conn.execute(
            "UPDATE orders SET updated_at = now() - interval '31 seconds' WHERE order_no = $1",
            order_no,
        )
    assert (await screen.state())["phase"] == "idle"

    paid = await _paid_order(svc, "W09")
    await _show(svc, clerk, "W09", paid)
    assert (await screen.state())["phase"] == "rate"
    assert (await screen.rate(paid, "very_satisfied"))[0] == 201
    assert (await screen.state())["phase"] == "thanks"
    async with svc.app[POOL].acquire() as conn:
        await conn.execute(
            "UPDATE service_ratings SET rated_at = rated_at - interval '9 seconds'"
            " WHERE order_id = (SELECT id FROM orders WHERE order_no = $1)",
            paid,
        )
    assert await screen.state() == {
        "office": "HALL1",
        "window": "W09",
        "phase": "idle",
        "order": None,
    }


async def test_the_openapi_document_lists_the_screen_routes(svc: Service) -> None:
    status, doc = await svc.request("GET", "/api/v1/openapi.json")
    assert status == 200
    rating = doc["paths"]["/api/v1/display/ratings"]["post"]
    assert rating["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "RatingIn"
    )
    assert "security" not in rating  # the screen's cookie, never a staff token
    assert "security" in doc["paths"]["/api/v1/display/pairing-codes"]["post"]
