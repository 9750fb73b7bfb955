"""The simulator's unsigned ``/sim/`` desk, for the tests and the demo.

Routes::

    POST   /sim/properties                 register a home and issue its deposit notice:
                                           {unit_no, area "89.99", building_type, owner_name,
                                            assessed_on "YYYY-MM-DD" (default today), case_no}
    GET    /sim/properties                 every home with its notice (and deposit)
    GET    /sim/notices/{notice_no}        one notice
    POST   /sim/notices/{notice_no}/cancel {reason}: the office withdraws an unpaid notice
    GET    /sim/deposits[?date=YYYY-MM-DD] what was confirmed (all, or booked that day)
    POST   /sim/demo                       {count}: that many demo homes with notices
    GET|PUT|DELETE /sim/faults             fault knobs (sim_faults.py)
"""

from __future__ import annotations

import logging
from datetime import date, datetime

from aiohttp import web

from adapters.fund import rules
from adapters.fund.sim_state import STATE, SimNotice, SimState, control_json, deposit_json
from adapters.fund.unit_no import UnitNoError, parse_unit_no
from adapters.fund.wire import BEIJING
from adapters.simkit import control
from adapters.simkit.control import BadRequest
from adapters.simkit.faults import add_fault_routes

log = logging.getLogger(__name__)
routes = web.RouteTableDef()  # the desk's routes, each declared on its handler

MAX_DEMO = 500
# fictitious owners and plausible homes for the demo
_DEMO_OWNERS = ("陈晓东", "刘佳怡", "周建国", "吴敏", "郑海燕", "孙立伟", "黄丽娟", "何志强")
_DEMO_AREAS = ("89.99", "120.37", "143.50", "65.08", "98.76", "135.00", "72.45", "110.11")
_DEMO_TYPES = tuple(rules.BUILDING_TYPES)


def register(
    state: SimState,
    *,
    unit_no: str,
    area: str,
    building_type: str,
    owner_name: str,
    assessed_on: date,
    case_no: str = "",
) -> tuple[SimNotice, bool]:
    """The home's notice, and whether it is new; the same home twice is the same notice."""
    try:
        unit = str(parse_unit_no(unit_no))
        area_centi = rules.parse_area(area)
        rules.assess(area_centi, building_type, assessed_on)
    except (UnitNoError, rules.FundRuleError) as exc:
        raise BadRequest(str(exc)) from None
    if not owner_name or len(owner_name) > 64:
        raise BadRequest("owner_name must be 1 to 64 characters")
    known = state.by_unit.get(unit)
    if known is not None:
        notice = state.notices[known]
        first_area = notice.first_area_centi or notice.area_centi
        same = (first_area, notice.building_type, notice.owner_name, notice.assessed_on) == (
            area_centi,
            building_type,
            owner_name,
            assessed_on,
        )
        if not same:
            raise BadRequest(f"{unit} is registered", 409, "UNIT_EXISTS")
        return notice, False
    now = datetime.now(BEIJING)
    notice_no = state.new_notice_no(unit, now)
    notice = SimNotice(
        notice_no=notice_no,
        unit_no=unit,
        owner_name=owner_name,
        area_centi=area_centi,
        building_type=building_type,
        assessed_on=assessed_on,
        issued_at=now.replace(microsecond=0),
        sub_account_no=state.new_sub_account_no(unit),
        case_no=case_no,
    )
    state.notices[notice_no] = notice
    state.by_unit[unit] = notice_no
    log.info("sim notice issued notice=%s amount_fen=%d", notice_no, notice.amount_fen)
    return notice, True


def seed_demo(state: SimState, count: int) -> list[SimNotice]:
    """``count`` new demo homes on a few parcels of one district, several to a building."""
    made: list[SimNotice] = []
    index = len(state.notices)
    while len(made) < count:
        # eight homes to a building (four floors, two doors), five buildings to a parcel
        parcel, building = 54 + index // 40, 1 + (index // 8) % 5
        floor, door = 1 + (index % 8) // 2, 1 + index % 2
        unit = f"330106005012GB{parcel:05d}F{building:04d}{floor:02d}{door:02d}"
        if unit not in state.by_unit:
            notice, _ = register(
                state,
                unit_no=unit,
                area=_DEMO_AREAS[index % len(_DEMO_AREAS)],
                building_type=_DEMO_TYPES[index % len(_DEMO_TYPES)],
                owner_name=_DEMO_OWNERS[index % len(_DEMO_OWNERS)],
                assessed_on=datetime.now(BEIJING).date(),
            )
            made.append(notice)
        index += 1
    return made


@routes.post("/sim/properties")
async def add_property(request: web.Request) -> web.Response:
    state = request.app[STATE]
    data = await control.body(request)
    today = datetime.now(BEIJING).date()
    notice, created = register(
        state,
        unit_no=control.text(data, "unit_no", strict=False),
        area=control.text(data, "area", strict=False),
        building_type=control.text(data, "building_type", strict=False),
        owner_name=control.text(data, "owner_name", strict=False),
        assessed_on=control.day(data["assessed_on"], "assessed_on")
        if "assessed_on" in data
        else today,
        case_no=control.text(data, "case_no", "", strict=False),
    )
    return web.json_response(control_json(state, notice), status=201 if created else 200)


@routes.get("/sim/properties")
async def list_properties(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.json_response(
        {"properties": [control_json(state, n) for n in state.notices.values()]}
    )


def _notice(request: web.Request) -> SimNotice:
    return control.found(request, request.app[STATE].notices, "notice_no", "no such notice")


@routes.get("/sim/notices/{notice_no}")
async def show_notice(request: web.Request) -> web.Response:
    return web.json_response(control_json(request.app[STATE], _notice(request)))


@routes.post("/sim/notices/{notice_no}/cancel")
async def cancel_notice(request: web.Request) -> web.Response:
    notice = _notice(request)
    reason = control.text(
        await control.body(request), "reason", "通知书信息有误，已作废", strict=False
    )
    if notice.status == "PAID":
        raise BadRequest("a paid notice stays", 409, "PAID")
    notice.status, notice.cancel_reason = "CANCELLED", reason
    return web.json_response(control_json(request.app[STATE], notice))


@routes.get("/sim/deposits")
async def show_deposits(request: web.Request) -> web.Response:
    state = request.app[STATE]
    deposits = state.deposits
    if (day := control.query_day(request)) is not None:
        deposits = [d for d in deposits if d.confirmed_at.astimezone(BEIJING).date() == day]
    return web.json_response({"deposits": [deposit_json(d) for d in deposits]})


@routes.post("/sim/demo")
async def demo(request: web.Request) -> web.Response:
    state = request.app[STATE]
    made = seed_demo(state, control.count(await control.body(request), 5, MAX_DEMO))
    return web.json_response({"properties": [control_json(state, n) for n in made]}, status=201)


def add_control_routes(app: web.Application) -> None:
    app.add_routes(routes)
    add_fault_routes(app, lambda app: app[STATE].faults)
