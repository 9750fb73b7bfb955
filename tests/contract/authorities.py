"""Every authority a case's legs are confirmed to, each as its real simulator over HTTP and its
real client, behind one handle the contract suite drives the same way: the tax bureau, the
non-tax (fiscal) system and the maintenance-fund office.

What differs (how a case comes to owe something at the /sim/ desk, what the authority's own
proof number is, the errors' classes and words) is data on the handle; what must hold for all of
them is in ``test_authority_contract.py``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters.fiscal.errors import FiscalAnswerForged, FiscalUnavailable
from adapters.fund.errors import FundAnswerForged, FundUnavailable
from adapters.tax.errors import TaxAnswerForged, TaxUnavailable
from clearing.ports import DueItem, LegConfirmation, LegPaid
from tests.integration import fiscal_harness, fund_harness, tax_harness

AUTHORITIES = ("tax", "fiscal", "fund")
_refs = itertools.count(1)


def payment_ref() -> str:
    """A fresh acquirer transaction id for the payment being confirmed."""
    return f"WX{os.getpid()}{next(_refs):08d}"


@dataclass
class AuthorityUnderTest:
    """One authority: its running simulator, how to build its client, and its protocol's facts."""

    name: str
    sim: Any  # the harness's handle: set_faults, reset_faults, control and the desk
    # a new case at the desk that owes something: the reference to look it up by
    new_case: Callable[[], Awaitable[str]]
    # the proof numbers the authority has booked, read at its desk
    booked: Callable[[], Awaitable[list[str]]]
    unavailable: type[Exception]
    forged: type[Exception]
    # a 5xx as the client reports it: (status, reason or None when the reason is the status)
    api_5xx: tuple[int, str | None] = (500, None)
    forged_reason: str = "signature invalid"
    # what an ALREADY_PAID refusal cites: the first payment's "proof" or its "payment" ref
    already_paid_cites: str = "proof"
    # knobs the /sim/faults desk must refuse beyond the ones every authority refuses
    bad_knobs: tuple[dict[str, Any], ...] = ()

    def client(self, base_url: str | None = None, timeout_s: float = 2.0) -> Any:
        # every authority's harness builds its real client as sim.client(base_url=, timeout_s=)
        return self.sim.client(base_url=base_url or self.sim.base_url, timeout_s=timeout_s)

    async def due(self) -> tuple[str, DueItem]:
        """A fresh case's lookup reference and the one item it owes."""
        reference = await self.new_case()
        (item,) = await self.client().lookup(reference)
        return reference, item

    async def confirm(
        self, client: Any, item: DueItem, ref: str, amount_fen: int | None = None
    ) -> LegConfirmation:
        amount = item.amount_fen if amount_fen is None else amount_fen
        paid = LegPaid(item.reference, amount, datetime.now(UTC), ref, "TJ20261126000001")
        leg: LegConfirmation = await client.confirm(paid)
        return leg


def _tax(sim: tax_harness.TaxSim) -> AuthorityUnderTest:
    async def new_case() -> str:
        return str((await sim.create_case())["declaration_no"])

    async def booked() -> list[str]:
        return [c["CertNo"] for c in await sim.confirmations()]

    return AuthorityUnderTest(
        name="tax",
        sim=sim,
        new_case=new_case,
        booked=booked,
        unavailable=TaxUnavailable,
        forged=TaxAnswerForged,
        bad_knobs=(
            {"api_5xx": -1},
            {"refuse_reason": ""},
            {"amount_changed": {"123": 5}},
            {"amount_changed": {"120261126000000001": 0}},
            {"amount_changed": []},
        ),
    )


def _fiscal(sim: fiscal_harness.FiscalSim) -> AuthorityUnderTest:
    async def new_case() -> str:
        notice = await sim.issue(payer_name="张三", item="REG_FEE", amount="80.00")
        return str(notice["payment_code"])

    async def booked() -> list[str]:
        return [c["bill"]["bill_code"] + c["bill"]["bill_no"] for c in await sim.confirmations()]

    return AuthorityUnderTest(
        name="fiscal",
        sim=sim,
        new_case=new_case,
        booked=booked,
        unavailable=FiscalUnavailable,
        forged=FiscalAnswerForged,
        forged_reason="MAC invalid",
        already_paid_cites="payment",
        bad_knobs=(
            {"refuse_confirm": -1},
            {"amount_changed": "abc"},
            {"changed_amount": "1.234"},
            {"refuse_reason": ""},
        ),
    )


def _fund(sim: fund_harness.FundSim) -> AuthorityUnderTest:
    async def new_case() -> str:
        return str((await fund_harness.home(sim))["noticeNo"])

    async def booked() -> list[str]:
        return [d["certificateNo"] for d in await sim.deposits()]

    return AuthorityUnderTest(
        name="fund",
        sim=sim,
        new_case=new_case,
        booked=booked,
        unavailable=FundUnavailable,
        forged=FundAnswerForged,
        # the office answers a fault as 503 with its own code 9999
        api_5xx=(503, "9999"),
    )


@asynccontextmanager
async def running_authority(name: str, keys_root: Path) -> AsyncIterator[AuthorityUnderTest]:
    """The named authority's simulator on 127.0.0.1; keys generated once under ``keys_root``."""
    keys = keys_root / name
    if name == "tax":
        async with tax_harness.running_tax_sim(keys) as tax:
            yield _tax(tax)
    elif name == "fiscal":
        async with fiscal_harness.running_fiscal_sim(keys, seed=7) as fiscal:
            yield _fiscal(fiscal)
    else:
        async with fund_harness.running_fund_sim(keys) as fund:
            yield _fund(fund)
