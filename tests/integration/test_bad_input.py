"""Input the database cannot store, or that breaks the arithmetic behind a route, is refused with
a 4xx problem and a stable code, before anything happens: a NUL byte or another control
character, a string that is not UTF-8, an id past 64 bits, a date outside the calendar the
service works in, a number of thousands of digits. Each case here was once a 500.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from adapters.bank import pki
from adapters.bank.simulator import bank_cn, prepare_tls
from adapters.wechatpay import crypto
from clearing.api.keys import POOL
from tests.integration.service_harness import Service, order_body, running_wechat_service
from tests.procs import free_port


@pytest.fixture(scope="module")
async def env(
    db_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Service, str, Path]]:
    tmp = tmp_path_factory.mktemp("badinput")
    tls = prepare_tls(tmp / "tls")
    port = free_port()
    async with running_wechat_service(
        db_dsn, tmp, workers=0, bank_tls_dir=tls.directory, bankfiles_port=port
    ) as s:
        yield s, f"https://127.0.0.1:{port}", tls.directory


@pytest.fixture(scope="module")
def svc(env: tuple[Service, str, Path]) -> Service:
    return env[0]


@pytest.fixture(scope="module")
async def tokens(svc: Service) -> dict[str, str]:
    return {
        "supervisor": await svc.add_user("supervisor", "HALL1"),
        "finance": await svc.add_user("finance"),
        "admin": await svc.add_user("admin"),
    }


def _refused(status: int, body: Any, code: str, statuses: tuple[int, ...] = (400,)) -> None:
    assert status in statuses, (status, body)
    assert isinstance(body, dict) and body["code"] == code, body
    assert body["detail"] and body["detail_zh"], body


async def _audit_count(svc: Service) -> int:
    async with svc.app[POOL].acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM audit_log"))


NUL_IN_PATH = [
    ("GET", "/api/v1/orders/TJ%00X", "supervisor"),
    ("GET", "/api/v1/orders/TJ%00X/refunds", "supervisor"),
    ("GET", "/api/v1/orders/TJ%00X/qr.svg", "supervisor"),
    ("POST", "/api/v1/orders/TJ%00X/refunds", "supervisor"),
    ("GET", "/api/v1/settlement/batches/M%00", "finance"),
    ("POST", "/api/v1/beneficiaries/TREASURY%00/account-changes", "finance"),
]
NUL_IN_QUERY = [
    ("GET", "/api/v1/orders?office=HALL1%00", "supervisor"),
    ("GET", "/api/v1/orders?office=HALL1&window=W%0001", "supervisor"),
    ("GET", "/api/v1/account-changes?state=REQ%00", "finance"),
    ("GET", "/api/v1/discrepancies?source=wechat%00pay", "finance"),
    ("GET", "/api/v1/discrepancies.csv?type=LONG%00", "finance"),
    ("GET", "/api/v1/receipts/verify?token=abc%00def", None),
    ("GET", "/api/v1/orders/TJ1/qr.svg?provider=we%00chat", "supervisor"),
    ("GET", "/api/v1/events?office=HALL1%00", "finance"),
    ("GET", "/api/v1/me?%00=1", "finance"),  # a name is checked like a value
]


@pytest.mark.parametrize(("method", "path", "role"), NUL_IN_PATH + NUL_IN_QUERY)
async def test_a_nul_byte_in_the_path_or_query_is_refused(
    svc: Service, tokens: dict[str, str], method: str, path: str, role: str | None
) -> None:
    before = await _audit_count(svc)
    status, body = await svc.request(
        method, path, tokens[role] if role else None, json={} if method == "POST" else None
    )
    _refused(status, body, "UNSUPPORTED_CHARACTER")
    assert "U+0000" in body["detail"]
    assert await _audit_count(svc) == before


BAD_TEXT = ["a\x00b", "\ud800", "x\x1by", "\x7f"]


@pytest.mark.parametrize("text", BAD_TEXT, ids=["nul", "lone-surrogate", "escape", "delete"])
async def test_signing_in_with_unstorable_text_is_refused(svc: Service, text: str) -> None:
    # unauthenticated: the first thing anybody can reach
    for body in ({"username": text, "password": "pass-word-123"},
                 {"username": "someone", "password": text}):  # fmt: skip
        status, problem = await svc.request("POST", "/api/v1/sessions", json=body)
        _refused(status, problem, "UNSUPPORTED_CHARACTER")


BODIES = [
    ("POST", "/api/v1/orders", "supervisor", order_body(payer_name="张\x00三")),
    ("POST", "/api/v1/orders", "supervisor", order_body(case_no="2026\ud800")),
    ("POST", "/api/v1/cases/lookup", "supervisor",
     {"payer_name": "张三", "payer_id": "11010519491231002X", "case": {"fund_notice": "\x00"}}),
    ("POST", "/api/v1/fee-schedules", "admin",
     {"effective_from": "2030-01-01", "residential_fen": 8000, "non_residential_fen": 55000,
      "extra_certificate_fen": 1000, "basis": "文件\x00号"}),
    ("POST", "/api/v1/beneficiaries/TREASURY/account-changes", "finance",
     {"account_no": "6222\x0012", "account_name": "国库", "bank_name": "银行",
      "bank_code": "102100099996", "reason": "更正"}),
    ("POST", "/api/v1/discrepancies/1/comments", "finance", {"body": "看\x00看"}),
    ("POST", "/api/v1/refunds/1/approve", "finance", {"note": "\x00"}),
    ("POST", "/api/v1/orders", "supervisor", {**order_body(), "\x00": 1}),  # a key, too
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "role", "body"), BODIES)
async def test_unstorable_text_in_a_body_is_refused_before_anything_happens(
    svc: Service, tokens: dict[str, str], method: str, path: str, role: str, body: Any
) -> None:
    before = await _audit_count(svc)
    status, problem = await svc.request(
        method,
        path,
        tokens[role],
        data=json.dumps(body),  # json.dumps escapes a lone surrogate as \ud800, as a client would
        headers={"Content-Type": "application/json", "Idempotency-Key": secrets.token_hex(8)},
    )
    _refused(status, problem, "UNSUPPORTED_CHARACTER")
    assert await _audit_count(svc) == before


async def test_cancelling_with_a_nul_in_the_reason_leaves_the_qr_open(
    svc: Service, tokens: dict[str, str]
) -> None:
    staff = tokens["supervisor"]
    _, order = await svc.create_order(staff)
    qr = await svc.open_qr(staff, order["order_no"])
    at_channel = (await svc.sim.order(qr["out_trade_no"]))["state"]
    status, problem = await svc.request(
        "POST", f"/api/v1/orders/{order['order_no']}/cancel", staff, json={"reason": "放弃\x00"}
    )
    _refused(status, problem, "UNSUPPORTED_CHARACTER")
    # nothing happened: the citizen can still pay the QR on their screen, and it is recorded
    assert (await svc.sim.order(qr["out_trade_no"]))["state"] == at_channel != "CLOSED"
    after = await svc.wait_state(staff, order["order_no"], "PAYING")
    assert after["attempts"][-1]["state"] == "OPEN"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/account-changes/99999999999999999999999/approve",
        "/api/v1/account-changes/99999999999999999999999/reject",
        "/api/v1/refunds/99999999999999999999999/approve",
        "/api/v1/refunds/99999999999999999999999/reject",
        "/api/v1/refunds/9223372036854775808/approve",  # one past the largest bigint
        "/api/v1/refunds/-1/approve",
        "/api/v1/refunds/١٢/approve",  # Arabic-Indic digits: int() reads them, SQL would not
    ],
)
async def test_an_id_beyond_64_bits_is_not_found(
    svc: Service, tokens: dict[str, str], path: str
) -> None:
    role = "finance"
    status, problem = await svc.request("POST", path, tokens[role], json={"note": "ok"})
    _refused(status, problem, "NOT_FOUND", (404,))


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1899-12-31", "2100-01-01"])
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/reports/daily?date={}",
        "/api/v1/reports/trend?date={}",
        "/api/v1/reports/trend?days=366&date={}",
        "/api/v1/settlement/batches?date={}",
        "/api/v1/discrepancies?date_from={}",
        "/api/v1/discrepancies.csv?date_to={}",
        "/api/v1/orders?office=HALL1&date={}",
    ],
)
async def test_a_date_outside_the_working_calendar_is_refused(
    svc: Service, tokens: dict[str, str], path: str, day: str
) -> None:
    status, problem = await svc.request("GET", path.format(day), tokens["admin"])
    _refused(status, problem, "INVALID_DATE", (422,))
    assert "2000-01-01" in problem["detail"]


async def test_the_edges_of_the_working_calendar_are_accepted(
    svc: Service, tokens: dict[str, str]
) -> None:
    for day in ("2000-01-01", "2099-12-31"):
        for path in ("/api/v1/reports/daily?date={}", "/api/v1/reports/trend?days=366&date={}"):
            await svc.answered("GET", path.format(day), tokens["admin"])


async def test_a_page_number_of_thousands_of_digits_is_refused(
    svc: Service, tokens: dict[str, str]
) -> None:
    for name in ("page", "page_size"):
        status, problem = await svc.request(
            "GET", f"/api/v1/discrepancies?{name}={'9' * 5000}", tokens["finance"]
        )
        _refused(status, problem, "INVALID_PAGE", (422,))


async def test_a_fee_schedule_far_in_the_future_is_refused(
    svc: Service, tokens: dict[str, str]
) -> None:
    body = {
        "effective_from": "9999-12-31",
        "residential_fen": 8000,
        "non_residential_fen": 55000,
        "extra_certificate_fen": 1000,
        "basis": "某某文件第1号",
    }
    status, problem = await svc.request("POST", "/api/v1/fee-schedules", tokens["admin"], json=body)
    _refused(status, problem, "VALIDATION_FAILED", (422,))


async def test_refund_line_numbers_past_64_bits_are_refused(
    svc: Service, tokens: dict[str, str]
) -> None:
    body = {"lines": [2**70], "reason": "多缴"}
    status, problem = await svc.request(
        "POST", "/api/v1/orders/TJ2026010100000000/refunds", tokens["supervisor"], json=body
    )
    _refused(status, problem, "VALIDATION_FAILED", (422,))


async def _raw(base_url: str, head: bytes) -> tuple[int, dict[str, Any]]:
    """Send a request exactly as given (clients refuse to send bytes that are not UTF-8)."""
    url = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(head)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head_part, _, body = raw.partition(b"\r\n\r\n")
    status = int(head_part.split(b" ", 2)[1])
    return status, json.loads(body) if body.strip() else {}


async def test_header_bytes_that_are_not_utf8_are_refused(
    svc: Service, tokens: dict[str, str]
) -> None:
    body = json.dumps(order_body()).encode()
    cases = {
        "token": b"Authorization: Bearer tj_\xff\xfe\r\n",
        "idempotency key": b"Authorization: Bearer "
        + tokens["supervisor"].encode()
        + b"\r\nIdempotency-Key: key-\xed\xa0\x80-0001\r\n",
    }
    for name, header in cases.items():
        head = (
            b"POST /api/v1/orders HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            + header
            + b"Content-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )
        status, problem = await _raw(svc.base_url, head)
        _refused(status, problem, "UNSUPPORTED_CHARACTER"), name


async def test_a_timestamp_of_thousands_of_digits_in_a_notification_is_refused(
    svc: Service,
) -> None:
    body = b'{"id": "EV-1", "resource": {}}'
    for ts in ("1" * 5000, "²", "١٧٠٠٠٠٠٠٠٠"):
        headers = {
            "Wechatpay-Timestamp": ts,
            "Wechatpay-Nonce": crypto.new_nonce(),
            "Wechatpay-Signature": "c2lnbmF0dXJl",
            "Wechatpay-Serial": svc.sim.platform.public_key_id,
            "Content-Type": "application/json",
        }
        async with svc.session.post(
            svc.base_url + "/notify/wechatpay", data=body, headers=headers
        ) as r:
            assert r.status == 401, (ts[:10], r.status, await r.text())


async def test_the_banks_file_route_refuses_a_nul_in_the_name(
    env: tuple[Service, str, Path], tmp_path: Path
) -> None:
    _, ours, tls_dir = env
    bank = pki.client_files(tls_dir, bank_cn())
    context = pki.client_ssl_context(bank.cert, bank.key, pki.ca_files(tls_dir).cert)
    started = time.monotonic()
    async with aiohttp.ClientSession() as s:
        # the listener starts with the service; it answers once the TLS site is up
        while True:
            try:
                async with s.get(f"{ours}/bankfiles/", ssl=context) as r:
                    assert r.status == 200
                    break
            except aiohttp.ClientConnectorError:
                assert time.monotonic() - started < 10
                await asyncio.sleep(0.05)
        for path in ("/bankfiles/TJ%00.xml", "/bankfiles/TJ.xml?x=%00"):
            async with s.get(f"{ours}{path}", ssl=context) as r:
                assert r.status == 400, await r.text()
                assert (await r.json())["code"] == "UNSUPPORTED_CHARACTER"
