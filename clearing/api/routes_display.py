"""The citizen's screen (客显屏): its page, its pairing, its read-only feed and its rating; and
the clerk's side of it (a pairing code, unpairing, which order is on display).

The screen never holds a staff session. Its credential is the ``tj_display`` cookie: HttpOnly,
SameSite=Strict and sent only under /api/v1/display, so a browser never offers it to a staff
route; and staff routes would not take it anyway (it is no session or client token). Each
request with it reaches only its own window's display.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import time
from collections import deque
from datetime import UTC, datetime
from typing import TypeVar

import segno
from aiohttp import web

from clearing.api.keys import CIPHER, EVENTS, POOL
from clearing.api.models_display import WINDOW as WINDOW_PATTERN
from clearing.api.models_display import (
    CodeIn,
    CodeOut,
    CurrentIn,
    PairIn,
    PairOut,
    RatingIn,
    RatingOut,
    ScreenWindowIn,
    StatusOut,
)
from clearing.api.routes_pages import _html_file
from clearing.api.web import (
    authenticate,
    event_stream,
    need_json,
    ok,
    read_model,
    set_device_cookie,
)
from clearing.errors import ClearingError, InvalidRequest, NotFound, Unauthenticated
from clearing.service import display, screen
from clearing.service.display import Device
from clearing.service.principals import Principal

routes = web.RouteTableDef()

COOKIE = "tj_display"
COOKIE_PATH = "/api/v1/display"
# wrong pairing codes: a million codes and a handful live, so a guesser is slowed per address
PAIR_FAILURES_ALLOWED = 10
PAIR_FAILURE_WINDOW_S = 600.0
KEEPALIVE_S = 15.0


class TooManyAttempts(ClearingError):
    status = 429
    title = "Too many attempts"


PAIR_FAILURES = web.AppKey("display_pair_failures", dict[str, deque[float]])


def setup(app: web.Application) -> None:
    app[PAIR_FAILURES] = {}
    app.add_routes(routes)


def _recent_failures(request: web.Request) -> deque[float]:
    book = request.app[PAIR_FAILURES]
    key = request.remote or "?"
    seen = book.setdefault(key, deque())
    cutoff = time.monotonic() - PAIR_FAILURE_WINDOW_S
    while seen and seen[0] < cutoff:
        seen.popleft()
    if not seen and len(book) > 10_000:
        book.clear()  # bounded memory whatever the callers
    return seen


async def _device(request: web.Request) -> Device:
    async with request.app[POOL].acquire() as conn:
        return await display.device(conn, request.cookies.get(COOKIE))


# --- the citizen's screen --------------------------------------------------------------------


@routes.get("/display")
async def display_page(request: web.Request) -> web.Response:
    """The page itself holds nothing: it asks for a pairing code or reads its window's state."""
    return _html_file(request, "display.html")


@routes.post("/api/v1/display/pair")
async def pair(request: web.Request) -> web.Response:
    need_json(request)
    failures = _recent_failures(request)
    if len(failures) >= PAIR_FAILURES_ALLOWED:
        raise TooManyAttempts(
            "PAIRING_TOO_MANY_ATTEMPTS",
            "too many wrong pairing codes from here; wait a few minutes",
            "配对码输入错误次数过多，请稍后再试",
        )
    body = await read_model(request, PairIn)
    try:
        async with request.app[POOL].acquire() as conn:
            token, dev = await display.pair(conn, body.code, datetime.now(UTC))
    except InvalidRequest:
        failures.append(time.monotonic())
        raise
    resp = ok(PairOut(office=dev.office, window=dev.window), 201)
    set_device_cookie(resp, request, COOKIE, token, COOKIE_PATH)
    return resp


@routes.get("/api/v1/display/me")
async def me(request: web.Request) -> web.Response:
    """Whether this browser is a paired screen, and of which window: asked first, so that an
    unpaired screen learns it without a refused request (which browsers log as an error)."""
    try:
        dev = await _device(request)
    except Unauthenticated:
        return web.json_response({"paired": False}, headers={"Cache-Control": "no-store"})
    return web.json_response(
        {"paired": True, "office": dev.office, "window": dev.window},
        headers={"Cache-Control": "no-store"},
    )


@routes.get("/api/v1/display/state")
async def state(request: web.Request) -> web.Response:
    dev = await _device(request)
    async with request.app[POOL].acquire() as conn:
        view = await screen.screen_view(conn, dev, request.app[CIPHER], datetime.now(UTC))
    return web.json_response(
        view,
        headers={"Cache-Control": "no-store"},
        dumps=lambda v: json.dumps(v, ensure_ascii=False),
    )


