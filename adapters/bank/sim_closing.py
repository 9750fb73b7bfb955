"""The end of a business day: one camt.053.001.08 per account, published in the outbox.

Closing day D moves the cut-off: anything booked afterwards lands on D+1 (``business_date``).
Closing D again publishes the statements made the first time once more, byte for byte (a copy,
as a bank re-sends a lost file), so that a statement never changes once issued.
"""

from __future__ import annotations

import logging
from datetime import date

from adapters.bank.sim_camt053 import Statement, render_camt053
from adapters.bank.sim_ledger import COLLECTION
from adapters.bank.sim_state import SimState

log = logging.getLogger(__name__)


def close_day(state: SimState, day: date) -> list[str]:
    """Publish the statements of ``day`` (collection accounts first); their outbox names."""
    ledger = state.ledger
    accounts = sorted(ledger.accounts.values(), key=lambda a: (a.role != COLLECTION, a.number))
    names = []
    for account in accounts:
        key = (account.number, day)
        data = state.statements.get(key)
        if data is None:
            sequence = state.statement_seq.get(account.number, 0) + 1
            statement = Statement(
                account=account,
                day=day,
                opening_fen=ledger.balance_before(account.number, day),
                entries=ledger.entries(account.number, day),
                sequence=sequence,
            )
            data = render_camt053(
                statement,
                msg_id=state.new_msg_id("C053"),
                created_at=state.now(),
                bank=state.bank,
                accounts=ledger.accounts,
            )
            state.statement_seq[account.number] = sequence
            state.statements[key] = data
        name, _ = state.next_outbox_name("camt.053", day, f"_{account.number}")
        state.publish(name, data)
        names.append(name)
    if state.closed_through is None or day > state.closed_through:
        state.closed_through = day
    log.info("sim bank day closed date=%s statements=%d", day.isoformat(), len(names))
    return names
