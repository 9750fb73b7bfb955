"""An order from a case: amounts come from the tax bureau, the fiscal non-tax system, the fund
office and the fee schedule; each reference is paid once; after payment every leg is confirmed
and its proof is on the order."""

from __future__ import annotations

import secrets
from typing import Any

from clearing.api import routes_kiosk
from clearing.api.keys import POOL
from tests.integration.case_harness import (
    all_confirmed,
    case_body,
    case_fixture,
    case_order,
    confirmed_order,
    new_case,
)
from tests.integration.factories import PAYER_ID, enrolled_kiosk
from tests.integration.service_harness import Service

env = case_fixture("case", workers=2, poll_first_s=0.3, authority_timeout_s=2.0)


async def _case(env: dict[str, Any]) -> dict[str, Any]:
    case = await new_case(env, "12345.67")
    return {**case, "matters": [{"kind": "residential", "extra_certificates": 1}]}


def _body(case: dict[str, Any]) -> dict[str, Any]:
    return case_body("2026-BDC-CASE01", case)


async def test_order_from_references_is_paid_and_every_leg_confirmed(env: dict[str, Any]) -> None:
    svc: Service = env["svc"]
    case = await _case(env)
    found = await svc.answered(
        "POST",
        "/api/v1/cases/lookup",
        env["clerk"],
        json={"payer_name": "张三", "payer_id": PAYER_ID, "case": case},
    )
    assert found["failures"] == []
    by_item = {i["item_code"] for i in found["items"]}
    assert {"DEED_TAX", "LAND_TRANSFER", "MAINT_FUND", "REG_FEE"} <= by_item
    reg = [i for i in found["items"] if i["item_code"] == "REG_FEE"]
    assert [i["amount_fen"] for i in reg] == [90_00]  # 80 元 + one extra certificate
    order = await case_order(env, _body(case))
    assert order["total_fen"] == found["total_fen"]
    # the same references cannot be in a second order
    status, problem = await svc.create_order(env["clerk"], _body(case))
    assert (status, problem["code"]) == (409, "REFERENCE_HELD")
    assert problem["order_no"] == order["order_no"]
    qr = await svc.open_qr(env["clerk"], order["order_no"])
    await svc.sim.pay(qr["out_trade_no"])
    now = await confirmed_order(env, order["order_no"], every_s=0.2)
    tasks = await svc.app[POOL].fetch(
        "SELECT kind, state, attempts, last_error FROM tasks WHERE kind = 'leg.confirm'"
        " ORDER BY id DESC LIMIT 8"
    )
    assert all_confirmed(now), [dict(t) for t in tasks]
    # every authority has its proof; SETTLED waits for the payout to the beneficiaries
    assert now["state"] == "CLEARED"
    proofs = {ln["item_code"]: ln["proof_no"] for ln in now["lines"] if ln["reference"]}
    assert all(proofs.values()) and {"DEED_TAX", "LAND_TRANSFER", "MAINT_FUND"} <= set(proofs)


async def test_an_authority_down_makes_no_order_and_names_itself(env: dict[str, Any]) -> None:
    svc: Service = env["svc"]
    case = await _case(env)
    await env["fiscal"].set_faults(down=True)
    try:
        before = await svc.app[POOL].fetchval("SELECT count(*) FROM orders")
        status, problem = await svc.create_order(env["clerk"], _body(case), secrets.token_hex(8))
        assert (status, problem["code"]) == (502, "AUTHORITY_LOOKUP_FAILED")
        assert [f["authority"] for f in problem["failures"]] == ["fiscal"]
        assert "财政非税系统" in problem["detail_zh"]
        async with svc.app[POOL].acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM orders") == before
    finally:
        await env["fiscal"].reset_faults()
    # asked again when it is back, the same case makes its order
    await case_order(env, _body(case))


