"""The simulated terminal cloud's merchant API: OPEN-BODY-SIG requests in, signed answers out."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from adapters.pos import signing
from adapters.pos.sim_bill import add_file_routes, publish_file
from adapters.pos.sim_host import (
    WireError,
    cancel,
    create_sale,
    give_back,
    reverse,
    sale_of,
)
from adapters.pos.sim_state import BEIJING, STATE, Sale, SimState, refund_json, sale_json
from adapters.simkit.desk import answer_bytes, wire_object

log = logging.getLogger(__name__)

OUT_TRADE_NO = re.compile(r"[0-9A-Za-z]{1,32}")
OUT_REFUND_NO = re.compile(r"[0-9A-Za-z]{1,64}")
TERMINAL_ID = re.compile(r"[0-9A-Za-z]{8}")
SETTLE_DATE = re.compile(r"[0-9]{8}")
MAX_AMOUNT_FEN = 999_999_999_999  # twelve digits, as field 4

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _answer(code: str, message: str, status: int = 200, **fields: Any) -> web.Response:
    payload = {"resp_code": code, "resp_msg": message, **fields}
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return web.Response(status=status, body=body, content_type="application/json")


def _ok(**fields: Any) -> web.Response:
    return _answer("00", "成功", **fields)


@web.middleware
async def signed_api(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Faults, request authentication and answer signing for everything under /v1/pos/."""
    if not request.path.startswith("/v1/pos/"):
        return await handler(request)
    state = request.app[STATE]
    await state.pause(state.faults.api_delay_s)
    body = await request.read()
    auth, problem = _authenticate(state, request, body)
    nonce = auth.nonce if auth else ""
    if state.fail_5xx():
        return _sign(state, _answer("96", "系统故障", status=500), nonce)
    if problem:
        log.info("sim refused request path=%s why=%s", request.path, problem)
        return _sign(state, _answer("A0", problem, status=401), nonce)
    try:
        response = await handler(request)
    except WireError as exc:
        response = _answer(exc.code, exc.message, status=exc.status)
    except web.HTTPException as exc:
        response = _answer("30", exc.reason, status=exc.status)
    if not isinstance(response, web.Response):
        raise TypeError("API handlers answer with a complete web.Response")
    return _sign(state, response, nonce)


def _authenticate(
    state: SimState, request: web.Request, body: bytes
) -> tuple[signing.RequestAuth | None, str]:
    header = request.headers.get("Authorization", "")
    if not header:
        return None, "缺少Authorization签名"
    try:
        auth = signing.parse_authorization(header)
    except ValueError:
        return None, "Authorization格式错误"
    if auth.app_id != state.keys.app_id:
        return auth, "AppId不存在"
    now = datetime.now(BEIJING)
    skew = signing.skew_s(auth.timestamp, now)
    if skew is None or skew > signing.MAX_SKEW_S:
        return auth, "请求时间戳超出允许范围"
    expected = signing.request_signature(
        state.keys.app_key, auth.app_id, auth.timestamp, auth.nonce, body
    )
    if not signing.same(expected, auth.signature):
        return auth, "签名错误"
    if not state.replays.fresh(auth.nonce, now):
        return auth, "重复请求"
    return auth, ""


def _sign(state: SimState, response: web.Response, request_nonce: str) -> web.Response:
    body = answer_bytes(response)
    key = state.forged_key if state.faults.bad_response_signature else state.keys.cloud_key
    response.headers[signing.CLOUD_HEADER] = signing.cloud_header(
        cloud_key=key,
        key_id=state.keys.cloud_key_id,
        body=body,
        timestamp=signing.timestamp_now(datetime.now(BEIJING)),
        nonce=signing.new_nonce(),
        request_nonce=request_nonce,
    )
    return response


async def _json_body(request: web.Request) -> dict[str, Any]:
    data = await wire_object(
        request,
        WireError("30", "报文格式错误：不是JSON"),
        WireError("30", "报文格式错误：不是JSON对象"),
    )
    if data.get("merchant_id") != request.app[STATE].keys.merchant_id:
        raise WireError("03", "无效商户")
    return data


def _text(data: dict[str, Any], name: str, pattern: re.Pattern[str] | None = None) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value or (pattern and not pattern.fullmatch(value)):
        raise WireError("30", f"报文格式错误：{name}")
    return value


