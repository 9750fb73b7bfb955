"""Payment notices (缴费通知书) through the real service, PostgreSQL and the SMS simulator: who may
issue one, which orders get one, what the PDF holds (and never holds), and the SMS — sent once
per request whatever the retries, failures said in Chinese, the order never changed."""

from __future__ import annotations

import io
import re
import secrets
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pypdf
import pypdfium2
import pytest
import zxingcpp

from clearing.api.keys import POOL
from tests.integration.factories import PAYER_ID
from tests.integration.service_harness import Service, order_body, running_wechat_service
from tests.integration.sms_harness import SmsSim, running_sms_sim

PHONE = "13800138000"


@pytest.fixture(scope="module")
async def sms(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SmsSim]:
    async with running_sms_sim(tmp_path_factory.mktemp("sms") / "keys") as sim:
        yield sim


@pytest.fixture(scope="module")
async def svc(
    db_dsn: str, tmp_path_factory: pytest.TempPathFactory, sms: SmsSim
) -> AsyncIterator[Service]:
    tmp = tmp_path_factory.mktemp("notices")
    async with running_wechat_service(
        db_dsn,
        tmp,
        workers=0,
        sms_keys=sms.keys_root / "merchant",
        sms_base_url=sms.base_url,
        sms_timeout_s=1.0,
    ) as s:
        yield s


@pytest.fixture(scope="module")
async def staff(svc: Service) -> dict[str, str]:
    return await svc.every_role()


async def _notices_audited(svc: Service, order_no: str) -> int:
    """How many notices of the order the audit log records as issued."""
    async with svc.app[POOL].acquire() as conn:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM audit_log WHERE action = 'order.notice_issued'"
                " AND object_id = $1",
                order_no,
            )
        )


@pytest.fixture(autouse=True)
async def _clean_sim(sms: SmsSim) -> None:
    await sms.reset_faults()
    await sms.control("DELETE", "/sim/outbox")


async def _order(svc: Service, staff: dict[str, str]) -> dict[str, Any]:
    status, order = await svc.create_order(staff["supervisor"], order_body((1234_56, 80_00)))
    assert status == 201, order
    return dict(order)


async def _issue(
    svc: Service,
    token: str,
    order_no: str,
    body: dict[str, Any] | None = None,
    key: str | None = None,
) -> tuple[int, Any]:
    headers = {"Idempotency-Key": key} if key else {}
    return await svc.request(
        "POST", f"/api/v1/orders/{order_no}/notice", token, json=body or {}, headers=headers
    )


