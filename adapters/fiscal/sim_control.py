"""The simulator's unsigned ``/sim/`` endpoints: issuing notices (缴款书) for tests and the demo,
cancelling them, what was confirmed, the frames received, and the fault knobs."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web

from adapters.fiscal import fees
from adapters.fiscal.frame import BEIJING, ENCODING
from adapters.fiscal.sim_state import (
    AGENCIES,
    ITEM_NAMES,
    STATE,
    Notice,
    SimState,
    confirmation_json,
    notice_json,
)
from adapters.simkit import control
from adapters.simkit.control import BadRequest
from adapters.simkit.control import json_answer as _json
from adapters.simkit.faults import add_fault_routes
from clearing.domain.money import MAX_FEN, MoneyError, parse_yuan

log = logging.getLogger(__name__)
routes = web.RouteTableDef()  # the desk's routes, each declared on its handler

PAYER_NAME_MAX = 60
DEFAULT_DUE_DAYS = 15


def _amount_fen(data: dict[str, Any], item: str) -> int:
    """``amount_fen`` (int), ``amount`` (yuan text), or what the fee rules make of the case:
    REG_FEE from ``property_kind`` (+ ``certificates``), LAND_TRANSFER from ``base`` × ``rate``."""
    try:
        if "amount_fen" in data:
            fen = data["amount_fen"]
            if isinstance(fen, bool) or not isinstance(fen, int):
                raise BadRequest("amount_fen must be an integer")
        elif "amount" in data:
            fen = parse_yuan(control.text(data, "amount"))
        elif item == "REG_FEE" and "property_kind" in data:
            fen = fees.registration_fee_fen(
                control.text(data, "property_kind"), data.get("certificates", 1)
            )
        elif item == "LAND_TRANSFER" and "base" in data:
            fen = fees.apply_rate(
                parse_yuan(control.text(data, "base")), control.text(data, "rate")
            )
        else:
            raise BadRequest("give amount_fen, amount, property_kind or base and rate")
    except (MoneyError, TypeError) as exc:
        raise BadRequest(str(exc)) from None
    if not 0 < fen <= MAX_FEN:
        raise BadRequest("the amount must be positive")
    return fen


def issue_notice(state: SimState, data: dict[str, Any], today: date) -> Notice:
    """A new 缴款书 from a control request; ``BadRequest`` (a ValueError) says what is wrong."""
    item = data.get("item")
    if item not in ITEM_NAMES:
        raise BadRequest(f"item must be one of {', '.join(ITEM_NAMES)}")
    payer = control.text(data, "payer_name")
    try:
        payer.encode(ENCODING)
    except UnicodeEncodeError:
        raise BadRequest("payer_name has characters GBK cannot carry") from None
    if len(payer) > PAYER_NAME_MAX:
        raise BadRequest(f"payer_name must be at most {PAYER_NAME_MAX} characters")
    amount_fen = _amount_fen(data, item)
    due_days = data.get("due_days", DEFAULT_DUE_DAYS)
    if isinstance(due_days, bool) or not isinstance(due_days, int) or not 0 <= due_days <= 366:
        raise BadRequest("due_days must be an integer from 0 to 366")
    code = data.get("payment_code") or state.new_payment_code(today)
    reg = state.keys.registration
    if not isinstance(code, str) or reg.code_rules.check(code, today) != state.division:
        raise BadRequest(f"payment_code must be a code of division {state.division}")
    if code in state.notices:
        raise BadRequest("payment_code already issued")
    agency_suffix, agency_name = AGENCIES[item]
    notice = Notice(
        payment_code=code,
        notice_no=f"{today:%Y}{code[-10:]}",
        payer_name=payer,
        item_code=item,
        wire_item_code=state.wire_item_code(item),
        agency_code=state.division + agency_suffix,
        agency_name=reg.division_name + agency_name,
        amount_fen=amount_fen,
        issued_on=today,
        due_on=today + timedelta(days=due_days),
    )
    state.notices[code] = notice
    log.info("sim notice issued code=%s item=%s amount_fen=%d", code, item, amount_fen)
    return notice


@routes.post("/sim/notices")
async def create_notice(request: web.Request) -> web.Response:
    state = request.app[STATE]
    data = await control.body(request)
    try:
        notice = issue_notice(state, data, datetime.now(BEIJING).date())
    except ValueError as exc:  # the fee rules and the code rules say what is wrong
        raise BadRequest(str(exc)) from None
    return _json(notice_json(notice, state.public_base_url), status=201)


@routes.get("/sim/notices")
async def list_notices(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return _json([notice_json(n, state.public_base_url) for n in state.notices.values()])


@routes.get("/sim/notices/{code}")
async def show_notice(request: web.Request) -> web.Response:
    state = request.app[STATE]
    notice = control.found(request, state.notices, "code", "no such payment code", "PARAM_ERROR")
    data = notice_json(notice, state.public_base_url)
    conf = state.confirmations.get(notice.payment_code)
    data["confirmation"] = confirmation_json(conf) if conf else None
    return _json(data)


@routes.post("/sim/notices/{code}/void")
async def void_notice(request: web.Request) -> web.Response:
    """作废: the collecting agency cancels an unpaid notice."""
    state = request.app[STATE]
    notice = control.found(request, state.notices, "code", "no such payment code", "PARAM_ERROR")
    if notice.status == "PAID":
        raise BadRequest("a paid notice cannot be cancelled", 409)
    notice.status = "VOID"
    return _json(notice_json(notice, state.public_base_url))


@routes.get("/sim/confirmations")
async def list_confirmations(request: web.Request) -> web.Response:
    """Every accepted confirmation, or one day's (``?date=YYYY-MM-DD``), e-bills issued if due."""
    state = request.app[STATE]
    now = datetime.now(BEIJING)
    day = control.query_day(request)
    out = []
    for conf in state.confirmations.values():
        if day is None or conf.accepted_at.date() == day:
            state.ready_bill(conf, now)
            out.append(confirmation_json(conf))
    return _json(out)


@routes.get("/sim/messages")
async def list_messages(request: web.Request) -> web.Response:
    """The frames received, in order: message number, MsgID, and the error code if refused."""
    return _json(request.app[STATE].messages)


def add_control_routes(app: web.Application) -> None:
    app.add_routes(routes)
    add_fault_routes(app, lambda app: app[STATE].faults, refuse=_refuse, answer=_json)


def _refuse(message: str) -> web.Response:
    return _json({"code": "PARAM_ERROR", "message": message}, status=400)
