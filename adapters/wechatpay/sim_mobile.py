"""WeChat Pay on the payer's phone, in the simulator (counter-and-beyond.md sections 1 and 2).

H5:     POST /v3/pay/transactions/h5         prepay; answers ``h5_url`` (valid 5 minutes)
        GET  /sim/wechatpay/h5/checkmweb     the phone-shaped cashier ``h5_url`` opens; refuses
                                             as WeChat does: another IP than payer_client_ip,
                                             no Referer or one off the merchant's domain,
                                             inside WeChat, a link older than 5 minutes
        POST /sim/wechatpay/h5/pay           the payer confirms: TRANSACTION.SUCCESS is sent
                                             (fault knobs honoured), the browser goes to
                                             redirect_url
JSAPI:  GET  /connect/oauth2/authorize       open.weixin.qq.com's silent snsapi_base: back to
                                             redirect_uri with code and state
        GET  /sns/oauth2/access_token        api.weixin.qq.com's code → openid exchange
        POST /v3/pay/transactions/jsapi      prepay for an openid of this appid; ``prepay_id``
        /sim/wechatpay/jsbridge.js and /sim/wechatpay/bridge/*: ``sim_bridge``
"""

from __future__ import annotations

import html
import ipaddress
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlencode, urlsplit

from aiohttp import web

from adapters.wechatpay.sim_delivery import payment_notification, send
from adapters.wechatpay.sim_state import BEIJING, STATE, Order, SimState
from adapters.wechatpay.sim_wire import WireError, json_body, new_order
from clearing.domain.money import yuan_str

log = logging.getLogger(__name__)

H5_LINK_LIFE = timedelta(minutes=5)
CODE_LIFE = timedelta(minutes=5)
PREPAY_LIFE = timedelta(hours=2)
OPENID_COOKIE = "wxsim_openid"


@dataclass
class MobileState:
    """What the 公众平台 side remembers: authorization codes, the openids it gave this appid,
    H5 links and JSAPI prepay ids."""

    codes: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    openids: set[str] = field(default_factory=set)
    # h5 prepay id → (out_trade_no, issued); jsapi prepay id → (out_trade_no, issued)
    h5_links: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    prepays: dict[str, tuple[str, datetime]] = field(default_factory=dict)


MOBILE = web.AppKey("wechatpay_sim_mobile", MobileState)


def _known(state: SimState, order: Order) -> Order | None:
    """The order already under this number, if the request repeats it; refusals otherwise."""
    existing = state.orders.get(order.out_trade_no)
    if existing is None:
        return None
    if existing.effective_state(datetime.now(BEIJING)) == "CLOSED":
        raise WireError(400, "ORDER_CLOSED", "订单已关闭")
    if existing.transaction_id is not None:
        raise WireError(403, "ORDERPAID", "订单已支付")
    if existing.request != order.request or existing.trade_type != order.trade_type:
        raise WireError(400, "INVALID_REQUEST", "商户订单号重复")
    return existing


async def h5_prepay(request: web.Request) -> web.Response:
    state = request.app[STATE]
    data = await json_body(request)
    order = new_order(state, data, "MWEB", datetime.now(BEIJING))
    scene = data.get("scene_info")
    ip = scene.get("payer_client_ip") if isinstance(scene, dict) else None
    try:
        ipaddress.ip_address(ip if isinstance(ip, str) else "")
    except ValueError:
        raise WireError(400, "PARAM_ERROR", "scene_info.payer_client_ip缺失或格式错误") from None
    assert isinstance(scene, dict)
    h5_info = scene.get("h5_info")
    if not isinstance(h5_info, dict) or not isinstance(h5_info.get("type"), str):
        raise WireError(400, "PARAM_ERROR", "scene_info.h5_info.type缺失")
    order = _known(state, order) or order
    state.orders[order.out_trade_no] = order
    # the same parameters again get a fresh link (section 2)
    prepay_id = "wx" + secrets.token_hex(14)
    request.app[MOBILE].h5_links[prepay_id] = (order.out_trade_no, datetime.now(BEIJING))
    query = urlencode({"prepay_id": prepay_id, "package": secrets.randbelow(10**10)})
    log.info("sim h5 prepay out_trade_no=%s", order.out_trade_no)
    return web.json_response(
        {"h5_url": f"{state.public_base_url}/sim/wechatpay/h5/checkmweb?{query}"}
    )


