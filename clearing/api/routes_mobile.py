"""The citizen pays on their own phone (不见面缴费): ``/m/{token}``, the link on a payment notice.

Anonymous but token-gated (``clearing.service.pay_links``): a bad, altered or expired token is a
404 page in Chinese, and the token opens one order only. The page (static/mobile.html, .js) reads
``GET /m/{token}/order.json`` (the order as the payer may see it: no full ID number), and pays
with ``POST /m/{token}/payments``: inside WeChat by JSAPI (the silent web authorization first,
``/m/{token}/wechat`` → the channel → ``/m/{token}/oauth``, then the bridge), in any other phone
browser through each configured channel that offers ``h5``. It follows the order by asking again
every few seconds and ends on the receipt: ``/m/{token}/receipt.pdf`` and the receipt's public
verification link. These routes live outside /api/ (whose every operation is a staff role's,
documented and in clearing/api/access.py): nobody signs in to them; errors are problem+json.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from aiohttp import web

from clearing.api import receipt
from clearing.api.keys import ACQUIRERS, CIPHER, PAY_LINK_KEY, POOL, RECEIPTS, SETTINGS
from clearing.api.models import _In
from clearing.api.page_shell import page_response
from clearing.api.routes_orders import amounts_still_due
from clearing.api.routes_pages import CHANNEL_ORDER, PAGE_HEADERS, _html, _redirect
from clearing.api.web import client_address, is_secure, read_model
from clearing.channels import Channel
from clearing.domain.display import Names
from clearing.domain.orders import PAYABLE, OrderState
from clearing.domain.times import beijing
from clearing.errors import Conflict, InvalidRequest, NotFound
from clearing.logs import request_id_var
from clearing.service import mobile_pay, pay_links
from clearing.service import names as names_service
from clearing.service import orders as order_service
from clearing.service import receipt_prints as prints

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

OPENID_COOKIE = "tj_wx_openid"
STATE_COOKIE = "tj_wx_state"
WECHAT_UA = "MicroMessenger"
# what /api/ answers get from the middleware: the order, the bridge's signature, never cached
NO_STORE = {"Cache-Control": "no-store"}


class MobilePaymentIn(_In):
    """How the phone pays: ``h5`` in its browser, ``jsapi`` inside WeChat."""

    channel: Literal["wechatpay", "alipay", "unionpay"]
    method: Literal["h5", "jsapi"]


def _link(request: web.Request) -> pay_links.PayLink:
    return pay_links.read_token(
        request.app[PAY_LINK_KEY], request.match_info["token"], now=datetime.now(UTC)
    )


def _bad_link_page() -> web.Response:
    text = "该缴费链接无效或已过期，请向窗口工作人员索取新的缴费通知书。"
    return _html(receipt.message_page("缴费链接无效", text), 404)


def _base(request: web.Request) -> str:
    return request.app[SETTINGS].public_base_url.rstrip("/")


def _in_wechat(request: web.Request) -> bool:
    return WECHAT_UA in request.headers.get("User-Agent", "")


def _channels(request: web.Request, method: str) -> list[Channel]:
    configured = request.app[ACQUIRERS]
    rank = {p: i for i, p in enumerate(CHANNEL_ORDER)}
    ordered = sorted(configured, key=lambda p: (rank.get(p, len(rank)), p))
    return [configured[p] for p in ordered if configured[p].supports(method)]


# ---- the openid cookie: the payer's WeChat identity, MACed so that it cannot be swapped ----


def _openid_mac(key: bytes, openid: str) -> str:
    return hmac.new(key, f"openid|{openid}".encode(), hashlib.sha256).hexdigest()[:32]


def _openid(request: web.Request) -> str | None:
    raw = request.cookies.get(OPENID_COOKIE, "")
    openid, _, mac = raw.rpartition(".")
    if openid and hmac.compare_digest(mac, _openid_mac(request.app[PAY_LINK_KEY], openid)):
        return openid
    return None


def _cookie(request: web.Request, response: web.StreamResponse, name: str, value: str) -> None:
    response.set_cookie(
        name, value, path="/", httponly=True, samesite="Lax", secure=is_secure(request),
        max_age=2 * 3600,
    )  # fmt: skip


# ---- pages ----


def _page_csp(request: web.Request) -> str:
    """The window pages' policy, except that the script may submit a channel's form (Alipay and
    UnionPay pages are form posts) to https, or in a demo to the simulators."""
    s = request.app[SETTINGS]
    origins = {
        f"{p.scheme}://{p.netloc}"
        for name in type(s).model_fields
        if name.endswith("_url") and isinstance(getattr(s, name), str)
        for p in [urlsplit(getattr(s, name))]
        if p.scheme == "http" and p.netloc
    }
    base = PAGE_HEADERS["Content-Security-Policy"]
    return base.replace(
        "form-action 'self'", "form-action 'self' https: " + " ".join(sorted(origins))
    )


@routes.get("/m/{token}")
async def mobile_page(request: web.Request) -> web.StreamResponse:
    try:
        _link(request)
    except NotFound:
        return _bad_link_page()
    return page_response(
        request,
        "mobile.html",
        {
            **PAGE_HEADERS,
            "Content-Security-Policy": _page_csp(request),
            "Cache-Control": "no-store",
            # WeChat's H5 cashier checks the Referer's domain; the origin alone carries no token
            "Referrer-Policy": "origin",
        },
    )


def _wechat(request: web.Request) -> Channel | None:
    found = _channels(request, "jsapi")
    return found[0] if found else None


@routes.post("/m/{token}")
async def mobile_page_posted(request: web.Request) -> web.Response:
    """Some channels bring the browser back with a form POST (UnionPay's front notification to
    frontUrl): nothing in it is acted on (the result comes by notification or query), the browser
    is sent on to the page itself."""
    return _redirect(request.path_qs, 303)


@routes.get("/m/{token}/wechat")
async def wechat_authorize(request: web.Request) -> web.Response:
    """Inside WeChat: off to the silent web authorization, which comes back to /oauth."""
    try:
        _link(request)
    except NotFound:
        return _bad_link_page()
    channel = _wechat(request)
    if channel is None:
        return _html(receipt.message_page("暂不支持", "本系统未开通微信内支付。"), 404)
    state = secrets.token_hex(16)
    back = f"{_base(request)}/m/{quote(request.match_info['token'])}/oauth"
    response = _redirect(channel.oauth_url(redirect_uri=back, state=state))
    _cookie(request, response, STATE_COOKIE, state)
    return response


@routes.get("/m/{token}/oauth")
async def wechat_back(request: web.Request) -> web.Response:
    """WeChat comes back with ``code`` and ``state``: the state must be the one this browser was
    sent off with (nobody else's code lands in this session); the code becomes the openid."""
    try:
        _link(request)
    except NotFound:
        return _bad_link_page()
    token = request.match_info["token"]
    code = request.query.get("code", "")
    state = request.query.get("state", "")
    expected = request.cookies.get(STATE_COOKIE, "")
    channel = _wechat(request)
    if channel is None or not code or not expected or not hmac.compare_digest(state, expected):
        text = "微信授权未完成或已失效，请返回缴费页面重试。"
        return _html(receipt.message_page("微信授权失败", text), 400)
    try:
        openid = await channel.openid_for(code)
    except Exception as exc:
        log.warning("wechat code exchange failed: %r", exc)
        text = "微信授权未完成或已失效，请返回缴费页面重试。"
        return _html(receipt.message_page("微信授权失败", text), 502)
    response = _redirect(f"/m/{quote(token)}")
    key = request.app[PAY_LINK_KEY]
    _cookie(request, response, OPENID_COOKIE, f"{openid}.{_openid_mac(key, openid)}")
    response.del_cookie(STATE_COOKIE, path="/")
    return response


async def _receipt_print(request: web.Request, view: dict[str, Any]) -> prints.Print | None:
    async with request.app[POOL].acquire() as conn:
        return await prints.latest_for_payer(
            conn, view, mac=request.app[RECEIPTS].mac, request_id=request_id_var.get()
        )


@routes.get("/m/{token}/receipt.pdf")
async def receipt_pdf(request: web.Request) -> web.Response:
    """The paid order's receipt as a PDF, for the payer to keep."""
    from clearing.api.receipt_pdf import render_pdf  # reportlab loads only when asked for

    try:
        link = _link(request)
    except NotFound:
        return _bad_link_page()
    async with request.app[POOL].acquire() as conn:
        view = await order_service.unscoped_view(conn, link.order_no)
        if view is None:
            return _bad_link_page()
        enc = await conn.fetchval(
            "SELECT payer_name_enc FROM orders WHERE order_no = $1", link.order_no
        )
        names = await names_service.load(conn, request.app[SETTINGS])
        refunded_now = await prints.refunded_by_line(conn, link.order_no)
    if view["state"] not in prints.PAID_STATES:
        return _html(receipt.message_page("尚未缴费", "该缴费单尚未缴清，暂无缴费凭证。"), 409)
    view["payer_name"] = request.app[CIPHER].decrypt(enc, "orders.payer_name")
    printed = await _receipt_print(request, view)
    if printed is None:
        return _html(receipt.message_page("尚未缴费", "该缴费单尚未缴清，暂无缴费凭证。"), 409)
    sheet = receipt.Sheet(
        printed=printed,
        verify_url=f"{_base(request)}/v/{printed.code}",
        latest=True,
        stale=prints.stale(printed, refunded_now),
        may_reprint=False,
    )
    if sheet.stale:
        text = "该缴费单已有退款，请到窗口办理补打。"
        return _html(receipt.message_page("不能生成 PDF", text), 409)
    pdf = await asyncio.to_thread(
        render_pdf, view, sheet, font_file=request.app[SETTINGS].receipt_font_file, names=names
    )
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="receipt-{printed.receipt_no}.pdf"',
            "Cache-Control": "no-store",
        },
    )


