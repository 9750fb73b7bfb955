"""The /api/v1/admin routes of the OpenAPI document (kept apart: the main list is long)."""

from __future__ import annotations

from clearing.api import models as m
from clearing.api import models_admin as ma
from clearing.api import models_webhooks as mw
from clearing.api.openapi import Query, Route

ADMIN_ROUTES: tuple[Route, ...] = (
    Route(
        "get",
        "/api/v1/windows",
        "The windows of one's office in service (?office= for staff of every office)",
        response=ma.WindowList,
    ),
    Route(
        "get",
        "/api/v1/admin/users",
        "Staff accounts (admin; an office's admin sees it only)",
        response=ma.UserList,
    ),
    Route(
        "post",
        "/api/v1/admin/users",
        "Create a staff account with a one-time password to change at first sign-in (audited)",
        ma.UserIn,
        ma.UserCreated,
        201,
    ),
    Route(
        "patch",
        "/api/v1/admin/users/{username}",
        "Change name, role, office, window or disable (never one's own access; audited)",
        ma.UserPatch,
        ma.UserOut,
    ),
    Route(
        "post",
        "/api/v1/admin/users/{username}/password-reset",
        "Reset a password: a one-time one, to change at next sign-in; sessions end (audited)",
        response=ma.UserCreated,
    ),
    Route("get", "/api/v1/admin/clients", "API clients (admin)", response=ma.UserList),
    Route(
        "post",
        "/api/v1/admin/clients",
        "Create an API client; the token is shown once",
        ma.ClientIn,
        ma.ClientCreated,
        201,
    ),
    Route(
        "patch",
        "/api/v1/admin/clients/{username}",
        "Change or disable an API client",
        ma.ClientPatch,
        ma.UserOut,
    ),
    Route(
        "post",
        "/api/v1/admin/clients/{username}/token",
        "Issue a new token; the old one stops working (audited)",
        response=ma.ClientCreated,
    ),
    Route(
        "get",
        "/api/v1/admin/offices",
        "Offices with their windows and card terminals",
        response=ma.OfficeList,
    ),
    Route(
        "post",
        "/api/v1/admin/offices",
        "Create an office (admin without an office; audited)",
        ma.OfficeIn,
        ma.OfficeOut,
        201,
    ),
    Route(
        "patch",
        "/api/v1/admin/offices/{office}",
        "Rename or close an office (audited)",
        ma.OfficePatch,
        ma.OfficeOut,
    ),
    Route(
        "post",
        "/api/v1/admin/offices/{office}/windows",
        "Add a window, with the card terminal at it (audited)",
        ma.WindowIn,
        ma.WindowOut,
        201,
    ),
    Route(
        "patch",
        "/api/v1/admin/offices/{office}/windows/{window}",
        "Rename a window, change its terminal, close it (audited)",
        ma.WindowPatch,
        ma.WindowOut,
    ),
    Route(
        "get",
        "/api/v1/admin/fee-schedules",
        "Registration fee schedule versions (admin)",
        response=m.FeeScheduleList,
    ),
    Route(
        "post",
        "/api/v1/admin/fee-schedules",
        "Publish a fee schedule version taking effect after today (admin, audited)",
        m.FeeScheduleIn,
        m.FeeScheduleOut,
        201,
    ),
    # the case system's webhooks (clearing.service.webhooks)
    Route(
        "get",
        "/api/v1/admin/webhooks",
        "Event subscriptions of the case system (admin without an office)",
        response=mw.SubscriptionList,
    ),
    Route(
        "post",
        "/api/v1/admin/webhooks",
        "Subscribe a URL to order events; the signing secret is shown once (audited)",
        mw.SubscriptionIn,
        mw.SubscriptionSecret,
        201,
    ),
    Route(
        "post",
        "/api/v1/admin/webhooks/{subscription_id}/secret",
        "Rotate the signing secret: shown once; the old one signs on for the overlap (audited)",
        response=mw.SubscriptionSecret,
    ),
    Route(
        "post",
        "/api/v1/admin/webhooks/{subscription_id}/disable",
        "Stop sending events to a subscription (audited)",
        response=mw.SubscriptionOut,
    ),
    Route(
        "get",
        "/api/v1/admin/webhook-deliveries",
        "Deliveries, newest first; state=DEAD is the dead-letter view",
        response=mw.DeliveryList,
        query=(
            Query("state", {"enum": ["PENDING", "WAITING", "DELIVERED", "DEAD"]}, "by state"),
            Query("order_no", {"type": "string"}, "one order's"),
        ),
    ),
    Route(
        "post",
        "/api/v1/admin/webhook-deliveries/{delivery_id}/resend",
        "Send a dead or delivered event again, from a fresh schedule (audited)",
        response=mw.ResendOut,
        status=202,
    ),
)