async def jsapi_prepay(request: web.Request) -> web.Response:
    state = request.app[STATE]
    mobile = request.app[MOBILE]
    data = await json_body(request)
    order = new_order(state, data, "JSAPI", datetime.now(BEIJING))
    payer = data.get("payer")
    openid = payer.get("openid") if isinstance(payer, dict) else None
    if not isinstance(openid, str) or not openid:
        raise WireError(400, "PARAM_ERROR", "参数payer.openid缺失")
    if openid not in mobile.openids:
        raise WireError(400, "PARAM_ERROR", "appid和openid不匹配")
    existing = _known(state, order)
    if existing is not None:
        return web.json_response({"prepay_id": existing.pr})
    order.pr = "wx" + secrets.token_hex(14)
    state.orders[order.out_trade_no] = order
    mobile.prepays[order.pr] = (order.out_trade_no, datetime.now(BEIJING))
    log.info("sim jsapi prepay out_trade_no=%s", order.out_trade_no)
    return web.json_response({"prepay_id": order.pr})


def _settle(state: SimState, order: Order, openid: str) -> None:
    """The payer confirmed: money taken, TRANSACTION.SUCCESS on its way (knobs honoured)."""
    now = datetime.now(BEIJING)
    state.settle(order, order.total_fen, now, openid)
    send(state, order, payment_notification(state, order, now))
    log.info("sim mobile paid out_trade_no=%s type=%s", order.out_trade_no, order.trade_type)


