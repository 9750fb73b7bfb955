"""Pages for people: the sign-in page, the window screen, the refund approval page and their
assets (the printable receipt and its verification page are in ``routes_receipts``).

The window screen and the approval page are static HTML and vanilla JS talking to /api/v1.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable, Collection, Mapping
from typing import Any
from urllib.parse import quote

from aiohttp import web

from clearing.api import receipt
from clearing.api.homes import home_page
from clearing.api.keys import ACQUIRERS, POOL, SETTINGS
from clearing.api.page_shell import STATIC, page_response
from clearing.api.web import authenticate
from clearing.config import Settings
from clearing.domain.display import STATIC_NAMES, Names
from clearing.errors import ClearingError, Unauthenticated, Unavailable
from clearing.service import names as names_service
from clearing.service.principals import Principal

routes = web.RouteTableDef()
log = logging.getLogger(__name__)

# who reads the finance page (refund approvals, settlement batches, beneficiary accounts); only
# finance and admin decide (clearing.service.refunds.DECIDE_ROLES, beneficiary_accounts)
FINANCE_PAGE_ROLES = frozenset({"finance", "admin", "auditor"})
# how the window screen offers the configured channels: this order, then any others by name
CHANNEL_ORDER = ("wechatpay", "alipay", "unionpay", "pos")
METHODS = ("qr", "code", "card")

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


def _html_file(request: web.Request, name: str) -> web.Response:
    # a page file inside the shared head (clearing.api.page_shell), revalidated like the assets
    return page_response(request, name, {**PAGE_HEADERS, "Cache-Control": REVALIDATE})


def _html(text: str, status: int = 200) -> web.Response:
    # receipts hold personal data: never kept in a shared cache or the browser's disk cache
    return web.Response(
        text=text,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={**PAGE_HEADERS, "Cache-Control": "no-store"},
    )


def pdf_inline(pdf: bytes, ascii_name: str, name: str) -> web.Response:
    """A PDF the browser opens in place, saved as ``name`` (Chinese, RFC 5987) or, by browsers
    that cannot, as ``ascii_name``; personal data, so never cached."""
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{ascii_name}";'
            f" filename*=UTF-8''{quote(name)}",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def refusal_page(exc: ClearingError, titles: Mapping[type[ClearingError], str]) -> web.Response:
    """A refused page action said on a page, with the refusal's status and Chinese words, titled
    by the first kind in ``titles`` it is (请求有误 otherwise)."""
    title = next((t for k, t in titles.items() if isinstance(exc, k)), "请求有误")
    return _html(receipt.message_page(title, exc.message_zh), exc.status)


async def pdf_page(
    request: web.Request,
    render: Callable[..., bytes],
    *args: Any,
    names: Names,
    files: tuple[str, str],
    log: logging.Logger,
    what: str,
) -> web.Response:
    """``render(*args)`` off the event loop, as ``pdf_inline`` (``files``); a missing font is
    said on a page and logged as ``what`` on the route's ``log``."""
    try:
        pdf = await asyncio.to_thread(
            render, *args, font_file=request.app[SETTINGS].receipt_font_file, names=names
        )
    except Unavailable as exc:
        log.error("%s: %s", what, exc.message)
        return refusal_page(exc, {Unavailable: "暂不能生成"})
    return pdf_inline(pdf, *files)


def _redirect(location: str, status: int = 302) -> web.Response:
    # returned, not raised: the request middleware counts raised responses as failures
    return web.Response(status=status, headers={"Location": location, "Cache-Control": "no-store"})


def _login_url(request: web.Request) -> str:
    return "/login?next=" + quote(request.path_qs, safe="/")


async def page_viewer(request: web.Request, login: str | None = None) -> Principal | web.Response:
    """Who opened a page; without a session, the answer that sends them to sign in (``login``,
    by default a sign-in that comes back here)."""
    try:
        return await authenticate(request)
    except Unauthenticated:
        return _redirect(login or _login_url(request))


async def staff_page(
    request: web.Request,
    file: str,
    roles: Collection[str] | None = None,
    refused: tuple[str, str] = ("", ""),
    login: str | None = None,
) -> web.StreamResponse:
    """A static screen for signed-in staff: without a session, the sign-in page (``login``, by
    default one that comes back here). A role the screen is not for gets a 403 page saying why
    (``refused``: its title and text), not a redirect: a clerk who follows a link learns why."""
    who = await page_viewer(request, login)
    if isinstance(who, web.Response):
        return who
    if roles is not None and who.role not in roles:
        return _html(receipt.message_page(*refused), 403)
    return _html_file(request, file)


@routes.get("/")
async def index(request: web.Request) -> web.Response:
    who = await page_viewer(request, "/login")
    if isinstance(who, web.Response):
        return who
    return _redirect(home_page(who.role))


@routes.get("/login")
async def login_page(request: web.Request) -> web.Response:
    return _html_file(request, "login.html")


@routes.get("/window")
async def window_page(request: web.Request) -> web.StreamResponse:
    who = await page_viewer(request, "/login")
    if isinstance(who, web.Response):
        return who
    if home_page(who.role) != "/window":
        # finance staff, auditors and administrators take no payments at a window: the window
        # screen would offer them a form that answers 403, or wait for a window they do not have
        return _redirect(home_page(who.role))
    return _html_file(request, "window.html")


@routes.get("/finance")
async def finance_page(request: web.Request) -> web.StreamResponse:
    """审批退款: refund requests waiting for finance; readable by admin and auditors too."""
    text = (
        "财务页面（退款审批、清分结算、收款账户）仅供财务人员使用。"
        "如需办理退款，请联系值班主任提交退款申请。"
    )
    return await staff_page(request, "finance.html", FINANCE_PAGE_ROLES, ("无权访问退款审批", text))


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
                    "name_zh": STATIC_NAMES.of("channel", provider),
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


@routes.get("/window/names.js")
async def names_js(request: web.Request) -> web.Response:
    """The display names as an ES module (``export const NAMES``), for static/naming.js: the
    static table, and for a signed-in user also the names that are data (offices, banks,
    beneficiaries, fee items, people, ledger accounts). Generated per request, never cached:
    a renamed office shows at the next page load."""
    names: Names = STATIC_NAMES
    try:
        await authenticate(request)
    except Unauthenticated:
        pass  # the sign-in page: codes of the system only, nobody's name
    else:
        async with request.app[POOL].acquire() as conn:
            names = await names_service.load(conn, request.app[SETTINGS])
    table = json.dumps(names.as_json(), ensure_ascii=False, indent=1)
    body = (
        "// Generated by the server from clearing/domain/display.py and the names that are data;"
        " import it through naming.js.\n"
        f"export const NAMES = Object.freeze({table});\n"
    )
    return web.Response(
        text=body,
        content_type="text/javascript",
        charset="utf-8",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
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
