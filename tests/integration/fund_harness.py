"""A real maintenance-fund office simulator: ``home(sim)`` registers a home and its notice,
``pay(client, notice_no, amount_fen)`` confirms the deposit; ``raised`` and ``refusal`` name the
error a call ends in."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import pytest

from adapters.fund import keys as keyset
from adapters.fund import signing
from adapters.fund.client import FundClient
from adapters.fund.errors import FundRefused
from adapters.fund.keys import MerchantKeys, PlatformKeys
from adapters.fund.simulator import create_simulator_app
from adapters.fund.wire import BEIJING
from clearing.ports import LegConfirmation, LegPaid
from tests.integration.serving import SimHandle, load_keyset, running_sim, running_sim_cli

PAID_AT = datetime(2026, 3, 2, 10, 15, 0, tzinfo=BEIJING)
_units = itertools.count(1)
E = TypeVar("E", bound=BaseException)


def new_unit_no() -> str:
    """A fresh 28-character house unit: one parcel per test home, building 1, unit 0302."""
    return f"330106005012GB{next(_units):05d}F00010302"


@dataclass
class FundSim(SimHandle[MerchantKeys, PlatformKeys]):
    """A running maintenance-fund office (see ``SimHandle``), and what its /sim/ desk offers beyond the others."""

    def client(self, *, keys: MerchantKeys | None = None, **options: Any) -> FundClient:
        options.setdefault("base_url", self.base_url)
        return FundClient(self.session, keys=keys or self.merchant, **options)

    async def add_property(
        self,
        *,
        unit_no: str,
        area: str,
        building_type: str = "MULTI_NO_LIFT",
        owner_name: str = "陈晓东",
        **more: Any,
    ) -> dict[str, Any]:
        """Register a home; its notice (wire form, plus the desk's fields) comes back."""
        body = {
            "unit_no": unit_no,
            "area": area,
            "building_type": building_type,
            "owner_name": owner_name,
            **more,
        }
        status, data = await self.control("POST", "/sim/properties", body)
        assert status in (200, 201), data
        return dict(data)

    async def notice(self, notice_no: str) -> dict[str, Any]:
        return dict(await self.answered("GET", f"/sim/notices/{quote(notice_no)}"))

    async def deposits(self, day: str | None = None) -> list[dict[str, Any]]:
        path = "/sim/deposits" + (f"?date={day}" if day else "")
        return list((await self.answered("GET", path))["deposits"])

    async def replay(self, path: str, payload: Any, times: int) -> list[tuple[int, str]]:
        """Send one signed request ``times`` times, byte for byte: (status, code) of each."""
        body = json.dumps(payload).encode()
        headers = signing.request_headers(
            app_secret=self.merchant.app_secret,
            app_id=self.merchant.app_id,
            method="POST",
            path=path,
            body=body,
            timestamp=signing.timestamp(datetime.now(BEIJING)),
            nonce=signing.new_nonce(),
        )
        answers = []
        for _ in range(times):
            async with self.session.post(self.base_url + path, data=body, headers=headers) as r:
                answers.append((r.status, (await r.json())["code"]))
        return answers


async def home(sim: FundSim, **fields: Any) -> dict[str, Any]:
    """A home with a fresh unit number (89.99 m², multi-storey without lift unless told)."""
    return await sim.add_property(**{"unit_no": new_unit_no(), "area": "89.99", **fields})


async def raised(call: Awaitable[Any], kind: type[E]) -> E:
    """The ``kind`` of error that awaiting ``call`` raises."""
    with pytest.raises(kind) as caught:
        await call
    return caught.value


async def refusal(call: Awaitable[Any]) -> FundRefused:
    return await raised(call, FundRefused)


def pay(
    client: FundClient, notice_no: str, amount_fen: int, serial: str = "WX4200001"
) -> Awaitable[LegConfirmation]:
    """Confirm a deposit paid at PAID_AT under payment serial ``serial``."""
    return client.confirm(LegPaid(notice_no, amount_fen, PAID_AT, serial, "TJ20260302000001"))


def running_fund_sim(
    keys_root: Path,
    *,
    demo_homes: int = 0,
) -> AbstractAsyncContextManager[FundSim]:
    """Generate (or reuse) a keyset under ``keys_root`` and serve a fresh simulator."""
    return running_sim(
        FundSim, create_simulator_app, load_keyset(keyset, keys_root), demo_homes=demo_homes
    )


def running_fund_cli(
    keys_root: Path, *options: str
) -> AbstractAsyncContextManager[tuple[str, asyncio.subprocess.Process]]:
    """``tongjiao sim fund --port 0`` as a real process: its announced URL and the process."""
    return running_sim_cli("fund", keys_root, *options)
