"""The simulator's OpenAPI methods for 当面付 (protocols-cn.md 2.5), by ``method`` name.

Each takes the parsed ``biz_content`` and the common parameters and returns the fields of a
success answer (code 10000 is added by the gateway), or raises ``BizError`` for a refusal.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from adapters.alipay import crypto
from adapters.alipay.sim_bill import bill_link
from adapters.alipay.sim_events import (
    close_trade,
    mark_paid,
    open_trade,
    refund_trade,
    trade_fields,
)
from adapters.alipay.sim_state import (
    TRADE_CLOSED,
    TRADE_SUCCESS,
    WAIT_BUYER_PAY,
    Order,
    Refund,
    SimState,
)
from clearing.domain.money import MoneyError, parse_yuan, yuan_str

log = logging.getLogger(__name__)

OUT_NO = re.compile(r"[0-9A-Za-z_]{1,64}")
AUTH_CODE = re.compile(r"(?:2[5-9]|30)[0-9]{14,22}")
BILL_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MAX_TOTAL_FEN = 100_000_000 * 100
CANCEL_WINDOW = timedelta(hours=24)

Method = Callable[[SimState, dict[str, Any], Mapping[str, str]], Awaitable[dict[str, Any]]]


class BizError(Exception):
    """A business refusal: code 40004 with Alipay's ``sub_code`` and Chinese ``sub_msg``."""

    def __init__(self, sub_code: str, sub_msg: str, **extra: str) -> None:
        super().__init__(sub_code)
        self.sub_code = sub_code
        self.sub_msg = sub_msg
        self.extra = extra

    def payload(self) -> dict[str, Any]:
        return {
            "code": "40004",
            "msg": "Business Failed",
            "sub_code": self.sub_code,
            "sub_msg": self.sub_msg,
            **self.extra,
        }


def _invalid(message: str) -> BizError:
    return BizError("ACQ.INVALID_PARAMETER", message)


def _no(biz: Mapping[str, Any], name: str) -> str:
    value = biz.get(name)
    if not isinstance(value, str) or not OUT_NO.fullmatch(value):
        raise _invalid(f"参数{name}无效：最长64位，只能是字母、数字和下划线")
    return value


def _amount(biz: Mapping[str, Any], name: str) -> int:
    value = biz.get(name)
    try:
        fen = parse_yuan(value) if isinstance(value, str) else -1
    except MoneyError:
        fen = -1
    if fen <= 0:
        raise _invalid(f"参数{name}无效：单位为元，精确到小数点后两位，最小0.01")
    if fen > MAX_TOTAL_FEN:
        raise BizError("ACQ.TOTAL_FEE_EXCEED", "订单金额超过限额")
    return fen


def _subject(biz: Mapping[str, Any]) -> str:
    value = biz.get("subject")
    if not isinstance(value, str) or not value or len(value) > 256:
        raise _invalid("参数subject无效")
    if any(c in value for c in "/=&"):
        raise _invalid("订单标题中不可使用特殊字符，如 /，=，& 等")
    return value


def _given(biz: Mapping[str, Any], name: str) -> str | None:
    """A field the caller may leave out; Alipay reads an empty value as left out."""
    value = biz.get(name)
    return None if value is None or value == "" else _no(biz, name)


def _identified(state: SimState, biz: Mapping[str, Any]) -> tuple[str, Order | None]:
    """The ``out_trade_no`` a call names, directly or by Alipay's ``trade_no``, and its order.

    Alipay takes either and prefers ``trade_no`` when both are given; a pair that names two
    different trades names none of them.
    """
    out_trade_no = _given(biz, "out_trade_no")
    trade_no = _given(biz, "trade_no")
    if trade_no is None:
        if out_trade_no is None:
            raise _invalid("out_trade_no和trade_no不能同时为空")
        return out_trade_no, state.orders.get(out_trade_no)
    found = state.by_trade_no.get(trade_no)
    if found is None or (out_trade_no is not None and out_trade_no != found):
        raise BizError("ACQ.TRADE_NOT_EXIST", "交易不存在")
    return found, state.orders[found]


def _trade(state: SimState, biz: Mapping[str, Any]) -> Order:
    """The trade a call names; a QR nobody has scanned is not a trade yet."""
    _, order = _identified(state, biz)
    if order is None or order.trade_no is None:
        raise BizError("ACQ.TRADE_NOT_EXIST", "交易不存在")
    return order


def new_order(state: SimState, biz: dict[str, Any], params: Mapping[str, str], scene: str) -> Order:
    now = datetime.now(crypto.BEIJING)
    out_trade_no = _no(biz, "out_trade_no")
    total = _amount(biz, "total_amount")
    subject = _subject(biz)
    body = biz.get("body", "")
    if not isinstance(body, str) or len(body) > 128:
        raise _invalid("参数body无效")
    notify_url = params.get("notify_url", "")
    if notify_url and not notify_url.startswith(("https://", "http://")):
        raise _invalid("notify_url必须是http(s)地址")
    existing = state.orders.get(out_trade_no)
    if existing is not None:
        if existing.paid_fen is not None:
            raise BizError("ACQ.TRADE_HAS_SUCCESS", "交易已被支付")
        if not existing.payable(now):
            raise BizError("ACQ.TRADE_HAS_CLOSE", "交易已经关闭")
        if existing.scene != scene or existing.request != biz:
            raise BizError("ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改")
        return existing
    order = Order(
        out_trade_no=out_trade_no,
        scene=scene,
        subject=subject,
        total_fen=total,
        body=body,
        notify_url=notify_url,
        request=biz,
        created_at=now,
        time_expire=_time_expire(biz, now),
    )
    state.orders[out_trade_no] = order
    return order


