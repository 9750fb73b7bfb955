"""Route factories for handlers that differ only in data: the same read-authorize-act-answer
steps, written once and registered per resource from a table.

``acted`` is the steps of a handler that hands its path and body to one service call,
``read_signed_in`` those of one that reads what every caller allowed to ask sees alike,
``seen_order`` (``read_seen_order``) the visibility check every route under
``/orders/{order_no}`` makes first.
``decision_routes`` serves the four-eyes decisions (a refund, an account change, an adjustment):
POST ``…/approve`` and ``…/reject`` with an optional note. ``body_actions`` serves a family of
POSTs on one resource where each passes its body to a service call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel

from clearing.api.keys import CIPHER, POOL
from clearing.api.models import DecisionIn
from clearing.api.web import WebHandler, authenticate, ok, read_model
from clearing.db import Conn
from clearing.logs import request_id_var
from clearing.service import audit, orders
from clearing.service.principals import Principal

# a service call: (conn, principal, subject id, keyword arguments…) -> the view to answer with
Act = Callable[..., Awaitable[dict[str, Any]]]
V = TypeVar("V")


async def acted(
    request: web.Request,
    act: Callable[..., Awaitable[V]],
    *subject: Any,
    reads: type[BaseModel] | None = None,
    **extra: Any,
) -> V:
    """The caller signed in (a 401 comes before any word about the body), the body read as
    ``reads`` if the route takes one, then ``act(conn, caller, *subject, **the body's fields,
    **extra, request_id=…)``: the body models' field names are the service calls' keywords."""
    who = await authenticate(request)
    fields = dict(await read_model(request, reads)) if reads is not None else {}
    async with request.app[POOL].acquire() as conn:
        return await act(conn, who, *subject, **fields, **extra, request_id=request_id_var.get())


async def audited(request: web.Request, *row: Any, object_type: str) -> None:
    """``audit.record(conn, *row)`` (actor, action, object id, detail) of what the route did, on
    its own connection, under the request's id."""
    async with request.app[POOL].acquire() as conn:
        await audit.record(conn, *row, object_type=object_type, request_id=request_id_var.get())


async def read_signed_in(request: web.Request, read: Callable[..., Awaitable[V]], *args: Any) -> V:
    """``read(conn, *args)`` once the caller is signed in: which roles may ask is the access
    table's word, and the answer does not depend on which of them asks."""
    await authenticate(request)
    async with request.app[POOL].acquire() as conn:
        return await read(conn, *args)


@asynccontextmanager
async def seen_order(
    request: web.Request, who: Principal
) -> AsyncIterator[tuple[Conn, str, dict[str, Any]]]:
    """A pooled connection, the path's ``order_no`` and that order as ``who`` may see it (an
    order of another office is a 404, as if it did not exist)."""
    order_no = request.match_info["order_no"]
    async with request.app[POOL].acquire() as conn:
        yield conn, order_no, await orders.get(conn, who, order_no, request.app[CIPHER])


async def read_seen_order(request: web.Request, who: Principal) -> tuple[str, dict[str, Any]]:
    """``seen_order`` for a route that needs no more of the connection."""
    async with seen_order(request, who) as (_, order_no, view):
        return order_no, view


def decision_routes(
    routes: web.RouteTableDef, base: str, key: str, decide: Act, out: type[BaseModel]
) -> None:
    """POST ``{base}/approve`` and ``{base}/reject``: the path's ``key`` (1 to 18 digits, the
    route's pattern) and the body's note go to ``decide``; the decided view comes back."""

    async def handle(request: web.Request, approve: bool) -> web.Response:
        subject = int(request.match_info[key])
        view = await acted(request, decide, subject, reads=DecisionIn, approve=approve)
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
    actions: tuple[tuple[str, type[BaseModel], Act, int], ...],
) -> None:
    """One POST ``{base}/{suffix}`` per row of ``actions`` (suffix, body model, service call,
    status): the path's ``key`` and the body's fields go to the call."""

    def route(model: type[BaseModel], act: Act, status: int) -> WebHandler:
        async def action(request: web.Request) -> web.Response:
            view = await acted(request, act, int(request.match_info[key]), reads=model)
            return ok(out.model_validate(view), status)

        return action

    for suffix, model, act, status in actions:
        routes.post(f"{base}/{suffix}")(route(model, act, status))
