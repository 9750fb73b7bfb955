"""A real non-tax (fiscal) system simulator: ``sim.issue(payer_name=..., item=..., amount=...)``
writes a 缴款书 whose ``payment_code`` ``sim.client().lookup`` reads."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from adapters.fiscal import keys as keyset
from adapters.fiscal.client import FiscalClient
from adapters.fiscal.keys import MerchantKeys, PlatformKeys
from adapters.fiscal.simulator import create_simulator_app
from tests.integration.serving import SimHandle, load_keyset, running_sim


@dataclass
class FiscalSim(SimHandle[MerchantKeys, PlatformKeys]):
    """A running non-tax system (see ``SimHandle``), and what its /sim/ desk offers beyond the others."""

    def client(self, *, timeout_s: float = 2.0, **kwargs: Any) -> FiscalClient:
        kwargs.setdefault("base_url", self.base_url)
        kwargs.setdefault("keys", self.merchant)
        return FiscalClient(self.session, timeout_s=timeout_s, **kwargs)

    async def issue(self, **notice: Any) -> dict[str, Any]:
        """A new 缴款书 (payer_name, item, and amount / amount_fen / property_kind / base+rate)."""
        return dict(await self.answered("POST", "/sim/notices", notice, expect=201))

    async def notice(self, code: str) -> dict[str, Any]:
        return dict(await self.answered("GET", f"/sim/notices/{code}"))

    async def void(self, code: str) -> tuple[int, Any]:
        return await self.control("POST", f"/sim/notices/{code}/void")

    async def confirmations(self, day: date | None = None) -> list[dict[str, Any]]:
        query = f"?date={day.isoformat()}" if day else ""
        return list(await self.answered("GET", f"/sim/confirmations{query}"))

    async def messages(self) -> list[dict[str, str]]:
        return list(await self.answered("GET", "/sim/messages"))


def running_fiscal_sim(
    keys_root: Path,
    *,
    page_size: int = 100,
    seed: int | None = None,
    demo_notices: int = 0,
) -> AbstractAsyncContextManager[FiscalSim]:
    """Generate (or reuse) a keyset under ``keys_root`` and serve a fresh simulator."""
    return running_sim(
        FiscalSim,
        create_simulator_app,
        load_keyset(keyset, keys_root),
        page_size=page_size,
        seed=seed,
        demo_notices=demo_notices,
    )
