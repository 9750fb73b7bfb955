"""手机网站支付 (``alipay.trade.wap.pay``) in the simulator: the cashier the payer's phone sees.

The merchant's page posts the signed request from the payer's browser to ``/gateway.do``; the
gateway checks it as any call (``sim_gateway``), then ``open_page`` checks the business fields
and the browser is sent on to the cashier at ``/sim/wap/{token}``. Confirming there takes the
money (the asynchronous notification goes out as for every payment) and redirects the browser
to ``return_url`` with the signed synchronous return parameters. Refusals are pages, as Alipay
shows them in the browser: the merchant's server never sees them (counter-and-beyond.md 3).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlencode

from aiohttp import web

from adapters.alipay import crypto
from adapters.alipay.sim_events import mark_paid
from adapters.alipay.sim_state import STATE, Order, SimState
from adapters.alipay.sim_trades import BizError, new_order
from adapters.simkit.cashier import Cashier, facts
from adapters.simkit.pages import ONCE
from clearing.domain.money import yuan_str

log = logging.getLogger(__name__)

METHOD: Final = "alipay.trade.wap.pay"
PRODUCT_CODE: Final = "QUICK_WAP_WAY"
CASHIER_PATH: Final = "/sim/wap/{token}"

CASHIER = Cashier(
    "支付宝（模拟收银台）",
    "#1677ff",
    "#8ab4ff",
    "a.quit{{display:block;text-align:center;margin-top:1rem;color:#666}}\n",
)


def error_page(sub_code: str, sub_msg: str) -> web.Response:
    """What the payer sees when Alipay refuses the request."""
    return CASHIER.refused(
        "支付宝 - 无法付款", "无法付款", sub_msg, ("错误码：", "sub-code", sub_code)
    )


def open_page(state: SimState, biz: dict[str, Any], params: Mapping[str, str]) -> Order:
    """Check a ``alipay.trade.wap.pay`` request whose signature checked out; the order it
    opens (or the same one again, when the browser posts the same form twice)."""
    if biz.get("product_code") != PRODUCT_CODE:
        raise BizError("ACQ.INVALID_PARAMETER", "参数product_code无效：手机网站支付为QUICK_WAP_WAY")
    return_url = params.get("return_url", "")
    quit_url = biz.get("quit_url", "")
    for name, url in (("return_url", return_url), ("quit_url", quit_url)):
        if not isinstance(url, str) or (url and not url.startswith(("https://", "http://"))):
            raise BizError("ACQ.INVALID_PARAMETER", f"{name}必须是http(s)地址")
    order = new_order(state, biz, params, "wap")
    if not order.page_token:
        order.return_url = return_url
        order.quit_url = str(quit_url)
        order.page_token = state.new_page_token()
        state.by_page[order.page_token] = order.out_trade_no
        log.info("sim wap opened out_trade_no=%s total_fen=%d", order.out_trade_no, order.total_fen)
    return order


def cashier_url(order: Order) -> str:
    return CASHIER_PATH.format(token=order.page_token)


def return_params(state: SimState, order: Order, now: datetime) -> dict[str, str]:
    """The synchronous return as Alipay appends it to ``return_url``: signed like a
    notification, but only a display hint for the merchant (it carries no trade_status)."""
    params = {
        "charset": crypto.CHARSET,
        "out_trade_no": order.out_trade_no,
        "method": METHOD + ".return",
        "total_amount": yuan_str(order.paid_fen if order.paid_fen is not None else order.total_fen),
        "trade_no": order.trade_no or "",
        "auth_app_id": state.keys.app_id,
        "version": crypto.VERSION,
        "app_id": state.keys.app_id,
        "seller_id": state.keys.seller_id,
        "timestamp": crypto.beijing_text(now),
    }
    params["sign_type"] = crypto.SIGN_TYPE
    params["sign"] = crypto.sign(state.keys.private_key, crypto.notify_content(params))
    return params


def _return_link(state: SimState, order: Order, now: datetime) -> str:
    joiner = "&" if "?" in order.return_url else "?"
    return order.return_url + joiner + urlencode(return_params(state, order, now))


def _order(request: web.Request) -> tuple[SimState, Order] | None:
    state = request.app[STATE]
    out_trade_no = state.by_page.get(request.match_info["token"])
    if out_trade_no is None:
        return None
    return state, state.orders[out_trade_no]


def _cashier(state: SimState, order: Order, token: str, now: datetime) -> web.Response:
    rows = [
        ("收款方", f"税费通缴（{state.keys.seller_id}）"),
        ("商品", order.subject),
        ("订单号", order.out_trade_no),
    ]
    quit_link = ""
    if order.quit_url:
        quit_link = f'<a class="quit" href="{html.escape(order.quit_url)}">放弃付款，返回商家</a>'
    if order.payable(now):
        action = (
            f'<form class="pay" method="post" action="{html.escape(f"/sim/wap/{token}/pay")}">'
            f'<button id="confirm">确认付款</button></form>{quit_link}{ONCE}'
        )
    elif order.paid_fen is not None:
        back = ""
        if order.return_url:
            link = html.escape(_return_link(state, order, now))
            back = f'<a class="quit" id="back" href="{link}">返回商家</a>'
        action = f'<p id="status">订单已支付</p>{back}'
    else:
        action = f'<p id="status">订单已关闭，不能付款</p>{quit_link}'
    return CASHIER.page("支付宝 - 确认付款", facts(order.total_fen, rows) + action)


async def cashier(request: web.Request) -> web.Response:
    found = _order(request)
    if found is None:
        return error_page("ACQ.TRADE_NOT_EXIST", "交易不存在")
    state, order = found
    return _cashier(state, order, request.match_info["token"], datetime.now(crypto.BEIJING))


async def confirm(request: web.Request) -> web.StreamResponse:
    """The payer confirms: money taken, notification queued, browser sent to return_url."""
    found = _order(request)
    if found is None:
        return error_page("ACQ.TRADE_NOT_EXIST", "交易不存在")
    state, order = found
    now = datetime.now(crypto.BEIJING)
    if not order.payable(now):
        return _cashier(state, order, request.match_info["token"], now)
    mark_paid(state, order, now)
    if not order.return_url:
        return _cashier(state, order, request.match_info["token"], now)
    raise web.HTTPSeeOther(_return_link(state, order, now))


def add_wap_routes(app: web.Application) -> None:
    app.router.add_get(CASHIER_PATH, cashier)
    app.router.add_post(CASHIER_PATH + "/pay", confirm)
