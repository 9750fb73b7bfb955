"""The simulator's unsigned ``/sim/`` endpoints: the citizen's phone and the test harness."""

from __future__ import annotations

import html
import logging
from dataclasses import asdict
from datetime import datetime
from typing import Any
from urllib.parse import quote

from aiohttp import web

from adapters.alipay.crypto import BEIJING, beijing_text
from adapters.alipay.sim_events import mark_paid, open_trade
from adapters.alipay.sim_state import STATE, Order, SimState
from adapters.simkit import desk
from adapters.simkit.faults import add_fault_routes
from clearing.domain.money import yuan_str

log = logging.getLogger(__name__)

_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>支付宝（模拟）</title>
<style>body{{font-family:sans-serif;max-width:24rem;margin:2rem auto;padding:0 1rem}}
dt{{color:#666}}dd{{margin:0 0 .8rem}}.amount{{font-size:2rem}}
button{{width:100%;padding:.8rem;font-size:1.1rem;background:#1677ff;color:#fff;border:0}}</style>
</head><body>
<h1>支付宝（模拟）</h1>
<dl><dt>收款方</dt><dd>{merchant}</dd><dt>商品</dt><dd>{subject}</dd>
<dt>金额</dt><dd class="amount">¥{yuan}</dd><dt>状态</dt><dd>{status}</dd></dl>
{action}
</body></html>
"""


def _page(state: SimState, order: Order, note: str = "") -> web.Response:
    now = datetime.now(BEIJING)
    if order.payable(now):
        target = html.escape(f"/sim/orders/{quote(order.out_trade_no, safe='')}/pay")
        action = f'<form method="post" action="{target}"><button>确认付款</button></form>'
    else:
        action = f"<p>{html.escape(note or '该订单当前不可支付')}</p>"
    text = _PAGE.format(
        merchant=html.escape(f"税费通缴（{state.keys.seller_id}）"),
        subject=html.escape(order.subject),
        yuan=yuan_str(order.paid_fen if order.paid_fen is not None else order.total_fen),
        status=html.escape(_status(order, now)),
        action=action,
    )
    return web.Response(text=text, content_type="text/html", charset="utf-8")


def _status(order: Order, now: datetime) -> str:
    if order.trade_no is None:
        return "TRADE_CLOSED" if order.voided or order.expired(now) else "NOT_SCANNED"
    return order.effective_status(now)


async def scan(request: web.Request) -> web.Response:
    """The citizen scans the QR: the trade comes to exist (WAIT_BUYER_PAY)."""
    state = request.app[STATE]
    out_trade_no = state.by_token.get(request.match_info["token"])
    if out_trade_no is None:
        return web.Response(status=404, text="二维码无效", content_type="text/plain")
    order = state.orders[out_trade_no]
    now = datetime.now(BEIJING)
    if not order.payable(now):
        return _page(state, order, "二维码已失效")
    open_trade(state, order, now)
    return _page(state, order)


async def scan_json(request: web.Request) -> web.Response:
    state = request.app[STATE]
    order = state.orders.get(request.match_info["out_trade_no"])
    if order is None or not order.token:
        return _not_found()
    now = datetime.now(BEIJING)
    if not order.payable(now):
        return web.json_response({"code": "TRADE_CLOSED", "message": "二维码已失效"}, status=409)
    open_trade(state, order, now)
    return web.json_response(order_json(state, order))


async def pay(request: web.Request) -> web.Response:
    """The citizen confirms; JSON for the harness, an HTML page for the scan form."""
    state = request.app[STATE]
    from_page = request.content_type == "application/x-www-form-urlencoded"
    order = state.orders.get(request.match_info["out_trade_no"])
    if order is None or order.scene == "cancelled":
        return _not_found()
    amount_fen: int | None = None
    if not from_page:
        try:
            knobs = await desk.json_object(request)
            if "amount_fen" in knobs:
                amount_fen = desk.positive_fen(knobs, "amount_fen", 0)
        except ValueError as exc:
            return _bad(str(exc))
    now = datetime.now(BEIJING)
    if not order.payable(now):
        paid = order.paid_fen is not None
        if from_page:
            return _page(state, order, "订单已支付" if paid else "订单已关闭")
        code = "TRADE_HAS_SUCCESS" if paid else "TRADE_HAS_CLOSE"
        return web.json_response({"code": code, "message": _status(order, now)}, status=409)
    mark_paid(state, order, now, amount_fen)
    if from_page:
        return _page(state, order, "付款成功")
    return web.json_response(
        {
            "out_trade_no": order.out_trade_no,
            "trade_no": order.trade_no,
            "trade_status": order.status,
            "amount_fen": order.paid_fen,
            "notify_id": order.notifications[-1].notify_id if order.notifications else None,
        }
    )


async def expire(request: web.Request) -> web.Response:
    """Let time_expire pass now, so tests need not sleep."""
    state = request.app[STATE]
    order = state.orders.get(request.match_info["out_trade_no"])
    if order is None:
        return _not_found()
    order.time_expire = datetime.now(BEIJING)
    return web.json_response(order_json(state, order))


def order_json(state: SimState, order: Order) -> dict[str, Any]:
    now = datetime.now(BEIJING)
    notifications = [
        {
            "notify_id": n.notify_id,
            "event": n.event,
            "acknowledged": n.acknowledged,
            "attempts": [asdict(a) for a in n.attempts],
        }
        for n in order.notifications
    ]
    return {
        "out_trade_no": order.out_trade_no,
        "scene": order.scene,
        "state": _status(order, now),
        "subject": order.subject,
        "total_fen": order.total_fen,
        "paid_fen": order.paid_fen,
        "fee_fen": order.fee_fen,
        "trade_no": order.trade_no,
        "gmt_payment": beijing_text(order.gmt_payment) if order.gmt_payment else None,
        "time_expire": beijing_text(order.time_expire) if order.time_expire else None,
        "notify_url": order.notify_url,
        "qr_code": f"https://qr.alipay.com/{order.token}" if order.token else None,
        "scan_url": f"{state.public_base_url}/sim/scan/{order.token}" if order.token else None,
        # 手机网站支付: the cashier the payer's browser was sent to
        "cashier_url": (
            f"{state.public_base_url}/sim/wap/{order.page_token}" if order.page_token else None
        ),
        "return_url": order.return_url or None,
        "cancel_action": order.cancel_action,
        "refunds": [{**asdict(r), "at": beijing_text(r.at)} for r in order.refunds],
        "notifications": notifications,
        "deliveries": [
            {"notify_id": n.notify_id, **asdict(a)} for n in order.notifications for a in n.attempts
        ],
    }


async def show_order(request: web.Request) -> web.Response:
    state = request.app[STATE]
    order = state.orders.get(request.match_info["out_trade_no"])
    if order is None:
        return _not_found()
    return web.json_response(order_json(state, order))


def _not_found() -> web.Response:
    return web.json_response({"code": "TRADE_NOT_EXIST", "message": "交易不存在"}, status=404)


def _bad(message: str) -> web.Response:
    return web.json_response({"code": "INVALID_PARAMETER", "message": message}, status=400)


def add_control_routes(app: web.Application) -> None:
    app.router.add_get("/sim/scan/{token}", scan)
    app.router.add_post("/sim/orders/{out_trade_no}/scan", scan_json)
    app.router.add_post("/sim/orders/{out_trade_no}/pay", pay)
    app.router.add_post("/sim/orders/{out_trade_no}/expire", expire)
    app.router.add_get("/sim/orders/{out_trade_no}", show_order)
    add_fault_routes(app, lambda app: app[STATE].faults, refuse=_bad)
