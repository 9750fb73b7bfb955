"""The simulated office's API: HMAC-SM3 signed requests in, signed envelopes out (PROTOCOL.md)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from adapters.fund import rules, signing
from adapters.fund.sim_state import (
    STATE,
    SimDeposit,
    SimNotice,
    SimState,
    deposit_json,
    notice_json,
)
from adapters.fund.unit_no import UnitNoError, parse_unit_no
from adapters.fund.wire import (
    API_PREFIX,
    BEIJING,
    CONFIRM_PATH,
    LIST_PATH,
    NOTICE_NO,
    OK,
    QUERY_PATH,
    WireFormatError,
    format_date,
    format_time,
    parse_date,
    parse_time,
)

# a refusal in the office's words; the middleware turns it into a signed envelope
from adapters.simkit.authority import Refusal as OfficeError
from adapters.simkit.authority import asked_again, front_door
from adapters.simkit.desk import answer_bytes, wire_object
from clearing.domain.money import MoneyError, parse_yuan, yuan_str

log = logging.getLogger(__name__)

_TEXT_MAX = 64

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _envelope(code: str, message: str, status: int = 200, **data: Any) -> web.Response:
    payload = {"code": code, "msg": message, "data": data or None}
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return web.Response(status=status, body=body, content_type="application/json")


def _ok(**data: Any) -> web.Response:
    return _envelope(OK, "成功", **data)


@web.middleware
async def office_api(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Faults, request authentication and answer signing for everything under /api/fund/."""
    if not request.path.startswith(API_PREFIX):
        return await handler(request)
    state = request.app[STATE]
    # the front proxy answers for a back end that is off line: no envelope, no signature
    closed = web.Response(status=503, text="Service Unavailable", headers={"Retry-After": "30"})
    if (shut := await front_door(state, closed)) is not None:
        return shut
    body = await request.read()
    nonce, code, problem = _authenticate(state, request, body)
    if state.faults.take("api_5xx"):
        return _sign(state, _envelope("9999", "系统繁忙，请稍后重试", status=503), nonce)
    if problem:
        log.info("sim refused request path=%s why=%s", request.path, problem)
        return _sign(state, _envelope(code, problem, status=401), nonce)
    try:
        response = await handler(request)
    except OfficeError as exc:
        log.info("sim refused path=%s code=%s", request.path, exc.code)
        response = _envelope(exc.code, exc.words)
    if not isinstance(response, web.Response):
        raise TypeError("API handlers answer with a complete web.Response")
    return _sign(state, response, nonce)


def _authenticate(state: SimState, request: web.Request, body: bytes) -> tuple[str, str, str]:
    """(the request's nonce, refusal code, refusal message); the message is empty when valid."""
    headers = request.headers
    nonce = headers.get(signing.NONCE, "")
    app_id = headers.get(signing.APP_ID, "")
    stamp = headers.get(signing.TIMESTAMP, "")
    given = headers.get(signing.SIGN, "")
    if not (nonce and app_id and stamp and given):
        return nonce, "1001", "缺少签名信息"
    if headers.get(signing.SIGN_TYPE_HEADER) != signing.SIGN_TYPE:
        return nonce, "1001", "不支持的签名算法"
    if app_id != state.keys.app_id:
        return nonce, "1001", "应用标识不存在"
    now = datetime.now(BEIJING)
    skew = signing.skew_s(stamp, now)
    if skew is None or skew > signing.MAX_SKEW_S:
        return nonce, "1002", "请求时间戳超出允许范围"
    expected = signing.request_signature(
        state.keys.app_secret,
        method=request.method,
        path=request.path,
        app_id=app_id,
        timestamp=stamp,
        nonce=nonce,
        body=body,
    )
    if not signing.same(expected, given):
        return nonce, "1001", "签名验证失败"
    # remembered only once the signature holds, so that nobody can burn our nonces for us
    if not state.replays.fresh(nonce, now):
        return nonce, "1003", "重复请求"
    return nonce, "", ""


def _sign(state: SimState, response: web.Response, request_nonce: str) -> web.Response:
    body = answer_bytes(response)
    secret = state.signing_secret(state.keys.office_secret)
    response.headers.update(
        signing.answer_headers(
            office_secret=secret,
            key_id=state.keys.office_key_id,
            body=body,
            timestamp=signing.timestamp(datetime.now(BEIJING)),
            nonce=signing.new_nonce(),
            request_nonce=request_nonce,
        )
    )
    return response


async def _json_body(request: web.Request) -> dict[str, Any]:
    data = await wire_object(
        request,
        OfficeError("3001", "报文格式错误：不是JSON"),
        OfficeError("3001", "报文格式错误：不是JSON对象"),
    )
    if data.get("agencyCode") != request.app[STATE].keys.agency_code:
        raise OfficeError("1004", "代收机构未登记")
    return data


def _text(
    data: dict[str, Any], name: str, pattern: re.Pattern[str] | None = None, required: bool = True
) -> str:
    value = data.get(name, "")
    if not isinstance(value, str) or len(value) > _TEXT_MAX or (required and not value):
        raise OfficeError("3001", f"参数错误：{name}")
    if value and pattern and not pattern.fullmatch(value):
        raise OfficeError("3001", f"参数错误：{name}")
    return value


