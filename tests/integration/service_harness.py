"""The real service, in-process on 127.0.0.1, wired to a real WeChat Pay simulator.

async with running_wechat_sim(tmp) as sim, running_service(dsn, tmp, sim) as svc:
    token = await svc.token_for(clerk)
    order = await svc.create_order(token, body)
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import aiohttp
import pytest
from aiohttp import web

from clearing.api.app import create_app
from clearing.channels import Channel
from clearing.config import Settings
from clearing.db import Conn
from clearing.domain.orders import attempt_no
from clearing.ports import PaymentAsk, PayPage
from clearing.service import principals
from tests.integration.factories import PAYER_ID, place
from tests.integration.serving import polled, serving
from tests.integration.wechat_harness import WeChatSim, running_wechat_sim


async def open_attempt_row(conn: Conn, order_no: str, provider: str) -> tuple[str, datetime]:
    """The order's first attempt at ``provider``, open, as the service records one before it asks
    the channel for anything: its out_trade_no and when it expires (the order's expiry)."""
    otn = attempt_no(order_no, 1)
    expires_at = await conn.fetchval(
        "INSERT INTO payment_attempts (order_id, provider, out_trade_no, state, expires_at)"
        " SELECT id, $3, $2, 'OPEN', expires_at FROM orders WHERE order_no = $1"
        " RETURNING expires_at",
        order_no,
        otn,
        provider,
    )
    return otn, expires_at


@dataclass
class Service:
    base_url: str
    app: web.Application
    session: aiohttp.ClientSession
    sim: WeChatSim
    _supervisor: str | None = field(default=None, repr=False)

    @property
    def ops_url(self) -> str:
        """The operators' listener (metrics, health)."""
        from clearing.api.keys import OPS_URL

        return self.app[OPS_URL]

    async def request(
        self, method: str, path: str, token: str | None = None, **kw: Any
    ) -> tuple[int, Any]:
        headers = dict(kw.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        async with self.session.request(method, self.base_url + path, headers=headers, **kw) as r:
            text = await r.text()
            try:
                return r.status, await r.json(content_type=None)
            except ValueError:
                return r.status, text

    async def answered(
        self, method: str, path: str, token: str | None = None, *, expect: int = 200, **kw: Any
    ) -> Any:
        """The answer to a request that must be answered with the status ``expect``."""
        status, body = await self.request(method, path, token, **kw)
        assert status == expect, body
        return body

    async def add_user(
        self, role: str = "clerk", office: str | None = "HALL1", *, client: bool = False
    ) -> str:
        """Create a user (or API client) and return a bearer token for it."""
        from clearing.api.keys import POOL

        name = f"t{secrets.token_hex(4)}"
        window_staff = role in ("clerk", "supervisor") and office is not None
        async with self.app[POOL].acquire() as conn:
            if window_staff:
                await place(conn, office or "HALL1")
            _, token = await principals.add(
                conn,
                kind="client" if client else "staff",
                username=name,
                display_name="测试",
                role=role,
                office=office if role in ("clerk", "supervisor") else None,
                # a clerk works at the window the server puts on their orders
                window="W01" if window_staff and role == "clerk" else None,
                password=None if client else "pass-word-123",
            )
        if token:
            return token
        body = await self.answered(
            "POST",
            "/api/v1/sessions",
            json={"username": name, "password": "pass-word-123"},
            expect=201,
        )
        return str(body["token"])

    async def supervisor(self) -> str:
        """A HALL1 supervisor's token, made once: typed-line orders are a supervisor's exception,
        so tests that need plain amounts have one create the order."""
        if self._supervisor is None:
            self._supervisor = await self.add_user("supervisor", "HALL1")
        return self._supervisor

    async def every_role(self) -> dict[str, str]:
        """A token for each role, by role name: HALL1's clerk and supervisor, finance, auditor,
        admin, and ``clerk9``, a clerk of another office (HALL9)."""
        return {
            "clerk": await self.add_user("clerk", "HALL1"),
            "supervisor": await self.supervisor(),
            "finance": await self.add_user("finance", None),
            "auditor": await self.add_user("auditor", None),
            "admin": await self.add_user("admin", None),
            "clerk9": await self.add_user("clerk", "HALL9"),
        }

    async def open_attempt(self, provider: str, fen: int) -> tuple[str, str, datetime]:
        """An order of ``fen`` made by the supervisor, and an open attempt of it at ``provider``
        as the service records one before it asks the channel for anything: the order number,
        the attempt's out_trade_no and when it expires."""
        from clearing.api.keys import POOL

        status, order = await self.create_order(await self.supervisor(), order_body((fen,)))
        assert status == 201, order
        async with self.app[POOL].acquire() as conn:
            otn, expires_at = await open_attempt_row(conn, order["order_no"], provider)
        return order["order_no"], otn, expires_at

    async def mobile_page(
        self, provider: str, otn: str, fen: int, expires_at: datetime, return_url: str
    ) -> PayPage:
        """The phone's payment page the ``provider`` channel opens for the attempt ``otn``."""
        from clearing.api.keys import ACQUIRERS

        channel: Channel = self.app[ACQUIRERS][provider]
        return await channel.open_mobile_page(
            PaymentAsk(
                out_trade_no=otn,
                description="不动产登记税费 2026-BDC-000777",
                total_fen=fen,
                expires_at=expires_at,
            ),
            return_url=return_url,
            payer_ip="203.0.113.7",
        )

    async def payment_counts(self, otn: str) -> tuple[int, int]:
        """How many payments the attempt ``otn`` captured, and journal entries its order has."""
        from clearing.api.keys import POOL

        async with self.app[POOL].acquire() as conn:
            payments = await conn.fetchval(
                "SELECT count(*) FROM payments WHERE out_trade_no = $1", otn
            )
            entries = await conn.fetchval(
                "SELECT count(*) FROM journal_entries e JOIN payment_attempts a"
                " ON a.order_id = e.order_id WHERE a.out_trade_no = $1",
                otn,
            )
        return int(payments), int(entries)

    async def order_state(self, order_no: str) -> str:
        """The order's state as the database holds it."""
        from clearing.api.keys import POOL

        async with self.app[POOL].acquire() as conn:
            return str(
                await conn.fetchval("SELECT state FROM orders WHERE order_no = $1", order_no)
            )

    async def create_order(
        self, token: str, body: dict[str, Any] | None = None, key: str | None = None
    ) -> tuple[int, Any]:
        return await self.request(
            "POST",
            "/api/v1/orders",
            token,
            json=body or order_body(),
            headers={"Idempotency-Key": key or secrets.token_hex(10)},
        )

    async def start_payment(self, token: str, order_no: str, **how: Any) -> dict[str, Any]:
        """A payment of the order started as ``how`` says (method, channel, code, terminal)."""
        body = await self.answered(
            "POST", f"/api/v1/orders/{order_no}/payments", token, json=how, expect=201
        )
        return dict(body)

    async def open_qr(self, token: str, order_no: str) -> dict[str, Any]:
        return await self.start_payment(token, order_no, channel="wechatpay")

    async def wait_state(
        self, token: str, order_no: str, state: str, within_s: float = 5.0
    ) -> dict[str, Any]:
        async def read() -> dict[str, Any]:
            body = await self.answered("GET", f"/api/v1/orders/{order_no}", token)
            return dict(body)

        body = await polled(read, lambda b: b["state"] == state, within_s, every_s=0.05)
        assert body["state"] == state, f"{order_no} is {body['state']}, wanted {state}"
        return body

    async def wait_refund(
        self, token: str, order_no: str, state: str, within_s: float = 10.0
    ) -> dict[str, Any]:
        """The order's latest refund once it is in ``state`` (failing if it is not in time)."""

        async def read() -> dict[str, Any]:
            _, body = await self.request("GET", f"/api/v1/orders/{order_no}/refunds", token)
            return dict(body["refunds"][-1])

        last = await polled(read, lambda r: r["state"] == state, within_s)
        assert last["state"] == state, last
        return last


@dataclass
class Device:
    """An enrolled device (a self-service kiosk, a citizen's screen): its credential travels
    as the cookie its routes name, ``COOKIE``."""

    COOKIE: ClassVar[str]
    svc: Service
    token: str

    @property
    def cookie(self) -> dict[str, str]:
        return {"Cookie": f"{self.COOKIE}={self.token}"}


async def device_refused_as_staff(device: Device, routes: list[tuple[str, str]], body: Any) -> None:
    """A device's credential is refused (401) on each of ``routes``, sent with ``body``,
    however it travels: as the device's own cookie, as a bearer token or as a staff session
    cookie; and the window page sends it to log in."""
    svc = device.svc
    as_bearer = {"Authorization": f"Bearer {device.token}"}
    as_session = {"Cookie": f"tj_session={device.token}"}
    for headers in (device.cookie, as_bearer, as_session):
        for method, path in routes:
            status, answer = await svc.request(method, path, headers=headers, json=body)
            assert status == 401, (path, headers, answer)
        async with svc.session.get(
            svc.base_url + "/window", headers=headers, allow_redirects=False
        ) as page:
            assert page.status == 302 and page.headers["Location"].startswith("/login")


def order_body(amounts: tuple[int, ...] = (350_000_00, 80_00), **over: Any) -> dict[str, Any]:
    items = ["DEED_TAX", "REG_FEE", "MAINT_FUND", "VAT", "IIT"]
    body: dict[str, Any] = {
        "case_no": "2026-BDC-000777",
        "office": "HALL1",
        "window": "W01",
        "payer_name": "张三",
        "payer_id": PAYER_ID,
        "lines": [
            {"item_code": items[i % len(items)], "amount_fen": a} for i, a in enumerate(amounts)
        ],
        "manual_reason": "测试：主管手工录入",
    }
    body.update(over)
    return body


# where each channel's simulator is reached, by its settings name (see clearing/config.py)
_BASE_URL_SETTING = {
    "alipay": "alipay_gateway_url",
    "unionpay": "unionpay_base_url",
    "pos": "pos_base_url",
}


@asynccontextmanager
async def running_service(
    dsn: str,
    tmp: Path,
    sim: WeChatSim,
    *,
    others: dict[str, Any] | None = None,
    **settings: Any,
) -> AsyncIterator[Service]:
    """``others`` maps a channel name to its running simulator, whose keys are under tmp/NAME
    (``base_path`` on the simulator object, if any, is appended to its URL)."""
    extra: dict[str, Any] = {}
    for name, other in (others or {}).items():
        extra[f"{name}_keys"] = Path(tmp) / name / "merchant"
        extra[_BASE_URL_SETTING[name]] = getattr(other, "gateway_url", other.base_url)
        extra[f"{name}_sim_url"] = other.base_url

    def make_app(base_url: str) -> web.Application:
        s = Settings(
            var_dir=tmp,
            public_base_url=base_url,
            wechatpay_keys=Path(tmp) / "wechat" / "merchant",
            wechatpay_base_url=sim.base_url,
            wechatpay_sim_url=sim.base_url,
            **extra,
            **{"ops_port": 0, **settings},
        )
        return create_app(s, dsn)

    async with serving(make_app) as (base_url, app), aiohttp.ClientSession() as session:
        yield Service(base_url, app, session, sim)


@asynccontextmanager
async def running_wechat_service(
    dsn: str, tmp: Path, *, sim_retry_scale: float | None = None, **settings: Any
) -> AsyncIterator[Service]:
    """The real service (``settings``) with the WeChat simulator every service has (``.sim``),
    both under ``tmp``; ``sim_retry_scale`` makes the simulator retry its notifications faster."""
    sim_options = {} if sim_retry_scale is None else {"retry_scale": sim_retry_scale}
    async with (
        running_wechat_sim(tmp / "wechat", **sim_options) as sim,
        running_service(dsn, tmp, sim, **settings) as s,
    ):
        yield s


def service_fixture(name: str, *, sim_retry_scale: float | None = None, **settings: Any) -> Any:
    """A module fixture ``svc``: the real service (``settings``) with its WeChat simulator, in a
    fresh folder ``name`` on the module's database; ``svc = service_fixture("x", workers=0)``.
    ``sim_retry_scale`` makes the simulator retry its notifications faster."""

    @pytest.fixture(scope="module")
    async def svc(db_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
        tmp = tmp_path_factory.mktemp(name)
        async with running_wechat_service(
            db_dsn, tmp, sim_retry_scale=sim_retry_scale, **settings
        ) as s:
            yield s

    return svc


def user_fixture(role: str, office: str | None) -> Any:
    """A module fixture: the token of a new ``role`` of ``office`` on the module's ``svc``;
    ``clerk = user_fixture("clerk", "HALL1")``."""

    @pytest.fixture(scope="module")
    async def user(svc: Service) -> str:
        return await svc.add_user(role, office)

    return user


def staff_fixture(**offices: str | None) -> Any:
    """A module fixture ``staff``: a token by name on the module's ``svc``, each name's role
    being the name without its trailing digits (``finance2`` is a second finance user) and the
    value its office: ``staff = staff_fixture(clerk="HALL1", finance=None, finance2=None)``."""

    @pytest.fixture(scope="module")
    async def staff(svc: Service) -> dict[str, str]:
        return {
            name: await svc.add_user(name.rstrip("0123456789"), office)
            for name, office in offices.items()
        }

    return staff
