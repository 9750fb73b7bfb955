"""The simulator's unsigned ``/sim/`` endpoints: cases for tests and the demo, views of what
was declared and confirmed, and the fault knobs.

``POST /sim/cases`` takes one resale (every field optional; money as yuan strings, never JSON
numbers) and answers with the declaration the bureau opened for it::

    {"price": "3000000.00", "area_m2": "89.50", "kind": "RESIDENTIAL", "buyer_home": "FIRST",
     "seller_acquired_on": "2019-05-01" | "seller_holding_years": 6, "seller_only_home": true,
     "original_price": "1800000.00" | null, "declared_on": "2026-11-26",
     "buyer_name": "张三", "buyer_id": "…", "seller_name": "李四", "seller_id": "…",
     "property_unit": "…", "address": "…"}
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from aiohttp import web

from adapters.simkit import control
from adapters.simkit.control import BadRequest
from adapters.simkit.faults import add_fault_routes
from adapters.tax.rules import PropertyCase, parse_area, parse_home, parse_kind, rate_set_on
from adapters.tax.sim_api import confirmation_json
from adapters.tax.sim_state import STATE, Declaration, Person, SimState, Voucher
from adapters.tax.wire import BEIJING, PROPERTY_UNIT, TAX_TYPES, TAXPAYER_ID
from clearing.domain.money import MoneyError, parse_yuan, yuan_str

log = logging.getLogger(__name__)
routes = web.RouteTableDef()  # the desk's routes, each declared on its handler

# the demo's mix: every tax, both deed-tax tiers, 满五唯一 and short holdings
DEMO_CASES: tuple[dict[str, Any], ...] = (
    {
        "price": "3000000.00", "area_m2": "89.50", "buyer_home": "FIRST",
        "seller_holding_years": 6, "buyer_name": "王芳", "seller_name": "刘强",
    },
    {
        "price": "3200000.00", "area_m2": "120.00", "buyer_home": "SECOND",
        "seller_holding_years": 3, "seller_only_home": False, "original_price": "2000000.00",
        "buyer_name": "陈静", "seller_name": "杨洋",
    },
    {
        "price": "5600000.00", "area_m2": "152.30", "buyer_home": "FIRST",
        "seller_holding_years": 1, "buyer_name": "赵敏", "seller_name": "黄磊",
    },
    {
        "price": "1000000.00", "area_m2": "60.00", "kind": "NON_RESIDENTIAL", "buyer_home": "OTHER",
        "seller_holding_years": 4, "original_price": "800000.00",
        "buyer_name": "周杰", "seller_name": "吴婷", "address": "浦东新区示例路88号1层商铺",
    },
)  # fmt: skip
_FIELDS = frozenset(
    {
        "price", "area_m2", "kind", "buyer_home", "seller_acquired_on", "seller_holding_years",
        "seller_only_home", "original_price", "declared_on", "buyer_name", "buyer_id",
        "seller_name", "seller_id", "property_unit", "address",
    }
)  # fmt: skip


class BadCase(BadRequest):
    pass


def _yuan(data: dict[str, Any], name: str, default: str | None) -> int | None:
    value = data.get(name, default)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadCase(f'{name} must be a yuan string like "1234.50" (no JSON numbers)')
    try:
        return parse_yuan(value)
    except MoneyError as exc:
        raise BadCase(f"{name}: {exc}") from None


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a common year
        return day.replace(year=day.year - years, day=28)


def _person(state: SimState, data: dict[str, Any], role: str, default_name: str) -> Person:
    name = control.text(data, f"{role}_name", default_name)
    if f"{role}_id" not in data:
        return state.new_person(name)
    taxpayer_id = control.text(data, f"{role}_id", "").upper()
    if not TAXPAYER_ID.fullmatch(taxpayer_id):
        raise BadCase(f"{role}_id must be an 18-character taxpayer id")
    return Person(name, taxpayer_id)


def open_case(state: SimState, data: dict[str, Any]) -> Declaration:
    """Validate one case as ``POST /sim/cases`` takes it and open its declaration."""
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise BadCase(f"unknown fields: {', '.join(unknown)}")
    on = control.day_in(data, "declared_on", datetime.now(BEIJING).date())
    if "seller_holding_years" in data:
        years = data["seller_holding_years"]
        if isinstance(years, bool) or not isinstance(years, int) or not 0 <= years <= 70:
            raise BadCase("seller_holding_years must be an int of years")
        acquired = _years_before(on, years)
    else:
        acquired = control.day_in(data, "seller_acquired_on", _years_before(on, 6))
    only_home = data.get("seller_only_home", True)
    if not isinstance(only_home, bool):
        raise BadCase("seller_only_home must be true or false")
    if acquired > on:
        raise BadCase("the seller cannot have bought after selling")
    unit = control.text(data, "property_unit", state.new_property_unit()).upper()
    if not PROPERTY_UNIT.fullmatch(unit):
        raise BadCase("property_unit must be a 28-character property unit number")
    try:
        area = parse_area(control.text(data, "area_m2", "89.00"))
        rate_set_on(on)
        case = PropertyCase(
            price_fen=_yuan(data, "price", "2000000.00") or 0,
            area_dm2=area,
            kind=parse_kind(control.text(data, "kind", "RESIDENTIAL")),
            buyer_home=parse_home(control.text(data, "buyer_home", "FIRST")),
            seller_acquired_on=acquired,
            seller_only_home=only_home,
            original_price_fen=_yuan(data, "original_price", None),
        )
    except ValueError as exc:
        raise BadCase(str(exc)) from None
    return state.open_declaration(
        case,
        buyer=_person(state, data, "buyer", "张三"),
        seller=_person(state, data, "seller", "李四"),
        property_unit=unit,
        address=control.text(data, "address", "浦东新区示例路100弄1号101室"),
        on=on,
    )


def voucher_json(state: SimState, v: Voucher) -> dict[str, Any]:
    code, name = TAX_TYPES[v.item]
    return {
        "tax_vou_no": v.tax_vou_no,
        "item_code": v.item,
        "tax_type_code": code,
        "tax_type_name": name,
        "payer_role": v.payer_role,
        "payer_name": v.payer.name,
        "taxpayer_id": v.payer.taxpayer_id,
        "basis_fen": v.basis_fen,
        "rate": v.rate.text,
        "amount_fen": v.amount_fen,
        "adjusted_fen": v.adjusted_fen,
        "amount": yuan_str(v.amount_fen),
        "confirmation": confirmation_json(state, v) if v.confirmation else None,
    }


def declaration_json(state: SimState, d: Declaration) -> dict[str, Any]:
    return {
        "declaration_no": d.declaration_no,
        "declared_on": d.declared_on.isoformat(),
        "rate_set": d.rate_set,
        "property_unit": d.property_unit,
        "address": d.address,
        "buyer": {"name": d.buyer.name, "taxpayer_id": d.buyer.taxpayer_id},
        "seller": {"name": d.seller.name, "taxpayer_id": d.seller.taxpayer_id},
        "total_fen": sum(v.amount_fen for v in d.vouchers),
        "unpaid_fen": sum(v.amount_fen for v in d.unpaid()),
        "vouchers": [voucher_json(state, v) for v in d.vouchers],
    }


@routes.post("/sim/cases")
async def create_case(request: web.Request) -> web.Response:
    state = request.app[STATE]
    declaration = open_case(state, await control.body(request))
    return web.json_response(declaration_json(state, declaration), status=201)


@routes.post("/sim/demo")
async def create_demo(request: web.Request) -> web.Response:
    """``{"count": N}`` (default 4): N cases cycling through ``DEMO_CASES``."""
    state = request.app[STATE]
    count = control.count(await control.body(request), len(DEMO_CASES), 500)
    made = [open_case(state, dict(DEMO_CASES[i % len(DEMO_CASES)])) for i in range(count)]
    return web.json_response([declaration_json(state, d) for d in made], status=201)


@routes.get("/sim/cases")
async def list_cases(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.json_response([declaration_json(state, d) for d in state.declarations.values()])


@routes.get("/sim/cases/{declaration_no}")
async def show_case(request: web.Request) -> web.Response:
    state = request.app[STATE]
    declaration = control.found(
        request, state.declarations, "declaration_no", "申报信息不存在", "24101"
    )
    return web.json_response(declaration_json(state, declaration))


@routes.get("/sim/confirmations")
async def list_confirmations(request: web.Request) -> web.Response:
    """Every confirmed voucher in order; ``?date=YYYY-MM-DD`` keeps one tax date."""
    state = request.app[STATE]
    wanted = control.query_day(request)
    lines = [
        confirmation_json(state, v)
        for v in state.confirmed
        if v.confirmation and (wanted is None or v.confirmation.tax_date == wanted)
    ]
    return web.json_response(lines)


@routes.get("/sim/requests")
async def list_requests(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE].requests)


def add_control_routes(app: web.Application) -> None:
    app.add_routes(routes)
    add_fault_routes(app, lambda app: app[STATE].faults)