def _time_expire(biz: Mapping[str, Any], now: datetime) -> datetime | None:
    text = biz.get("time_expire")
    if text is None:
        return None
    try:
        moment = crypto.parse_beijing(text) if isinstance(text, str) else None
    except ValueError:
        moment = None
    if moment is None or moment <= now:
        raise _invalid("参数time_expire无效：格式yyyy-MM-dd HH:mm:ss，须晚于当前时间")
    return moment


async def precreate(
    state: SimState, biz: dict[str, Any], params: Mapping[str, str]
) -> dict[str, Any]:
    order = new_order(state, biz, params, "precreate")
    if not order.token:
        order.token = state.new_qr_token()
        state.by_token[order.token] = order.out_trade_no
        log.info("sim precreate out_trade_no=%s total_fen=%d", order.out_trade_no, order.total_fen)
    await state.late_answer()
    return {"out_trade_no": order.out_trade_no, "qr_code": f"https://qr.alipay.com/{order.token}"}


async def pay(state: SimState, biz: dict[str, Any], params: Mapping[str, str]) -> dict[str, Any]:
    if biz.get("scene") != "bar_code":
        raise _invalid("参数scene无效：仅支持bar_code")
    auth_code = biz.get("auth_code")
    if not isinstance(auth_code, str) or not AUTH_CODE.fullmatch(auth_code):
        raise BizError(
            "ACQ.PAYMENT_AUTH_CODE_INVALID",
            "支付失败，获取顾客账户信息失败，请顾客刷新付款码后重新收款",
        )
    order = new_order(state, biz, params, "bar_code")
    now = datetime.now(crypto.BEIJING)
    faults = state.faults
    if order.trade_no is not None and order.status == WAIT_BUYER_PAY:
        # the same request again while the citizen is still deciding: still waiting
        return {"code": "10003", "msg": "订单创建成功支付处理中", **trade_fields(state, order, now)}
    open_trade(state, order, now)
    if faults.spend("user_paying"):
        if faults.user_paying_completes:
            state.spawn(_confirm_later(state, order, faults.user_paying_s))
        await state.late_answer()
        waiting = trade_fields(state, order, now)
        return {"code": "10003", "msg": "订单创建成功支付处理中", **waiting}
    if order.status == WAIT_BUYER_PAY:
        mark_paid(state, order, now)
    await state.late_answer()
    answer = trade_fields(state, order, now)
    answer.pop("send_pay_date", None)
    answer.pop("trade_status", None)
    answer["gmt_payment"] = crypto.beijing_text(order.gmt_payment or now)
    return answer


async def _confirm_later(state: SimState, order: Order, delay_s: float) -> None:
    await state.pause(delay_s)
    now = datetime.now(crypto.BEIJING)
    if not state.stopping.is_set() and order.effective_status(now) == WAIT_BUYER_PAY:
        mark_paid(state, order, now)


async def query(state: SimState, biz: dict[str, Any], _: Mapping[str, str]) -> dict[str, Any]:
    return trade_fields(state, _trade(state, biz), datetime.now(crypto.BEIJING))


