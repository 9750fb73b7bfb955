"""The simulator's WeChat Pay v3 gate (request authentication, fault knobs, response signing)
and its Native QR endpoints: prepay, query, close. Payment codes, refunds and bills have their
own modules; all of them answer through the ``signed_api`` middleware."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

from aiohttp import web

from adapters.simkit.desk import answer_bytes
from adapters.wechatpay import crypto
from adapters.wechatpay.sim_state import BEIJING, STATE, Order, SimState, transaction_json
from adapters.wechatpay.sim_wire import (
    WireError,
    error_response,
    find_order,
    json_body,
    new_order,
    own_mchid,
)

log = logging.getLogger(__name__)

MAX_SKEW_S = 300
# the bill file is the one answer WeChat Pay does not sign (protocols-cn.md 1.1)
UNSIGNED_PREFIX = "/v3/billdownload/"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def signed_api(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Faults, request authentication and response signing for everything under /v3/."""
    if not request.path.startswith("/v3/"):
        return await handler(request)
    state = request.app[STATE]
    await state.pause(state.faults.api_delay_s)
    if state.fail_5xx():
        return _sign(state, error_response(500, "SYSTEM_ERROR", "系统错误"))
    body = await request.read()
    problem = _authenticate(state, request, body)
    if problem:
        log.info("sim rejected signature path=%s why=%s", request.path, problem)
        return _sign(state, error_response(401, "SIGN_ERROR", problem))
    try:
        response = await handler(request)
    except WireError as exc:
        response = error_response(exc.status, exc.code, exc.message)
    except web.HTTPException as exc:
        response = error_response(
            exc.status, "NOT_FOUND" if exc.status == 404 else "INVALID_REQUEST", exc.reason
        )
    if not isinstance(response, web.Response):
        raise TypeError("v3 handlers answer with a complete web.Response")
    if request.path.startswith(UNSIGNED_PREFIX) and response.status == 200:
        return response
    return _sign(state, response)


def _authenticate(state: SimState, request: web.Request, body: bytes) -> str:
    header = request.headers.get("Authorization", "")
    if not header:
        return "缺少Authorization签名"
    try:
        params = crypto.parse_authorization(header)
    except ValueError:
        return "Authorization格式错误"
    if params.mchid != state.keys.mchid:
        return "商户号与签名不匹配"
    key = state.keys.merchant_public_keys.get(params.serial_no)
    if key is None:
        return "商户证书序列号有误"
    if not params.timestamp.isdigit() or abs(time.time() - int(params.timestamp)) > MAX_SKEW_S:
        return "请求时间戳超出允许范围"
    message = crypto.request_message(
        request.method, request.raw_path, params.timestamp, params.nonce_str, body
    )
    if not crypto.verify(key, message, params.signature):
        return "签名错误"
    return ""


def _sign(state: SimState, response: web.Response) -> web.Response:
    body = answer_bytes(response)
    bad = state.faults.bad_response_signature
    headers = crypto.response_headers(
        private_key=state.wrong_key if bad else state.keys.private_key,
        serial=state.keys.public_key_id,
        body=body,
        timestamp=int(time.time()),
        nonce=crypto.new_nonce(),
    )
    response.headers.update(headers)
    response.headers["Request-ID"] = crypto.new_nonce()
    return response


async def prepay(request: web.Request) -> web.Response:
    state = request.app[STATE]
    data = await json_body(request)
    now = datetime.now(BEIJING)
    order = new_order(state, data, "NATIVE", now)
    existing = state.orders.get(order.out_trade_no)
    if existing is not None:
        if existing.effective_state(now) == "CLOSED":
            raise WireError(400, "ORDER_CLOSED", "订单已关闭")
        if existing.request != data or existing.trade_type != "NATIVE":
            if existing.transaction_id is not None:
                raise WireError(403, "ORDERPAID", "订单已支付")
            raise WireError(400, "INVALID_REQUEST", "商户订单号重复")
        return web.json_response({"code_url": _code_url(existing)})
    state.orders[order.out_trade_no] = order
    state.by_pr[order.pr] = order.out_trade_no
    log.info("sim prepay out_trade_no=%s total_fen=%d", order.out_trade_no, order.total_fen)
    # pay_after_timeout: the order exists, but the merchant's client gives up before it hears so
    await state.late_answer()
    return web.json_response({"code_url": _code_url(order)})


def _code_url(order: Order) -> str:
    return f"weixin://wxpay/bizpayurl?pr={order.pr}"


async def query_by_out_trade_no(request: web.Request) -> web.Response:
    state = request.app[STATE]
    own_mchid(state, request.query.get("mchid"))
    order = find_order(state, request.match_info["out_trade_no"])
    return web.json_response(transaction_json(state.keys, order, datetime.now(BEIJING)))


async def query_by_transaction_id(request: web.Request) -> web.Response:
    state = request.app[STATE]
    own_mchid(state, request.query.get("mchid"))
    out_trade_no = state.by_transaction.get(request.match_info["transaction_id"], "")
    order = find_order(state, out_trade_no)
    return web.json_response(transaction_json(state.keys, order, datetime.now(BEIJING)))


async def close(request: web.Request) -> web.Response:
    state = request.app[STATE]
    data = await json_body(request)
    own_mchid(state, data.get("mchid"))
    order = find_order(state, request.match_info["out_trade_no"])
    if order.transaction_id is not None:
        raise WireError(403, "ORDERPAID", "订单已支付")
    if order.state != "REVOKED":
        order.state = "CLOSED"
    log.info("sim close out_trade_no=%s", order.out_trade_no)
    return web.Response(status=204)


def add_api_routes(app: web.Application) -> None:
    app.router.add_post("/v3/pay/transactions/native", prepay)
    app.router.add_get("/v3/pay/transactions/out-trade-no/{out_trade_no}", query_by_out_trade_no)
    app.router.add_get("/v3/pay/transactions/id/{transaction_id}", query_by_transaction_id)
    app.router.add_post("/v3/pay/transactions/out-trade-no/{out_trade_no}/close", close)
