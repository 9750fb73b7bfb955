"""The bank simulator's unsigned ``/sim/`` desk, on the plain-HTTP control port only.

Routes::

    GET    /sim/accounts              every account with its balance (fen)
    PUT    /sim/accounts              {"accounts": [{number, name, bank_code, role, balance_fen}]}:
                                      open accounts (balance_fen = opening balance), or rename
                                      open ones; role "collection" (ours) or "beneficiary"
    GET    /sim/bookings[?date=D]     the journal (all, or booked on business date D)
    POST   /sim/return                {end_to_end_id, reason "AC04", date?}: 退汇 of a transfer
    POST   /sim/credit                {account, amount_fen, payer_name, remittance?}: money from
                                      outside the bank, e.g. an acquirer's settlement
    POST   /sim/close-day             {date}: one camt.053 per account into the outbox
    POST   /sim/fetch                 one pull round from --our-base-url
    GET    /sim/files                 every delivery and what the bank made of it
    GET|PUT|DELETE /sim/faults        fault knobs (sim_faults.py)
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from aiohttp import web

from adapters.bank.sim_closing import close_day
from adapters.bank.sim_ledger import BENEFICIARY, COLLECTION, CREDIT
from adapters.bank.sim_pull import PullFailed, fetch_once
from adapters.bank.sim_state import STATE, SimState
from adapters.simkit import control
from adapters.simkit.control import BadRequest
from adapters.simkit.faults import add_fault_routes

log = logging.getLogger(__name__)
routes = web.RouteTableDef()  # the desk's routes, each declared on its handler

_REASON = re.compile(r"[A-Z0-9]{4}")

# the demo city's accounts: ours, and the beneficiaries of the demo catalogue
# (clearing/service/catalogue.py) plus the registration-fee account
DEMO_ACCOUNTS: tuple[dict[str, Any], ...] = (
    {
        "number": "6217000010000000009",
        "name": "示范市不动产登记中心",
        "bank_code": "313100000013",
        "role": COLLECTION,
        "balance_fen": 1_000_000_000,
    },
    {
        "number": "270000000001",
        "name": "国家金库示范市中心支库",
        "bank_code": "001100000009",
        "role": BENEFICIARY,
    },
    {
        "number": "6217000010000000001",
        "name": "示范市财政局",
        "bank_code": "313100000013",
        "role": BENEFICIARY,
    },
    {
        "number": "6217000010000000002",
        "name": "示范市住房保障和房产管理局",
        "bank_code": "313100000013",
        "role": BENEFICIARY,
    },
    {
        "number": "6217000010000000003",
        "name": "示范市自然资源和规划局",
        "bank_code": "313100000013",
        "role": BENEFICIARY,
    },
)


def seed_demo(state: SimState) -> None:
    for account in DEMO_ACCOUNTS:
        state.ledger.open_or_update(dict(account))


def _accounts_json(state: SimState) -> list[dict[str, Any]]:
    ledger = state.ledger
    return [a.as_json(ledger.balance(a.number)) for a in ledger.accounts.values()]


@routes.get("/sim/accounts")
async def show_accounts(request: web.Request) -> web.Response:
    return web.json_response({"accounts": _accounts_json(request.app[STATE])})


@routes.put("/sim/accounts")
async def put_accounts(request: web.Request) -> web.Response:
    state = request.app[STATE]
    try:
        data = json.loads(await request.read())
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadRequest("body must be JSON") from None
    accounts = data.get("accounts") if isinstance(data, dict) else data
    if not isinstance(accounts, list) or not all(isinstance(a, dict) for a in accounts):
        raise BadRequest('body must be {"accounts": [account, ...]}')
    for account in accounts:
        state.ledger.open_or_update(account)
    return web.json_response({"accounts": _accounts_json(state)})


@routes.get("/sim/bookings")
async def show_bookings(request: web.Request) -> web.Response:
    journal = request.app[STATE].ledger.journal
    if (day := control.query_day(request)) is not None:
        journal = [b for b in journal if b.booked_on == day]
    return web.json_response({"bookings": [b.as_json() for b in journal]})


@routes.post("/sim/return")
async def send_back(request: web.Request) -> web.Response:
    state = request.app[STATE]
    data = await control.body(request)
    end_to_end_id, reason = data.get("end_to_end_id"), data.get("reason", "AC04")
    if not isinstance(end_to_end_id, str) or not end_to_end_id:
        raise BadRequest("end_to_end_id must be text")
    if not isinstance(reason, str) or not _REASON.fullmatch(reason):
        raise BadRequest("reason must be a 4-character ISO return reason code")
    day = state.business_date()
    if "date" in data:
        day = control.day(data["date"], "date")
        if day < state.business_date():
            raise BadRequest(f"the books are closed before {state.business_date()}")
    booking = state.ledger.send_back(end_to_end_id, reason, booked_at=state.now(), booked_on=day)
    log.info("sim bank return booked e2e=%s reason=%s ref=%s", end_to_end_id, reason, booking.ref)
    return web.json_response(booking.as_json(), status=201)


@routes.post("/sim/credit")
async def credit(request: web.Request) -> web.Response:
    state = request.app[STATE]
    data = await control.body(request)
    number, amount = data.get("account"), data.get("amount_fen")
    payer, remittance = data.get("payer_name", ""), data.get("remittance", "")
    if not isinstance(number, str) or number not in state.ledger.accounts:
        raise BadRequest("account must be an open account's number")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise BadRequest("amount_fen must be a positive integer")
    if not isinstance(payer, str) or not payer or not isinstance(remittance, str):
        raise BadRequest("payer_name (and remittance) must be text")
    booking = state.ledger.book(
        kind=CREDIT,
        booked_at=state.now(),
        booked_on=state.business_date(),
        debit=None,
        credit=number,
        amount_fen=amount,
        counterparty=payer[:140],
        remittance=remittance[:140],
    )
    return web.json_response(booking.as_json(), status=201)


@routes.post("/sim/close-day")
async def close(request: web.Request) -> web.Response:
    state = request.app[STATE]
    day = control.day((await control.body(request)).get("date"), "date")
    return web.json_response({"date": day.isoformat(), "statements": close_day(state, day)})


@routes.post("/sim/fetch")
async def fetch(request: web.Request) -> web.Response:
    try:
        result = await fetch_once(request.app[STATE])
    except PullFailed as exc:
        return web.json_response({"code": "PULL_FAILED", "message": str(exc)}, status=502)
    return web.json_response(result)


@routes.get("/sim/files")
async def show_files(request: web.Request) -> web.Response:
    return web.json_response({"files": [r.as_json() for r in request.app[STATE].received]})


def add_control_routes(app: web.Application) -> None:
    app.add_routes(routes)
    add_fault_routes(app, lambda app: app[STATE].faults)
