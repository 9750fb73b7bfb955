"""The simulator's WeChat Pay v3 endpoints: authenticated requests in, signed answers out."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from adapters.wechatpay import crypto
from adapters.wechatpay.sim_state import (
    BEIJING,
    STATE,
    Order,
    Refund,
    SimState,
    refund_json,
    rfc3339,
    transaction_json,
)

log = logging.getLogger(__name__)

MAX_SKEW_S = 300
OUT_TRADE_NO = re.compile(r"[0-9A-Za-z_\-|*]{6,32}")
OUT_REFUND_NO = re.compile(r"[0-9A-Za-z_\-|*@]{1,64}")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class WireError(Exception):
    """An error answer in WeChat's shape: HTTP status plus ``{"code", "message"}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status)


@web.middleware
async def signed_api(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Faults, request authentication and response signing for everything under /v3/."""
    if not request.path.startswith("/v3/"):
        return await handler(request)
    state = request.app[STATE]
    await state.pause(state.faults.api_delay_s)
    if state.faults.api_5xx > 0:
        state.faults.api_5xx -= 1
        return _sign(state, _error(500, "SYSTEM_ERROR", "系统错误"))
    body = await request.read()
    problem = _authenticate(state, request, body)
    if problem:
        log.info("sim rejected signature path=%s why=%s", request.path, problem)
        return _sign(state, _error(401, "SIGN_ERROR", problem))
    try:
        response = await handler(request)
    except WireError as exc:
        response = _error(exc.status, exc.code, exc.message)
    except web.HTTPException as exc:
        response = _error(
            exc.status, "NOT_FOUND" if exc.status == 404 else "INVALID_REQUEST", exc.reason
        )
    if not isinstance(response, web.Response):
        raise TypeError("v3 handlers answer with a complete web.Response")
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
    body = response.body
    if body is None:
        body = b""
    if not isinstance(body, bytes):
        raise TypeError("signed responses need a bytes body")
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


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.read())
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise WireError(400, "PARAM_ERROR", "请求体不是合法的JSON") from None
    if not isinstance(data, dict):
        raise WireError(400, "PARAM_ERROR", "请求体必须是JSON对象")
    return data


def _text(data: dict[str, Any], name: str, *, max_len: int, required: bool = True) -> str:
    value = data.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise WireError(400, "PARAM_ERROR", f"参数{name}缺失或格式错误")
    return value


def _fen(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise WireError(400, "PARAM_ERROR", f"amount.{name}必须是正整数（单位：分）")
    return value


def _amount(data: dict[str, Any]) -> dict[str, Any]:
    amount = data.get("amount")
    if not isinstance(amount, dict):
        raise WireError(400, "PARAM_ERROR", "参数amount缺失")
    if amount.get("currency", "CNY") != "CNY":
        raise WireError(400, "PARAM_ERROR", "仅支持CNY")
    return amount


def _own_mchid(state: SimState, value: Any) -> None:
    if value != state.keys.mchid:
        raise WireError(400, "PARAM_ERROR", "商户号mchid有误")


def _order(state: SimState, out_trade_no: str) -> Order:
    order = state.orders.get(out_trade_no)
    if order is None:
        raise WireError(404, "ORDER_NOT_EXIST", "订单不存在")
    return order


async def prepay(request: web.Request) -> web.Response:
    state = request.app[STATE]
    data = await _json_body(request)
    now = datetime.now(BEIJING)
    if data.get("appid") != state.keys.appid:
        raise WireError(400, "PARAM_ERROR", "appid与mchid不匹配")
    _own_mchid(state, data.get("mchid"))
    description = _text(data, "description", max_len=127)
    out_trade_no = _text(data, "out_trade_no", max_len=32)
    if not OUT_TRADE_NO.fullmatch(out_trade_no):
        raise WireError(400, "PARAM_ERROR", "out_trade_no只能是6-32位数字、字母或_-|*")
    notify_url = _text(data, "notify_url", max_len=256)
    if not notify_url.startswith(("https://", "http://")) or "?" in notify_url:
        raise WireError(400, "PARAM_ERROR", "notify_url必须是不带参数的http(s)地址")
    total = _fen(_amount(data), "total")
    attach = _text(data, "attach", max_len=128, required=False)
    time_expire = _expiry(_text(data, "time_expire", max_len=64, required=False), now)

    existing = state.orders.get(out_trade_no)
    if existing is not None:
        if existing.effective_state(now) == "CLOSED":
            raise WireError(400, "ORDER_CLOSED", "订单已关闭")
        if existing.request != data:
            if existing.transaction_id is not None:
                raise WireError(403, "ORDERPAID", "订单已支付")
            raise WireError(400, "INVALID_REQUEST", "商户订单号重复")
        return web.json_response({"code_url": _code_url(existing)})

    order = Order(
        out_trade_no=out_trade_no,
        description=description,
        total_fen=total,
        notify_url=notify_url,
        attach=attach,
        time_expire=time_expire,
        request=data,
        pr=crypto.new_resource_nonce(),
        created_at=now,
    )
    state.orders[out_trade_no] = order
    state.by_pr[order.pr] = out_trade_no
    log.info("sim prepay out_trade_no=%s total_fen=%d", out_trade_no, total)
    if state.faults.pay_after_timeout:
        # the order exists, but the merchant's client gives up before it hears so
        state.faults.pay_after_timeout = False
        await state.pause(state.faults.pay_after_timeout_s)
    return web.json_response({"code_url": _code_url(order)})


def _code_url(order: Order) -> str:
    return f"weixin://wxpay/bizpayurl?pr={order.pr}"


def _expiry(text: str, now: datetime) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise WireError(400, "PARAM_ERROR", "time_expire不是RFC3339时间") from None
    if moment.tzinfo is None:
        raise WireError(400, "PARAM_ERROR", "time_expire缺少时区")
    if moment <= now:
        raise WireError(400, "PARAM_ERROR", "time_expire不能早于当前时间")
    return moment


async def query_by_out_trade_no(request: web.Request) -> web.Response:
    state = request.app[STATE]
    _own_mchid(state, request.query.get("mchid"))
    order = _order(state, request.match_info["out_trade_no"])
    return web.json_response(transaction_json(state.keys, order, datetime.now(BEIJING)))


async def query_by_transaction_id(request: web.Request) -> web.Response:
    state = request.app[STATE]
    _own_mchid(state, request.query.get("mchid"))
    out_trade_no = state.by_transaction.get(request.match_info["transaction_id"], "")
    order = _order(state, out_trade_no)
    return web.json_response(transaction_json(state.keys, order, datetime.now(BEIJING)))


async def close(request: web.Request) -> web.Response:
    state = request.app[STATE]
    data = await _json_body(request)
    _own_mchid(state, data.get("mchid"))
    order = _order(state, request.match_info["out_trade_no"])
    if order.transaction_id is not None:
        raise WireError(403, "ORDERPAID", "订单已支付")
    order.state = "CLOSED"
    log.info("sim close out_trade_no=%s", order.out_trade_no)
    return web.Response(status=204)


async def refund(request: web.Request) -> web.Response:
    state = request.app[STATE]
    data = await _json_body(request)
    now = datetime.now(BEIJING)
    out_refund_no = _text(data, "out_refund_no", max_len=64)
    if not OUT_REFUND_NO.fullmatch(out_refund_no):
        raise WireError(400, "PARAM_ERROR", "out_refund_no格式错误")
    transaction_id = data.get("transaction_id")
    if isinstance(transaction_id, str) and transaction_id:
        order = _order(state, state.by_transaction.get(transaction_id, ""))
    else:
        order = _order(state, _text(data, "out_trade_no", max_len=32))
    amount = _amount(data)
    refund_fen, total_fen = _fen(amount, "refund"), _fen(amount, "total")
    reason = _text(data, "reason", max_len=80, required=False)

    known = state.refunds.get(out_refund_no)
    if known is not None:
        owner, existing = known
        if owner != order.out_trade_no or existing.refund_fen != refund_fen:
            raise WireError(400, "INVALID_REQUEST", "退款单号已用于其他退款")
        return web.json_response(refund_json(order, existing))
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
    )
    order.refunds.append(created)
    order.state = "REFUND"
    state.refunds[out_refund_no] = (order.out_trade_no, created)
    log.info(
        "sim refund out_trade_no=%s refund_fen=%d status=%s", order.out_trade_no, refund_fen, status
    )
    return web.json_response(refund_json(order, created))


async def query_refund(request: web.Request) -> web.Response:
    state = request.app[STATE]
    known = state.refunds.get(request.match_info["out_refund_no"])
    if known is None:
        raise WireError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
    owner, existing = known
    return web.json_response(refund_json(state.orders[owner], existing))


def add_api_routes(app: web.Application) -> None:
    app.router.add_post("/v3/pay/transactions/native", prepay)
    app.router.add_get("/v3/pay/transactions/out-trade-no/{out_trade_no}", query_by_out_trade_no)
    app.router.add_get("/v3/pay/transactions/id/{transaction_id}", query_by_transaction_id)
    app.router.add_post("/v3/pay/transactions/out-trade-no/{out_trade_no}/close", close)
    app.router.add_post("/v3/refund/domestic/refunds", refund)
    app.router.add_get("/v3/refund/domestic/refunds/{out_refund_no}", query_refund)