async def _pdf(svc: Service, path: str, token: str | None) -> tuple[int, bytes, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with svc.session.get(svc.base_url + path, headers=headers, allow_redirects=False) as r:
        return r.status, await r.read(), r.headers.get("Content-Type", "")


async def test_a_clerk_issues_a_notice_whose_pdf_says_what_is_owed_and_how_to_pay(
    svc: Service, staff: dict[str, str]
) -> None:
    order = await _order(svc, staff)
    status, notice = await _issue(svc, staff["clerk"], order["order_no"])
    assert status == 201, notice
    link = notice["link"]
    assert link.startswith(f"{svc.base_url}/m/{order['order_no']}.") and len(link) <= 80
    assert datetime.fromisoformat(notice["link_expires_at"]) == datetime.fromisoformat(
        order["expires_at"]
    )
    assert notice["sms"] is None and notice["replayed"] is False
    status, pdf_bytes, ctype = await _pdf(svc, notice["pdf_url"], staff["clerk"])
    assert status == 200 and ctype == "application/pdf"
    pdf = pypdf.PdfReader(io.BytesIO(pdf_bytes))
    assert len(pdf.pages) == 1
    box = pdf.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4
    text = "".join(p.extract_text() for p in pdf.pages)
    flat = "".join(text.split())
    for wanted in (
        "不动产登记税费缴费通知书",
        order["case_no"],
        order["total_capital"],
        "1,314.56",
        "张*",
        order["payer_id_masked"],
        "北京时间",
        "手机缴费办法",
    ):
        assert wanted.replace(" ", "") in flat, wanted
    for line in order["lines"]:
        assert line["beneficiary_name"] in flat
    assert PAYER_ID not in flat and "张三" not in flat  # never the full ID number or name
    assert link in flat  # the short link printed under the QR code
    # every font embedded as a subset
    for font in pdf.pages[0]["/Resources"]["/Font"].values():
        font = font.get_object()
        assert re.fullmatch(r"/[A-Z]{6}\+.+", str(font["/BaseFont"])), font
    paper = pypdfium2.PdfDocument(pdf_bytes)[0].render(scale=300 / 72).to_pil()
    assert [r.text for r in zxingcpp.read_barcodes(paper)] == [link]
    assert await _notices_audited(svc, order["order_no"]) == 1


async def test_only_window_staff_of_the_order_s_office_issue_or_open_notices(
    svc: Service, staff: dict[str, str]
) -> None:
    order = await _order(svc, staff)
    no = order["order_no"]
    for role in ("finance", "auditor"):
        status, body = await _issue(svc, staff[role], no)
        assert (status, body["code"]) == (403, "ROLE_FORBIDDEN"), body
        assert "窗口工作人员" in body["detail_zh"]
    status, body = await _issue(svc, staff["clerk9"], no)
    assert (status, body["code"]) == (404, "ORDER_NOT_FOUND")
    status, body = await _issue(svc, "", no)
    assert status == 401
    for role in ("supervisor", "admin", "clerk"):
        status, body = await _issue(svc, staff[role], no)
        assert status == 201, (role, body)
    status, _, _ = await _pdf(svc, f"/orders/{no}/notice.pdf", staff["finance"])
    assert status == 403
    status, page, _ = await _pdf(svc, f"/orders/{no}/notice.pdf", staff["clerk9"])
    assert status == 404 and "缴费单不存在" in page.decode()
    status, _, _ = await _pdf(svc, f"/orders/{no}/notice.pdf", None)
    assert status == 302  # to the sign-in page
    status, listed = await svc.request("GET", f"/api/v1/orders/{no}/notices", staff["clerk"])
    assert status == 200 and len(listed["notices"]) == 3
    # the order's history says so, by name
    status, timeline = await svc.request("GET", f"/api/v1/orders/{no}/timeline", staff["clerk"])
    assert status == 200 and str(timeline).count("开具缴费通知书") == 3, timeline
    assert "其他操作" not in str(timeline)
    assert await _notices_audited(svc, no) == 3


async def test_a_closed_order_gets_no_notice_and_its_old_notice_no_pdf(
    svc: Service, staff: dict[str, str]
) -> None:
    order = await _order(svc, staff)
    no = order["order_no"]
    status, page, _ = await _pdf(svc, f"/orders/{no}/notice.pdf", staff["clerk"])
    assert status == 409 and "尚未开具" in page.decode()
    status, _ = await _issue(svc, staff["clerk"], no)
    assert status == 201
    status, _ = await svc.request(
        "POST", f"/api/v1/orders/{no}/cancel", staff["clerk"], json={"reason": "缴款人放弃"}
    )
    assert status == 200
    status, body = await _issue(svc, staff["clerk"], no)
    assert (status, body["code"], body["state"]) == (409, "NOTICE_ORDER_NOT_OPEN", "CANCELLED")
    assert "已撤销" in body["detail_zh"] and "open orders only" in body["detail"]
    status, page, _ = await _pdf(svc, f"/orders/{no}/notice.pdf", staff["clerk"])
    assert status == 409 and "已失效" in page.decode()
    status, _ = await svc.request(
        "GET", "/api/v1/orders/TJ20990101NOSUCHORDER/notices", staff["clerk"]
    )
    assert status == 404


async def test_the_sms_goes_once_per_request_and_its_number_is_kept_encrypted(
    svc: Service, staff: dict[str, str], sms: SmsSim
) -> None:
    order = await _order(svc, staff)
    no = order["order_no"]
    key = secrets.token_hex(10)
    status, first = await _issue(svc, staff["clerk"], no, {"phone": "138 0013 8000"}, key)
    assert status == 201, first
    assert first["sms"]["state"] == "SENT" and first["sms"]["phone_masked"] == "138****8000"
    [msg] = await sms.outbox("+86" + PHONE)
    assert msg["serial_no"] == first["sms"]["serial_no"]
    assert msg["params"][0] == order["case_no"] and msg["params"][1] == "1314.56"
    assert first["link"].endswith("/m/" + msg["params"][3])  # the token, the link's own
    # the window retries (a lost answer): the same answer, nothing sent again
    status, again = await _issue(svc, staff["clerk"], no, {"phone": "138 0013 8000"}, key)
    assert status == 200 and again["replayed"] is True
    assert (again["notice_id"], again["sms"]["serial_no"]) == (
        first["notice_id"],
        first["sms"]["serial_no"],
    )
    assert len(await sms.outbox()) == 1
    status, other = await _issue(svc, staff["clerk"], no, {"phone": "13900139000"}, key)
    assert (status, other["code"]) == (409, "IDEMPOTENCY_KEY_REUSED")
    second = await _order(svc, staff)
    status, other = await _issue(
        svc, staff["clerk"], second["order_no"], {"phone": "138 0013 8000"}, key
    )
    assert (status, other["code"]) == (409, "IDEMPOTENCY_KEY_REUSED")  # not the first's notice
    status, listed = await svc.request("GET", f"/api/v1/orders/{no}/notices", staff["clerk"])
    assert [n["sms"]["state_zh"] for n in listed["notices"]] == ["已发送"]
    async with svc.app[POOL].acquire() as conn:
        row = await conn.fetchrow(
            "SELECT sms_phone_enc, sms_phone_masked FROM payment_notices WHERE id = $1",
            first["notice_id"],
        )
        assert row is not None and PHONE.encode() not in bytes(row["sms_phone_enc"])
        leaks = await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE detail::text LIKE '%' || $1 || '%'", PHONE
        )
    assert leaks == 0


