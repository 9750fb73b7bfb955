"""The simulator's unsigned ``/sim/`` views and fault knobs, for the tests and the demo."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from aiohttp import web

from adapters.pos.sim_state import STATE, Sale, SimState, Txn, refund_json, sale_json
from adapters.simkit.faults import add_fault_routes

log = logging.getLogger(__name__)


def order_json(state: SimState, sale: Sale) -> dict[str, Any]:
    """The sale, its refunds and every delivery attempt of every notification about it."""
    return {
        "out_trade_no": sale.out_trade_no,
        "state": sale.state,
        "sale": sale_json(state.keys, sale),
        "result_lost": sale.result_lost,
        "notify_url": sale.notify_url,
        "refunds": [refund_json(r) for r in sale.refunds],
        "notifications": [
            {
                "notify_id": n.notify_id,
                "acknowledged": n.acknowledged,
                "attempts": [asdict(a) for a in n.attempts],
            }
            for n in sale.notifications
        ],
        "deliveries": [
            {"notify_id": n.notify_id, **asdict(a)} for n in sale.notifications for a in n.attempts
        ],
        "journal": [txn_json(t) for t in state.journal if t.out_trade_no == sale.out_trade_no],
    }


def txn_json(txn: Txn) -> dict[str, Any]:
    data = asdict(txn)
    data["txn_time"] = txn.txn_time.isoformat()
    data["settle_date"] = txn.settle_date.isoformat() if txn.settle_date else None
    return data


async def show_order(request: web.Request) -> web.Response:
    state = request.app[STATE]
    sale = state.sales.get(request.match_info["out_trade_no"])
    if sale is None:
        return web.json_response({"code": "25", "message": "原交易不存在"}, status=404)
    return web.json_response(order_json(state, sale))


async def show_journal(request: web.Request) -> web.Response:
    """Every transaction the host accepted, in order, with its settle date once settled."""
    return web.json_response([txn_json(t) for t in request.app[STATE].journal])


def _bad(message: str) -> web.Response:
    return web.json_response({"code": "PARAM_ERROR", "message": message}, status=400)


def add_control_routes(app: web.Application) -> None:
    app.router.add_get("/sim/orders/{out_trade_no}", show_order)
    app.router.add_get("/sim/journal", show_journal)
    add_fault_routes(app, lambda app: app[STATE].faults)
