"""The simulator's unsigned ``/sim/`` endpoints: the citizen's phone and the test harness."""

from __future__ import annotations

import html
import logging
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from aiohttp import web

from adapters.simkit import desk
from adapters.simkit.faults import add_fault_routes
from adapters.unionpay import wire
from adapters.unionpay.sim_delivery import notify
from adapters.unionpay.sim_state import STATE, SimState, Txn, masked_card
from clearing.domain.money import yuan_str

log = logging.getLogger(__name__)

PAYABLE_SUB_TYPES = ("07", "01")

_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>云闪付（模拟）</title>
<style>body{{font-family:sans-serif;max-width:24rem;margin:2rem auto;padding:0 1rem}}
dt{{color:#666}}dd{{margin:0 0 .8rem}}.amount{{font-size:2rem}}
button{{width:100%;padding:.8rem;font-size:1.1rem;background:#d7000f;color:#fff;border:0}}</style>
</head><body>
<h1>银联云闪付（模拟）</h1>
<dl><dt>商户</dt><dd>{merchant}</dd><dt>订单号</dt><dd>{order_id}</dd>
<dt>金额</dt><dd class="amount">¥{yuan}</dd><dt>状态</dt><dd>{state}</dd></dl>
{action}
</body></html>
"""


def _payable(txn: Txn, now: datetime) -> bool:
    # a code to scan (01/07) or a payment page (01/01) nobody paid yet
    return txn.txn_sub_type in PAYABLE_SUB_TYPES and txn.state == "ISSUED" and not txn.expired(now)


def _state_word(txn: Txn, now: datetime) -> str:
    if txn.state == "ISSUED" and txn.expired(now):
        return "EXPIRED"
    return txn.state


def _page(state: SimState, txn: Txn, note: str = "") -> web.Response:
    now = datetime.now(wire.BEIJING)
    if _payable(txn, now):
        target = html.escape(f"/sim/orders/{quote(txn.order_id, safe='')}/pay")
        action = f'<form method="post" action="{target}"><button>确认付款</button></form>'
    else:
        action = f"<p>{html.escape(note or '该二维码当前不可支付')}</p>"
    text = _PAGE.format(
        merchant=html.escape(f"税费通缴（商户号 {state.keys.mer_ids[0]}）"),
        order_id=html.escape(txn.order_id),
        yuan=yuan_str(txn.amount_fen),
        state=html.escape(_state_word(txn, now)),
        action=action,
    )
    return web.Response(text=text, content_type="text/html", charset="utf-8")


def _missing() -> web.Response:
    return web.json_response({"code": "ORDER_NOT_EXIST", "message": "订单不存在"}, status=404)


def _bad(message: str) -> web.Response:
    return web.json_response({"code": "PARAM_ERROR", "message": message}, status=400)


async def scan(request: web.Request) -> web.Response:
    state = request.app[STATE]
    order_id = state.by_token.get(request.match_info["token"])
    if order_id is None:
        return web.Response(status=404, text="二维码无效", content_type="text/plain")
    return _page(state, state.txns[order_id])


async def pay(request: web.Request) -> web.Response:
    """The citizen confirms in the wallet app; JSON for the harness, HTML for the scan form."""
    state = request.app[STATE]
    from_page = request.content_type == "application/x-www-form-urlencoded"
    txn = state.txns.get(request.match_info["order_id"])
    if txn is None or txn.txn_sub_type not in PAYABLE_SUB_TYPES:
        return _missing()
    amount_fen = txn.amount_fen
    if not from_page:
        try:
            amount_fen = desk.positive_fen(
                await desk.json_object(request), "amount_fen", amount_fen
            )
        except ValueError as exc:
            return _bad(str(exc))
    now = datetime.now(wire.BEIJING)
    if not _payable(txn, now):
        paid = txn.state != "ISSUED"
        if from_page:
            return _page(state, txn, "订单已支付" if paid else "二维码已过期")
        code = "ORDER_PAID" if paid else "ORDER_CLOSED"
        return web.json_response({"code": code, "message": _state_word(txn, now)}, status=409)
    txn.amount_fen = amount_fen
    txn.acc_no = masked_card()
    state.complete(txn, now)
    notify(state, txn)
    log.info("sim paid orderId=%s amount_fen=%d", txn.order_id, amount_fen)
    if from_page:
        return _page(state, txn, "付款成功")
    return web.json_response(order_json(state, txn))


async def expire(request: web.Request) -> web.Response:
    """Let payTimeout pass now, so tests need not sleep."""
    state = request.app[STATE]
    txn = state.txns.get(request.match_info["order_id"])
    if txn is None:
        return _missing()
    txn.pay_timeout = datetime.now(wire.BEIJING)
    return web.json_response(order_json(state, txn))


async def age(request: web.Request) -> web.Response:
    """Move a transaction ``days`` clearing days back (a void is then refused, and the
    clearing file of that earlier day shows it); its orderId and txnTime stay as they were."""
    state = request.app[STATE]
    txn = state.txns.get(request.match_info["order_id"])
    if txn is None:
        return _missing()
    try:
        knobs = await desk.json_object(request)
    except ValueError as exc:
        return _bad(str(exc))
    days = knobs.get("days", 1)
    if not isinstance(days, int) or isinstance(days, bool) or days < 0:
        return _bad("days must be a non-negative integer")
    if txn.completed_at is not None and txn.settle_date is not None:
        txn.completed_at -= timedelta(days=days)
        txn.settle_date -= timedelta(days=days)
    return web.json_response(order_json(state, txn))


def order_json(state: SimState, txn: Txn) -> dict[str, Any]:
    now = datetime.now(wire.BEIJING)
    return {
        "order_id": txn.order_id,
        "txn_time": txn.txn_time,
        "txn_type": txn.txn_type,
        "txn_sub_type": txn.txn_sub_type,
        "state": _state_word(txn, now),
        "result_code": txn.result_code,
        "amount_fen": txn.amount_fen,
        "fee_fen": txn.fee_fen,
        "query_id": txn.query_id,
        "orig_query_id": txn.orig_query_id,
        "settle_date": txn.settle_date.isoformat() if txn.settle_date else None,
        "voided": txn.voided,
        "refunded_fen": txn.refunded_fen,
        "back_url": txn.back_url,
        "req_reserved": txn.req_reserved,
        "qr_code": (
            f"https://qr.95516.com/00010000/{txn.qr_token}" if txn.qr_token is not None else None
        ),
        "scan_url": (
            f"{state.public_base_url}/sim/scan/{txn.qr_token}" if txn.qr_token is not None else None
        ),
        # 手机网页支付: the card page the payer's browser was sent to, and its way back
        "page_url": (
            f"{state.public_base_url}/sim/wap/{txn.page_token}" if txn.page_token else None
        ),
        "front_url": txn.front_url or None,
        "notifications": [
            {
                "key": n.key,
                "resp_code": n.fields.get("respCode"),
                "acknowledged": n.acknowledged,
                "attempts": [asdict(a) for a in n.attempts],
            }
            for n in txn.notifications
        ],
        "deliveries": [{"key": n.key, **asdict(a)} for n in txn.notifications for a in n.attempts],
        "queries": list(txn.queries),
    }


async def show_order(request: web.Request) -> web.Response:
    state = request.app[STATE]
    txn = state.txns.get(request.match_info["order_id"])
    return _missing() if txn is None else web.json_response(order_json(state, txn))


def add_control_routes(app: web.Application) -> None:
    app.router.add_get("/sim/scan/{token}", scan)
    app.router.add_post("/sim/orders/{order_id}/pay", pay)
    app.router.add_post("/sim/orders/{order_id}/expire", expire)
    app.router.add_post("/sim/orders/{order_id}/age", age)
    app.router.add_get("/sim/orders/{order_id}", show_order)
    add_fault_routes(app, lambda app: app[STATE].faults)