# ---- the page's API ----


def _summary(view: dict[str, Any], names: Names, now: datetime) -> dict[str, Any]:
    expires = datetime.fromisoformat(view["expires_at"])
    payable = OrderState(view["state"]) in PAYABLE and expires > now
    return {
        "order_no": view["order_no"],
        "case_no": view["case_no"],
        "office_name": names.office(view["office"]),
        "payer_id_masked": view["payer_id_masked"],
        "state": view["state"],
        "state_zh": view["state_zh"] if payable or view["state"] != "OPEN" else "已过期",
        "payable": payable,
        "paid": view["state"] in prints.PAID_STATES,
        "total_fen": view["total_fen"],
        "total_display": view["total_display"],
        "total_capital": view["total_capital"],
        "expires_at": view["expires_at"],
        "expires_bj": beijing(expires).strftime("%Y年%m月%d日 %H:%M"),
        "lines": [
            {
                "item_name": names.of("fee_item", line["item_code"]),
                "beneficiary_name": names.of("beneficiary", line["beneficiary_code"]),
                "amount_fen": line["amount_fen"],
                "reference": line["reference"],
            }
            for line in view["lines"]
        ],
    }


@routes.get("/m/{token}/order.json")
async def order_for_phone(request: web.Request) -> web.Response:
    link = _link(request)
    async with request.app[POOL].acquire() as conn:
        view = await order_service.unscoped_view(conn, link.order_no)
        if view is None:
            raise NotFound("PAY_LINK_INVALID", "no such order", "缴费链接无效")
        names = await names_service.load(conn, request.app[SETTINGS])
    out = _summary(view, names, datetime.now(UTC))
    in_wechat = _in_wechat(request)
    method = "jsapi" if in_wechat else "h5"
    token = quote(request.match_info["token"])
    out["in_wechat"] = in_wechat
    out["ways"] = [
        {"channel": c.provider, "method": method, "name_zh": names.of("channel", c.provider)}
        for c in _channels(request, method)
    ] if out["payable"] else []  # fmt: skip
    out["authorize_url"] = f"/m/{token}/wechat" if in_wechat and _openid(request) is None else None
    out["receipt"] = None
    if out["paid"]:
        printed = await _receipt_print(request, view)
        if printed is not None:
            out["receipt"] = {
                "pdf_url": f"/m/{token}/receipt.pdf",
                "verify_url": f"{_base(request)}/v/{printed.code}",
                "receipt_no": printed.receipt_no,
            }
    return web.json_response(out, headers=NO_STORE)


