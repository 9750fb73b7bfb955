"""The simulator's ``/gateway.do``: one URL, ``method=`` dispatch, the app's RSA2 signature
checked, every answer signed by Alipay (protocols-cn.md 2.1–2.3)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiohttp import web

from adapters.alipay import crypto, sim_wap
from adapters.alipay.sim_state import STATE, SimState
from adapters.alipay.sim_trades import METHODS, BizError

log = logging.getLogger(__name__)

GATEWAY_PATH = "/gateway.do"
MAX_SKEW_S = 600
BAD_BIZ = "biz_content不是合法的JSON"


def _invalid(sub_code: str, sub_msg: str) -> dict[str, Any]:
    return {"code": "40002", "msg": "Invalid Arguments", "sub_code": sub_code, "sub_msg": sub_msg}


async def gateway(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    await state.pause(state.faults.api_delay_s)
    if state.fail_5xx():
        # what a load balancer in front of the gateway answers: not Alipay's JSON at all
        return web.Response(
            status=502, text="<html><body>502 Bad Gateway</body></html>", content_type="text/html"
        )
    params = await _params(request)
    if params is None:
        return _answer(state, crypto.ERROR_RESPONSE, _invalid("isv.invalid-parameter", "参数重复"))
    method = params.get("method", "")
    if method == sim_wap.METHOD:
        return _page_call(state, params)
    handler = METHODS.get(method)
    if handler is None:
        return _answer(
            state, crypto.ERROR_RESPONSE, _invalid("isv.invalid-method", "不存在的方法名")
        )
    name = crypto.response_key(method)
    problem = _authenticate(state, params)
    if problem is not None:
        log.info("sim refused request method=%s sub_code=%s", method, problem["sub_code"])
        return _answer(state, name, problem)
    if state.faults.spend("system_error"):
        busy = {
            "code": "20000",
            "msg": "Service Currently Unavailable",
            "sub_code": "isp.unknow-error",
            "sub_msg": "系统繁忙",
        }
        return _answer(state, name, busy)
    biz = _biz(params)
    if biz is None:
        return _answer(state, name, _invalid("isv.invalid-parameter", BAD_BIZ))
    try:
        fields = await handler(state, biz, params)
    except BizError as exc:
        return _answer(state, name, exc.payload())
    payload = fields if "code" in fields else {"code": "10000", "msg": "Success", **fields}
    return _answer(state, name, payload)


def _page_call(state: SimState, params: Mapping[str, str]) -> web.StreamResponse:
    """A call the payer's browser made: checked as any other, answered with a page."""
    problem = _authenticate(state, params)
    if problem is not None:
        return sim_wap.error_page(problem["sub_code"], problem["sub_msg"])
    if state.faults.spend("system_error"):
        return sim_wap.error_page("isp.unknow-error", "系统繁忙，请稍后再试")
    biz = _biz(params)
    if biz is None:
        return sim_wap.error_page("isv.invalid-parameter", BAD_BIZ)
    try:
        order = sim_wap.open_page(state, biz, params)
    except BizError as exc:
        return sim_wap.error_page(exc.sub_code, exc.sub_msg)
    # Alipay moves the browser on to its cashier, so a reload does not post the form again
    raise web.HTTPSeeOther(sim_wap.cashier_url(order))


def _biz(params: Mapping[str, str]) -> dict[str, Any] | None:
    """The business parameters (``biz_content``), or None when they are not a JSON object."""
    try:
        biz = json.loads(params.get("biz_content", ""))
    except json.JSONDecodeError:
        return None
    return biz if isinstance(biz, dict) else None


async def _params(request: web.Request) -> dict[str, str] | None:
    """The common and business parameters, from the query string and a form body alike."""
    pairs: list[tuple[str, str]] = list(request.query.items())
    if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded":
        form = await request.post()
        pairs += [(k, v) for k, v in form.items() if isinstance(v, str)]
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            return None
        params[name] = value
    return params


def _authenticate(state: SimState, params: Mapping[str, str]) -> dict[str, Any] | None:
    app_id = params.get("app_id", "")
    if not app_id:
        return _invalid("isv.missing-app-id", "缺少AppID参数")
    key = state.keys.app_public_keys.get(app_id)
    if key is None:
        return _invalid("isv.invalid-app-id", "无效的AppID参数")
    signature = params.get("sign", "")
    if not signature:
        return _invalid("isv.missing-signature", "缺少签名参数")
    if params.get("sign_type") != crypto.SIGN_TYPE:
        # the app was configured for RSA2 on the open platform; RSA (SHA-1) is refused
        return _invalid("isv.invalid-signature-type", "无效的签名类型")
    if params.get("charset", "").lower() != crypto.CHARSET:
        return _invalid("isv.invalid-charset", "字符集错误")
    if params.get("version") != crypto.VERSION:
        return _invalid("isv.invalid-version", "接口版本错误")
    if not crypto.verify(key, crypto.request_content(params), signature):
        return _invalid("isv.invalid-signature", "验签出错，请确认签名字符串与应用公钥匹配")
    try:
        sent = crypto.parse_beijing(params.get("timestamp", ""))
    except ValueError:
        return _invalid("isv.invalid-timestamp", "非法的时间戳参数")
    if abs((datetime.now(crypto.BEIJING) - sent).total_seconds()) > MAX_SKEW_S:
        return _invalid("isv.invalid-timestamp", "非法的时间戳参数")
    return None


def _answer(state: SimState, name: str, payload: Mapping[str, Any]) -> web.Response:
    key = state.wrong_key if state.faults.bad_response_signature else state.keys.private_key
    return web.Response(
        text=crypto.signed_response(name, payload, key),
        content_type="application/json",
        charset="utf-8",
    )


def add_gateway_routes(app: web.Application) -> None:
    app.router.add_post(GATEWAY_PATH, gateway)
    app.router.add_get(GATEWAY_PATH, gateway)
