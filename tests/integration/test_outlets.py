"""同城通办: an office can be an outlet in a partner bank's branch. The administrator records the
bank and the branch; the outlet's staff are clerks and supervisors confined to it by the same
office rule as every hall's staff; everything a window does, the outlet's window does; the daily
report splits the money by office and by kind of office, to the fen."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.admin_harness import audit_rows, case_order, name, user
from tests.integration.pos_harness import PosSim, card_service_fixture
from tests.integration.service_harness import Service, user_fixture

BANK, BRANCH = "中国建设银行", "示范市分行城东支行"


env = card_service_fixture(
    "outlets",
    ["T0000001", "T0000002"],
    workers=2,
    poll_first_s=0.3,
    code_poll_s=0.3,
    card_wait_s=2.0,
)


@pytest.fixture(scope="module")
def svc(env: tuple[Service, PosSim]) -> Service:
    return env[0]


admin = user_fixture("admin", None)


@dataclass(frozen=True)
class Places:
    hall: str
    outlet: str
    hall_clerk: str
    hall_super: str
    outlet_clerk: str
    outlet_super: str
    finance: str


async def _outlet(svc: Service, admin: str, terminal: str) -> str:
    code = name("O").upper()
    body = {
        "code": code,
        "name": "建设银行城东支行同城通办网点",
        "kind": "branch",
        "partner_bank": BANK,
        "branch_name": BRANCH,
    }
    await svc.answered("POST", "/api/v1/admin/offices", admin, json=body, expect=201)
    await svc.answered(
        "POST",
        f"/api/v1/admin/offices/{code}/windows",
        admin,
        json={"code": "W01", "name": "网点窗口一", "terminal_id": terminal},
        expect=201,
    )
    return code


@pytest.fixture(scope="module")
async def places(svc: Service, admin: str) -> Places:
    """The hall HALL1, its window W01 with terminal T0000001; an outlet whose window has the
    terminal T0000002, moved there from the hall's window W02."""
    hall = "HALL1"
    await svc.answered(
        "PATCH", f"/api/v1/admin/offices/{hall}/windows/W02", admin, json={"terminal_id": None}
    )
    outlet = await _outlet(svc, admin, "T0000002")
    hall_clerk, _ = await user(svc, admin, role="clerk", office=hall, window="W01")
    hall_super, _ = await user(svc, admin, role="supervisor", office=hall)
    outlet_clerk, _ = await user(svc, admin, role="clerk", office=outlet, window="W01")
    outlet_super, _ = await user(svc, admin, role="supervisor", office=outlet)
    finance = await svc.add_user("finance", None)
    return Places(hall, outlet, hall_clerk, hall_super, outlet_clerk, outlet_super, finance)


async def _order(svc: Service, token: str, office: str) -> dict[str, Any]:
    status, order = await svc.create_order(token, case_order(office))
    assert status == 201, order
    return dict(order)


async def _paid_by_qr(svc: Service, token: str, office: str) -> dict[str, Any]:
    order = await _order(svc, token, office)
    qr = await svc.open_qr(token, order["order_no"])
    await svc.sim.pay(qr["out_trade_no"])
    return await svc.wait_state(token, order["order_no"], "CLEARED")


# -- the administrator records an outlet -------------------------------------------------------


async def test_an_outlet_names_its_partner_bank_and_branch(svc: Service, admin: str) -> None:
    code = name("O").upper()
    body = {"code": code, "name": "建设银行城东支行同城通办网点", "kind": "branch"}
    status, problem = await svc.request("POST", "/api/v1/admin/offices", admin, json=body)
    assert (status, problem["code"]) == (422, "OUTLET_BANK_REQUIRED")
    assert "合作银行" in problem["detail_zh"]
    status, listed = await svc.request("GET", "/api/v1/admin/offices", admin)
    assert code not in [o["code"] for o in listed["offices"]]  # nothing was made

    body |= {"partner_bank": BANK, "branch_name": BRANCH}
    made = await svc.answered("POST", "/api/v1/admin/offices", admin, json=body, expect=201)
    assert (made["kind_zh"], made["partner_bank"], made["branch_name"]) == (
        "银行网点",
        BANK,
        BRANCH,
    )
    [row] = await audit_rows(svc, "office.created", code)
    assert row["detail"]["partner_bank"] == BANK and row["detail"]["branch_name"] == BRANCH

    status, changed = await svc.request(
        "PATCH", f"/api/v1/admin/offices/{code}", admin, json={"branch_name": "示范市分行城西支行"}
    )
    assert (status, changed["branch_name"]) == (200, "示范市分行城西支行"), changed
    [row] = await audit_rows(svc, "office.updated", code)
    assert row["detail"] == {"branch_name": {"from": BRANCH, "to": "示范市分行城西支行"}}

    # the bank cannot be taken away from an outlet, nor given to a hall
    status, problem = await svc.request(
        "PATCH", f"/api/v1/admin/offices/{code}", admin, json={"partner_bank": None}
    )
    assert (status, problem["code"]) == (422, "OUTLET_BANK_REQUIRED")
    hall = {"code": name("H").upper(), "name": "某大厅", "kind": "hall", "partner_bank": BANK}
    status, problem = await svc.request("POST", "/api/v1/admin/offices", admin, json=hall)
    assert (status, problem["code"]) == (422, "OUTLET_BANK_NOT_ALLOWED")
    assert problem["detail_zh"]

    # no longer an outlet: the bank and branch go with it, and the audit says so
    changed = await svc.answered(
        "PATCH", f"/api/v1/admin/offices/{code}", admin, json={"kind": "centre"}
    )
    assert (changed["kind_zh"], changed["partner_bank"], changed["branch_name"]) == (
        "便民服务中心",
        None,
        None,
    )
    row = (await audit_rows(svc, "office.updated", code))[-1]
    assert row["detail"]["partner_bank"] == {"from": BANK, "to": None}


