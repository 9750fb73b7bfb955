"""Every bank the service settles through, each as its real simulator behind real mutual TLS and
our real ``BankClient``: today the one partner bank. The contract suite drives it through the
handle below, so a second bank is one more entry in ``running_bank``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tests.integration.bank_harness import (
    FISCAL,
    FISCAL_NAME,
    FUND,
    FUND_NAME,
    TREASURY,
    TREASURY_BANK,
    TREASURY_NAME,
    BankSim,
    Transfer,
    pain001,
    running_bank_sim,
)

BANKS = ("partner",)


def payment_file(msg_id: str, prefix: str) -> bytes:
    """A payment instruction for one order's three legs: treasury, non-tax revenue, fund."""
    return pain001(
        msg_id,
        [
            Transfer(f"{prefix}T", TREASURY, TREASURY_NAME, "1200.00", TREASURY_BANK),
            Transfer(f"{prefix}F", FISCAL, FISCAL_NAME, "80.00"),
            Transfer(f"{prefix}M", FUND, FUND_NAME, "5804.36"),
        ],
    )


@asynccontextmanager
async def running_bank(name: str, root: Path) -> AsyncIterator[BankSim]:
    """The named bank's simulator, trusting our signing key, with its demo accounts."""
    assert name in BANKS, name
    async with running_bank_sim(root / name) as bank:
        yield bank
