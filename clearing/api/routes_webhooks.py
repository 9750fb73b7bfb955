"""/api/v1/admin/webhooks: the case system's event subscriptions, their deliveries, dead letters
and re-sends (admins without an office; the rules live in clearing.service.webhooks)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta

from aiohttp import web

from clearing.api import models_webhooks as mw
from clearing.api.inputs import ID_PATTERN
from clearing.api.keys import CIPHER, POOL, SETTINGS
from clearing.api.route_kinds import acted
from clearing.api.web import authenticate, ok, read_model
from clearing.errors import InvalidRequest
from clearing.logs import request_id_var
from clearing.service import webhooks

routes = web.RouteTableDef()


def _sub(s: webhooks.Subscription) -> mw.SubscriptionOut:
    return mw.SubscriptionOut(**asdict(s))


@routes.get("/api/v1/admin/webhooks")
async def list_subscriptions(request: web.Request) -> web.Response:
    who = await authenticate(request)
    async with request.app[POOL].acquire() as conn:
        found = await webhooks.subscriptions(conn, who)
    return ok(mw.SubscriptionList(subscriptions=[_sub(s) for s in found]))


@routes.post("/api/v1/admin/webhooks")
async def create_subscription(request: web.Request) -> web.Response:
    who = await authenticate(request)
    body = await read_model(request, mw.SubscriptionIn)
    async with request.app[POOL].acquire() as conn:
        sub, secret = await webhooks.create(
            conn,
            who,
            request.app[CIPHER],
            name_=body.name,
            url=body.url,
            event_types=list(body.event_types),
            request_id=request_id_var.get(),
        )
    return ok(mw.SubscriptionSecret(subscription=_sub(sub), secret=secret), 201)


@routes.post("/api/v1/admin/webhooks/{subscription_id:" + ID_PATTERN + "}/secret")
async def rotate_secret(request: web.Request) -> web.Response:
    who = await authenticate(request)
    hours = request.app[SETTINGS].webhook_rotation_overlap_h
    async with request.app[POOL].acquire() as conn:
        sub, secret = await webhooks.rotate(
            conn,
            who,
            request.app[CIPHER],
            int(request.match_info["subscription_id"]),
            overlap=timedelta(hours=hours),
            request_id=request_id_var.get(),
        )
    return ok(mw.SubscriptionSecret(subscription=_sub(sub), secret=secret))


@routes.post("/api/v1/admin/webhooks/{subscription_id:" + ID_PATTERN + "}/disable")
async def disable_subscription(request: web.Request) -> web.Response:
    sub = await acted(request, webhooks.disable, int(request.match_info["subscription_id"]))
    return ok(_sub(sub))


@routes.get("/api/v1/admin/webhook-deliveries")
async def list_deliveries(request: web.Request) -> web.Response:
    """Newest first; ``?state=DEAD`` is the dead-letter view, ``?order_no=`` one order's."""
    who = await authenticate(request)
    state = request.query.get("state") or None
    order_no = request.query.get("order_no") or None
    if order_no is not None and (len(order_no) > 32 or not order_no.isalnum()):
        raise InvalidRequest(
            "ORDER_NO_INVALID", "order_no is 8 to 32 letters or digits", "缴费单号格式不正确"
        )
    async with request.app[POOL].acquire() as conn:
        found = await webhooks.deliveries(conn, who, state=state, order_no=order_no)
    return ok(mw.DeliveryList(deliveries=[mw.DeliveryOut.model_validate(d) for d in found]))


@routes.post("/api/v1/admin/webhook-deliveries/{delivery_id:" + ID_PATTERN + "}/resend")
async def resend(request: web.Request) -> web.Response:
    done = await acted(request, webhooks.resend, int(request.match_info["delivery_id"]))
    return ok(mw.ResendOut.model_validate(done), 202)
