"""Pages for people: the sign-in page, the window screen, the refund approval page, their assets,
and the printable receipt.

The window screen and the approval page are static HTML and vanilla JS talking to /api/v1; only
the receipt is rendered here, because it must exist exactly as printed, with every value escaped
on the server.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web

from clearing.api import receipt
from clearing.api.keys import ACQUIRERS, CIPHER, POOL, RECEIPTS, SETTINGS
from clearing.api.web import authenticate
from clearing.config import Settings
from clearing.errors import MalformedRequest, NotFound, Unauthenticated
from clearing.service import orders as order_service
from clearing.service import receipts

routes = web.RouteTableDef()
log = logging.getLogger(__name__)

# who reads the finance page (refund approvals, settlement batches, beneficiary accounts); only
# finance and admin decide (clearing.service.refunds.DECIDE_ROLES, beneficiary_accounts)
FINANCE_PAGE_ROLES = frozenset({"finance", "admin", "auditor"})
# how the window screen offers the configured channels: this order, then any others by name
CHANNEL_ORDER = ("wechatpay", "alipay", "unionpay", "pos")
CHANNEL_NAMES = receipt.CHANNEL_ZH
METHODS = ("qr", "code", "card")

STATIC = Path(__file__).parent / "static"
# one flat folder of plainly named files: nothing in a request can climb out of it
_ASSET_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*\.(css|js|svg|png|ico)")
# stated, not guessed: the guess depends on the host's /etc/mime.types
_ASSET_TYPES = {
    "css": "text/css; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "svg": "image/svg+xml",
    "png": "image/png",
    "ico": "image/x-icon",
}

# Asset names carry no content hash, so browsers revalidate each time (a cheap 304 by ETag)
# rather than run yesterday's script after an upgrade.
REVALIDATE = "no-cache"
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
        " connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self';"
        " frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def _html_file(name: str) -> web.FileResponse:
    return web.FileResponse(
        STATIC / name,
        headers={
            **PAGE_HEADERS,
            "Content-Type": "text/html; charset=utf-8",
            "Cache-Control": REVALIDATE,
        },
    )


def _html(text: str, status: int = 200) -> web.Response:
    # receipts hold personal data: never kept in a shared cache or the browser's disk cache
    return web.Response(
        text=text,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={**PAGE_HEADERS, "Cache-Control": "no-store"},
    )


def _redirect(location: str) -> web.Response:
    # returned, not raised: the request middleware counts raised responses as failures
    return web.Response(status=302, headers={"Location": location, "Cache-Control": "no-store"})


def _login_url(request: web.Request) -> str:
    return "/login?next=" + quote(request.path_qs, safe="/")


@routes.get("/")
async def index(_request: web.Request) -> web.Response:
    return _redirect("/window")


@routes.get("/login")
async def login_page(_request: web.Request) -> web.FileResponse:
    return _html_file("login.html")


@routes.get("/window")
async def window_page(request: web.Request) -> web.StreamResponse:
    try:
        who = await authenticate(request)
    except Unauthenticated:
        return _redirect("/login")
    if who.role == "finance":
        # finance staff take no payments: their screen is the refund approval page
        return _redirect("/finance")
    return _html_file("window.html")


@routes.get("/finance")
async def finance_page(request: web.Request) -> web.StreamResponse:
    """审批退款: refund requests waiting for finance; readable by admin and auditors too."""
    try:
        who = await authenticate(request)
    except Unauthenticated:
        return _redirect(_login_url(request))
    if who.role not in FINANCE_PAGE_ROLES:
        # said plainly rather than redirected: a clerk who follows a link learns why
        text = (
            "财务页面（退款审批、清分结算、收款账户）仅供财务人员使用。"
            "如需办理退款，请联系值班主任提交退款申请。"
        )
        return _html(receipt.message_page("无权访问退款审批", text), 403)
    return _html_file("finance.html")


def _sim_url(settings: Settings, provider: str) -> str | None:
    # read by name: a channel whose settings have not landed yet simply has no simulator
    url = getattr(settings, f"{provider}_sim_url", None)
    return url.rstrip("/") if isinstance(url, str) and url else None


def _channels(request: web.Request) -> list[dict[str, Any]]:
    settings = request.app[SETTINGS]
    configured = request.app[ACQUIRERS]
    rank = {p: i for i, p in enumerate(CHANNEL_ORDER)}
    out = []
    for provider in sorted(configured, key=lambda p: (rank.get(p, len(rank)), p)):
        methods = [m for m in METHODS if configured[provider].supports(m)]
        if methods:
            out.append(
                {
                    "provider": provider,
                    "name_zh": CHANNEL_NAMES.get(provider, provider),
                    "methods": methods,
                    "sim_url": _sim_url(settings, provider),
                }
            )
    return out


@routes.get("/window/config.json")
async def window_config(request: web.Request) -> web.Response:
    """What the screen needs to know about this deployment; nothing secret.

    ``channels`` are the configured channels in display order, each with the ways of paying it
    offers and, in a demo, its simulator; ``terminals`` are the card terminals of this office.
    """
    settings = request.app[SETTINGS]
    channels = _channels(request)
    takes_cards = any("card" in c["methods"] for c in channels)
    terminals = getattr(settings, "pos_terminals", None) or []
    return web.json_response(
        {
            "wechatpay_sim_url": _sim_url(settings, "wechatpay"),
            "max_lines": settings.max_lines_per_order,
            "channels": channels,
            "terminals": [str(t) for t in terminals] if takes_cards else [],
        },
        headers={"Cache-Control": "no-store"},
    )


@routes.get("/window/static/{name}")
async def asset(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    match = _ASSET_NAME.fullmatch(name)
    path = STATIC / name
    if match is None or not path.is_file():
        return web.Response(status=404, text="Not found")
    return web.FileResponse(
        path,
        headers={
            "Content-Type": _ASSET_TYPES[match.group(1)],
            "Cache-Control": REVALIDATE,
            "X-Content-Type-Options": "nosniff",
        },
    )


async def _paid_view(request: web.Request) -> dict[str, Any] | web.Response:
    """The order of a receipt request, or the page that says why there is no receipt."""
    try:
        who = await authenticate(request)
    except Unauthenticated:
        return _redirect(_login_url(request))
    try:
        async with request.app[POOL].acquire() as conn:
            view = await order_service.get(
                conn, who, request.match_info["order_no"], request.app[CIPHER]
            )
    except NotFound:
        return _html(receipt.message_page("缴费单不存在", "未找到该缴费单，请核对缴费单号。"), 404)
    if view["state"] not in receipt.PAID_STATES:
        return _html(receipt.unpaid_page(view), 409)
    return view


def _verify_url(request: web.Request, view: dict[str, Any]) -> str:
    token = receipts.issue(view, request.app[RECEIPTS])
    return f"{request.app[SETTINGS].public_base_url.rstrip('/')}/verify/{token}"


@routes.get("/orders/{order_no}/receipt")
async def receipt_page(request: web.Request) -> web.Response:
    """The 缴费凭证 of a paid order, for the clerk to print; other offices' orders do not exist."""
    view = await _paid_view(request)
    if isinstance(view, web.Response):
        return view
    return _html(
        receipt.render(view, printed_at=datetime.now(UTC), verify_url=_verify_url(request, view))
    )