def remeasure(notice: SimNotice, new_area: str) -> None:
    """A survey replaced the pre-sale area: the notice now asks for a different amount."""
    before = notice.area_centi
    notice.first_area_centi = notice.first_area_centi or before
    notice.area_centi = rules.parse_area(new_area) if new_area else before + 100
    log.info(
        "sim notice remeasured notice=%s area=%d->%d", notice.notice_no, before, notice.area_centi
    )


async def query_notice(request: web.Request) -> web.Response:
    state = request.app[STATE]
    data = await _json_body(request)
    notice_no = _text(data, "noticeNo", NOTICE_NO, required=False)
    unit = _text(data, "bdcdyh", required=False)
    if unit:
        try:
            unit = str(parse_unit_no(unit))
        except UnitNoError:
            raise OfficeError("3001", "不动产单元号格式错误") from None
    if notice_no:
        notice = state.notices.get(notice_no)
        if notice is None:
            raise OfficeError("2001", "缴存通知书不存在")
        if unit and notice.unit_no != unit:
            raise OfficeError("2006", "缴存通知书与不动产单元不符")
    elif unit:
        found = state.by_unit.get(unit)
        if found is None:
            raise OfficeError("2001", "该不动产单元尚未开具缴存通知书")
        notice = state.notices[found]
    else:
        raise OfficeError("3001", "参数错误：noticeNo与bdcdyh至少填写一项")
    if notice.status == "CANCELLED":
        raise OfficeError("2005", f"缴存通知书已作废：{notice.cancel_reason}")
    if notice.deposit is not None:
        raise OfficeError("2002", f"该通知书已缴存，缴存凭证号{notice.deposit.certificate_no}")
    change = state.faults.take_amount_change(notice.notice_no, notice.unit_no)
    if change is not None:
        remeasure(notice, change)
    owner = _text(data, "ownerName", required=False)
    if owner and owner != notice.owner_name:
        raise OfficeError("2007", "缴存人与产权登记人不一致")
    notice.case_no = _text(data, "caseNo", required=False) or notice.case_no
    return _ok(notice=notice_json(state, notice))


async def confirm_deposit(request: web.Request) -> web.Response:
    state = request.app[STATE]
    data = await _json_body(request)
    notice_no = _text(data, "noticeNo", NOTICE_NO)
    pay_serial, order_no = _text(data, "paySerial"), _text(data, "orderNo")
    try:
        amount = parse_yuan(_text(data, "amount"))
        pay_time = parse_time(_text(data, "payTime"))
    except (MoneyError, WireFormatError):
        raise OfficeError("3001", "参数错误：amount或payTime") from None
    notice = state.notices.get(notice_no)
    if notice is None:
        raise OfficeError("2001", "缴存通知书不存在")
    done = notice.deposit
    if done is not None:
        # the same question again gets the same certificate; another payment does not
        asked_again(
            (done.pay_serial, done.amount_fen),
            (pay_serial, amount),
            OfficeError(
                "2002",
                f"该通知书已于{format_time(done.confirmed_at)}缴存，"
                f"缴存凭证号{done.certificate_no}，缴款流水号{done.pay_serial}",
            ),
            OfficeError(
                "2003", f"金额不符：已缴存{yuan_str(done.amount_fen)}元，确认{yuan_str(amount)}元"
            ),
        )
        return _ok(deposit=deposit_json(done))
    if notice.status == "CANCELLED":
        raise OfficeError("2005", f"缴存通知书已作废：{notice.cancel_reason}")
    if state.faults.take("refuse_confirm"):
        raise OfficeError("2004", state.faults.refuse_confirm_reason)
    if amount != notice.amount_fen:
        raise OfficeError(
            "2003", f"金额不符：应缴{yuan_str(notice.amount_fen)}元，确认{yuan_str(amount)}元"
        )
    now = datetime.now(BEIJING)
    if pay_time > now + timedelta(seconds=signing.MAX_SKEW_S):
        raise OfficeError("3001", "参数错误：缴款时间晚于当前时间")
    deposit = SimDeposit(
        certificate_no=state.new_certificate_no(now),
        notice_no=notice.notice_no,
        unit_no=notice.unit_no,
        amount_fen=amount,
        pay_time=pay_time,
        pay_serial=pay_serial,
        order_no=order_no,
        confirmed_at=now.replace(microsecond=0),
        account_no=notice.sub_account_no,
    )
    notice.deposit, notice.status = deposit, "PAID"
    state.deposits.append(deposit)
    log.info("sim deposit booked notice=%s certificate=%s", notice_no, deposit.certificate_no)
    return _ok(deposit=deposit_json(deposit))


async def list_deposits(request: web.Request) -> web.Response:
    state = request.app[STATE]
    data = await _json_body(request)
    try:
        day = parse_date(_text(data, "date"))
    except WireFormatError:
        raise OfficeError("3001", "参数错误：date") from None
    if day > datetime.now(BEIJING).date():
        raise OfficeError("3002", "对账日期尚未开始")
    booked = [d for d in state.deposits if d.confirmed_at.astimezone(BEIJING).date() == day]
    return _ok(
        date=format_date(day),
        count=len(booked),
        totalAmount=yuan_str(sum(d.amount_fen for d in booked)),
        deposits=[deposit_json(d) for d in booked],
    )


def add_api_routes(app: web.Application) -> None:
    app.router.add_post(QUERY_PATH, query_notice)
    app.router.add_post(CONFIRM_PATH, confirm_deposit)
    app.router.add_post(LIST_PATH, list_deposits)