async def test_bad_numbers_and_missing_keys_are_refused_before_anything_is_issued(
    svc: Service, staff: dict[str, str], sms: SmsSim
) -> None:
    order = await _order(svc, staff)
    no = order["order_no"]
    status, body = await _issue(svc, staff["clerk"], no, {"phone": "12345"}, secrets.token_hex(8))
    assert (status, body["code"]) == (422, "PHONE_INVALID") and "手机号码" in body["detail_zh"]
    status, body = await _issue(svc, staff["clerk"], no, {"phone": PHONE})
    assert (status, body["code"]) == (400, "IDEMPOTENCY_KEY_REQUIRED")
    status, listed = await svc.request("GET", f"/api/v1/orders/{no}/notices", staff["clerk"])
    assert listed["notices"] == [] and await sms.outbox() == []


@pytest.mark.parametrize(
    ("faults", "state", "words"),
    [
        ({"api_5xx": 1}, "UNKNOWN", "可能已发出"),
        ({"rate_limit": 1}, "FAILED", "频繁"),
        ({"bad_signature": True}, "FAILED", "签名"),
    ],
    ids=["provider-down", "rate-limited", "signature-refused"],
)
async def test_a_failed_send_is_said_in_chinese_and_leaves_the_order_as_it_was(
    svc: Service,
    staff: dict[str, str],
    sms: SmsSim,
    faults: dict[str, Any],
    state: str,
    words: str,
) -> None:
    order = await _order(svc, staff)
    no = order["order_no"]
    await sms.set_faults(**faults)
    key = secrets.token_hex(10)
    status, notice = await _issue(svc, staff["clerk"], no, {"phone": PHONE}, key)
    assert status == 201, notice
    assert notice["sms"]["state"] == state and words in notice["sms"]["message_zh"]
    assert await sms.outbox() == []
    status, after = await svc.request("GET", f"/api/v1/orders/{no}", staff["clerk"])
    assert (after["state"], after["expires_at"]) == ("OPEN", order["expires_at"])
    # the notice itself stands: the PDF can still be handed over
    status, _, _ = await _pdf(svc, notice["pdf_url"], staff["clerk"])
    assert status == 200
    # a retry of the same request does not try again; a new request (new key) does
    await sms.reset_faults()
    status, again = await _issue(svc, staff["clerk"], no, {"phone": PHONE}, key)
    assert status == 200 and again["sms"]["state"] == state
    assert await sms.outbox() == []
    status, fresh = await _issue(svc, staff["clerk"], no, {"phone": PHONE}, secrets.token_hex(10))
    assert status == 201 and fresh["sms"]["state"] == "SENT"
    assert len(await sms.outbox()) == 1
    # operators see failed sends by kind
    kind = {"UNKNOWN": "outcomeunknown", "FAILED": "refused"}[state]
    async with svc.session.get(svc.ops_url + "/metrics") as r:
        exposed = await r.text()
    wanted = f'tongjiao_adapter_errors_total{{adapter="sms",error="{kind}",operation="send"}} '
    assert any(line.startswith(wanted) for line in exposed.splitlines()), kind


async def test_a_send_cut_off_mid_way_reads_as_unknown_and_is_not_resent(
    svc: Service, staff: dict[str, str], sms: SmsSim
) -> None:
    order = await _order(svc, staff)
    no = order["order_no"]
    key = secrets.token_hex(10)
    status, first = await _issue(svc, staff["clerk"], no, {"phone": PHONE}, key)
    assert status == 201 and first["sms"]["state"] == "SENT"
    async with svc.app[POOL].acquire() as conn:
        # as if the service had stopped between recording the send and hearing the provider
        await conn.execute(
            "UPDATE payment_notices SET sms_state = 'SENDING', sms_serial_no = NULL,"
            " issued_at = issued_at - interval '10 minutes' WHERE id = $1",
            first["notice_id"],
        )
    status, again = await _issue(svc, staff["clerk"], no, {"phone": PHONE}, key)
    assert status == 200 and again["sms"]["state"] == "UNKNOWN"
    assert "结果未知" in again["sms"]["message_zh"]
    assert len(await sms.outbox()) == 1