@routes.get("/orders/{order_no}/receipt.pdf")
async def receipt_pdf(request: web.Request) -> web.Response:
    """The same receipt as a PDF, to file or send; same access rules as the page."""
    from clearing.api.receipt_pdf import render_pdf  # reportlab loads only when asked for

    view = await _paid_view(request)
    if isinstance(view, web.Response):
        return view
    pdf = await asyncio.to_thread(
        render_pdf, view, printed_at=datetime.now(UTC), verify_url=_verify_url(request, view)
    )
    name = f"缴费凭证-{view['order_no']}.pdf"
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="receipt-{view["order_no"]}.pdf";'
            f" filename*=UTF-8''{quote(name)}",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@routes.get("/verify/{token}")
async def verify_page(request: web.Request) -> web.Response:
    """Anyone who scans a receipt's QR code lands here: genuine, or why not. No sign-in."""
    try:
        async with request.app[POOL].acquire() as conn:
            verdict = await receipts.verify(
                conn, request.match_info["token"], request.app[RECEIPTS]
            )
    except MalformedRequest:
        return _html(
            receipt.message_page("无法核验", "这不是缴费凭证的核验码，请扫描凭证上的二维码。"), 400
        )
    if not verdict.valid:
        log.warning("receipt check failed", extra={"code": verdict.code})
    return _html(receipt.verdict_page(verdict), 200)