async def test_an_amount_changed_at_the_authority_is_caught_before_the_qr(
    env: dict[str, Any],
) -> None:
    svc: Service = env["svc"]
    case = await _case(env)
    order = await case_order(env, _body(case))
    await env["fund"].set_faults(amount_changed=case["fund_notice"])  # the house is re-measured
    try:
        status, problem = await svc.request(
            "POST",
            f"/api/v1/orders/{order['order_no']}/payments",
            env["clerk"],
            json={"method": "qr", "channel": "wechatpay"},
        )
    finally:
        await env["fund"].reset_faults()
    assert (status, problem["code"]) == (409, "AMOUNT_CHANGED_AT_AUTHORITY")
    assert [c["reference"] for c in problem["changed"]] == [case["fund_notice"]]
    _, now = await svc.request("GET", f"/api/v1/orders/{order['order_no']}", env["clerk"])
    assert now["attempts"] == []  # no QR was shown


async def test_the_self_service_kiosk_rechecks_the_amounts_too(env: dict[str, Any]) -> None:
    svc: Service = env["svc"]
    case = await _case(env)
    order = await case_order(env, _body(case))
    async with svc.app[POOL].acquire() as conn:
        token = await enrolled_kiosk(conn, "case-admin", "核对自助机")
    cookie = {"Cookie": f"{routes_kiosk.COOKIE}={token}"}
    status, view = await svc.request(
        "POST",
        "/api/v1/kiosk/lookup",
        json={"case_no": "2026-BDC-CASE01", "id_tail": PAYER_ID[-6:]},
        headers=cookie,
    )
    assert status == 200 and view["order"]["order_no"] == order["order_no"], view
    await env["fund"].set_faults(amount_changed=case["fund_notice"])
    try:
        status, problem = await svc.request(
            "POST", "/api/v1/kiosk/current/payments", json={"method": "qr"}, headers=cookie
        )
    finally:
        await env["fund"].reset_faults()
    assert (status, problem["code"]) == (409, "AMOUNT_CHANGED_AT_AUTHORITY")
    assert "请到窗口办理" in problem["detail_zh"]
    _, now = await svc.request("GET", f"/api/v1/orders/{order['order_no']}", env["clerk"])
    assert now["attempts"] == []  # no QR was shown


async def _settled(env: dict[str, Any]) -> dict[str, Any]:
    """A paid order whose every leg the authorities confirmed."""
    svc: Service = env["svc"]
    order = await case_order(env, _body(await _case(env)))
    qr = await svc.open_qr(env["clerk"], order["order_no"])
    await svc.sim.pay(qr["out_trade_no"])
    now = await confirmed_order(env, order["order_no"])
    assert all_confirmed(now), now
    return now


