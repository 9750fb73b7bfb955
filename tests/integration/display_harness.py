"""Helpers for the citizen's screen tests: a paired screen (its cookie), the clerk's side
(pairing codes, what is on display), and orders made and paid through the WeChat simulator."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from clearing.api import routes_display
from clearing.api.keys import POOL
from tests.integration.factories import place
from tests.integration.service_harness import (
    Device,
    Service,
    order_body,
    service_fixture,
    user_fixture,
)


def screen_fixtures() -> tuple[Any, Any]:
    """The module fixtures of a citizen's-screen test module, for ``svc, clerk = ...``: the
    service, paid orders found fast by its poller, and a clerk of HALL1."""
    svc = service_fixture(
        "display", sim_retry_scale=0.01, workers=1, poll_first_s=0.3, poll_later_s=0.5
    )
    return svc, user_fixture("clerk", "HALL1")


class Screen(Device):
    COOKIE = routes_display.COOKIE

    async def get(self, path: str) -> tuple[int, Any]:
        return await self.svc.request("GET", path, headers=self.cookie)

    async def state(self) -> dict[str, Any]:
        status, body = await self.get("/api/v1/display/state")
        assert status == 200, body
        return dict(body)

    async def rate(self, order_no: str, grade: str, reason: str | None = None) -> tuple[int, Any]:
        body: dict[str, Any] = {"order_no": order_no, "grade": grade}
        if reason is not None:
            body["reason"] = reason
        return await self.svc.request(
            "POST", "/api/v1/display/ratings", json=body, headers=self.cookie
        )


async def new_code(svc: Service, staff: str, window: str) -> str:
    body = await svc.answered(
        "POST", "/api/v1/display/pairing-codes", staff, json={"window": window}, expect=201
    )
    assert body["window"] == window and body["office"] == "HALL1"
    return str(body["code"])


async def pair_raw(svc: Service, code: str) -> aiohttp.ClientResponse:
    async with svc.session.post(svc.base_url + "/api/v1/display/pair", json={"code": code}) as resp:
        await resp.read()
        return resp


async def pair(svc: Service, staff: str, window: str) -> Screen:
    resp = await pair_raw(svc, await new_code(svc, staff, window))
    assert resp.status == 201
    morsel = resp.cookies[routes_display.COOKIE]
    return Screen(svc, morsel.value)


async def show(svc: Service, staff: str, window: str, order_no: str | None) -> dict[str, Any]:
    body = await svc.answered(
        "PUT", "/api/v1/display/current", staff, json={"window": window, "order_no": order_no}
    )
    return dict(body)


async def new_order(svc: Service, window: str = "W01") -> str:
    async with svc.app[POOL].acquire() as conn:
        await place(conn, "HALL1", window)  # an order is taken at a window in service
    status, order = await svc.create_order(await svc.supervisor(), order_body(window=window))
    assert status == 201, order
    return str(order["order_no"])


async def shown_order(svc: Service, staff: str, window: str) -> tuple[Screen, str]:
    """A screen paired at ``window`` showing a new (unpaid) order the clerk put on it."""
    screen = await pair(svc, staff, window)
    order_no = await new_order(svc, window)
    await show(svc, staff, window, order_no)
    return screen, order_no


async def paid_order(svc: Service, window: str = "W01") -> str:
    order_no = await new_order(svc, window)
    qr = await svc.open_qr(await svc.supervisor(), order_no)
    assert (await svc.sim.pay(qr["out_trade_no"]))[0] == 200
    await svc.wait_state(await svc.supervisor(), order_no, "CLEARED")
    return order_no


async def until(check: Any, within_s: float = 5.0) -> Any:
    """Wait for ``await check()`` to come true (a loaded machine may take its time)."""
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        value = await check()
        if value or asyncio.get_running_loop().time() > deadline:
            assert value
            return value
        await asyncio.sleep(0.05)


async def in_phase(screen: Screen, phase: str) -> dict[str, Any] | None:
    """The screen's state when it is in ``phase``, else None (for ``until``)."""
    view = await screen.state()
    return view if view["phase"] == phase else None


async def next_data(stream: aiohttp.ClientResponse) -> dict[str, Any]:
    while True:
        line = await stream.content.readline()
        if line.startswith(b"data: "):
            return dict(json.loads(line[6:]))
