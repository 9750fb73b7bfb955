"""The simulator's unsigned ``/sim/`` views and fault knobs, for the tests and the demo."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from aiohttp import web

from adapters.pos.sim_state import STATE, Sale, SimState, Txn, refund_json, sale_json
from adapters.simkit.notify import notices_json
from adapters.simkit.orders import Desk

log = logging.getLogger(__name__)


def txn_json(txn: Txn) -> dict[str, Any]:
    data = asdict(txn)
    data["txn_time"] = txn.txn_time.isoformat()
    data["settle_date"] = txn.settle_date.isoformat() if txn.settle_date else None
    return data


class PosDesk(Desk[SimState, Sale]):
    """Sales are shown here; they are paid on their terminal (``sim_terminal``)."""

    MISSING = ("25", "原交易不存在")

    def find(self, no: str) -> Sale | None:
        return self.state.sales.get(no)

    def view(self, sale: Sale) -> dict[str, Any]:
        """The sale, its refunds and every delivery attempt of every notification about it."""
        return {
            "out_trade_no": sale.out_trade_no,
            "state": sale.state,
            "sale": sale_json(self.state.keys, sale),
            "result_lost": sale.result_lost,
            "notify_url": sale.notify_url,
            "refunds": [refund_json(r) for r in sale.refunds],
            **notices_json(sale.notifications, "notify_id"),
            "journal": [
                txn_json(t) for t in self.state.journal if t.out_trade_no == sale.out_trade_no
            ],
        }


async def show_journal(request: web.Request) -> web.Response:
    """Every transaction the host accepted, in order, with its settle date once settled."""
    return web.json_response([txn_json(t) for t in request.app[STATE].journal])


def add_control_routes(app: web.Application) -> None:
    app.router.add_get("/sim/journal", show_journal)
    PosDesk(app[STATE]).add_routes(app)