async def test_only_an_administrator_records_outlets(svc: Service, places: Places) -> None:
    body = {"name": "x", "kind": "branch", "partner_bank": BANK, "branch_name": BRANCH}
    status, problem = await svc.request(
        "POST", "/api/v1/admin/offices", places.outlet_super, json={"code": "X1", **body}
    )
    assert (status, problem["code"]) == (403, "ROLE_FORBIDDEN")


# -- everything a window does, the outlet's window does ----------------------------------------


async def test_an_outlet_clerk_takes_and_pays_orders_at_the_outlet_window(
    env: tuple[Service, PosSim], places: Places
) -> None:
    svc, pos = env
    # QR
    paid = await _paid_by_qr(svc, places.outlet_clerk, places.outlet)
    assert (paid["office"], paid["window"]) == (places.outlet, "W01")
    # the citizen's payment code, scanned at the outlet
    order = await _order(svc, places.outlet_clerk, places.outlet)
    await svc.start_payment(
        places.outlet_clerk,
        order["order_no"],
        method="code",
        auth_code="13" + str(secrets.randbelow(10**16)).zfill(16),
    )
    await svc.wait_state(places.outlet_clerk, order["order_no"], "CLEARED")
    # a card on the terminal standing at the outlet's window
    order = await _order(svc, places.outlet_clerk, places.outlet)
    await svc.start_payment(
        places.outlet_clerk, order["order_no"], method="card", terminal_id="T0000002"
    )
    status, swiped = await pos.swipe("T0000002")
    assert status == 200, swiped
    await svc.wait_state(places.outlet_clerk, order["order_no"], "CLEARED")
    # the receipt prints for the outlet's clerk, named by the outlet
    status, page = await svc.request(
        "GET", f"/orders/{paid['order_no']}/receipt", places.outlet_clerk
    )
    assert status == 200 and "建设银行城东支行同城通办网点" in page
    # and its shift (日结) counts what was done at the outlet
    shift = await svc.answered("GET", "/api/v1/shifts/current", places.outlet_clerk)
    assert (shift["office"], shift["window"]) == (places.outlet, "W01")
    assert shift["received_count"] >= 3


async def test_the_outlet_window_pairs_a_citizen_screen(svc: Service, places: Places) -> None:
    code = await svc.answered(
        "POST",
        "/api/v1/display/pairing-codes",
        places.outlet_clerk,
        json={"window": "W01"},
        expect=201,
    )
    assert code["office"] == places.outlet
    paired = await svc.answered(
        "POST", "/api/v1/display/pair", json={"code": code["code"]}, expect=201
    )
    assert (paired["office"], paired["window"]) == (places.outlet, "W01")
    order = await _order(svc, places.outlet_clerk, places.outlet)
    status, shown = await svc.request(
        "PUT",
        "/api/v1/display/current",
        places.outlet_clerk,
        json={"window": "W01", "order_no": order["order_no"]},
    )
    assert (status, shown["order_no"]) == (200, order["order_no"]), shown


# -- confined to the outlet --------------------------------------------------------------------