async def close(state: SimState, biz: dict[str, Any], _: Mapping[str, str]) -> dict[str, Any]:
    order = _trade(state, biz)
    now = datetime.now(crypto.BEIJING)
    if order.effective_status(now) != WAIT_BUYER_PAY:
        raise BizError("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
    close_trade(state, order, now)
    log.info("sim close out_trade_no=%s", order.out_trade_no)
    return {"trade_no": order.trade_no, "out_trade_no": order.out_trade_no}


async def cancel(state: SimState, biz: dict[str, Any], _: Mapping[str, str]) -> dict[str, Any]:
    out_trade_no, order = _identified(state, biz)
    if state.faults.spend("cancel_retry"):
        raise BizError("ACQ.SYSTEM_ERROR", "系统错误", retry_flag="Y")
    now = datetime.now(crypto.BEIJING)
    if order is None:
        # the payment request may still be on its way: it will find the number taken
        order = Order(
            out_trade_no=out_trade_no,
            scene="cancelled",
            subject="",
            total_fen=0,
            body="",
            notify_url="",
            request={},
            created_at=now,
            cancel_action="close",
        )
        state.orders[out_trade_no] = order
    if order.cancel_action is None:
        order.cancel_action = _cancel(state, order, now)
    answer = {"out_trade_no": out_trade_no, "retry_flag": "N", "action": order.cancel_action}
    if order.trade_no is not None:
        answer["trade_no"] = order.trade_no
    log.info("sim cancel out_trade_no=%s action=%s", out_trade_no, order.cancel_action)
    return answer


def _cancel(state: SimState, order: Order, now: datetime) -> str:
    if order.trade_no is None:
        order.voided = True  # a QR nobody scanned: it can no longer be paid
        return "close"
    status = order.effective_status(now)
    if status == WAIT_BUYER_PAY:
        close_trade(state, order, now)
        return "close"
    if order.refunds:
        raise BizError("ACQ.REASON_TRADE_REFUND_FEE_ERR", "交易已发生退款，不允许撤销")
    if status == TRADE_CLOSED:
        return "close"
    if status != TRADE_SUCCESS:
        raise BizError("ACQ.TRADE_HAS_FINISHED", "交易已经完结")
    if order.gmt_payment is not None and now - order.gmt_payment > CANCEL_WINDOW:
        raise BizError("ACQ.TRADE_CANCEL_TIME_OUT", "超过撤销时间范围，请使用退款接口")
    refund_trade(state, order, now, amount_fen=order.paid_fen or 0, out_request_no=None)
    return "refund"


async def refund(state: SimState, biz: dict[str, Any], _: Mapping[str, str]) -> dict[str, Any]:
    order = _trade(state, biz)
    out_request_no = _no(biz, "out_request_no")
    amount = _amount(biz, "refund_amount")
    now = datetime.now(crypto.BEIJING)
    error = state.faults.refund_error
    if error == "ACQ.SELLER_BALANCE_NOT_ENOUGH":
        raise BizError(error, "卖家余额不足")
    known = state.refunds.get((order.out_trade_no, out_request_no))
    if known is not None:
        if known.refund_fen != amount:
            raise BizError("ACQ.DISCORDANT_REPEAT_REQUEST", "不一致的请求")
        return _refund_answer(order, known, fund_change="N")
    if order.effective_status(now) != TRADE_SUCCESS:
        raise BizError("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
    if order.refunded_fen() + amount > (order.paid_fen or 0):
        raise BizError("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
    created = refund_trade(state, order, now, amount_fen=amount, out_request_no=out_request_no)
    log.info("sim refund out_trade_no=%s refund_fen=%d", order.out_trade_no, amount)
    if error:
        # the refund went through; only the answer got lost on the way
        raise BizError(error, "系统错误")
    return _refund_answer(order, created, fund_change="Y")


def _refund_answer(order: Order, refund: Refund, *, fund_change: str) -> dict[str, Any]:
    return {
        "trade_no": order.trade_no,
        "out_trade_no": order.out_trade_no,
        "buyer_logon_id": order.buyer_logon_id,
        "fund_change": fund_change,
        "refund_fee": yuan_str(order.refunded_fen()),
        "gmt_refund_pay": crypto.beijing_text(refund.at),
        "buyer_user_id": order.buyer_user_id,
    }


async def refund_query(
    state: SimState, biz: dict[str, Any], _: Mapping[str, str]
) -> dict[str, Any]:
    order = _trade(state, biz)
    out_request_no = _no(biz, "out_request_no")
    answer: dict[str, Any] = {"trade_no": order.trade_no, "out_trade_no": order.out_trade_no}
    known = state.refunds.get((order.out_trade_no, out_request_no))
    if known is None:
        return answer  # Alipay's way of saying "no such refund": success, and nothing else
    answer.update(
        out_request_no=out_request_no,
        total_amount=yuan_str(order.paid_fen or 0),
        refund_amount=yuan_str(known.refund_fen),
        refund_status="REFUND_SUCCESS",
    )
    options = biz.get("query_options")
    if isinstance(options, list) and "gmt_refund_pay" in options:
        answer["gmt_refund_pay"] = crypto.beijing_text(known.at)
    return answer


async def bill_url(state: SimState, biz: dict[str, Any], _: Mapping[str, str]) -> dict[str, Any]:
    if biz.get("bill_type") != "trade":
        raise BizError("isv.invalid-arguments", "仅支持bill_type=trade")
    text = biz.get("bill_date")
    day: date | None = None
    if isinstance(text, str) and BILL_DATE.fullmatch(text):
        with contextlib.suppress(ValueError):
            day = date.fromisoformat(text)
    if day is None:
        raise BizError("isv.invalid-arguments", "bill_date格式为yyyy-MM-dd（不支持月账单）")
    # bills exist for days that have begun; today's holds what was processed so far
    if day > datetime.now(crypto.BEIJING).date():
        raise BizError("isp.bill_not_exist", "账单不存在")
    return {"bill_download_url": bill_link(state, day)}


METHODS: dict[str, Method] = {
    "alipay.trade.precreate": precreate,
    "alipay.trade.pay": pay,
    "alipay.trade.query": query,
    "alipay.trade.close": close,
    "alipay.trade.cancel": cancel,
    "alipay.trade.refund": refund,
    "alipay.trade.fastpay.refund.query": refund_query,
    "alipay.data.dataservice.bill.downloadurl.query": bill_url,
}
