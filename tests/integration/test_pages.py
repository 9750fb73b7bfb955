"""The window screen's pages and the receipt, against the real service, PostgreSQL and simulator.

The service runs on a real socket because the simulator calls its notify URL back over HTTP;
"the window sees 已缴费 within a second" is measured on the very stream the screen listens to.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from clearing.api.app import create_app
from clearing.config import Settings
from clearing.db.pool import init_connection
from clearing.domain.money import capital_amount
from clearing.domain.times import BEIJING, beijing_time
from clearing.service import principals
from tests.integration.factories import place
from tests.integration.serving import serving
from tests.integration.wechat_harness import WeChatSim, running_wechat_sim
from tests.staff_text import leaks, visible_text

PAYER_ID = "11010519491231002X"
PASSWORD = "Correct horse battery 9"
NAMES = {"clerk1": "窗口一 张敏", "clerk9": "九号厅 钱亮", "super1": "值班主任 王芳"}
USERS = (
    ("clerk1", "HALL1", "clerk"),
    ("clerk9", "HALL9", "clerk"),
    ("super1", "HALL1", "supervisor"),
)


@dataclass
class Service:
    base: str
    sim: WeChatSim
    http: aiohttp.ClientSession
    tokens: dict[str, str]  # username → session token
    dsn: str

    def auth(self, user: str, *, cookie: bool = False) -> dict[str, str]:
        # the browser sends the HttpOnly cookie on GET; scripts send the bearer token
        if cookie:
            return {"Cookie": f"tj_session={self.tokens[user]}"}
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    async def get(self, path: str, user: str | None = None) -> tuple[aiohttp.ClientResponse, str]:
        headers = self.auth(user, cookie=True) if user else {}
        async with self.http.get(self.base + path, headers=headers, allow_redirects=False) as r:
            return r, await r.text()

    async def create_order(
        self, user: str, lines: list[dict[str, Any]], case_no: str = "2026-BDC-000777"
    ) -> dict[str, Any]:
        body = {
            "case_no": case_no,
            "office": "HALL1",
            "window": "W01",
            "payer_name": "张三",
            "payer_id": PAYER_ID,
            "lines": lines,
            "manual_reason": "测试：主管手工录入",
        }
        headers = {**self.auth(user), "Idempotency-Key": secrets.token_hex(12)}
        async with self.http.post(f"{self.base}/api/v1/orders", json=body, headers=headers) as r:
            assert r.status == 201, await r.text()
            return dict(await r.json())

    async def start_payment(self, user: str, order_no: str) -> str:
        async with self.http.post(
            f"{self.base}/api/v1/orders/{order_no}/payments",
            json={"channel": "wechatpay"},
            headers=self.auth(user),
        ) as r:
            assert r.status == 201, await r.text()
            return str((await r.json())["out_trade_no"])

    async def order(self, user: str, order_no: str) -> dict[str, Any]:
        async with self.http.get(
            f"{self.base}/api/v1/orders/{order_no}", headers=self.auth(user)
        ) as r:
            assert r.status == 200, await r.text()
            return dict(await r.json())

    async def paid_order(self, lines: list[dict[str, Any]], case_no: str) -> dict[str, Any]:
        o = await self.create_order("super1", lines, case_no)
        out_trade_no = await self.start_payment("clerk1", o["order_no"])
        status, _ = await self.sim.pay(out_trade_no)
        assert status == 200
        deadline = time.monotonic() + 20
        while (o := await self.order("clerk1", o["order_no"]))["state"] != "CLEARED":
            assert time.monotonic() < deadline, o["state"]
            await asyncio.sleep(0.02)
        return o


@pytest.fixture(scope="module")
async def service(db_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
    tmp: Path = tmp_path_factory.mktemp("pages")
    conn = await asyncpg.connect(db_dsn)
    await init_connection(conn)
    try:
        # typed-line orders are a supervisor's exception: super1 creates them, clerk1 takes payment
        for username, office, role in USERS:
            await place(conn, office)
            await principals.add(
                conn,
                kind="staff",
                username=username,
                display_name=NAMES[username],
                role=role,
                office=office,
                window="W01" if role == "clerk" else None,
                password=PASSWORD,
            )
    finally:
        await conn.close()
    async with running_wechat_sim(tmp / "wechatpay", retry_scale=0.01) as sim:

        def make_app(base: str) -> Any:
            settings = Settings(
                var_dir=tmp,
                wechatpay_keys=tmp / "wechatpay" / "merchant",
                wechatpay_base_url=sim.base_url,
                wechatpay_sim_url=sim.base_url,
                public_base_url=base,
                workers=1,
                log_json=False,
                office_names={"HALL1": "第一办事大厅"},
            )
            return create_app(settings, db_dsn)

        async with serving(make_app) as (base, _app), aiohttp.ClientSession() as http:
            tokens = {}
            for user, _, _ in USERS:
                async with http.post(
                    f"{base}/api/v1/sessions", json={"username": user, "password": PASSWORD}
                ) as r:
                    assert r.status == 201, await r.text()
                    tokens[user] = (await r.json())["token"]
            yield Service(base, sim, http, tokens, db_dsn)


async def test_login_and_window_are_pages(service: Service) -> None:
    r, html = await service.get("/login")
    assert r.status == 200 and r.content_type == "text/html"
    assert "用户名" in html and "密码" in html
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]

    r, _ = await service.get("/window")
    assert r.status == 302 and r.headers["Location"] == "/login"

    r, html = await service.get("/window", "clerk1")
    assert r.status == 200 and r.content_type == "text/html"
    assert "开具缴费单" in html and "今日缴费单" in html

    r, _ = await service.get("/")
    assert r.status == 302 and r.headers["Location"] == "/login"
    r, _ = await service.get("/", "clerk1")
    assert r.status == 302 and r.headers["Location"] == "/window"


async def test_static_assets_of_both_pages_load(service: Service) -> None:
    assets: set[str] = set()
    for page in ("/login", "/window"):
        _, html = await service.get(page, "clerk1")
        assets |= set(re.findall(r'(?:src|href)="(/window/static/[^"]+)"', html))
    # the pages' modules import their siblings
    _, script = await service.get("/window/static/window.js")
    assets |= {f"/window/static/{m}" for m in re.findall(r'from "\./([\w-]+\.js)"', script)}
    assert {"/window/static/window.js", "/window/static/common.css"} <= assets
    for path in sorted(assets):
        r, body = await service.get(path)
        assert r.status == 200, path
        assert body.strip(), path
        assert r.headers["Cache-Control"] == "no-cache"
        kind = "text/css" if path.endswith(".css") else "text/javascript"
        assert r.content_type == kind, (path, r.content_type)
    # revalidation is cheap: an unchanged asset answers 304 to its ETag
    async with service.http.get(f"{service.base}/window/static/window.js") as r:
        etag = r.headers["ETag"]
    async with service.http.get(
        f"{service.base}/window/static/window.js", headers={"If-None-Match": etag}
    ) as r:
        assert r.status == 304
    for bad in ("/window/static/nope.js", "/window/static/..%2Froutes_pages.py"):
        r, _ = await service.get(bad)
        assert r.status == 404, bad


async def test_window_config_names_the_simulator(service: Service) -> None:
    async with service.http.get(f"{service.base}/window/config.json") as r:
        config = await r.json()
    assert config["wechatpay_sim_url"] == service.sim.base_url
    assert config["max_lines"] == 20
    assert [c["provider"] for c in config["channels"]] == ["wechatpay"]
    assert config["channels"][0]["sim_url"] == service.sim.base_url


async def test_qr_code_is_a_standalone_image_for_the_cookie(service: Service) -> None:
    o = await service.create_order("super1", [{"item_code": "REG_FEE", "amount": "80"}])
    await service.start_payment("clerk1", o["order_no"])
    # as <img src>: the cookie only, and a document that renders on its own (with its namespace)
    r, svg = await service.get(f"/api/v1/orders/{o['order_no']}/qr.svg", "clerk1")
    assert r.status == 200 and r.content_type == "image/svg+xml"
    assert svg.startswith("<svg") and 'xmlns="http://www.w3.org/2000/svg"' in svg


async def _next_event(stream: aiohttp.StreamReader) -> dict[str, Any]:
    while True:
        line = (await stream.readline()).decode()
        if line.startswith("data: "):
            return dict(json.loads(line[6:]))


async def test_window_stream_sees_cleared_within_a_second_of_payment(service: Service) -> None:
    o = await service.create_order("super1", [{"item_code": "REG_FEE", "amount": "80"}])
    out_trade_no = await service.start_payment("clerk1", o["order_no"])
    async with service.http.get(
        f"{service.base}/api/v1/events?office=HALL1&window=W01",
        headers=service.auth("clerk1", cookie=True),  # as EventSource: the cookie only
    ) as stream:
        assert stream.status == 200
        assert stream.content_type == "text/event-stream"
        assert await stream.content.readline() == b": connected\n"
        started = time.monotonic()
        status, _ = await service.sim.pay(out_trade_no)
        assert status == 200
        async with asyncio.timeout(5):
            event = await _next_event(stream.content)
            while (event.get("order_no"), event.get("state")) != (o["order_no"], "CLEARED"):
                event = await _next_event(stream.content)
        elapsed = time.monotonic() - started
    assert (event["office"], event["window"]) == ("HALL1", "W01")
    assert elapsed < 1.0, f"CLEARED reached the window after {elapsed:.3f}s"


async def test_receipt_shows_what_was_paid_and_to_whom(service: Service) -> None:
    lines = [
        {"item_code": "DEED_TAX", "amount": "35000.00", "reference": "ET2026&001"},
        {"item_code": "REG_FEE", "amount": "80"},
        {"item_code": "MAINT_FUND", "amount": "12345.67", "reference": "WX-9"},
    ]
    o = await service.paid_order(lines, case_no="2026-BDC-<b>123</b>")
    r, html = await service.get(f"/orders/{o['order_no']}/receipt", "clerk1")
    assert r.status == 200 and r.content_type == "text/html"
    assert r.headers["Cache-Control"] == "no-store"
    assert "缴费凭证" in html
    assert capital_amount(35000_00 + 80_00 + 12345_67) in html
    assert o["total_display"] == "¥47,425.67" and "¥47,425.67" in html
    for line in o["lines"]:
        assert line["beneficiary_name"] in html
        assert line["item_name"] in html
    txn = o["payments"][0]["provider_txn_id"]
    assert txn and txn in html
    assert o["payer_id_masked"] in html and PAYER_ID not in html
    # every value is escaped: a case number is data, never markup
    assert "2026-BDC-&lt;b&gt;123&lt;/b&gt;" in html and "<b>123</b>" not in html
    assert "ET2026&amp;001" in html
    assert "微信支付" in html and o["order_no"] in html


async def test_receipt_of_another_office_does_not_exist(service: Service) -> None:
    o = await service.create_order("super1", [{"item_code": "REG_FEE", "amount": "80"}])
    r, html = await service.get(f"/orders/{o['order_no']}/receipt", "clerk9")
    assert r.status == 404
    assert "缴费单不存在" in html and o["case_no"] not in html


async def test_receipt_of_an_unpaid_order_says_so(service: Service) -> None:
    o = await service.create_order("super1", [{"item_code": "REG_FEE", "amount": "80"}])
    r, html = await service.get(f"/orders/{o['order_no']}/receipt", "clerk1")
    assert r.status == 409
    assert "尚未缴费" in html and "待缴费" in html
    assert "不动产登记税费缴费凭证" not in html


async def test_receipt_needs_a_signed_in_clerk(service: Service) -> None:
    path = "/orders/TJ20260101ABCDEF123456/receipt"
    r, _ = await service.get(path)
    assert r.status == 302
    assert r.headers["Location"] == f"/login?next={path}"
    async with service.http.get(
        service.base + path, headers={"Cookie": "tj_session=forged"}, allow_redirects=False
    ) as r:
        assert r.status == 302


async def test_receipt_names_people_and_places_in_beijing_time(service: Service) -> None:
    """经办人 was the clerk's login (super1) and the hall its code (HALL1): a receipt names the
    person, the hall and the window, and its times are Beijing time."""
    o = await service.paid_order([{"item_code": "REG_FEE", "amount": "80"}], "2026-BDC-000780")
    _, html = await service.get(f"/orders/{o['order_no']}/receipt", "clerk1")
    text = visible_text(html)
    assert "经办人：值班主任 王芳" in text and "super1" not in text
    assert "第一办事大厅／窗口一" in text and "HALL1" not in text and "W01" not in text
    assert beijing_time(o["payments"][0]["paid_at"]) in text
    assert leaks(text, {"HALL1", "W01", "super1", "clerk1"}) == []
    async with service.http.get(
        f"{service.base}/orders/{o['order_no']}/receipt.pdf",
        headers=service.auth("clerk1", cookie=True),
    ) as r:
        assert r.status == 200 and (await r.read()).startswith(b"%PDF")


async def test_the_window_list_is_of_the_beijing_day(service: Service) -> None:
    """An order made at 00:30 Beijing time belongs to that Beijing day, not to the UTC day
    before (the list used the database session's zone)."""
    o = await service.create_order("super1", [{"item_code": "REG_FEE", "amount": "80"}])
    day = date(2026, 3, 2)
    conn = await asyncpg.connect(service.dsn)
    try:
        await conn.execute("SET TIME ZONE 'UTC'")
        await conn.execute(
            "UPDATE orders SET created_at = $2 WHERE order_no = $1",
            o["order_no"],
            datetime(2026, 3, 2, 0, 30, tzinfo=BEIJING),
        )
    finally:
        await conn.close()
    for listed_on, present in ((day, True), (day - timedelta(days=1), False)):
        async with service.http.get(
            f"{service.base}/api/v1/orders?office=HALL1&date={listed_on}",
            headers=service.auth("clerk1"),
        ) as r:
            assert r.status == 200, await r.text()
            nos = [x["order_no"] for x in (await r.json())["orders"]]
        assert (o["order_no"] in nos) is present, (listed_on, nos)