async def test_outlet_staff_cannot_reach_the_halls_orders(svc: Service, places: Places) -> None:
    theirs = await _paid_by_qr(svc, places.hall_clerk, places.hall)
    no = theirs["order_no"]
    clerk, boss = places.outlet_clerk, places.outlet_super
    # an order of another office does not exist for them (404), as for any hall's staff
    for method, path, token, body in [
        ("GET", f"/api/v1/orders/{no}", clerk, None),
        ("GET", f"/api/v1/orders/{no}/timeline", clerk, None),
        ("GET", f"/api/v1/orders/{no}/qr.svg", clerk, None),
        ("GET", f"/api/v1/orders/{no}/refunds", clerk, None),
        ("GET", f"/api/v1/orders/{no}/receipt/prints", clerk, None),
        ("POST", f"/api/v1/orders/{no}/cancel", clerk, {"reason": "x"}),
        ("POST", f"/api/v1/orders/{no}/payments", clerk, {"method": "qr"}),
        ("POST", f"/api/v1/orders/{no}/refunds", boss, {"reason": "x"}),
        ("POST", f"/api/v1/orders/{no}/receipt/reprints", clerk, {"reason": "卡纸"}),
        ("GET", f"/api/v1/orders/{no}", boss, None),
    ]:
        status, problem = await svc.request(method, path, token, json=body)
        assert (status, problem["code"]) == (404, "ORDER_NOT_FOUND"), (method, path, problem)
    status, page = await svc.request("GET", f"/orders/{no}/receipt", clerk)
    assert status == 404 and theirs["payer_id_masked"] not in page

    # the hall's lists, searches, shifts and day are refused; their own show only the outlet
    hall = places.hall
    for method, path, body in [
        ("GET", f"/api/v1/orders?office={hall}", None),
        ("POST", "/api/v1/orders/search", {"office": hall}),
        ("GET", f"/api/v1/shifts?office={hall}", None),
        ("GET", f"/api/v1/windows?office={hall}", None),
    ]:
        status, problem = await svc.request(method, path, clerk, json=body)
        assert (status, problem["code"]) == (403, "OFFICE_FORBIDDEN"), (path, problem)
    today = (datetime.now(UTC) + timedelta(hours=8)).date().isoformat()
    problem = await svc.answered("GET", f"/api/v1/office-days/{hall}/{today}", boss, expect=404)
    status, problem = await svc.request(
        "POST", f"/api/v1/office-days/{hall}/{today}/close", boss, json={}
    )
    assert (status, problem["code"]) == (403, "DAY_CLOSE_FORBIDDEN")
    found = await svc.answered("POST", "/api/v1/orders/search", clerk, json={})
    assert found["orders"] and {o["office"] for o in found["orders"]} == {places.outlet}
    status, listed = await svc.request("GET", "/api/v1/orders", clerk)
    assert no not in [o["order_no"] for o in listed["orders"]]
    # nor can they create an order for the hall, or show its order on their citizen screen
    status, problem = await svc.create_order(clerk, case_order(hall))
    assert (status, problem["code"]) == (403, "OFFICE_FORBIDDEN")
    await svc.answered(
        "PUT", "/api/v1/display/current", clerk, json={"window": "W01", "order_no": no}, expect=404
    )
    status, _ = await svc.request("GET", f"/api/v1/events?office={hall}", clerk)
    assert status == 404


async def test_a_card_sale_goes_only_to_a_terminal_of_the_orders_office(
    env: tuple[Service, PosSim], places: Places
) -> None:
    """The terminal is the browser's word: one standing at another office's window is refused,
    or an outlet's clerk could charge a card at the hall (and the other way round)."""
    svc, _ = env
    order = await _order(svc, places.outlet_clerk, places.outlet)
    status, problem = await svc.request(
        "POST",
        f"/api/v1/orders/{order['order_no']}/payments",
        places.outlet_clerk,
        json={"method": "card", "terminal_id": "T0000001"},
    )
    assert (status, problem["code"]) == (403, "TERMINAL_OTHER_OFFICE"), problem
    assert "终端" in problem["detail_zh"]
    status, view = await svc.request(
        "GET", f"/api/v1/orders/{order['order_no']}", places.outlet_clerk
    )
    assert (view["state"], view["attempts"]) == ("OPEN", [])  # nothing was sent


# -- the daily report splits by office and kind of office --------------------------------------