def _fen(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_AMOUNT_FEN:
        raise WireError("30", f"报文格式错误：{name}必须是正整数（分）")
    return value


async def _unless_lost(state: SimState, sale: Sale) -> None:
    # the cloud lost the terminal's answer for this sale: asking about it gets no reply
    if sale.result_lost:
        await state.pause(state.faults.lose_result_s)


async def start_sale(request: web.Request) -> web.Response:
    state = request.app[STATE]
    data = await _json_body(request)
    description = data.get("description", "")
    if not isinstance(description, str) or len(description) > 64:
        raise WireError("30", "报文格式错误：description")
    notify_url = _text(data, "notify_url")
    if not notify_url.startswith(("https://", "http://")):
        raise WireError("30", "报文格式错误：notify_url")
    if data.get("currency", "156") != "156":
        raise WireError("30", "仅支持人民币（156）")
    sale = create_sale(
        state,
        data,
        Sale(
            out_trade_no=_text(data, "out_trade_no", OUT_TRADE_NO),
            terminal_id=_text(data, "terminal_id", TERMINAL_ID),
            amount_fen=_fen(data, "amount"),
            description=description,
            notify_url=notify_url,
            request=data,
            created_at=datetime.now(BEIJING),
        ),
    )
    # pay_after_timeout: the sale is on the terminal, but the merchant gives up before it hears so
    await state.late_answer()
    return _ok(sale=sale_json(state.keys, sale))


async def query_sale(request: web.Request) -> web.Response:
    state = request.app[STATE]
    sale = sale_of(state, _text(await _json_body(request), "out_trade_no", OUT_TRADE_NO))
    await _unless_lost(state, sale)
    return _ok(sale=sale_json(state.keys, sale))


async def cancel_sale(request: web.Request) -> web.Response:
    state = request.app[STATE]
    out_trade_no = _text(await _json_body(request), "out_trade_no", OUT_TRADE_NO)
    sale = state.sales.get(out_trade_no)
    if sale is not None:
        await _unless_lost(state, sale)
    cancel(state, out_trade_no)
    return _ok(sale=sale_json(state.keys, sale)) if sale else _ok()


async def reverse_sale(request: web.Request) -> web.Response:
    state = request.app[STATE]
    data = await _json_body(request)
    sale = reverse(state, _text(data, "out_trade_no", OUT_TRADE_NO), datetime.now(BEIJING))
    return _ok(sale=sale_json(state.keys, sale)) if sale else _ok()


async def _give_back(request: web.Request, refund_type: str) -> web.Response:
    state = request.app[STATE]
    data = await _json_body(request)
    out_trade_no = _text(data, "out_trade_no", OUT_TRADE_NO)
    out_refund_no = _text(data, "out_refund_no", OUT_REFUND_NO)
    orig_amount = _fen(data, "orig_amount")
    amount = _fen(data, "amount") if refund_type == "REFUND" else orig_amount
    reason = data.get("reason", "")
    if not isinstance(reason, str) or len(reason) > 64:
        raise WireError("30", "报文格式错误：reason")
    known = state.refunds.get(out_refund_no)
    if known is not None:
        if known.out_trade_no != out_trade_no or (
            refund_type == "REFUND" and known.amount_fen != amount
        ):
            raise WireError("94", "退款单号已用于其他交易")
        return _ok(refund=refund_json(known))
    sale = sale_of(state, out_trade_no)
    await _unless_lost(state, sale)
    if orig_amount != (sale.paid_fen or sale.amount_fen):
        raise WireError("64", "原交易金额不符")
    refund = give_back(
        state,
        sale,
        refund_type=refund_type,
        out_refund_no=out_refund_no,
        amount_fen=amount,
        reason=reason,
        now=datetime.now(BEIJING),
    )
    return _ok(refund=refund_json(refund))


async def void(request: web.Request) -> web.Response:
    return await _give_back(request, "VOID")


async def refund(request: web.Request) -> web.Response:
    return await _give_back(request, "REFUND")


async def query_refund(request: web.Request) -> web.Response:
    state = request.app[STATE]
    known = state.refunds.get(_text(await _json_body(request), "out_refund_no", OUT_REFUND_NO))
    if known is None:
        raise WireError("25", "退款交易不存在")
    return _ok(refund=refund_json(known))


async def settlement_file(request: web.Request) -> web.Response:
    state = request.app[STATE]
    text = _text(await _json_body(request), "settle_date", SETTLE_DATE)
    try:
        day = datetime.strptime(text, "%Y%m%d").replace(tzinfo=BEIJING).date()
    except ValueError:
        raise WireError("30", "报文格式错误：settle_date") from None
    now = datetime.now(BEIJING)
    if day > now.date():
        raise WireError("98", "清算文件尚未生成")
    return _ok(**publish_file(state, day, now))


def add_api_routes(app: web.Application) -> None:
    app.router.add_post("/v1/pos/sale", start_sale)
    app.router.add_post("/v1/pos/sale/query", query_sale)
    app.router.add_post("/v1/pos/sale/cancel", cancel_sale)
    app.router.add_post("/v1/pos/sale/reverse", reverse_sale)
    app.router.add_post("/v1/pos/void", void)
    app.router.add_post("/v1/pos/refund", refund)
    app.router.add_post("/v1/pos/refund/query", query_refund)
    app.router.add_post("/v1/pos/settlement/file", settlement_file)
    add_file_routes(app)