@routes.get("/api/v1/display/qr.svg")
async def qr_svg(request: web.Request) -> web.Response:
    dev = await _device(request)
    async with request.app[POOL].acquire() as conn:
        url = await screen.open_qr_url(conn, dev)
    if url is None:
        raise NotFound("NO_OPEN_PAYMENT", "no QR waits at this window", "当前没有待支付的二维码")
    svg = io.BytesIO()
    segno.make(url, error="m").save(
        svg, kind="svg", scale=10, border=2, dark="#000", light="#fff", xmldecl=False
    )
    return web.Response(
        body=svg.getvalue(), content_type="image/svg+xml", headers={"Cache-Control": "no-store"}
    )


@routes.post("/api/v1/display/ratings")
async def rate(request: web.Request) -> web.Response:
    need_json(request)
    dev = await _device(request)
    body = await read_model(request, RatingIn)
    async with request.app[POOL].acquire() as conn:
        done = await screen.rate(conn, dev, body.order_no, body.grade, body.reason)
    return ok(RatingOut(**{**done, "rated_at": done["rated_at"].isoformat()}), 201)


@routes.get("/api/v1/display/events")
async def events(request: web.Request) -> web.StreamResponse:
    """A nudge (``{"type": "changed", "cause": "display" | "order"}``) whenever what this
    screen shows may have changed; the screen then reads /api/v1/display/state. No order
    number or state travels here, so the stream carries nothing of another window's citizens."""
    dev = await _device(request)
    pool = request.app[POOL]
    async with pool.acquire() as conn:
        shown = await display.current_order_no(conn, dev.office, dev.window)
    resp = await event_stream(request)
    display_nudge = b'data: {"type": "changed", "cause": "display"}\n\n'
    order_nudge = b'data: {"type": "changed", "cause": "order"}\n\n'
    async with request.app[EVENTS].subscribe(office=dev.office) as sub:
        await resp.write(b": connected\n\n")
        while True:
            try:
                event = await asyncio.wait_for(sub.queue.get(), KEEPALIVE_S)
            except TimeoutError:
                async with pool.acquire() as conn:
                    if not await display.still_paired(conn, dev.id):
                        break  # unpaired: the screen reconnects, is refused, asks for a code
                await resp.write(b": keep-alive\n\n")
                continue
            if event.get("type") == "resync":
                await resp.write(b'data: {"type": "resync"}\n\n')
            elif event.get("type") == "display":
                if event.get("display_window") != dev.window:
                    continue
                async with pool.acquire() as conn:
                    if not await display.still_paired(conn, dev.id):
                        break
                    shown = await display.current_order_no(conn, dev.office, dev.window)
                await resp.write(display_nudge)
            elif shown is not None and event.get("order_no") == shown:
                await resp.write(order_nudge)
    return resp


# --- the clerk's side ------------------------------------------------------------------------


W = TypeVar("W", bound=ScreenWindowIn)


def _window(request: web.Request) -> str:
    window = request.match_info["window"]
    if not re.fullmatch(WINDOW_PATTERN, window):
        raise NotFound("NOT_FOUND", "no such window", "无此窗口")
    return window


async def _at_window(request: web.Request, model: type[W]) -> tuple[Principal, W, str]:
    """The staff caller, the body naming a window, and its office (``display.staff_office``)."""
    who = await authenticate(request)
    body = await read_model(request, model)
    return who, body, display.staff_office(who, body.office)


@routes.post("/api/v1/display/pairing-codes")
async def new_code(request: web.Request) -> web.Response:
    who, body, office = await _at_window(request, CodeIn)
    async with request.app[POOL].acquire() as conn:
        code, expires = await display.issue_code(conn, who, office, body.window, datetime.now(UTC))
    out = CodeOut(code=code, office=office, window=body.window, expires_at=expires.isoformat())
    return ok(out, 201)


@routes.put("/api/v1/display/current")
async def set_current(request: web.Request) -> web.Response:
    who, body, office = await _at_window(request, CurrentIn)
    async with request.app[POOL].acquire() as conn:
        await display.set_current(conn, who, office, body.window, body.order_no)
        view = await display.status(conn, office, body.window)
    return ok(StatusOut(**view))


@routes.get("/api/v1/display/windows/{window}")
async def window_status(request: web.Request) -> web.Response:
    who = await authenticate(request)
    office = display.staff_office(who, request.query.get("office"))
    async with request.app[POOL].acquire() as conn:
        view = await display.status(conn, office, _window(request))
    return ok(StatusOut(**view))


@routes.delete("/api/v1/display/windows/{window}/device")
async def unpair(request: web.Request) -> web.Response:
    who = await authenticate(request)
    office = display.staff_office(who, request.query.get("office"))
    window = _window(request)
    async with request.app[POOL].acquire() as conn:
        await display.revoke(conn, who, office, window)
        view = await display.status(conn, office, window)
    return ok(StatusOut(**view))
