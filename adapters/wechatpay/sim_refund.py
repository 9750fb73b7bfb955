"""Refunds in the simulator: apply, query, and the REFUND.* notifications (protocols-cn.md 1.5,
1.7).

A new refund takes the state of the ``refund_status`` knob. When a refund reaches SUCCESS,
ABNORMAL or CLOSED — at once, or later through ``POST /sim/refunds/{out_refund_no}/complete`` —
a signed, sealed notification goes to the refund's ``notify_url`` on WeChat's retry schedule.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from aiohttp import web

from adapters.simkit import desk
from adapters.wechatpay.sim_delivery import refund_notification, send
from adapters.wechatpay.sim_state import (
    BEIJING,
    STATE,
    Order,
    Refund,
    SimState,
    refund_json,
    rfc3339,
)
from adapters.wechatpay.sim_wire import (
    OUT_REFUND_NO,
    WireError,
    amount,
    fen,
    find_order,
    json_body,
    notify_url,
    text,
)

log = logging.getLogger(__name__)

FINAL_FOR_NOTICE = ("SUCCESS", "ABNORMAL", "CLOSED")
# ABNORMAL can still be completed (abnormal-refund API or the merchant portal); the rest is final
_COMPLETABLE = ("PROCESSING", "ABNORMAL")


def _original(state: SimState, data: dict[str, Any]) -> Order:
    """The order refunded, named by ``transaction_id`` or ``out_trade_no``; both must agree."""
    if not data.get("transaction_id"):
        if not data.get("out_trade_no"):
            raise WireError(400, "PARAM_ERROR", "transaction_id和out_trade_no必须填写其一")
        return find_order(state, text(data, "out_trade_no", max_len=32))
    transaction_id = text(data, "transaction_id", max_len=32)
    order = find_order(state, state.by_transaction.get(transaction_id, ""))
    out_trade_no = data.get("out_trade_no")
    if out_trade_no and out_trade_no != order.out_trade_no:
        raise WireError(404, "ORDER_NOT_EXIST", "订单不存在")
    return order


async def refund(request: web.Request) -> web.Response:
    state = request.app[STATE]
    data = await json_body(request)
    now = datetime.now(BEIJING)
    out_refund_no = text(data, "out_refund_no", max_len=64)
    if not OUT_REFUND_NO.fullmatch(out_refund_no):
        raise WireError(400, "PARAM_ERROR", "out_refund_no格式错误")
    order = _original(state, data)
    money = amount(data)
    refund_fen, total_fen = fen(money, "refund"), fen(money, "total")
    reason = text(data, "reason", max_len=80, required=False)
    url = notify_url(data, required=False)

    known = state.refunds.get(out_refund_no)
    if known is not None:
        owner, existing = known
        if owner != order.out_trade_no or existing.refund_fen != refund_fen:
            raise WireError(400, "INVALID_REQUEST", "退款单号已用于其他退款")
        return web.json_response(refund_json(order, existing))
    if order.state == "REVOKED":
        raise WireError(400, "INVALID_REQUEST", "订单已撤销，不能退款")
    if order.paid_fen is None:
        raise WireError(400, "INVALID_REQUEST", "订单未支付，不能退款")
    if total_fen != order.paid_fen:
        raise WireError(400, "PARAM_ERROR", "订单金额与原订单不一致")
    if order.refunded_fen() + refund_fen > order.paid_fen:
        raise WireError(403, "NOT_ENOUGH", "可退款金额不足")
    status = state.faults.refund_status
    created = Refund(
        out_refund_no=out_refund_no,
        refund_id=state.new_refund_id(now),
        refund_fen=refund_fen,
        total_fen=total_fen,
        reason=reason,
        status=status,
        create_time=rfc3339(now),
        success_time=rfc3339(now) if status == "SUCCESS" else None,
        notify_url=url,
    )
    order.refunds.append(created)
    order.state = "REFUND"
    state.refunds[out_refund_no] = (order.out_trade_no, created)
    log.info(
        "sim refund out_trade_no=%s refund_fen=%d status=%s", order.out_trade_no, refund_fen, status
    )
    _notify(state, order, created, now)
    return web.json_response(refund_json(order, created))


def _notify(state: SimState, order: Order, refund: Refund, now: datetime) -> None:
    if refund.notify_url and refund.status in FINAL_FOR_NOTICE:
        send(state, order, refund_notification(state, order, refund, now))


async def query_refund(request: web.Request) -> web.Response:
    state = request.app[STATE]
    known = state.refunds.get(request.match_info["out_refund_no"])
    if known is None:
        raise WireError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
    owner, existing = known
    return web.json_response(refund_json(state.orders[owner], existing))


async def complete(request: web.Request) -> web.Response:
    """``POST /sim/refunds/{out_refund_no}/complete`` with ``{"status": "SUCCESS"}`` (or
    ABNORMAL, CLOSED): the bank's answer to a refund that was PROCESSING or ABNORMAL."""
    state = request.app[STATE]
    known = state.refunds.get(request.match_info["out_refund_no"])
    if known is None:
        return _bad(404, "RESOURCE_NOT_EXISTS", "no such refund")
    try:
        status = (await desk.json_object(request)).get("status", "SUCCESS")
    except ValueError as exc:
        return _bad(400, "PARAM_ERROR", str(exc))
    if status not in FINAL_FOR_NOTICE:
        return _bad(400, "PARAM_ERROR", "status must be SUCCESS, ABNORMAL or CLOSED")
    owner, existing = known
    if existing.status not in _COMPLETABLE:
        return _bad(409, "REFUND_FINAL", f"the refund is already {existing.status}")
    now = datetime.now(BEIJING)
    existing.status = status
    if status == "SUCCESS":
        existing.success_time = rfc3339(now)
    order = state.orders[owner]
    _notify(state, order, existing, now)
    log.info("sim refund completed out_refund_no=%s status=%s", existing.out_refund_no, status)
    return web.json_response(refund_json(order, existing))


def _bad(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status)


def add_refund_routes(app: web.Application) -> None:
    app.router.add_post("/v3/refund/domestic/refunds", refund)
    app.router.add_get("/v3/refund/domestic/refunds/{out_refund_no}", query_refund)
    app.router.add_post("/sim/refunds/{out_refund_no}/complete", complete)