_CASHIER = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>微信支付</title><link rel="icon" href="data:,">
<style>body{{font-family:sans-serif;margin:0;background:#ededed}}
main{{background:#fff;margin:0 0 1rem;padding:2rem 1rem;text-align:center}}
.amount{{font-size:2.4rem;margin:.5rem 0}}.muted{{color:#666}}
button{{width:90%;padding:.9rem;font-size:1.1rem;background:#07c160;color:#fff;border:0;
border-radius:.4rem}}a{{display:block;margin:1rem;color:#576b95}}</style>
</head><body><main>
<p class="muted">{merchant}</p><p>{description}</p>
<p class="amount">¥{yuan}</p>{body}</main></body></html>
"""


def _cashier(state: SimState, order: Order | None, body: str, status: int = 200) -> web.Response:
    text = _CASHIER.format(
        merchant=html.escape(f"税费通缴（商户号 {state.keys.mchid}）"),
        description=html.escape(order.description if order else ""),
        yuan=yuan_str(order.total_fen) if order else "—",
        body=body,
    )
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _h5_refusal(request: web.Request, state: SimState, order: Order, redirect_url: str) -> str:
    """What WeChat's cashier says instead of paying, or '' (section 2)."""
    if "MicroMessenger" in request.headers.get("User-Agent", ""):
        return "请在微信外打开订单，进行支付"
    # the merchant's H5 domain: the one its notify_url lives on
    domain = _host(order.notify_url)
    referer = request.headers.get("Referer", "")
    if not referer or _host(referer) != domain:
        return "商家参数格式有误，请联系商家解决"
    if redirect_url and _host(redirect_url) != domain:
        return "商家参数格式有误，请联系商家解决（redirect_url 不在 H5 支付域名下）"
    scene = order.request.get("scene_info") or {}
    if request.remote != scene.get("payer_client_ip"):
        return "网络环境未能通过安全验证，请稍后再试"
    return ""


async def checkmweb(request: web.Request) -> web.Response:
    state = request.app[STATE]
    prepay_id = request.query.get("prepay_id", "")
    redirect_url = request.query.get("redirect_url", "")
    link = request.app[MOBILE].h5_links.get(prepay_id)
    if link is None:
        return _cashier(state, None, "<p>链接无效</p>", 404)
    order = state.orders[link[0]]
    now = datetime.now(BEIJING)
    if now - link[1] > H5_LINK_LIFE:
        return _cashier(state, order, "<p>支付链接已失效，请返回商户重新下单</p>", 400)
    refusal = _h5_refusal(request, state, order, redirect_url)
    if refusal:
        log.info("sim h5 cashier refused out_trade_no=%s why=%s", order.out_trade_no, refusal)
        return _cashier(state, order, f'<p id="refused">{html.escape(refusal)}</p>', 400)
    current = order.effective_state(now)
    if current != "NOTPAY":
        word = "订单已支付" if order.transaction_id else "订单已关闭"
        back = f'<a href="{html.escape(redirect_url)}">返回商户</a>' if redirect_url else ""
        return _cashier(state, order, f"<p>{word}</p>{back}")
    form = (
        '<form method="post" action="/sim/wechatpay/h5/pay">'
        f'<input type="hidden" name="prepay_id" value="{html.escape(prepay_id)}">'
        f'<input type="hidden" name="redirect_url" value="{html.escape(redirect_url)}">'
        '<button id="confirm">确认支付</button></form>'
    )
    cancel = (
        f'<a id="cancel" href="{html.escape(redirect_url)}">取消支付</a>' if redirect_url else ""
    )
    return _cashier(state, order, form + cancel)


async def h5_pay(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    form = await request.post()
    prepay_id = str(form.get("prepay_id", ""))
    redirect_url = str(form.get("redirect_url", ""))
    link = request.app[MOBILE].h5_links.get(prepay_id)
    if link is None:
        return _cashier(state, None, "<p>链接无效</p>", 404)
    order = state.orders[link[0]]
    if order.effective_state(datetime.now(BEIJING)) != "NOTPAY":
        return _cashier(state, order, "<p>该订单当前不可支付</p>", 409)
    _settle(state, order, "o" + secrets.token_urlsafe(21))
    if redirect_url.startswith(("https://", "http://")):
        return web.Response(status=302, headers={"Location": redirect_url})
    return _cashier(state, order, "<p>支付成功</p>")


# ---- 网页授权 (open.weixin.qq.com and api.weixin.qq.com) ----


async def authorize(request: web.Request) -> web.Response:
    """snsapi_base: silent; back to redirect_uri with a single-use code. The simulated phone
    keeps its WeChat identity in a cookie, so the same phone always gets the same openid."""
    state = request.app[STATE]
    q = request.query
    if q.get("appid") != state.keys.appid:
        return web.Response(status=400, text="appid错误（10016）", content_type="text/plain")
    if q.get("response_type") != "code" or q.get("scope") not in ("snsapi_base", "snsapi_userinfo"):
        return web.Response(status=400, text="参数错误（10005）", content_type="text/plain")
    redirect_uri = q.get("redirect_uri", "")
    if not redirect_uri.startswith(("https://", "http://")):
        return web.Response(
            status=400, text="redirect_uri参数错误（10003）", content_type="text/plain"
        )
    wanted = q.get("state", "")
    if len(wanted) > 128 or not wanted.isalnum():
        return web.Response(status=400, text="state参数错误", content_type="text/plain")
    mobile = request.app[MOBILE]
    openid = request.cookies.get(OPENID_COOKIE, "")
    if openid not in mobile.openids:
        openid = "o" + secrets.token_urlsafe(21)
        mobile.openids.add(openid)
    code = secrets.token_hex(16)
    mobile.codes[code] = (openid, datetime.now(BEIJING))
    joiner = "&" if "?" in redirect_uri else "?"
    response = web.Response(
        status=302,
        headers={"Location": f"{redirect_uri}{joiner}{urlencode({'code': code, 'state': wanted})}"},
    )
    response.set_cookie(OPENID_COOKIE, openid, httponly=True, samesite="Lax")
    return response


async def access_token(request: web.Request) -> web.Response:
    state = request.app[STATE]
    q = request.query
    if q.get("appid") != state.keys.appid:
        return web.json_response({"errcode": 40013, "errmsg": "invalid appid"})
    if not state.keys.app_secret or q.get("secret") != state.keys.app_secret:
        return web.json_response({"errcode": 40125, "errmsg": "invalid appsecret"})
    if q.get("grant_type") != "authorization_code":
        return web.json_response({"errcode": 40002, "errmsg": "invalid grant_type"})
    found = request.app[MOBILE].codes.pop(q.get("code", ""), None)
    if found is None or datetime.now(BEIJING) - found[1] > CODE_LIFE:
        return web.json_response({"errcode": 40029, "errmsg": "invalid code"})
    return web.json_response(
        {
            "access_token": secrets.token_urlsafe(32),
            "expires_in": 7200,
            "refresh_token": secrets.token_urlsafe(32),
            "openid": found[0],
            "scope": "snsapi_base",
        }
    )


def add_mobile_routes(app: web.Application) -> None:
    from adapters.wechatpay.sim_bridge import add_bridge_routes

    app[MOBILE] = MobileState()
    app.router.add_post("/v3/pay/transactions/h5", h5_prepay)
    app.router.add_post("/v3/pay/transactions/jsapi", jsapi_prepay)
    app.router.add_get("/sim/wechatpay/h5/checkmweb", checkmweb)
    app.router.add_post("/sim/wechatpay/h5/pay", h5_pay)
    app.router.add_get("/connect/oauth2/authorize", authorize)
    app.router.add_get("/sns/oauth2/access_token", access_token)
    add_bridge_routes(app)
