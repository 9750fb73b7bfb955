"""Reading WeChat Pay v3 requests in the simulator, and answering errors in WeChat's shape."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from aiohttp import web

from adapters.simkit.desk import wire_object
from adapters.wechatpay import crypto
from adapters.wechatpay.sim_state import Order, SimState

OUT_TRADE_NO = re.compile(r"[0-9A-Za-z_\-|*]{6,32}")
OUT_REFUND_NO = re.compile(r"[0-9A-Za-z_\-|*@]{1,64}")


class WireError(Exception):
    """An error answer in WeChat's shape: HTTP status plus ``{"code", "message"}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status)


async def json_body(request: web.Request) -> dict[str, Any]:
    return await wire_object(
        request,
        WireError(400, "PARAM_ERROR", "请求体不是合法的JSON"),
        WireError(400, "PARAM_ERROR", "请求体必须是JSON对象"),
    )


def text(data: dict[str, Any], name: str, *, max_len: int, required: bool = True) -> str:
    value = data.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise WireError(400, "PARAM_ERROR", f"参数{name}缺失或格式错误")
    return value


def fen(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise WireError(400, "PARAM_ERROR", f"amount.{name}必须是正整数（单位：分）")
    return value


def amount(data: dict[str, Any]) -> dict[str, Any]:
    value = data.get("amount")
    if not isinstance(value, dict):
        raise WireError(400, "PARAM_ERROR", "参数amount缺失")
    if value.get("currency", "CNY") != "CNY":
        raise WireError(400, "PARAM_ERROR", "仅支持CNY")
    return value


def notify_url(data: dict[str, Any], *, required: bool) -> str:
    url = text(data, "notify_url", max_len=256, required=required)
    if url and (not url.startswith(("https://", "http://")) or "?" in url):
        raise WireError(400, "PARAM_ERROR", "notify_url必须是不带参数的http(s)地址")
    return url


def own_app(state: SimState, data: dict[str, Any]) -> None:
    if data.get("appid") != state.keys.appid:
        raise WireError(400, "PARAM_ERROR", "appid与mchid不匹配")
    own_mchid(state, data.get("mchid"))


def own_mchid(state: SimState, value: Any) -> None:
    if value != state.keys.mchid:
        raise WireError(400, "PARAM_ERROR", "商户号mchid有误")


def out_trade_no(data: dict[str, Any]) -> str:
    value = text(data, "out_trade_no", max_len=32)
    if not OUT_TRADE_NO.fullmatch(value):
        raise WireError(400, "PARAM_ERROR", "out_trade_no只能是6-32位数字、字母或_-|*")
    return value


def find_order(state: SimState, number: str) -> Order:
    order = state.orders.get(number)
    if order is None:
        raise WireError(404, "ORDER_NOT_EXIST", "订单不存在")
    return order


def new_order(state: SimState, data: dict[str, Any], trade_type: str, now: datetime) -> Order:
    """The order a prepay (Native, H5, JSAPI) asks for, its fields checked as WeChat checks them;
    not stored yet."""
    own_app(state, data)
    return Order(
        out_trade_no=out_trade_no(data),
        description=text(data, "description", max_len=127),
        total_fen=fen(amount(data), "total"),
        notify_url=notify_url(data, required=True),
        attach=text(data, "attach", max_len=128, required=False),
        time_expire=_expiry(text(data, "time_expire", max_len=64, required=False), now),
        request=data,
        pr=crypto.new_resource_nonce(),
        created_at=now,
        trade_type=trade_type,
    )


def _expiry(value: str, now: datetime) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise WireError(400, "PARAM_ERROR", "time_expire不是RFC3339时间") from None
    if moment.tzinfo is None:
        raise WireError(400, "PARAM_ERROR", "time_expire缺少时区")
    if moment <= now:
        raise WireError(400, "PARAM_ERROR", "time_expire不能早于当前时间")
    return moment