@routes.post("/m/{token}/payments")
async def pay_from_phone(request: web.Request) -> web.Response:
    link = _link(request)
    body = await read_model(request, MobilePaymentIn)
    async with request.app[POOL].acquire() as conn:
        row = await conn.fetchrow(
            "SELECT state, expires_at FROM orders WHERE order_no = $1", link.order_no
        )
    if row is not None and OrderState(row["state"]) in PAYABLE:
        # as at the window: the authorities must still ask exactly these amounts (an order no
        # longer payable is refused as such when the attempt is opened)
        await amounts_still_due(request, link.order_no)
    s = request.app[SETTINGS]
    common: dict[str, Any] = {
        "order_no": link.order_no,
        "provider": body.channel,
        "now": datetime.now(UTC),
        "poll_after": timedelta(seconds=s.poll_first_s),
        "request_id": request_id_var.get(),
    }
    if body.method == "jsapi":
        openid = _openid(request)
        if openid is None:
            raise Conflict(
                "WECHAT_AUTHORIZATION_NEEDED",
                "authorize in WeChat first",
                "请先完成微信授权",
            )
        started = await mobile_pay.start_jsapi(
            request.app[POOL], request.app[ACQUIRERS], openid=openid, **common
        )
    else:
        if not client_address(request):
            raise InvalidRequest("PAYER_IP_UNKNOWN", "no client address", "无法识别您的网络地址")
        back = f"{_base(request)}/m/{quote(request.match_info['token'])}?back={body.channel}"
        started = await mobile_pay.start_h5(
            request.app[POOL],
            request.app[ACQUIRERS],
            payer_ip=client_address(request),
            return_url=back,
            **common,
        )
    return web.json_response(started, status=201, headers=NO_STORE)


def setup(app: web.Application) -> None:
    app.add_routes(routes)
