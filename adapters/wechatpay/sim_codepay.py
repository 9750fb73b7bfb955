"""Payment codes in the simulator: codepay (B scans C) and reverse (撤销), protocols-cn.md 1.1, 1.7.

A code payment either succeeds at once, is refused, or waits for the citizen to confirm on the
phone (USERPAYING, answered with HTTP 202); it never sends a notification — the merchant polls.
Reverse closes an unpaid code payment and gives the money back for a paid one; WeChat offers it for
payment-code orders only, so any other order is refused with INVALID_REQUEST.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import datetime

from aiohttp import web

from adapters.wechatpay.sim_state import (
    BEIJING,
    STATE,
    Order,
    Refund,
    SimState,
    rfc3339,
    transaction_json,
)
from adapters.wechatpay.sim_wire import (
    WireError,
    amount,
    fen,
    find_order,
    json_body,
    out_trade_no,
    own_app,
    text,
)

log = logging.getLogger(__name__)

AUTH_CODE = re.compile(r"1[0-5][0-9]{16}")
CODEPAY_REFUSALS = {
    "NOTENOUGH": (403, "用户余额不足"),
    "AUTHCODEEXPIRE": (400, "付款码已过期，请刷新后重新支付"),
    "BANKERROR": (403, "银行系统异常"),
}
# what a payment-code order may still become when the citizen acts or the merchant reverses
_OPEN = ("USERPAYING", "NOTPAY", "PAYERROR")


async def codepay(request: web.Request) -> web.Response:
    state = request.app[STATE]
    data = await json_body(request)
    now = datetime.now(BEIJING)
    own_app(state, data)
    description = text(data, "description", max_len=127)
    number = out_trade_no(data)
    total = fen(amount(data), "total")
    attach = text(data, "attach", max_len=128, required=False)
    payer = data.get("payer")
    auth_code = payer.get("auth_code") if isinstance(payer, dict) else None
    if not isinstance(auth_code, str) or not AUTH_CODE.fullmatch(auth_code):
        raise WireError(400, "PARAM_ERROR", "付款码auth_code无效，应为10-15开头的18位数字")
    scene = data.get("scene_info")
    store = scene.get("store_info") if isinstance(scene, dict) else None
    if not isinstance(store, dict) or not isinstance(store.get("out_id"), str):
        raise WireError(400, "PARAM_ERROR", "参数scene_info.store_info.out_id缺失")

    existing = state.orders.get(number)
    if existing is not None:
        if existing.request != data:
            if existing.transaction_id is not None:
                raise WireError(403, "ORDERPAID", "订单已支付")
            raise WireError(400, "INVALID_REQUEST", "商户订单号重复")
        # the same request again (a merchant retrying after a timeout): the order as it stands
        return _answer(state, existing, now)

    order = Order(
        out_trade_no=number,
        description=description,
        total_fen=total,
        notify_url="",
        attach=attach,
        time_expire=None,
        request=data,
        pr=secrets.token_urlsafe(9),
        created_at=now,
        trade_type="MICROPAY",
    )
    state.orders[number] = order
    faults = state.faults
    if faults.codepay_error:
        order.state = "PAYERROR"
        status, message = CODEPAY_REFUSALS[faults.codepay_error]
        log.info("sim codepay refused out_trade_no=%s code=%s", number, faults.codepay_error)
        raise WireError(status, faults.codepay_error, message)
    if faults.user_paying:
        order.state = "USERPAYING"
        if faults.user_paying_s > 0:
            state.spawn(_confirm_later(state, order, faults.user_paying_s))
    else:
        complete(state, order, "SUCCESS", total, now)
    log.info("sim codepay out_trade_no=%s total_fen=%d state=%s", number, total, order.state)
    # pay_after_timeout: the money is taken, but the merchant's client gives up before it hears so
    await state.late_answer()
    return _answer(state, order, now)


def _answer(state: SimState, order: Order, now: datetime) -> web.Response:
    if order.state == "USERPAYING":
        return web.json_response({"trade_state": "USERPAYING"}, status=202)
    if order.state == "PAYERROR":
        raise WireError(403, "TRADE_ERROR", "支付失败，请重新下单支付")
    return web.json_response(transaction_json(state.keys, order, now))


async def _confirm_later(state: SimState, order: Order, seconds: float) -> None:
    result = state.faults.user_paying_result
    await state.pause(seconds)
    if order.state == "USERPAYING" and not state.stopping.is_set():
        complete(state, order, result, order.total_fen, datetime.now(BEIJING))


def complete(state: SimState, order: Order, result: str, amount_fen: int, now: datetime) -> None:
    """The citizen confirmed (SUCCESS) or gave up / mistyped the password (PAYERROR)."""
    if result != "SUCCESS":
        order.state = "PAYERROR"
        return
    state.settle(order, amount_fen, now)


async def reverse(request: web.Request) -> web.Response:
    state = request.app[STATE]
    data = await json_body(request)
    own_app(state, data)
    order = find_order(state, request.match_info["out_trade_no"])
    if order.trade_type != "MICROPAY":
        raise WireError(400, "INVALID_REQUEST", "非付款码支付订单不能撤销，请调用关单或退款接口")
    now = datetime.now(BEIJING)
    if order.state in _OPEN:
        order.state = "REVOKED"
    elif order.state == "SUCCESS":
        paid = order.paid_fen or 0
        order.reversal = Refund(
            out_refund_no="",
            refund_id=state.new_refund_id(now),
            refund_fen=paid,
            total_fen=paid,
            reason="撤销",
            status="SUCCESS",
            create_time=rfc3339(now),
            success_time=rfc3339(now),
        )
        order.state = "REVOKED"
    elif order.state == "REFUND":
        raise WireError(400, "INVALID_REQUEST", "订单已发生退款，不能撤销")
    # REVOKED already: reversing twice is harmless
    log.info("sim reverse out_trade_no=%s paid=%s", order.out_trade_no, order.reversal is not None)
    return web.json_response(
        {"appid": state.keys.appid, "mchid": state.keys.mchid, "out_trade_no": order.out_trade_no}
    )


def add_codepay_routes(app: web.Application) -> None:
    app.router.add_post("/v3/pay/transactions/codepay", codepay)
    app.router.add_post("/v3/pay/transactions/out-trade-no/{out_trade_no}/reverse", reverse)
