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
        status, data = await self.control("POST", "/sim/notices", notice)
        assert status == 201, data
        return dict(data)

    async def notice(self, code: str) -> dict[str, Any]:
        status, data = await self.control("GET", f"/sim/notices/{code}")
        assert status == 200, data
        return dict(data)

    async def void(self, code: str) -> tuple[int, Any]:
        return await self.control("POST", f"/sim/notices/{code}/void")

    async def confirmations(self, day: date | None = None) -> list[dict[str, Any]]:
        query = f"?date={day.isoformat()}" if day else ""
        status, data = await self.control("GET", f"/sim/confirmations{query}")
        assert status == 200, data
        return list(data)

    async def messages(self) -> list[dict[str, str]]:
        status, data = await self.control("GET", "/sim/messages")
        assert status == 200, data
        return list(data)


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
