"""The self-service kiosk over real HTTP: its credential's life (registered, enrolled once,
revoked), finding an order (case number and ID tail, or a notice's QR) with its refusals and the
guessing lockout, paying through the WeChat simulator, the receipt, and the audit trail."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from clearing.api import routes_kiosk
from clearing.api.keys import POOL
from clearing.service import kiosk_lookup, names, pay_links, principals
from tests.integration.display_harness import until
from tests.integration.factories import PAYER_ID, place
from tests.integration.service_harness import (
    Device,
    Service,
    device_refused_as_staff,
    order_body,
    service_fixture,
    user_fixture,
)

ID_TAIL = PAYER_ID[-6:]  # "31002X"


svc = service_fixture("kiosk", sim_retry_scale=0.01, workers=1, poll_first_s=0.3, poll_later_s=0.5)


admin = user_fixture("admin", None)


class KioskClient(Device):
    COOKIE = routes_kiosk.COOKIE

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return await self.svc.request(method, path, headers=self.cookie, json=body)

    async def lookup(self, case_no: str, tail: str = ID_TAIL) -> tuple[int, Any]:
        return await self.call(
            "POST", "/api/v1/kiosk/lookup", {"case_no": case_no, "id_tail": tail}
        )


async def register(svc: Service, admin: str, office: str = "HALL1") -> tuple[int, str]:
    async with svc.app[POOL].acquire() as conn:
        await place(conn, office)
    body = await svc.answered(
        "POST",
        "/api/v1/admin/kiosks",
        admin,
        json={"office": office, "name": f"自助机{secrets.token_hex(2)}"},
        expect=201,
    )
    assert body["state"] == "pending"
    return int(body["id"]), str(body["enrol_code"])


async def enrolled(svc: Service, admin: str, office: str = "HALL1") -> tuple[int, KioskClient]:
    kiosk_id, code = await register(svc, admin, office)
    async with svc.session.post(
        svc.base_url + "/api/v1/kiosk/enrol", json={"code": code.lower()}
    ) as resp:
        assert resp.status == 201, await resp.text()
        set_cookie = resp.headers["Set-Cookie"]
        assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
        assert "Path=/api/v1/kiosk" in set_cookie
        return kiosk_id, KioskClient(svc, resp.cookies[routes_kiosk.COOKIE].value)


async def new_order(svc: Service, case_no: str, office: str = "HALL1") -> str:
    token = (
        await svc.supervisor() if office == "HALL1" else await svc.add_user("supervisor", office)
    )
    async with svc.app[POOL].acquire() as conn:
        await place(conn, office)
    status, order = await svc.create_order(token, order_body(case_no=case_no, office=office))
    assert status == 201, order
    return str(order["order_no"])


def case() -> str:
    return f"2026-BDC-{secrets.randbelow(10**8):08d}"


async def test_an_enrolment_code_works_once_and_revoking_stops_the_kiosk(
    svc: Service, admin: str
) -> None:
    kiosk_id, code = await register(svc, admin)
    resp = await svc.request("POST", "/api/v1/kiosk/enrol", json={"code": code})
    assert resp[0] == 201 and resp[1]["office"] == "HALL1"
    again = await svc.request("POST", "/api/v1/kiosk/enrol", json={"code": code})
    assert (again[0], again[1]["code"]) == (422, "ENROL_CODE_INVALID")
    _, listed = await svc.request("GET", "/api/v1/admin/kiosks", admin)
    mine = next(k for k in listed["kiosks"] if k["id"] == kiosk_id)
    assert (mine["state"], mine["state_zh"]) == ("active", "在用")

    _, kiosk = await enrolled(svc, admin)
    order_no = await new_order(svc, number := case())
    status, view = await kiosk.lookup(number)
    assert status == 200 and view["order"]["order_no"] == order_no
    assert await kiosk.call("GET", "/api/v1/kiosk/me") == (
        200,
        {"enrolled": True, "name": view["kiosk"], "office": "HALL1"},
    )
    kiosk_id = next(
        k["id"]
        for k in (await svc.request("GET", "/api/v1/admin/kiosks", admin))[1]["kiosks"]
        if k["name"] == view["kiosk"]
    )
    status, out = await svc.request("POST", f"/api/v1/admin/kiosks/{kiosk_id}/revoke", admin)
    assert (status, out["state"], out["state_zh"]) == (200, "revoked", "已停用")
    # refused at once: the very next request, with the order it had open
    status, body = await kiosk.call("GET", "/api/v1/kiosk/current")
    assert (status, body["code"]) == (401, "KIOSK_NOT_ENROLLED")
    assert (await kiosk.call("GET", "/api/v1/kiosk/me"))[1] == {"enrolled": False}
    status, body = await kiosk.call("POST", "/api/v1/kiosk/current/payments", {"method": "qr"})
    assert status == 401


async def test_only_an_administrator_registers_and_within_their_office(
    svc: Service, admin: str
) -> None:
    supervisor = await svc.supervisor()
    status, body = await svc.request(
        "POST", "/api/v1/admin/kiosks", supervisor, json={"office": "HALL1", "name": "x"}
    )
    assert (status, body["code"]) == (403, "ROLE_FORBIDDEN")
    status, body = await svc.request(
        "POST", "/api/v1/admin/kiosks", admin, json={"office": "NOPE", "name": "x"}
    )
    assert (status, body["code"]) == (422, "OFFICE_UNKNOWN")
    async with svc.app[POOL].acquire() as conn:
        await place(conn, "HALL2")
        _, hall_admin = await principals.add(
            conn, kind="client", username="hall1-admin", display_name="大厅管理", role="admin",
            office="HALL1",
        )  # fmt: skip
    assert hall_admin is not None
    status, body = await svc.request(
        "POST", "/api/v1/admin/kiosks", hall_admin, json={"office": "HALL2", "name": "x"}
    )
    assert (status, body["code"]) == (403, "OFFICE_FORBIDDEN")
    status, body = await svc.request(
        "POST", "/api/v1/admin/kiosks", admin, json={"office": "HALL1", "name": "同名"}
    )
    assert status == 201
    status, body = await svc.request(
        "POST", "/api/v1/admin/kiosks", admin, json={"office": "HALL1", "name": "同名"}
    )
    assert (status, body["code"]) == (409, "KIOSK_NAME_TAKEN")


async def test_a_kiosk_credential_opens_no_staff_route(svc: Service, admin: str) -> None:
    _, kiosk = await enrolled(svc, admin)
    order_no = await new_order(svc, case())
    staff_routes = [
        ("GET", "/api/v1/me"),
        ("GET", f"/api/v1/orders/{order_no}"),
        ("POST", f"/api/v1/orders/{order_no}/payments"),
        ("GET", "/api/v1/orders?office=HALL1"),
        ("POST", "/api/v1/orders/search"),
        ("GET", "/api/v1/admin/kiosks"),
        ("GET", "/api/v1/display/state"),
    ]
    await device_refused_as_staff(kiosk, staff_routes, {})
    # and a staff token opens none of the kiosk's routes
    status, body = await svc.request("GET", "/api/v1/kiosk/current", await svc.supervisor())
    assert (status, body["code"]) == (401, "KIOSK_NOT_ENROLLED")


async def test_a_wrong_pair_gets_one_neutral_answer_and_guessing_is_locked_out(
    svc: Service, admin: str
) -> None:
    kiosk_id, kiosk = await enrolled(svc, admin)
    number = case()
    order_no = await new_order(svc, number)
    other_hall = await new_order(svc, other_case := case(), office="HALL2")
    answers = [
        await kiosk.lookup(number, "000000"),  # wrong ID
        await kiosk.lookup(case(), ID_TAIL),  # no such case
        await kiosk.lookup(other_case, ID_TAIL),  # another office's order
    ]
    for status, body in answers:
        assert (status, body["code"]) == (404, "KIOSK_LOOKUP_FAILED"), body
        assert body["detail_zh"] == answers[0][1]["detail_zh"]
        assert order_no not in str(body) and other_hall not in str(body)
    # the same case guessed: after CASE_FAILURES wrong tails, even the right one is refused
    for _ in range(kiosk_lookup.CASE_FAILURES - 1):
        assert (await kiosk.lookup(number, "111111"))[0] == 404
    status, body = await kiosk.lookup(number, ID_TAIL)
    assert (status, body["code"]) == (429, "KIOSK_TOO_MANY_ATTEMPTS")
    # ...on every kiosk (the count is the database's), while other cases still work on others
    _, second = await enrolled(svc, admin)
    assert (await second.lookup(number, ID_TAIL))[0] == 429
    fine = await new_order(svc, good := case())
    status, view = await second.lookup(good, ID_TAIL.lower())
    assert status == 200 and view["order"]["order_no"] == fine
    refused = await svc.app[POOL].fetchval(
        "SELECT count(*) FROM audit_log WHERE actor = $1 AND action = 'kiosk.lookup_refused'",
        f"kiosk:{kiosk_id}",
    )
    assert refused == 3 + kiosk_lookup.CASE_FAILURES - 1
    status, body = await kiosk.lookup(number, "12")
    assert (status, body["code"]) == (422, "KIOSK_LOOKUP_INPUT")


async def test_one_kiosk_guessing_many_cases_is_stopped_too(svc: Service, admin: str) -> None:
    _, kiosk = await enrolled(svc, admin)
    for _ in range(kiosk_lookup.KIOSK_FAILURES):
        assert (await kiosk.lookup(case()))[0] == 404
    await new_order(svc, number := case())
    status, body = await kiosk.lookup(number)
    assert (status, body["code"]) == (429, "KIOSK_TOO_MANY_ATTEMPTS")
    assert "到窗口办理" in body["detail_zh"]


async def test_the_view_masks_the_payer_and_names_the_beneficiaries(
    svc: Service, admin: str
) -> None:
    _, kiosk = await enrolled(svc, admin)
    await new_order(svc, number := case())
    status, view = await kiosk.lookup(number)
    assert status == 200, view
    order = view["order"]
    assert view["phase"] == "pay"
    assert order["payer_masked"] == "张*" and "张三" not in str(view)
    assert PAYER_ID not in str(view) and order["payer_id_masked"].endswith("002X")
    assert order["total_capital"].startswith("叁拾伍万")
    assert all(ln["beneficiary_name"] and ln["item_name"] for ln in order["lines"])


async def test_paying_by_qr_then_the_receipt_and_the_audit_trail(svc: Service, admin: str) -> None:
    kiosk_id, kiosk = await enrolled(svc, admin)
    order_no = await new_order(svc, number := case())
    assert (await kiosk.lookup(number))[0] == 200
    status, body = await kiosk.call("GET", "/api/v1/kiosk/current/receipt")
    assert (status, body["code"]) == (409, "ORDER_NOT_PAID")
    status, started = await kiosk.call("POST", "/api/v1/kiosk/current/payments", {"method": "qr"})
    assert status == 201 and started["state"] == "OPEN", started
    assert "code_url" not in started or started["code_url"] is None
    async with svc.session.get(
        svc.base_url + "/api/v1/kiosk/current/qr.svg", headers=kiosk.cookie
    ) as r:
        assert r.status == 200 and r.content_type == "image/svg+xml"
    view = (await kiosk.call("GET", "/api/v1/kiosk/current"))[1]
    assert view["order"]["qr"]["channel_zh"] == "微信"
    assert (await svc.sim.pay(started["out_trade_no"]))[0] == 200

    async def paid() -> bool:
        return (await kiosk.call("GET", "/api/v1/kiosk/current"))[1]["phase"] == "paid"

    await until(paid, 10)
    status, receipt = await kiosk.call("GET", "/api/v1/kiosk/current/receipt")
    assert status == 200, receipt
    assert receipt["receipt_no"] == f"{order_no}-1" and "/v/" in receipt["verify_url"]
    # the short link verifies, and staff see the print as the kiosk's
    code = receipt["verify_url"].rsplit("/v/", 1)[1]
    async with svc.session.get(svc.base_url + f"/v/{code}") as page:
        assert page.status == 200 and "有效" in await page.text()
    status, prints = await svc.request(
        "GET", f"/api/v1/orders/{order_no}/receipt/prints", await svc.supervisor()
    )
    assert status == 200 and prints["prints"][0]["printed_by"] == f"kiosk:{kiosk_id}"
    async with svc.session.get(
        svc.base_url + "/api/v1/kiosk/current/receipt-qr.svg", headers=kiosk.cookie
    ) as r:
        assert r.status == 200 and r.content_type == "image/svg+xml"
    # the screen clears after the payment; nothing of the order is left to read
    status, idle = await kiosk.call("DELETE", "/api/v1/kiosk/current?why=paid")
    assert (status, idle["phase"]) == (200, "idle")
    assert (await kiosk.call("GET", "/api/v1/kiosk/current"))[1]["order"] is None
    assert (await kiosk.call("GET", "/api/v1/kiosk/current/receipt"))[0] == 409
    async with svc.app[POOL].acquire() as conn:
        actions = [
            r["action"]
            for r in await conn.fetch(
                "SELECT action FROM audit_log WHERE actor = $1 ORDER BY id", f"kiosk:{kiosk_id}"
            )
        ]
        started_by = await conn.fetchval(
            "SELECT started_by FROM payment_attempts WHERE out_trade_no = $1",
            started["out_trade_no"],
        )
        shown = await names.load(conn)
    assert actions == [
        "kiosk.enrolled",
        "kiosk.order_opened",
        "attempt.opened",
        "receipt.printed",
        "kiosk.cleared",
    ]
    assert started_by == f"kiosk:{kiosk_id}"
    # staff read the kiosk by the name 系统管理 gave it, wherever its actions are listed
    me = (await kiosk.call("GET", "/api/v1/kiosk/me"))[1]
    assert shown.actor(f"kiosk:{kiosk_id}") == me["name"]
    assert shown.of("audit_action", "kiosk.order_opened") == "自助终端查到缴费单"


async def test_paying_by_the_payment_code_the_scanner_reads(svc: Service, admin: str) -> None:
    kiosk_id, kiosk = await enrolled(svc, admin)
    order_no = await new_order(svc, number := case())
    assert (await kiosk.lookup(number))[0] == 200
    status, body = await kiosk.call(
        "POST",
        "/api/v1/kiosk/current/payments",
        {"method": "code", "auth_code": "134567890123456789"},
    )
    assert (status, body["state"], body["order_state"]) == (201, "SUCCEEDED", "CLEARED"), body
    assert (await kiosk.call("GET", "/api/v1/kiosk/current"))[1]["phase"] == "paid"
    row = await svc.app[POOL].fetchrow(
        "SELECT actor, detail FROM audit_log WHERE action = 'kiosk.code_payment'"
        " AND object_id = $1",
        order_no,
    )
    assert row is not None and row["actor"] == f"kiosk:{kiosk_id}"
    assert row["detail"]["state"] == "SUCCEEDED"


async def test_nothing_to_pay_without_an_order_found(svc: Service, admin: str) -> None:
    _, kiosk = await enrolled(svc, admin)
    status, body = await kiosk.call("POST", "/api/v1/kiosk/current/payments", {"method": "qr"})
    assert (status, body["code"]) == (409, "KIOSK_NO_ORDER")
    assert (await kiosk.call("GET", "/api/v1/kiosk/current/qr.svg"))[0] == 409


async def test_a_notice_qr_opens_its_order_of_this_office_only(svc: Service, admin: str) -> None:
    _, kiosk = await enrolled(svc, admin)
    key = svc.app[routes_kiosk.PAY_LINK_KEY]
    expires = datetime.now(UTC) + timedelta(hours=2)
    order_no = await new_order(svc, case())
    url = pay_links.link_url("https://pay.example.cn", pay_links.make_token(key, order_no, expires))
    status, view = await kiosk.call("POST", "/api/v1/kiosk/lookup", {"notice": url})
    assert status == 200 and view["order"]["order_no"] == order_no
    forged = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
    status, body = await kiosk.call("POST", "/api/v1/kiosk/lookup", {"notice": forged})
    assert (status, body["code"]) == (404, "PAY_LINK_INVALID")
    elsewhere = await new_order(svc, case(), office="HALL2")
    token = pay_links.make_token(key, elsewhere, expires)
    status, body = await kiosk.call("POST", "/api/v1/kiosk/lookup", {"notice": token})
    assert (status, body["code"]) == (404, "NOTICE_OTHER_OFFICE")
