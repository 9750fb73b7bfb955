"""How the simulated terminal cloud reports results: a SALE_RESULT envelope per finished sale,
signed by ``SimState`` and retried by ``simkit.notify`` on the bank's schedule, with faults (drops,
duplicates, replays, reordering, delays, forged signatures, a result lost on the way)."""

from __future__ import annotations

import json
import logging
from datetime import datetime

from adapters.pos.sim_state import Sale, SimState, sale_json, wire_time
from adapters.simkit.notify import Notice

log = logging.getLogger(__name__)


def notify_result(state: SimState, sale: Sale, now: datetime) -> None:
    """Report a finished sale to its notify_url, unless the result is lost on the way."""
    if sale.state == "APPROVED" and state.faults.spend("lose_result"):
        # the terminal and the host agree; only the merchant never hears of it
        sale.result_lost = True
        log.info("sim result lost out_trade_no=%s", sale.out_trade_no)
        return
    envelope = {
        "notify_id": state.new_notify_id(now),
        "notify_type": "SALE_RESULT",
        "notify_time": wire_time(now),
        "sale": sale_json(state.keys, sale),
    }
    notification = Notice(
        id=str(envelope["notify_id"]),
        url=sale.notify_url,
        payload=json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode(),
    )
    sale.notifications.append(notification)
    state.send(notification)