async def test_the_daily_report_splits_by_office_and_kind(svc: Service, places: Places) -> None:
    await _paid_by_qr(svc, places.hall_clerk, places.hall)
    await _paid_by_qr(svc, places.outlet_clerk, places.outlet)
    today = (datetime.now(UTC) + timedelta(hours=8)).date().isoformat()
    report = await svc.answered("GET", f"/api/v1/reports/daily?date={today}", places.finance)
    received = report["received"]["amount_fen"]
    kinds = {r["key"]: r for r in report["by_office_kind"]}
    offices = {r["key"]: r for r in report["by_office"]}
    assert {"hall", "branch"} <= kinds.keys()
    assert kinds["branch"]["name"] == "银行网点" and kinds["hall"]["name"] == "登记大厅"
    # each kind is the sum of its offices, and the kinds, the offices and the windows each add
    # up to the day's money exactly (integer fen)
    for kind, row in kinds.items():
        mine = [o for code, o in offices.items() if report["office_kinds"][code] == kind]
        assert row["amount_fen"] == sum(o["amount_fen"] for o in mine)
        assert row["count"] == sum(o["count"] for o in mine)
    assert sum(r["amount_fen"] for r in kinds.values()) == received
    assert sum(r["amount_fen"] for r in offices.values()) == received
    assert sum(r["amount_fen"] for r in report["by_window"]) == received
    checks = {c["dimension"]: c for c in report["checks"]}
    assert checks["按网点类型"]["agrees"] and checks["按大厅"]["agrees"]
    assert report["office_kinds"][places.outlet] == "branch"

    # the page and the CSV say the same in Chinese
    status, page = await svc.request("GET", f"/reports/daily?date={today}", places.finance)
    assert status == 200 and "按网点类型" in page and "银行网点" in page
    assert "建设银行城东支行同城通办网点" in page
    status, csv = await svc.request("GET", f"/reports/daily.csv?date={today}", places.finance)
    assert status == 200 and "银行网点" in csv and "建设银行城东支行同城通办网点" in csv


async def test_the_days_shifts_split_by_office_and_kind(svc: Service, places: Places) -> None:
    """日结: the day's closed shifts, per office, per kind of office and in all, to the fen; an
    office's 轧账 shows beside it."""
    await _paid_by_qr(svc, places.outlet_clerk, places.outlet)
    await _paid_by_qr(svc, places.hall_clerk, places.hall)
    for token in (places.outlet_clerk, places.hall_clerk):
        shift = await svc.answered(
            "POST", "/api/v1/shifts/close", token, json={"window": "W01"}, expect=201
        )
        # the 日结单 names the office and window as staff know them, not by their codes
        sheet = await svc.answered("GET", f"/shifts/{shift['id']}/print", token)
        if token == places.outlet_clerk:
            assert "建设银行城东支行同城通办网点" in sheet and "网点窗口一" in sheet
            assert places.outlet not in sheet
    today = (datetime.now(UTC) + timedelta(hours=8)).date().isoformat()

    async def split() -> dict[str, Any]:
        report = await svc.answered("GET", f"/api/v1/reports/daily?date={today}", places.finance)
        return dict(report["shifts"])

    shifts = await split()
    offices = {o["key"]: o for o in shifts["offices"]}
    for office in (places.hall, places.outlet):
        # the office's line is what its closed shifts froze
        listed = await svc.answered(
            "GET", f"/api/v1/shifts?office={office}&date={today}", places.finance
        )
        assert offices[office]["shifts"] == len(listed["shifts"]) > 0
        assert offices[office]["received_fen"] == sum(s["received_fen"] for s in listed["shifts"])
    assert offices[places.outlet]["kind"] == "branch" and offices[places.hall]["kind"] == "hall"
    assert offices[places.outlet]["day_closed"] is False
    fields = ("shifts", "received_count", "received_fen", "refunds_count", "refunds_fen")
    kinds = {k["key"]: k for k in shifts["by_kind"]}
    for kind, sub in kinds.items():
        mine = [o for o in offices.values() if o["kind"] == kind]
        assert all(sub[f] == sum(o[f] for o in mine) for f in fields), (kind, sub)
    assert all(shifts["total"][f] == sum(k[f] for k in kinds.values()) for f in fields)

    # the outlet's supervisor closes its day; the report says so beside the outlet
    await svc.answered(
        "POST",
        f"/api/v1/office-days/{places.outlet}/{today}/close",
        places.outlet_super,
        json={"note": "测试"},
        expect=201,
    )
    offices = {o["key"]: o for o in (await split())["offices"]}
    assert offices[places.outlet]["day_closed"] is True
    status, sheet = await svc.request(
        "GET", f"/office-days/{places.outlet}/{today}/print", places.outlet_super
    )
    assert status == 200 and "建设银行城东支行同城通办网点" in sheet, sheet
    status, csv = await svc.request("GET", f"/reports/daily.csv?date={today}", places.finance)
    assert status == 200 and "小计（银行网点）" in csv and "已轧账" in csv


async def test_the_outlets_supervisor_asks_refunds_of_the_outlets_orders(
    svc: Service, places: Places
) -> None:
    paid = await _paid_by_qr(svc, places.outlet_clerk, places.outlet)
    asked = await svc.answered(
        "POST",
        f"/api/v1/orders/{paid['order_no']}/refunds",
        places.outlet_super,
        json={"reason": "缴款人申请退费"},
        expect=201,
    )
    status, listed = await svc.request(
        "GET", f"/api/v1/orders/{paid['order_no']}/refunds", places.outlet_clerk
    )
    assert status == 200 and [r["id"] for r in listed["refunds"]] == [asked["id"]]
