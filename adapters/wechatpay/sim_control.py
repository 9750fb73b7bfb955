"""The simulator's unsigned ``/sim/`` endpoints: the citizen's phone and the test harness.

GET  /sim/scan/{pr}                    the page a scanned QR code opens
POST /sim/orders/{no}/pay              the citizen pays (JSON ``amount_fen`` to pay another
                                       amount); for a code payment waiting in USERPAYING:
                                       the citizen confirms on the phone
POST /sim/orders/{no}/expire           let time_expire pass now
GET  /sim/orders/{no}                  state, refunds, every notification and delivery attempt
POST /sim/refunds/{no}/complete        a PROCESSING/ABNORMAL refund ends (``sim_refund``)
GET|PUT|DELETE /sim/faults             the knobs (``sim_faults``)
"""

from __future__ import annotations

import html
import logging
import secrets
from dataclasses import asdict
from datetime import datetime
from typing import Any
from urllib.parse import quote

from aiohttp import web

from adapters.simkit import desk
from adapters.simkit.faults import add_fault_routes
from adapters.simkit.notify import notices_json
from adapters.wechatpay import sim_codepay
from adapters.wechatpay.sim_delivery import payment_notification, send
from adapters.wechatpay.sim_state import BEIJING, STATE, Order, SimState, rfc3339
from clearing.domain.money import yuan_str

log = logging.getLogger(__name__)

