"""The payment notice routes of the OpenAPI document (缴费通知书 and its SMS)."""

from __future__ import annotations

from clearing.api import models_notices as mn
from clearing.api.openapi import Route

NOTICE_ROUTES: tuple[Route, ...] = (
    Route(
        "post",
        "/api/v1/orders/{order_no}/notice",
        "Issue a payment notice (缴费通知书) for an OPEN order: the mobile link, its expiry and the"
        " PDF's address; with `phone`, send the link by SMS (Idempotency-Key required: a retry"
        " answers the recorded send, 200, and never sends twice). A failed send is in `sms`;"
        " the order is never changed. 409 NOTICE_ORDER_NOT_OPEN for a paid, cancelled or expired"
        " order; window staff of the order's office; audited",
        mn.NoticeIn,
        mn.NoticeOut,
        201,
        headers=("Idempotency-Key",),
    ),
    Route(
        "get",
        "/api/v1/orders/{order_no}/notices",
        "The order's payment notices, the latest first, each with whether its SMS was sent",
        response=mn.NoticeList,
    ),
)
