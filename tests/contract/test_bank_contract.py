"""What the settlement service relies on from a bank's file exchange, under the faults a bank
shows: its inbox or outbox failing with 5xx, answering too slowly, a status report (pain.002)
that never comes until the file is sent again, or comes twice.

The bank's own checks (signatures, totals, account names, statements) stay beside its simulator
in ``tests/integration/test_bank_simulator.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.bank.client import BankUnavailable
from tests.contract.banks import BANKS, payment_file, running_bank
from tests.integration.bank_harness import FUND, BankSim, tx_statuses

NAME = "TJ_SFBK_20260302_001.pain001.xml"


@pytest.fixture(params=BANKS)
async def bank(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BankSim]:
    async with running_bank(request.param, tmp_path) as running:
        yield running


async def test_a_5xx_inbox_or_outbox_is_unavailable_then_recovers(bank: BankSim) -> None:
    client = bank.client(timeout=0.5)
    await bank.set_faults(outbox_5xx=1, inbox_5xx=1)
    with pytest.raises(BankUnavailable) as busy:
        await client.list_outbox()
    assert busy.value.status == 503
    with pytest.raises(BankUnavailable):
        await client.push(NAME, b"x", b"{}")
    assert await client.list_outbox() == []


async def test_a_dropped_status_report_comes_when_the_file_is_sent_again(bank: BankSim) -> None:
    await bank.set_faults(drop_status=["MSG-FK-1"], reject_accounts=[FUND], reject_reason="AC06")
    await bank.push(NAME, payment_file("MSG-FK-1", "FK1"))
    assert await bank.outbox_files("pain.002") == []  # the answer never comes
    await bank.push(NAME, payment_file("MSG-FK-1", "FK1"))  # resend: now it does
    [status] = await bank.outbox_files("pain.002")
    assert tx_statuses(status)["FK1M"] == ("RJCT", "AC06")


async def test_a_duplicated_status_report_is_the_same_file_twice(bank: BankSim) -> None:
    await bank.set_faults(duplicate_status=1)
    await bank.push(NAME, payment_file("MSG-FK-2", "FK2"))
    one, two = await bank.outbox_files("pain.002")
    assert one == two


async def test_a_slow_bank_is_unavailable(bank: BankSim) -> None:
    await bank.set_faults(delay_s=2)
    with pytest.raises(BankUnavailable):
        await bank.client(timeout=0.5).list_outbox()


async def test_the_fault_desk_refuses_ill_typed_knobs(bank: BankSim) -> None:
    bad: tuple[dict[str, Any], ...] = ({"reject_reason": "bad"}, {"nonsense": 1}, {"delay_s": "x"})
    for knobs in bad:
        status, refused = await bank.control("PUT", "/sim/faults", knobs)
        assert status == 400, (knobs, refused)