_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>微信支付（模拟）</title>
<style>body{{font-family:sans-serif;max-width:24rem;margin:2rem auto;padding:0 1rem}}
dt{{color:#666}}dd{{margin:0 0 .8rem}}.amount{{font-size:2rem}}
button{{width:100%;padding:.8rem;font-size:1.1rem;background:#07c160;color:#fff;border:0}}</style>
</head><body>
<h1>微信支付（模拟）</h1>
<dl><dt>商户</dt><dd>{merchant}</dd><dt>商品</dt><dd>{description}</dd>
<dt>金额</dt><dd class="amount">¥{yuan}</dd><dt>状态</dt><dd>{state}</dd></dl>
{action}
</body></html>
"""


def _page(state: SimState, order: Order, note: str = "") -> web.Response:
    now = datetime.now(BEIJING)
    if order.effective_state(now) == "NOTPAY":
        target = html.escape(f"/sim/orders/{quote(order.out_trade_no, safe='')}/pay")
        action = f'<form method="post" action="{target}"><button>确认支付</button></form>'
    else:
        action = f"<p>{html.escape(note or '该订单当前不可支付')}</p>"
    text = _PAGE.format(
        merchant=html.escape(f"税费通缴（商户号 {state.keys.mchid}）"),
        description=html.escape(order.description),
        yuan=yuan_str(order.paid_fen if order.paid_fen is not None else order.total_fen),
        state=html.escape(order.effective_state(now)),
        action=action,
    )
    return web.Response(text=text, content_type="text/html", charset="utf-8")


async def scan(request: web.Request) -> web.Response:
    state = request.app[STATE]
    out_trade_no = state.by_pr.get(request.match_info["pr"])
    if out_trade_no is None:
        return web.Response(status=404, text="二维码无效", content_type="text/plain")
    return _page(state, state.orders[out_trade_no])


async def pay(request: web.Request) -> web.Response:
    """The citizen confirms; JSON for the harness, an HTML page for the scan form."""
    state = request.app[STATE]
    from_page = request.content_type == "application/x-www-form-urlencoded"
    order = state.orders.get(request.match_info["out_trade_no"])
    if order is None:
        return web.json_response({"code": "ORDER_NOT_EXIST", "message": "订单不存在"}, status=404)
    amount_fen = order.total_fen
    if not from_page:
        try:
            amount_fen = desk.positive_fen(
                await desk.json_object(request), "amount_fen", amount_fen
            )
        except ValueError as exc:
            return _bad(str(exc))
    now = datetime.now(BEIJING)
    current = order.effective_state(now)
    if order.trade_type == "MICROPAY" and current == "USERPAYING":
        sim_codepay.complete(state, order, "SUCCESS", amount_fen, now)
        log.info("sim code payment confirmed out_trade_no=%s", order.out_trade_no)
        return web.json_response(
            {
                "out_trade_no": order.out_trade_no,
                "transaction_id": order.transaction_id,
                "trade_state": order.state,
                "amount_fen": amount_fen,
            }
        )
    if current != "NOTPAY" or order.trade_type not in ("NATIVE", "MWEB", "JSAPI"):
        code = "ORDERPAID" if order.transaction_id else "ORDER_CLOSED"
        if from_page:
            return _page(state, order, "订单已支付" if order.transaction_id else "订单已关闭")
        return web.json_response({"code": code, "message": current}, status=409)

    order.state = "SUCCESS"
    order.transaction_id = state.new_transaction_id(now)
    order.paid_fen = amount_fen
    order.success_time = rfc3339(now)
    order.openid = "o" + secrets.token_urlsafe(21)
    order.fee_ppm = state.fee_ppm
    state.by_transaction[order.transaction_id] = order.out_trade_no
    notification = payment_notification(state, order, now)
    send(state, order, notification)
    log.info("sim paid out_trade_no=%s paid_fen=%d", order.out_trade_no, amount_fen)
    if from_page:
        return _page(state, order, "支付成功")
    return web.json_response(
        {
            "out_trade_no": order.out_trade_no,
            "transaction_id": order.transaction_id,
            "trade_state": order.state,
            "amount_fen": amount_fen,
            "event_id": notification.id,
        }
    )


async def expire(request: web.Request) -> web.Response:
    """Let time_expire pass now, so tests need not sleep."""
    state = request.app[STATE]
    order = state.orders.get(request.match_info["out_trade_no"])
    if order is None:
        return web.json_response({"code": "ORDER_NOT_EXIST", "message": "订单不存在"}, status=404)
    order.time_expire = datetime.now(BEIJING)
    return web.json_response(order_json(state, order))


def order_json(state: SimState, order: Order) -> dict[str, Any]:
    now = datetime.now(BEIJING)
    return {
        "out_trade_no": order.out_trade_no,
        "trade_type": order.trade_type,
        "state": order.effective_state(now),
        "description": order.description,
        "total_fen": order.total_fen,
        "paid_fen": order.paid_fen,
        "transaction_id": order.transaction_id,
        "success_time": order.success_time,
        "time_expire": rfc3339(order.time_expire) if order.time_expire else None,
        "notify_url": order.notify_url,
        "attach": order.attach,
        "code_url": f"weixin://wxpay/bizpayurl?pr={order.pr}",
        "scan_url": f"{state.public_base_url}/sim/scan/{order.pr}",
        "refunds": [asdict(r) for r in order.refunds],
        "reversal": asdict(order.reversal) if order.reversal else None,
        **notices_json(order.notifications, "event_id", "event_type"),
    }


async def show_order(request: web.Request) -> web.Response:
    state = request.app[STATE]
    order = state.orders.get(request.match_info["out_trade_no"])
    if order is None:
        return web.json_response({"code": "ORDER_NOT_EXIST", "message": "订单不存在"}, status=404)
    return web.json_response(order_json(state, order))


def _bad(message: str) -> web.Response:
    return web.json_response({"code": "PARAM_ERROR", "message": message}, status=400)


def add_control_routes(app: web.Application) -> None:
    app.router.add_get("/sim/scan/{pr}", scan)
    app.router.add_post("/sim/orders/{out_trade_no}/pay", pay)
    app.router.add_post("/sim/orders/{out_trade_no}/expire", expire)
    app.router.add_get("/sim/orders/{out_trade_no}", show_order)
    add_fault_routes(app, lambda app: app[STATE].faults)
