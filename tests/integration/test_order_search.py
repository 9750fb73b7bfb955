"""Finding orders (by every key, within the office, page by page) and an order's timeline —
through the API of the real service, with a real WeChat Pay simulator paying."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from clearing.api.keys import CIPHER, POOL
from clearing.service.search import backfill_search_hashes
from tests.integration.desk_harness import clerk_order, find, new_office, pay, resident_id
from tests.integration.factories import paid_out
from tests.integration.service_harness import Service, service_fixture

svc = service_fixture("search", sim_retry_scale=0.01, workers=1, poll_first_s=0.3)


# -- search -------------------------------------------------------------------------------------


async def test_a_clerk_finds_an_order_by_each_key(svc: Service) -> None:
    office = new_office()
    clerk = await svc.add_user("clerk", office)
    payer = resident_id(1)
    case_no = f"2026-BDC-{secrets.token_hex(4)}"
    mine = await clerk_order(svc, clerk, window="W03", case_no=case_no, payer_id=payer)
    other = await clerk_order(svc, clerk, window="W04", payer_id=resident_id(2))
    await pay(svc, clerk, mine["order_no"])
    today = (datetime.now(UTC) + timedelta(hours=8)).date()

    def numbers(body: Any) -> set[str]:
        return {o["order_no"] for o in body["orders"]}

    for query in (
        {"order_no": mine["order_no"]},
        {"case_no": case_no},
        {"payer_id": payer},
        {"payer_id": payer.lower()},  # the check letter may be typed in lower case
        {"state": "CLEARED"},
        {"channel": "wechatpay"},
        {"window": "W03"},
        {"date_from": today.isoformat(), "date_to": today.isoformat(), "window": "W03"},
    ):
        status, body = await find(svc, clerk, **query)
        assert status == 200, body
        assert numbers(body) == {mine["order_no"]}, query
        assert body["orders"][0]["state_zh"] == "已缴费"
        assert body["orders"][0]["channel_zh"] == "微信支付"
    status, body = await find(svc, clerk, payer_id=resident_id(2))
    assert numbers(body) == {other["order_no"]}
    # a day before the orders: nothing
    yesterday = (today - timedelta(days=1)).isoformat()
    status, body = await find(svc, clerk, date_from=yesterday, date_to=yesterday)
    assert status == 200 and body["total"] == 0
    # the number is stored only as a 32-byte keyed hash, never in clear
    stored = await svc.app[POOL].fetchval(
        "SELECT payer_id_hmac FROM orders WHERE order_no = $1", mine["order_no"]
    )
    assert len(stored) == 32 and payer.encode() not in stored


async def test_a_malformed_id_number_is_refused_in_chinese(svc: Service) -> None:
    clerk = await svc.add_user("clerk", new_office())
    status, body = await find(svc, clerk, payer_id="110105194912310022")
    assert status == 422 and body["code"] == "INVALID_PAYER_ID"
    assert "证件号码" in body["detail_zh"]


async def test_another_office_is_out_of_reach(svc: Service) -> None:
    here, there = new_office(), new_office()
    clerk_here = await svc.add_user("clerk", here)
    clerk_there = await svc.add_user("clerk", there)
    supervisor_there = await svc.add_user("supervisor", there)
    finance = await svc.add_user("finance", None)
    order = await clerk_order(svc, clerk_here)

    status, body = await find(svc, clerk_there, office=here)
    assert status == 403 and body["code"] == "OFFICE_FORBIDDEN"
    assert body["detail_zh"] == "只能查询本大厅的缴费单"
    for token in (clerk_there, supervisor_there):
        status, body = await find(svc, token, order_no=order["order_no"])
        assert status == 200 and body["total"] == 0
        status, body = await svc.request(
            "GET", f"/api/v1/orders/{order['order_no']}/timeline", token
        )
        assert status == 404 and body["detail_zh"] == "缴费单不存在"
    # finance reads every office
    status, body = await find(svc, finance, order_no=order["order_no"])
    assert status == 200 and body["total"] == 1
    status, body = await find(svc, finance, office=here)
    assert status == 200 and body["total"] == 1


async def test_results_come_in_pages_newest_first(svc: Service) -> None:
    clerk = await svc.add_user("clerk", new_office())
    case_no = f"2026-BDC-{secrets.token_hex(4)}"
    made = [(await clerk_order(svc, clerk, case_no=case_no))["order_no"] for _ in range(5)]
    seen: list[str] = []
    for page in (1, 2, 3):
        status, body = await find(svc, clerk, case_no=case_no, page=page, page_size=2)
        assert status == 200, body
        assert (body["total"], body["pages"], body["page"]) == (5, 3, page)
        seen += [o["order_no"] for o in body["orders"]]
    assert seen == list(reversed(made))
    status, body = await find(svc, clerk, case_no=case_no, page=4, page_size=2)
    assert body["orders"] == [] and body["total"] == 5
    status, body = await find(svc, clerk, case_no=case_no, page_size=1000)
    assert status == 422


async def test_old_orders_are_found_by_id_after_the_backfill(svc: Service) -> None:
    clerk = await svc.add_user("clerk", new_office())
    payer = resident_id(7)
    order = await clerk_order(svc, clerk, payer_id=payer)
    async with svc.app[POOL].acquire() as conn:
        # as made before the hash column existed
        await conn.execute(
            "UPDATE orders SET payer_id_hmac = NULL WHERE order_no = $1", order["order_no"]
        )
    status, body = await find(svc, clerk, payer_id=payer)
    assert body["total"] == 0
    async with svc.app[POOL].acquire() as conn:
        assert await backfill_search_hashes(conn, svc.app[CIPHER]) >= 1
    status, body = await find(svc, clerk, payer_id=payer)
    assert status == 200
    assert [o["order_no"] for o in body["orders"]] == [order["order_no"]]


async def test_the_timeline_tells_the_order_s_story(svc: Service) -> None:
    office = new_office()
    clerk = await svc.add_user("clerk", office)
    supervisor = await svc.add_user("supervisor", office)
    order = await clerk_order(svc, clerk)
    no = order["order_no"]
    await pay(svc, clerk, no)
    # paid out: a cut-off, and the bank's word that the instruction was booked
    async with svc.app[POOL].acquire() as conn:
        await paid_out(conn)
    await svc.answered(
        "POST", f"/api/v1/orders/{no}/refunds", supervisor, json={"reason": "重复缴费"}, expect=201
    )
    body = await svc.answered("GET", f"/api/v1/orders/{no}/timeline", clerk)
    titles = [e["title"] for e in body["events"]]
    assert titles[0] == "开具缴费单"
    assert titles.index("发起支付") < titles.index("收到支付结果，已入账分账")
    assert "申请退款" in titles
    paid = next(e for e in body["events"] if e["kind"] == "payment.cleared")
    assert "渠道回调通知" in paid["detail"] or "主动查询" in paid["detail"]
    assert paid["who"] == "微信支付"
    opened = next(e for e in body["events"] if e["kind"] == "attempt.opened")
    assert opened["who"] == "测试" and "微信支付" in opened["detail"]
    asked = next(e for e in body["events"] if e["kind"] == "refund.requested")
    assert "重复缴费" in asked["detail"]
    assert body["receipt_url"] == f"/orders/{no}/receipt"
    assert [e["at"] for e in body["events"]] == sorted(e["at"] for e in body["events"])
    assert titles.index("清分划付指令") < titles.index("银行回执：已划付到账")
    booked = next(e for e in body["events"] if e["kind"] == "settlement.answered")
    assert "¥80.00" in booked["detail"] and booked["who"] == "合作银行"
    # the refund request counts in the supervisor's shift at the order's window
    shift = await svc.answered("GET", "/api/v1/shifts/current?window=W07", supervisor)
    assert (shift["refunds_count"], shift["refunds_fen"]) == (1, 80_00)
    assert shift["refunds_by_channel"] == [
        {"channel": "wechatpay", "count": 1, "amount_fen": 80_00}
    ]


async def test_the_new_routes_are_in_the_openapi_document(svc: Service) -> None:
    status, doc = await svc.request("GET", "/api/v1/openapi.json")
    assert status == 200
    for path in (
        "/api/v1/orders/search",
        "/api/v1/orders/{order_no}/timeline",
        "/api/v1/shifts/close",
        "/api/v1/office-days/{office}/{day}/close",
    ):
        assert path in doc["paths"], path
    assert "OrderSearchIn" in doc["components"]["schemas"]
