"""Who may call what: one row per operation of /api/v1, and nothing else decides it.

``authenticate(request)`` (clearing.api.web) reads the row of the route it serves: a caller whose
role is not in the row gets 403 ``ROLE_FORBIDDEN`` before the handler does anything. The OpenAPI
document states each row (``x-roles``), and tests/integration/test_access_matrix.py calls every
operation as every kind of caller and checks the answer against this table; an /api/v1 route
without a row fails that test.

To add a route: add its row here, in the form ``"METHOD /api/v1/path/{param}": callers`` (the
path as in the OpenAPI document; parameter names do not matter), and call
``await authenticate(request)`` in the handler without naming roles. The role sets below are the
services' own (a service checks the same set again, so a second way in cannot skip it).

Callers are the staff roles of ``principals.ROLES`` (an API client has a role too and is treated
as that role) and ``ANONYMOUS``, somebody without a token. Object-level rules (a clerk sees only
the orders of their own office, nobody approves their own refund) are the services' and answer
404 or 403 with codes of their own.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

from aiohttp import web

from clearing.service import beneficiary_accounts as accounts
from clearing.service import (
    display,
    notices,
    office_days,
    orders,
    receipt_prints,
    refunds,
    shifts,
)
from clearing.service import webhooks as webhook_subscriptions
from clearing.service.principals import ROLES
from reconciliation import case_reads

ANONYMOUS: Final = "anonymous"
CALLERS: Final = (ANONYMOUS, *ROLES)

Callers = frozenset[str]
PUBLIC: Final[Callers] = frozenset(CALLERS)
SIGNED_IN: Final[Callers] = frozenset(ROLES)
WINDOW: Final[Callers] = orders.CREATE_ROLES  # clerk, supervisor, admin
FINANCE_READ: Final[Callers] = frozenset({"finance", "admin", "auditor"})
ADMIN: Final[Callers] = frozenset({"admin"})
# the citizen's screen (客显屏) at a window, known by the tj_display cookie its pairing set; no
# staff token opens these routes (every caller of the matrix test gets 401)
SCREEN: Final[Callers] = frozenset({"screen"})
# the self-service kiosk (自助缴费终端), known by the tj_kiosk cookie its enrolment set: a device
# of one office that reaches these rows only; no staff route names it, and a staff token opens
# none of its routes
KIOSK_CALLER: Final = "kiosk"
KIOSK: Final[Callers] = frozenset({KIOSK_CALLER})
DEVICES: Final = ("screen", KIOSK_CALLER)  # callers by a device credential, not a token

ACCESS: Final[dict[str, Callers]] = {
    # sessions and the caller
    "POST /api/v1/sessions": PUBLIC,
    "DELETE /api/v1/sessions": PUBLIC,  # ends the session of the token sent, if any
    "GET /api/v1/me": SIGNED_IN,
    "POST /api/v1/me/password": SIGNED_IN,  # one's own password (staff; a client has none)
    "GET /api/v1/openapi.json": PUBLIC,
    "GET /api/v1/events": SIGNED_IN,  # a clerk's stream is their own office's
    # the window
    "GET /api/v1/fee-items": SIGNED_IN,
    "POST /api/v1/cases/lookup": WINDOW,
    "POST /api/v1/orders": WINDOW,
    "GET /api/v1/orders": SIGNED_IN,
    "GET /api/v1/orders/{order_no}": SIGNED_IN,
    "POST /api/v1/orders/{order_no}/cancel": WINDOW,
    "POST /api/v1/orders/{order_no}/payments": WINDOW,
    "GET /api/v1/orders/{order_no}/qr.svg": SIGNED_IN,
    "GET /api/v1/receipts/verify": PUBLIC,  # the citizen's QR on the receipt
    # fee schedule
    "GET /api/v1/fee-schedules": SIGNED_IN,
    "POST /api/v1/fee-schedules": ADMIN,
    # refunds: a supervisor asks, finance decides
    "POST /api/v1/orders/{order_no}/refunds": refunds.REQUEST_ROLES,
    "GET /api/v1/orders/{order_no}/refunds": SIGNED_IN,
    "GET /api/v1/refunds": FINANCE_READ,
    "POST /api/v1/refunds/{refund_id}/approve": refunds.DECIDE_ROLES,
    "POST /api/v1/refunds/{refund_id}/reject": refunds.DECIDE_ROLES,
    # settlement and beneficiary accounts
    "GET /api/v1/beneficiaries": accounts.READ_ROLES,
    "POST /api/v1/beneficiaries/{code}/account-changes": accounts.REQUEST_ROLES,
    "GET /api/v1/account-changes": accounts.READ_ROLES,
    "POST /api/v1/account-changes/{change_id}/approve": accounts.DECIDE_ROLES,
    "POST /api/v1/account-changes/{change_id}/reject": accounts.DECIDE_ROLES,
    "GET /api/v1/settlement/batches": accounts.READ_ROLES,
    "GET /api/v1/settlement/batches/{msg_id}": accounts.READ_ROLES,
    # reconciliation
    "GET /api/v1/discrepancies": case_reads.READ_ROLES,
    "GET /api/v1/discrepancies.csv": case_reads.READ_ROLES,
    "GET /api/v1/discrepancies/{discrepancy_id}": case_reads.READ_ROLES,
    "POST /api/v1/discrepancies/{discrepancy_id}/assign": case_reads.ACT_ROLES,
    "POST /api/v1/discrepancies/{discrepancy_id}/comments": case_reads.ACT_ROLES,
    "POST /api/v1/discrepancies/{discrepancy_id}/resolve": case_reads.ACT_ROLES,
    "POST /api/v1/discrepancies/{discrepancy_id}/void": case_reads.ACT_ROLES,
    "POST /api/v1/discrepancies/{discrepancy_id}/adjustments": case_reads.ACT_ROLES,
    "POST /api/v1/adjustments/{adjustment_id}/approve": case_reads.ACT_ROLES,
    "POST /api/v1/adjustments/{adjustment_id}/reject": case_reads.ACT_ROLES,
    "POST /api/v1/recon-matches/{match_id}/confirm": case_reads.ACT_ROLES,
    "POST /api/v1/recon-matches/{match_id}/reject": case_reads.ACT_ROLES,
    "GET /api/v1/ledger-accounts": case_reads.READ_ROLES,
    "GET /api/v1/reports/daily": FINANCE_READ,
    "GET /api/v1/reports/trend": FINANCE_READ,
    # search, timelines, shifts (交班) and the office's day (轧账); offices are the services'
    "POST /api/v1/orders/search": SIGNED_IN,
    "GET /api/v1/orders/{order_no}/timeline": SIGNED_IN,
    "GET /api/v1/shifts/current": shifts.SHIFT_ROLES,
    "POST /api/v1/shifts/close": shifts.SHIFT_ROLES,
    "GET /api/v1/shifts": SIGNED_IN,
    "GET /api/v1/shifts/{shift_id}": SIGNED_IN,
    "GET /api/v1/office-days/{office}/{day}": frozenset({"supervisor", *FINANCE_READ}),
    "POST /api/v1/office-days/{office}/{day}/close": office_days.CLOSE_ROLES,
    # the citizen's screen: window staff pair and drive it, the screen reads and rates
    "POST /api/v1/display/pairing-codes": frozenset(display.STAFF_ROLES),
    "PUT /api/v1/display/current": frozenset(display.STAFF_ROLES),
    "GET /api/v1/display/windows/{window}": frozenset(display.STAFF_ROLES),
    "DELETE /api/v1/display/windows/{window}/device": frozenset(display.STAFF_ROLES),
    "POST /api/v1/display/pair": PUBLIC,  # a browser with the six-digit code becomes a screen
    "GET /api/v1/display/me": PUBLIC,  # whether this browser is a paired screen
    "GET /api/v1/display/state": SCREEN,
    "GET /api/v1/display/qr.svg": SCREEN,
    "GET /api/v1/display/events": SCREEN,
    "POST /api/v1/display/ratings": SCREEN,
    # receipts: window staff reprint (补打), whoever sees the order reads its prints
    "POST /api/v1/orders/{order_no}/receipt/reprints": receipt_prints.REPRINT_ROLES,
    "GET /api/v1/orders/{order_no}/receipt/prints": SIGNED_IN,
    # payment notices (缴费通知书) and their SMS: the window's people, their own office's orders
    "POST /api/v1/orders/{order_no}/notice": notices.ISSUE_ROLES,
    "GET /api/v1/orders/{order_no}/notices": notices.ISSUE_ROLES,
    # 系统管理: accounts, API clients, offices and windows, the fee schedule
    "GET /api/v1/admin/fee-schedules": ADMIN,
    "POST /api/v1/admin/fee-schedules": ADMIN,
    "GET /api/v1/admin/users": ADMIN,
    "POST /api/v1/admin/users": ADMIN,
    "PATCH /api/v1/admin/users/{username}": ADMIN,
    "POST /api/v1/admin/users/{username}/password-reset": ADMIN,
    "POST /api/v1/admin/users/{username}/unlock": ADMIN,
    "GET /api/v1/admin/clients": ADMIN,
    "POST /api/v1/admin/clients": ADMIN,
    "PATCH /api/v1/admin/clients/{username}": ADMIN,
    "POST /api/v1/admin/clients/{username}/token": ADMIN,
    "GET /api/v1/admin/offices": ADMIN,
    "POST /api/v1/admin/offices": ADMIN,
    "PATCH /api/v1/admin/offices/{office}": ADMIN,
    "POST /api/v1/admin/offices/{office}/windows": ADMIN,
    "PATCH /api/v1/admin/offices/{office}/windows/{window}": ADMIN,
    "GET /api/v1/windows": SIGNED_IN,  # the windows of an office, for a supervisor's picker
    # the case system's webhooks: subscriptions, deliveries, dead letters, re-sends
    "GET /api/v1/admin/webhooks": webhook_subscriptions.ADMIN_ROLES,
    "POST /api/v1/admin/webhooks": webhook_subscriptions.ADMIN_ROLES,
    "POST /api/v1/admin/webhooks/{subscription_id}/secret": webhook_subscriptions.ADMIN_ROLES,
    "POST /api/v1/admin/webhooks/{subscription_id}/disable": webhook_subscriptions.ADMIN_ROLES,
    "GET /api/v1/admin/webhook-deliveries": webhook_subscriptions.ADMIN_ROLES,
    "POST /api/v1/admin/webhook-deliveries/{delivery_id}/resend": webhook_subscriptions.ADMIN_ROLES,
    # the self-service kiosk: administrators register and revoke it, the kiosk serves citizens
    "GET /api/v1/admin/kiosks": ADMIN,
    "POST /api/v1/admin/kiosks": ADMIN,
    "POST /api/v1/admin/kiosks/{kiosk_id}/revoke": ADMIN,
    "POST /api/v1/kiosk/enrol": PUBLIC,  # a browser with the one-time code becomes the kiosk
    "GET /api/v1/kiosk/me": PUBLIC,  # whether this browser is an enrolled kiosk
    "POST /api/v1/kiosk/lookup": KIOSK,
    "GET /api/v1/kiosk/current": KIOSK,
    "DELETE /api/v1/kiosk/current": KIOSK,
    "POST /api/v1/kiosk/current/payments": KIOSK,
    "GET /api/v1/kiosk/current/qr.svg": KIOSK,
    "GET /api/v1/kiosk/current/receipt": KIOSK,
    "GET /api/v1/kiosk/current/receipt-qr.svg": KIOSK,
}

Refusal = tuple[str, str, str]  # code, English, Chinese
ROLE_FORBIDDEN: Final[Refusal] = (
    "ROLE_FORBIDDEN",
    "your role may not do this",
    "您的角色无权执行此操作",
)
# rows whose refusal has words of its own: what the screen tells the person refused
REFUSALS: Final[dict[str, Refusal]] = {
    "POST /api/v1/office-days/{office}/{day}/close": office_days.CLOSE_REFUSED,
    "POST /api/v1/orders/{order_no}/receipt/reprints": receipt_prints.REPRINT_REFUSED,
    "POST /api/v1/orders/{order_no}/notice": notices.ISSUE_REFUSED,
    "GET /api/v1/orders/{order_no}/notices": notices.ISSUE_REFUSED,
}

_PARAM = re.compile(r"\{[^}]*\}")


def operation_key(method: str, path: str) -> str:
    """``GET /api/v1/orders/{}``: the method (HEAD read as GET) and the path, any parameter
    written ``{}``, so that the document's names and the router's agree."""
    method = method.upper()
    return f"{'GET' if method == 'HEAD' else method} {_PARAM.sub('{}', path)}"


_BY_KEY: Final = {operation_key(*op.split(" ", 1)): callers for op, callers in ACCESS.items()}
_REFUSAL_BY_KEY: Final = {operation_key(*op.split(" ", 1)): r for op, r in REFUSALS.items()}


def refusal(method: str, path: str) -> Refusal:
    """What a caller whose role the row does not name is told."""
    return _REFUSAL_BY_KEY.get(operation_key(method, path), ROLE_FORBIDDEN)


def callers(method: str, path: str) -> Callers | None:
    """Who may call the operation (a route's path as the router or the document writes it);
    None when the table has no row for it."""
    return _BY_KEY.get(operation_key(method, path))


@lru_cache(maxsize=512)
def _for_route(method: str, canonical: str) -> Callers | None:
    return callers(method, canonical)


def for_request(request: web.Request) -> tuple[Callers | None, Refusal]:
    """The row of the route serving ``request`` (None without one), and its refusal."""
    resource = request.match_info.route.resource
    if resource is None:
        return None, ROLE_FORBIDDEN
    return _for_route(request.method, resource.canonical), refusal(
        request.method, resource.canonical
    )
