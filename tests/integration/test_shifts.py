"""Shifts closed and frozen (日结/交班), later work in the next shift, what each role sees, the
supervisor's 轧账 against the ledger (a planted difference shown and kept), the printed sheets."""

from __future__ import annotations

from clearing.api.keys import POOL
from tests.integration.desk_harness import (
    clerk_order,
    close_shift,
    current,
    new_office,
    pay,
    today_beijing,
)
from tests.integration.service_harness import Service, service_fixture

svc = service_fixture("search", sim_retry_scale=0.01, workers=1, poll_first_s=0.3)


# -- shifts -------------------------------------------------------------------------------------


async def test_a_closed_shift_is_frozen_and_later_work_goes_to_the_next(svc: Service) -> None:
    clerk = await svc.add_user("clerk", new_office())
    paid = await clerk_order(svc, clerk, amount_fen=123_45)
    await pay(svc, clerk, paid["order_no"])
    dropped = await clerk_order(svc, clerk, amount_fen=10_00)
    body = await svc.answered(
        "POST", f"/api/v1/orders/{dropped['order_no']}/cancel", clerk, json={"reason": "填错"}
    )

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
    await svc.app[POOL].execute(
        "UPDATE orders SET total_fen = total_fen + 1 WHERE order_no = $1", paid["order_no"]
    )
    status, again = await svc.request("GET", f"/api/v1/shifts/{first['id']}", clerk)
    assert status == 200 and again == first

    status, second = await close_shift(svc, clerk, "W07")
    assert status == 201
    assert (second["orders_count"], second["received_fen"]) == (1, 50_00)
    assert second["opened_at"] >= first["closed_at"]


async def test_work_from_before_shifts_existed_is_no_one_s_shift(svc: Service) -> None:
    clerk = await svc.add_user("clerk", new_office())
    await clerk_order(svc, clerk, amount_fen=10_00)
    async with svc.app[POOL].acquire() as conn:
        old = await conn.fetchval("SELECT since FROM shifts_epoch")
        await conn.execute("UPDATE shifts_epoch SET since = clock_timestamp()")
    try:
        await clerk_order(svc, clerk, amount_fen=20_00)
        live = await current(svc, clerk, "W07")
        assert (live["orders_count"], live["orders_fen"]) == (1, 20_00)
    finally:
        await svc.app[POOL].execute("UPDATE shifts_epoch SET since = $1", old)


async def test_a_supervisor_sees_every_window_and_a_clerk_only_their_own(svc: Service) -> None:
    office = new_office()
    clerk_a = await svc.add_user("clerk", office)
    clerk_b = await svc.add_user("clerk", office)
    supervisor = await svc.add_user("supervisor", office)
    stranger = await svc.add_user("supervisor", new_office())
    await clerk_order(svc, clerk_a, window="W01")
    await clerk_order(svc, clerk_b, window="W02")
    status, a = await close_shift(svc, clerk_a, "W01")
    assert status == 201

    body = await svc.answered("GET", "/api/v1/shifts", supervisor)
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


async def test_the_supervisor_closes_a_day_that_equals_the_ledger(svc: Service) -> None:
    office = new_office()
    clerk_a = await svc.add_user("clerk", office)
    clerk_b = await svc.add_user("clerk", office)
    supervisor = await svc.add_user("supervisor", office)
    for token, window, fen in ((clerk_a, "W01", 80_00), (clerk_b, "W02", 550_00)):
        o = await clerk_order(svc, token, window=window, amount_fen=fen)
        await pay(svc, token, o["order_no"])
    assert (await close_shift(svc, clerk_a, "W01"))[0] == 201

    path = f"/api/v1/office-days/{office}/{today_beijing()}"
    status, body = await svc.request("POST", path + "/close", supervisor, json={})
    assert status == 409 and body["code"] == "SHIFTS_OPEN"
    assert "W02" in body["detail_zh"] and "尚未交班" in body["detail_zh"]
    # a clerk cannot close the day
    status, body = await svc.request("POST", path + "/close", clerk_a, json={})
    assert status == 403 and body["detail_zh"] == "只有本大厅值班主任可以轧账"

    assert (await close_shift(svc, clerk_b, "W02"))[0] == 201
    view = await svc.answered("GET", path, supervisor)
    assert (view["shifts_fen"], view["ledger_fen"], view["difference_fen"]) == (630_00, 630_00, 0)
    assert view["by_channel"][0]["channel_zh"] == "微信支付"
    assert view["open_shifts"] == [] and view["closed"] is None

    sheet = f"/office-days/{office}/{today_beijing()}/print"
    status, page = await svc.request("GET", sheet, supervisor)
    assert status == 409 and "尚未轧账" in page
    closed = await svc.answered("POST", path + "/close", supervisor, json={}, expect=201)
    assert closed["closed"]["difference_fen"] == 0
    status, page = await svc.request("GET", sheet, supervisor)
    assert status == 200 and "账实相符" in page and "陆佰叁拾元整" in page
    assert closed["closed"]["shifts_fen"] == 630_00
    status, body = await svc.request("POST", path + "/close", supervisor, json={})
    assert status == 409 and body["code"] == "DAY_ALREADY_CLOSED"


async def test_a_difference_with_the_ledger_is_shown_and_kept(svc: Service) -> None:
    office = new_office()
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
    path = f"/api/v1/office-days/{office}/{today_beijing()}"
    view = await svc.answered("GET", path, supervisor)
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
    closed = await svc.answered(
        "POST", path + "/close", supervisor, json={"note": "差一分，已报财务核查"}, expect=201
    )
    assert closed["closed"]["difference_fen"] == -1
    assert closed["closed"]["note"] == "差一分，已报财务核查"
    sheet = f"/office-days/{office}/{today_beijing()}/print"
    status, page = await svc.request("GET", sheet, supervisor)
    assert status == 200
    assert "轧账不平：差额 -¥0.01" in page and "差一分，已报财务核查" in page
    assert "值班主任（签字）" in page
    stranger = await svc.add_user("supervisor", new_office())
    status, page = await svc.request("GET", sheet, stranger)
    assert status == 404 and "无此轧账单" in page


# -- pages --------------------------------------------------------------------------------------


async def test_the_printable_shift_sheet_has_capital_totals_and_signature_lines(
    svc: Service,
) -> None:
    office = new_office()
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
    clerk = await svc.add_user("clerk", new_office())
    finance = await svc.add_user("finance", None)
    for path in ("/search", "/shifts"):
        status, page = await svc.request("GET", path, headers={"Cookie": f"tj_session={clerk}"})
        assert status == 200 and "税费通缴" in page
    status, page = await svc.request("GET", "/search", headers={"Cookie": f"tj_session={finance}"})
    assert status == 200
    status, page = await svc.request("GET", "/shifts", headers={"Cookie": f"tj_session={finance}"})
    assert status == 403 and "无权访问日结交班" in page
