"""Finding orders, their timelines, shifts closed and frozen, and the supervisor's 轧账 — through
the API of the real service, with a real WeChat Pay simulator paying."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from clearing.api.keys import CIPHER, LIMITS, POOL
from clearing.service import orders, principals, settlement, settlement_answers
from clearing.service.orders import LineInput, OrderInput
from clearing.service.search import backfill_search_hashes
from tests.integration.factories import PAYER_ID
from tests.integration.service_harness import Service, running_service
from tests.integration.wechat_harness import running_wechat_sim

OTHER_ID = "110105194912310021"


def resident_id(seq: int) -> str:
    """A valid resident ID number (GB 11643 check digit) that differs by ``seq``."""
    body = f"11010519800101{seq % 1000:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
    return body + check


@pytest.fixture(scope="module")
async def svc(db_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
    tmp = tmp_path_factory.mktemp("search")
    async with (
        running_wechat_sim(tmp / "wechat", retry_scale=0.01) as sim,
        running_service(db_dsn, tmp, sim, workers=1, poll_first_s=0.3) as s,
    ):
        yield s


def _office() -> str:
    return f"H{secrets.token_hex(3).upper()}"


async def clerk_order(
    svc: Service,
    token: str,
    *,
    window: str = "W07",
    case_no: str | None = None,
    payer_id: str = PAYER_ID,
    amount_fen: int = 80_00,
) -> dict[str, Any]:
    """An order a clerk issued from a case (as the route does after asking the authorities)."""
    async with svc.app[POOL].acquire() as conn:
        who = await principals.authenticate(conn, token)
        assert who.office is not None
        _, view = await orders.create(
            conn,
            principal=who,
            order=OrderInput(
                case_no or f"2026-BDC-{secrets.token_hex(4)}",
                who.office,
                window,
                "李四",
                payer_id,
                [LineInput("REG_FEE", amount_fen)],
            ),
            idempotency_key=secrets.token_hex(8),
            body_hash=secrets.token_bytes(32),
            limits=svc.app[LIMITS],
            cipher=svc.app[CIPHER],
            now=datetime.now(UTC),
            ttl=timedelta(minutes=15),
            case_refs={},
        )
    return view


async def pay(svc: Service, token: str, order_no: str) -> None:
    qr = await svc.open_qr(token, order_no)
    status, body = await svc.sim.pay(qr["out_trade_no"])
    assert status == 200, body
    await svc.wait_state(token, order_no, "CLEARED")


async def find(svc: Service, token: str, **query: Any) -> tuple[int, Any]:
    return await svc.request("POST", "/api/v1/orders/search", token, json=query)


# -- search -------------------------------------------------------------------------------------


async def test_a_clerk_finds_an_order_by_each_key(svc: Service) -> None:
    office = _office()
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
    async with svc.app[POOL].acquire() as conn:
        stored = await conn.fetchval(
            "SELECT payer_id_hmac FROM orders WHERE order_no = $1", mine["order_no"]
        )
    assert len(stored) == 32 and payer.encode() not in stored


async def test_a_malformed_id_number_is_refused_in_chinese(svc: Service) -> None:
    clerk = await svc.add_user("clerk", _office())
    status, body = await find(svc, clerk, payer_id="110105194912310022")
    assert status == 422 and body["code"] == "INVALID_PAYER_ID"
    assert "证件号码" in body["detail_zh"]


async def test_another_office_is_out_of_reach(svc: Service) -> None:
    here, there = _office(), _office()
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
    clerk = await svc.add_user("clerk", _office())
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
    clerk = await svc.add_user("clerk", _office())
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
    office = _office()
    clerk = await svc.add_user("clerk", office)
    supervisor = await svc.add_user("supervisor", office)
    order = await clerk_order(svc, clerk)
    no = order["order_no"]
    await pay(svc, clerk, no)
    # paid out: a cut-off, and the bank's word that the instruction was booked
    async with svc.app[POOL].acquire() as conn:
        batch = await settlement.cutoff(
            conn, bank="SFBK", now=datetime.now(UTC), every_account=True, actor="test"
        )
        assert batch is not None
        for row in await conn.fetch(
            "SELECT end_to_end_id FROM settlement_instructions WHERE batch_id = $1", batch
        ):
            async with conn.transaction():
                assert await settlement_answers.booked(conn, row[0], datetime.now(UTC))
    status, refund = await svc.request(
        "POST", f"/api/v1/orders/{no}/refunds", supervisor, json={"reason": "重复缴费"}
    )
    assert status == 201, refund
    status, body = await svc.request("GET", f"/api/v1/orders/{no}/timeline", clerk)
    assert status == 200, body
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
    status, shift = await svc.request("GET", "/api/v1/shifts/current?window=W07", supervisor)
    assert status == 200, shift
    assert (shift["refunds_count"], shift["refunds_fen"]) == (1, 80_00)
    assert shift["refunds_by_channel"] == [
        {"channel": "wechatpay", "count": 1, "amount_fen": 80_00}
    ]


# -- shifts -------------------------------------------------------------------------------------


async def current(svc: Service, token: str, window: str) -> dict[str, Any]:
    status, body = await svc.request("GET", f"/api/v1/shifts/current?window={window}", token)
    assert status == 200, body
    return dict(body)


async def close_shift(svc: Service, token: str, window: str) -> tuple[int, Any]:
    return await svc.request("POST", "/api/v1/shifts/close", token, json={"window": window})


async def test_a_closed_shift_is_frozen_and_later_work_goes_to_the_next(svc: Service) -> None:
    clerk = await svc.add_user("clerk", _office())
    paid = await clerk_order(svc, clerk, amount_fen=123_45)
    await pay(svc, clerk, paid["order_no"])
    dropped = await clerk_order(svc, clerk, amount_fen=10_00)
    status, body = await svc.request(
        "POST", f"/api/v1/orders/{dropped['order_no']}/cancel", clerk, json={"reason": "填错"}
    )
    assert status == 200, body

    live = await current(svc, clerk, "W07")
    assert live["state"] == "OPEN"
    assert (live["orders_count"], live["orders_fen"]) == (2, 133_45)
    assert (live["received_count"], live["received_fen"]) == (1, 123_45)
    assert (live["cancelled_count"], live["cancelled_fen"]) == (1, 10_00)
    assert live["by_channel"] == [{"channel": "wechatpay", "count": 1, "amount_fen": 123_45}]

    status, first = await close_shift(svc, clerk, "W07")
    assert status == 201, first
    assert first["state"] == "CLOSED" and first["id"] is not None
    assert {k: first[k] for k in ("orders_count", "received_fen", "cancelled_count")} == {
        "orders_count": 2,
        "received_fen": 123_45,
        "cancelled_count": 1,
    }
    # nothing left: closing again is refused
    status, body = await close_shift(svc, clerk, "W07")
    assert status == 409 and body["code"] == "SHIFT_EMPTY"
    assert body["detail_zh"] == "本班次尚无业务，无需交班"

    # later activity goes to the next shift
    later = await clerk_order(svc, clerk, amount_fen=50_00)
    await pay(svc, clerk, later["order_no"])
    live = await current(svc, clerk, "W07")
    assert (live["orders_count"], live["received_fen"], live["cancelled_count"]) == (1, 50_00, 0)

    # the closed shift's numbers were stored at close, not recomputed from the orders
    async with svc.app[POOL].acquire() as conn:
        await conn.execute(
            "UPDATE orders SET total_fen = total_fen + 1 WHERE order_no = $1", paid["order_no"]
        )
    status, again = await svc.request("GET", f"/api/v1/shifts/{first['id']}", clerk)
    assert status == 200 and again == first

    status, second = await close_shift(svc, clerk, "W07")
    assert status == 201
    assert (second["orders_count"], second["received_fen"]) == (1, 50_00)
    assert second["opened_at"] >= first["closed_at"]


async def test_work_from_before_shifts_existed_is_no_one_s_shift(svc: Service) -> None:
    clerk = await svc.add_user("clerk", _office())
    await clerk_order(svc, clerk, amount_fen=10_00)
    async with svc.app[POOL].acquire() as conn:
        old = await conn.fetchval("SELECT since FROM shifts_epoch")
        await conn.execute("UPDATE shifts_epoch SET since = clock_timestamp()")
    try:
        await clerk_order(svc, clerk, amount_fen=20_00)
        live = await current(svc, clerk, "W07")
        assert (live["orders_count"], live["orders_fen"]) == (1, 20_00)
    finally:
        async with svc.app[POOL].acquire() as conn:
            await conn.execute("UPDATE shifts_epoch SET since = $1", old)


async def test_a_supervisor_sees_every_window_and_a_clerk_only_their_own(svc: Service) -> None:
    office = _office()
    clerk_a = await svc.add_user("clerk", office)
    clerk_b = await svc.add_user("clerk", office)
    supervisor = await svc.add_user("supervisor", office)
    stranger = await svc.add_user("supervisor", _office())
    await clerk_order(svc, clerk_a, window="W01")
    await clerk_order(svc, clerk_b, window="W02")
    status, a = await close_shift(svc, clerk_a, "W01")
    assert status == 201

    status, body = await svc.request("GET", "/api/v1/shifts", supervisor)
    assert status == 200, body
    assert [s["window"] for s in body["shifts"]] == ["W01"]
    assert [s["window"] for s in body["open_shifts"]] == ["W02"]
    status, body = await svc.request("GET", "/api/v1/shifts", clerk_b)
    assert body["shifts"] == [] and body["open_shifts"] == []
    # another office's supervisor, or another clerk, does not see the shift
    for token in (stranger, clerk_b):
        status, body = await svc.request("GET", f"/api/v1/shifts/{a['id']}", token)
        assert status == 404 and body["detail_zh"] == "交班记录不存在"
    status, body = await svc.request("GET", f"/api/v1/shifts?office={office}", stranger)
    assert status == 403 and body["code"] == "OFFICE_FORBIDDEN"


# -- 轧账 ---------------------------------------------------------------------------------------


def _today() -> str:
    return (datetime.now(UTC) + timedelta(hours=8)).date().isoformat()


async def test_the_supervisor_closes_a_day_that_equals_the_ledger(svc: Service) -> None:
    office = _office()
    clerk_a = await svc.add_user("clerk", office)
    clerk_b = await svc.add_user("clerk", office)
    supervisor = await svc.add_user("supervisor", office)
    for token, window, fen in ((clerk_a, "W01", 80_00), (clerk_b, "W02", 550_00)):
        o = await clerk_order(svc, token, window=window, amount_fen=fen)
        await pay(svc, token, o["order_no"])
    assert (await close_shift(svc, clerk_a, "W01"))[0] == 201

    path = f"/api/v1/office-days/{office}/{_today()}"
    status, body = await svc.request("POST", path + "/close", supervisor, json={})
    assert status == 409 and body["code"] == "SHIFTS_OPEN"
    assert "W02" in body["detail_zh"] and "尚未交班" in body["detail_zh"]
    # a clerk cannot close the day
    status, body = await svc.request("POST", path + "/close", clerk_a, json={})
    assert status == 403 and body["detail_zh"] == "只有本大厅值班主管可以轧账"

    assert (await close_shift(svc, clerk_b, "W02"))[0] == 201
    status, view = await svc.request("GET", path, supervisor)
    assert status == 200, view
    assert (view["shifts_fen"], view["ledger_fen"], view["difference_fen"]) == (630_00, 630_00, 0)
    assert view["by_channel"][0]["channel_zh"] == "微信支付"
    assert view["open_shifts"] == [] and view["closed"] is None

    sheet = f"/office-days/{office}/{_today()}/print"
    status, page = await svc.request("GET", sheet, supervisor)
    assert status == 409 and "尚未轧账" in page
    status, closed = await svc.request("POST", path + "/close", supervisor, json={})
    assert status == 201, closed
    assert closed["closed"]["difference_fen"] == 0
    status, page = await svc.request("GET", sheet, supervisor)
    assert status == 200 and "账实相符" in page and "陆佰叁拾元整" in page
    assert closed["closed"]["shifts_fen"] == 630_00
    status, body = await svc.request("POST", path + "/close", supervisor, json={})
    assert status == 409 and body["code"] == "DAY_ALREADY_CLOSED"


async def test_a_difference_with_the_ledger_is_shown_and_kept(svc: Service) -> None:
    office = _office()
    clerk = await svc.add_user("clerk", office)
    supervisor = await svc.add_user("supervisor", office)
    o = await clerk_order(svc, clerk, amount_fen=80_00)
    await pay(svc, clerk, o["order_no"])
    assert (await close_shift(svc, clerk, "W07"))[0] == 201
    # planted: a capture entry in the ledger with no payment at any window behind it
    async with svc.app[POOL].acquire() as conn, conn.transaction():
        order_id = await conn.fetchval("SELECT id FROM orders WHERE order_no = $1", o["order_no"])
        entry = await conn.fetchval(
            "INSERT INTO journal_entries (kind, order_id, memo) VALUES ('CAPTURE', $1, 'planted')"
            " RETURNING id",
            order_id,
        )
        await conn.execute(
            "INSERT INTO postings (entry_id, account_id, amount_fen, order_id)"
            " SELECT $1::bigint, id, 1, $2::bigint FROM ledger_accounts WHERE code = 'receivable:wechatpay'"
            " UNION ALL SELECT $1::bigint, id, -1, $2::bigint FROM ledger_accounts WHERE code = 'suspense'",
            entry,
            order_id,
        )
    path = f"/api/v1/office-days/{office}/{_today()}"
    status, view = await svc.request("GET", path, supervisor)
    assert status == 200, view
    assert (view["shifts_fen"], view["ledger_fen"], view["difference_fen"]) == (80_00, 80_01, -1)
    assert view["by_channel"] == [
        {
            "channel": "wechatpay",
            "channel_zh": "微信支付",
            "shifts_count": 1,
            "shifts_fen": 80_00,
            "ledger_count": 2,
            "ledger_fen": 80_01,
            "difference_fen": -1,
        }
    ]
    status, body = await svc.request("POST", path + "/close", supervisor, json={})
    assert status == 422 and body["code"] == "DIFFERENCE_NOTE_REQUIRED"
    assert "轧账不平" in body["detail_zh"]
    status, closed = await svc.request(
        "POST", path + "/close", supervisor, json={"note": "差一分，已报财务核查"}
    )
    assert status == 201, closed
    assert closed["closed"]["difference_fen"] == -1
    assert closed["closed"]["note"] == "差一分，已报财务核查"
    sheet = f"/office-days/{office}/{_today()}/print"
    status, page = await svc.request("GET", sheet, supervisor)
    assert status == 200
    assert "轧账不平：差额 -¥0.01" in page and "差一分，已报财务核查" in page
    assert "值班主任（签字）" in page
    stranger = await svc.add_user("supervisor", _office())
    status, page = await svc.request("GET", sheet, stranger)
    assert status == 404 and "无此轧账单" in page


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


# -- pages --------------------------------------------------------------------------------------


async def test_the_printable_shift_sheet_has_capital_totals_and_signature_lines(
    svc: Service,
) -> None:
    office = _office()
    clerk = await svc.add_user("clerk", office)
    other = await svc.add_user("clerk", office)
    o = await clerk_order(svc, clerk, amount_fen=1_234_56)
    await pay(svc, clerk, o["order_no"])
    status, shift = await close_shift(svc, clerk, "W07")
    assert status == 201
    status, page = await svc.request("GET", f"/shifts/{shift['id']}/print", clerk)
    assert status == 200
    assert "窗口收费日结单" in page
    assert "壹仟贰佰叁拾肆元伍角陆分" in page  # 大写 of the received total
    assert "经办人（签字）" in page and "复核人（签字）" in page
    assert "微信支付" in page and "size: A4" not in page  # the A4 rule is in the stylesheet
    status, page = await svc.request("GET", f"/shifts/{shift['id']}/print", other)
    assert status == 404 and "交班记录不存在" in page
    status, css = await svc.request("GET", "/window/static/shift-sheet.css")
    assert status == 200 and "size: A4" in css


async def test_pages_by_role(svc: Service) -> None:
    clerk = await svc.add_user("clerk", _office())
    finance = await svc.add_user("finance", None)
    for path in ("/search", "/shifts"):
        status, page = await svc.request("GET", path, headers={"Cookie": f"tj_session={clerk}"})
        assert status == 200 and "税费通缴" in page
    status, page = await svc.request("GET", "/search", headers={"Cookie": f"tj_session={finance}"})
    assert status == 200
    status, page = await svc.request("GET", "/shifts", headers={"Cookie": f"tj_session={finance}"})
    assert status == 403 and "无权访问日结交班" in page