def _retoken(token: str, change: Any) -> str:
    """The token with its signed claims edited, and the old signature kept: an altered receipt."""
    import base64
    import json

    head, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    change(claims)
    raw = json.dumps(claims, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode() + "." + sig


async def test_the_receipt_carries_every_proof_and_verifies(env: dict[str, Any]) -> None:
    import re
    from urllib.parse import unquote

    svc: Service = env["svc"]
    order = await _settled(env)
    auth = {"Authorization": f"Bearer {env['clerk']}"}
    async with svc.session.get(
        f"{svc.base_url}/orders/{order['order_no']}/receipt", headers=auth
    ) as r:
        assert r.status == 200
        html = await r.text()
    for line in order["lines"]:
        if line["reference"]:
            assert line["proof_no"] and line["proof_no"] in html, line
    assert order["total_capital"] in html
    urls = re.findall(r'href="([^"]*/v/([^"]+))"', html)
    assert urls, "the receipt shows no verification link"
    token = unquote(urls[0][1])
    # a real receipt verifies, by its API and by the page a phone opens from the QR code
    status, verdict = await svc.request("GET", f"/api/v1/receipts/verify?token={token}")
    assert (status, verdict["valid"], verdict["code"]) == (200, True, "RECEIPT_VALID")
    assert (verdict["order_no"], verdict["total_fen"]) == (order["order_no"], order["total_fen"])
    assert len(urls[0][0]) <= 80, urls[0][0]
    async with svc.session.get(urls[0][0]) as r:
        assert r.status == 200
        assert "凭证真实有效" in await r.text()
    # a long token (as receipts printed before short codes carry) with one amount raised by a
    # yuan does not
    from clearing.api.keys import RECEIPTS
    from clearing.service import orders, receipts

    async with svc.app[POOL].acquire() as conn:
        view = await orders.unscoped_view(conn, order["order_no"])
    assert view is not None
    long_token = receipts.issue(view, svc.app[RECEIPTS])
    altered = _retoken(long_token, lambda c: c["l"][0].__setitem__(0, c["l"][0][0] + 100))
    status, verdict = await svc.request("GET", f"/api/v1/receipts/verify?token={altered}")
    assert (status, verdict["valid"], verdict["code"]) == (200, False, "RECEIPT_SIGNATURE_INVALID")
    async with svc.session.get(f"{svc.base_url}/verify/{altered}") as r:
        assert "凭证核验未通过" in await r.text()
    # and something that is not a verification code at all is a clear 400
    status, problem = await svc.request("GET", "/api/v1/receipts/verify?token=hello")
    assert (status, problem["code"]) == (400, "RECEIPT_TOKEN_MALFORMED")
    # the PDF is the same receipt, with its own copy of the verification code
    async with svc.session.get(
        f"{svc.base_url}/orders/{order['order_no']}/receipt.pdf", headers=auth
    ) as r:
        assert r.status == 200
        assert r.content_type == "application/pdf"
        pdf = await r.read()
    assert pdf.startswith(b"%PDF-") and b"%%EOF" in pdf[-32:]
    import io

    import pypdf

    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    for line in order["lines"]:
        assert line["proof_no"] is None or line["proof_no"] in text, line
    assert order["order_no"] in text and order["total_capital"] in text
    signed = "".join(text.split())
    printed = re.search(r"/v/([\w.-]+)", signed)
    assert printed, "the PDF shows no verification code"
    status, verdict = await svc.request("GET", f"/api/v1/receipts/verify?token={printed[1]}")
    assert verdict["valid"] is True


async def test_a_refunded_order_s_receipt_no_longer_verifies(env: dict[str, Any]) -> None:
    from clearing.api.keys import RECEIPTS
    from clearing.service import orders, receipts

    svc: Service = env["svc"]
    order = await _settled(env)
    async with svc.app[POOL].acquire() as conn:
        view = await orders.unscoped_view(conn, order["order_no"])
    assert view is not None
    token = receipts.issue(view, svc.app[RECEIPTS])
    status, verdict = await svc.request("GET", f"/api/v1/receipts/verify?token={token}")
    assert verdict["valid"] is True
    # the money goes back (four eyes: a supervisor asks, finance approves)
    supervisor = await svc.supervisor()
    finance = await svc.add_user("finance", None)
    req = await svc.answered(
        "POST",
        f"/api/v1/orders/{order['order_no']}/refunds",
        supervisor,
        json={"reason": "撤件退费"},
        expect=201,
    )
    status, _ = await svc.request(
        "POST", f"/api/v1/refunds/{req['id']}/approve", finance, json={"note": "同意"}
    )
    assert status == 200
    await svc.wait_state(env["clerk"], order["order_no"], "REFUNDED", within_s=10)
    # the paper still carries a genuine signature, but the service no longer vouches for it
    status, verdict = await svc.request("GET", f"/api/v1/receipts/verify?token={token}")
    assert (verdict["valid"], verdict["code"], verdict["state"]) == (
        False,
        "RECEIPT_NO_LONGER_VALID",
        "REFUNDED",
    )


async def test_a_mistyped_reference_is_named_in_chinese(env: dict[str, Any]) -> None:
    svc: Service = env["svc"]
    found = await svc.answered(
        "POST",
        "/api/v1/cases/lookup",
        env["clerk"],
        json={"payer_name": "张三", "payer_id": PAYER_ID, "case": {"declaration_no": "12345"}},
    )
    (failure,) = found["failures"]
    assert (failure["authority"], failure["code"]) == ("tax", "BAD_REFERENCE")
    assert failure["message_zh"] == "税务部门：号码格式不正确，请核对后重新输入"
