"""The self-service kiosk's routes in the OpenAPI document: the administrator's (bearer token)
and the kiosk's own, which take only its tj_kiosk cookie (its caller in access: no bearer)."""

from __future__ import annotations

from clearing.api import models as m
from clearing.api import models_kiosk as mk
from clearing.api.openapi import Query, Route

KIOSK_ROUTES: tuple[Route, ...] = (
    Route(
        "get", "/api/v1/admin/kiosks", "Registered kiosks and their state", response=mk.KioskList
    ),
    Route(
        "post",
        "/api/v1/admin/kiosks",
        "Register a kiosk for one office; its one-time enrolment code is shown once (audited)",
        mk.KioskIn,
        mk.KioskCreated,
        201,
    ),
    Route(
        "post",
        "/api/v1/admin/kiosks/{kiosk_id}/revoke",
        "Revoke a kiosk: its credential stops working at once (audited)",
        response=mk.KioskOut,
    ),
    Route(
        "post",
        "/api/v1/kiosk/enrol",
        "Enrol this browser as a kiosk with its one-time code; sets the tj_kiosk cookie",
        mk.EnrolIn,
        mk.EnrolOut,
        201,
    ),
    Route("get", "/api/v1/kiosk/me", "Whether this browser is an enrolled kiosk"),
    Route(
        "post",
        "/api/v1/kiosk/lookup",
        "Find a payable order by 业务受理号 and the ID's last 6 characters, or by a notice's QR",
        mk.LookupIn,
    ),
    Route("get", "/api/v1/kiosk/current", "What the kiosk shows (payer masked)"),
    Route(
        "delete",
        "/api/v1/kiosk/current",
        "Clear the kiosk's screen (audited with the reason)",
        query=(Query("why", {"type": "string", "enum": ["idle", "paid", "citizen"]}),),
    ),
    Route(
        "post",
        "/api/v1/kiosk/current/payments",
        "Pay the order on the kiosk: a QR for the phone, or a payment code the scanner read",
        mk.KioskPayIn,
        m.AttemptStarted,
        201,
    ),
    Route(
        "get",
        "/api/v1/kiosk/current/qr.svg",
        "The QR code to pay the order on the kiosk",
        content_type="image/svg+xml",
    ),
    Route(
        "get",
        "/api/v1/kiosk/current/receipt",
        "The receipt of the paid order on the kiosk",
        response=mk.KioskReceiptOut,
    ),
    Route(
        "get",
        "/api/v1/kiosk/current/receipt-qr.svg",
        "The receipt's short link as a QR code",
        content_type="image/svg+xml",
    ),
)
