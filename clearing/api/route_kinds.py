"""Route factories for handlers that differ only in data: the same read-authorize-act-answer
steps, written once and registered per resource from a table.

``decision_routes`` serves the four-eyes decisions (a refund, an account change, an adjustment):
POST ``…/approve`` and ``…/reject`` with an optional note. ``body_actions`` serves a family of
POSTs on one resource where each passes one field of its body to a service call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from clearing.api.keys import POOL
from clearing.api.models import DecisionIn
from clearing.api.web import WebHandler, authenticate, ok, read_model
from clearing.logs import request_id_var

# a service call: (conn, principal, subject id, keyword arguments…) -> the view to answer with
Act = Callable[..., Awaitable[dict[str, Any]]]


def decision_routes(
    routes: web.RouteTableDef, base: str, key: str, decide: Act, out: type[BaseModel]
) -> None:
    """POST ``{base}/approve`` and ``{base}/reject``: the path's ``key`` (1 to 18 digits, the
    route's pattern) and the body's note go to ``decide``; the decided view comes back."""

    async def handle(request: web.Request, approve: bool) -> web.Response:
        who = await authenticate(request)
        body = await read_model(request, DecisionIn)
        subject = int(request.match_info[key])
        async with request.app[POOL].acquire() as conn:
            view = await decide(
                conn, who, subject, approve=approve, note=body.note, request_id=request_id_var.get()
            )
        return ok(out.model_validate(view))

    def route(approve: bool) -> WebHandler:
        async def decided(request: web.Request) -> web.Response:
            return await handle(request, approve)

        return decided

    routes.post(base + "/approve")(route(True))
    routes.post(base + "/reject")(route(False))


def body_actions(
    routes: web.RouteTableDef,
    base: str,
    key: str,
    out: type[BaseModel],
    actions: tuple[tuple[str, type[BaseModel], Act, str, int], ...],
) -> None:
    """One POST ``{base}/{suffix}`` per row of ``actions`` (suffix, body model, service call,
    the body field it takes, status): the path's ``key`` and that field go to the call."""

    def route(model: type[BaseModel], act: Act, field: str, status: int) -> WebHandler:
        async def acted(request: web.Request) -> web.Response:
            who = await authenticate(request)
            body = await read_model(request, model)
            subject = int(request.match_info[key])
            async with request.app[POOL].acquire() as conn:
                view = await act(
                    conn,
                    who,
                    subject,
                    **{field: getattr(body, field)},
                    request_id=request_id_var.get(),
                )
            return ok(out.model_validate(view), status)

        return acted

    for suffix, model, act, field, status in actions:
        routes.post(f"{base}/{suffix}")(route(model, act, field, status))
