"""The 好差评 rating on the citizen's screen over real HTTP: the screen follows the order
through payment to one rating, the refusals, going idle by itself, and the daily report's
counts per window and clerk."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

from clearing.api.keys import POOL
from reconciliation import reports
from tests.integration.display_harness import (
    in_phase,
    next_data,
    paid_order,
    pair,
    screen_fixtures,
    show,
    shown_order,
    until,
)
from tests.integration.factories import PAYER_ID
from tests.integration.service_harness import Service

BEIJING = timezone(timedelta(hours=8))


svc, clerk = screen_fixtures()


async def test_the_screen_follows_the_order_through_payment_to_one_rating(
    svc: Service, clerk: str
) -> None:
    screen, order_no = await shown_order(svc, clerk, "W01")

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
        line = await asyncio.wait_for(next_data(stream), 20)
        assert line["type"] == "changed"

    view = await until(lambda: in_phase(screen, "rate"))
    assert view["order"]["state_zh"] == "已缴费" and view["order"]["paid_with_zh"] == "微信"

    status, body = await screen.rate(order_no, "dissatisfied", "  等候时间太长 ")
    assert status == 201, body
    assert body["grade_zh"] == "不满意"
    view = await screen.state()
    assert view["phase"] == "thanks" and view["order"]["rating"]["grade_zh"] == "不满意"

    status, body = await screen.rate(order_no, "very_satisfied")
    assert (status, body["code"]) == (409, "ALREADY_RATED")
    rows = await svc.app[POOL].fetch(
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
    await show(svc, clerk, "W01", None)
    assert (await screen.state())["phase"] == "idle"


async def test_ratings_are_refused_unless_paid_shown_here_and_well_formed(
    svc: Service, clerk: str
) -> None:
    screen, unpaid = await shown_order(svc, clerk, "W03")
    status, body = await screen.rate(unpaid, "satisfied")
    assert (status, body["code"]) == (409, "ORDER_NOT_PAID")

    # an order paid and on display at another window cannot be rated from this one
    elsewhere = await paid_order(svc, "W04")
    await show(svc, clerk, "W04", elsewhere)
    status, body = await screen.rate(elsewhere, "very_satisfied")
    assert (status, body["code"]) == (403, "ORDER_NOT_ON_DISPLAY")

    paid = await paid_order(svc, "W03")
    await show(svc, clerk, "W03", paid)
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
    n = await svc.app[POOL].fetchval(
        "SELECT count(*) FROM service_ratings r JOIN orders o ON o.id = r.order_id"
        " WHERE o.order_no = ANY($1::text[])",
        [unpaid, elsewhere, paid],
    )
    assert n == 0
    status, _ = await screen.rate(paid, "very_dissatisfied")
    assert status == 201


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
    screens = {w: await pair(svc, first if w == "R01" else second, w) for w in ("R01", "R02")}
    rated = []
    for clerk, window, grade, reason in given:
        order_no = await paid_order(svc, window)
        await show(svc, clerk, window, order_no)
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
    # the hall and the window by their names (the demo's hall; R01 and R02 as signed)
    assert f"示范市不动产登记中心,1号窗口,{names[0]},1,0,0,1,0,2,1\r\n" in text
    assert f"示范市不动产登记中心,2号窗口,{names[1]},0,1,1,0,0,2,0\r\n" in text
    assert f"{rated[1]},示范市不动产登记中心,1号窗口,{names[0]},不满意,窗口人员态度冷淡," in text
    status, data = await svc.request("GET", f"/api/v1/reports/daily?date={day}", finance)
    assert status == 200
    assert {"office": "HALL1", "window": "R02", "clerk": names[1], "very_satisfied": 0,
            "satisfied": 1, "basically_satisfied": 1, "dissatisfied": 0,
            "very_dissatisfied": 0} in data["ratings"]  # fmt: skip


async def test_the_screen_goes_idle_by_itself_after_thanks_or_a_closed_order(
    svc: Service, clerk: str
) -> None:
    screen, order_no = await shown_order(svc, clerk, "W09")
    status, _ = await svc.request(
        "POST", f"/api/v1/orders/{order_no}/cancel", clerk, json={"reason": "缴款人放弃缴费"}
    )
    assert status == 200
    view = await screen.state()
    assert view["phase"] == "closed" and view["order"]["state_zh"] == "已撤销"
    assert "until" in view
    await svc.app[POOL].execute(
        "UPDATE orders SET updated_at = now() - interval '31 seconds' WHERE order_no = $1",
        order_no,
    )
    assert (await screen.state())["phase"] == "idle"

    paid = await paid_order(svc, "W09")
    await show(svc, clerk, "W09", paid)
    assert (await screen.state())["phase"] == "rate"
    assert (await screen.rate(paid, "very_satisfied"))[0] == 201
    assert (await screen.state())["phase"] == "thanks"
    await svc.app[POOL].execute(
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
