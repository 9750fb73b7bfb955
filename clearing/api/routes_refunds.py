"""/api/v1 refunds: a supervisor requests, a different finance user approves or rejects."""

from __future__ import annotations

from aiohttp import web

from clearing.api.inputs import ID_PATTERN
from clearing.api.models import RefundIn, RefundList, RefundOut
from clearing.api.route_kinds import acted, decision_routes, read_signed_in, seen_order
from clearing.api.web import authenticate, ok
from clearing.service import refunds

routes = web.RouteTableDef()


@routes.post("/api/v1/orders/{order_no}/refunds")
async def request_refund(request: web.Request) -> web.Response:
    view = await acted(request, refunds.request, request.match_info["order_no"], reads=RefundIn)
    return ok(RefundOut.model_validate(view), 201)


@routes.get("/api/v1/orders/{order_no}/refunds")
async def order_refunds(request: web.Request) -> web.Response:
    async with seen_order(request, await authenticate(request)) as (conn, order_no, _):
        views = await refunds.for_order(conn, order_no)
    return ok(RefundList(refunds=[RefundOut.model_validate(v) for v in views]))


@routes.get("/api/v1/refunds")
async def waiting_refunds(request: web.Request) -> web.Response:
    """Refund requests that wait for a decision or for the channel."""
    views = await read_signed_in(request, refunds.waiting)
    return ok(RefundList(refunds=[RefundOut.model_validate(v) for v in views]))


decision_routes(
    routes, "/api/v1/refunds/{refund_id:" + ID_PATTERN + "}", "refund_id", refunds.decide, RefundOut
)
