"""/api/v1: order search and timelines; shifts (日结/交班) and the office's day (轧账)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from aiohttp import web

from clearing.api import inputs
from clearing.api.inputs import ID_PATTERN
from clearing.api.keys import CIPHER, POOL
from clearing.api.models import OrderOut
from clearing.api.models_shifts import (
    OfficeDayCloseIn,
    OfficeDayOut,
    OrderSearchIn,
    OrderSearchOut,
    OrderTimelineOut,
    ShiftCloseIn,
    ShiftList,
    ShiftOut,
)
from clearing.api.route_kinds import seen_order
from clearing.api.web import authenticate, ok, read_model
from clearing.errors import InvalidRequest, NotFound
from clearing.logs import request_id_var
from clearing.service import office_days, places, search, shifts, timeline

routes = web.RouteTableDef()


def beijing_today() -> date:
    return (datetime.now(UTC) + timedelta(hours=8)).date()


def _date(text: str | None) -> date:
    # the service's calendar (clearing.api.inputs): a date past it would overflow the day's math
    day = inputs.query_date({"date": text or ""}, "date")
    return day if day is not None else beijing_today()


@routes.post("/api/v1/orders/search")
async def search_orders(request: web.Request) -> web.Response:
    who = await authenticate(request)
    body = await read_model(request, OrderSearchIn)
    q = search.Query(**body.model_dump())
    async with request.app[POOL].acquire() as conn:
        found = await search.search(conn, who, q, request.app[CIPHER])
    return ok(OrderSearchOut.model_validate(found))


@routes.get("/api/v1/orders/{order_no}/timeline")
async def order_timeline(request: web.Request) -> web.Response:
    async with seen_order(request, await authenticate(request)) as (conn, order_no, view):
        order_id = await conn.fetchval("SELECT id FROM orders WHERE order_no = $1", order_no)
        events = await timeline.for_order(conn, int(order_id), order_no)
    return ok(
        OrderTimelineOut(
            order=OrderOut.model_validate(view),
            events=events,
            receipt_url=f"/orders/{order_no}/receipt",
        )
    )


@routes.get("/api/v1/shifts/current")
async def current_shift(request: web.Request) -> web.Response:
    who = await authenticate(request)
    stated = request.query.get("window", "").strip()
    # a clerk's shift is at the window assigned to them, whatever the browser says
    window = places.assigned_window(who, stated) or stated
    if not window:
        raise InvalidRequest("WINDOW_REQUIRED", "give ?window=", "请指定窗口号")
    async with request.app[POOL].acquire() as conn:
        view = await shifts.current(conn, who, window)
    return ok(ShiftOut.model_validate(view))


@routes.post("/api/v1/shifts/close")
async def close_shift(request: web.Request) -> web.Response:
    who = await authenticate(request)
    body = await read_model(request, ShiftCloseIn)
    window = places.assigned_window(who, body.window) or body.window
    async with request.app[POOL].acquire() as conn:
        view = await shifts.close(conn, who, window, request_id_var.get())
    return ok(ShiftOut.model_validate(view), 201)


@routes.get("/api/v1/shifts")
async def list_shifts(request: web.Request) -> web.Response:
    """Shifts closed on a Beijing day in an office; supervisors also see unclosed windows."""
    who = await authenticate(request)
    office = shifts.office_of(who, request.query.get("office"))
    day = _date(request.query.get("date"))
    start, end = office_days.bounds(day)
    async with request.app[POOL].acquire() as conn:
        closed = await shifts.list_closed(conn, who, office, start, end)
        pending = (
            await shifts.open_activity(conn, office, start, end) if who.role != "clerk" else []
        )
    return ok(
        ShiftList(
            office=office,
            date=day.isoformat(),
            shifts=[ShiftOut.model_validate(s) for s in closed],
            open_shifts=pending,
        )
    )


@routes.get("/api/v1/shifts/{shift_id:" + ID_PATTERN + "}")
async def get_shift(request: web.Request) -> web.Response:
    who = await authenticate(request)
    async with request.app[POOL].acquire() as conn:
        view = await shifts.get(conn, who, int(request.match_info["shift_id"]))
    return ok(ShiftOut.model_validate(view))


def _day_scope(request: web.Request) -> tuple[str, date]:
    return request.match_info["office"], _date(request.match_info["day"])


@routes.get("/api/v1/office-days/{office}/{day}")
async def office_day(request: web.Request) -> web.Response:
    who = await authenticate(request)
    office, day = _day_scope(request)
    if who.role == "supervisor" and who.office != office:
        raise NotFound("NOT_FOUND", "no such office day", "无此大厅的轧账记录")
    async with request.app[POOL].acquire() as conn:
        view = await office_days.view(conn, office, day)
    return ok(OfficeDayOut.model_validate(view))


@routes.post("/api/v1/office-days/{office}/{day}/close")
async def close_office_day(request: web.Request) -> web.Response:
    who = await authenticate(request)
    body = await read_model(request, OfficeDayCloseIn)
    office, day = _day_scope(request)
    async with request.app[POOL].acquire() as conn:
        view = await office_days.close(
            conn, who, office=office, day=day, note=body.note, request_id=request_id_var.get()
        )
    return ok(OfficeDayOut.model_validate(view), 201)
