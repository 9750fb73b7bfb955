"""A real terminal-cloud simulator, and a real notification receiver, on 127.0.0.1 for tests.

    async with running_pos_sim(tmp_path, fee_rate_ppm=3800) as sim:
        client = PosClient(sim.session, base_url=sim.base_url, keys=sim.merchant, ...)
        await sim.swipe("T0000001")

Both listen on ephemeral ports bound before the app starts, so the URLs are known up front.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from adapters.pos.keys import (
    MERCHANT_DIR,
    PLATFORM_DIR,
    MerchantKeys,
    PlatformKeys,
    generate_keyset,
    load_merchant_keys,
    load_platform_keys,
)
from adapters.pos.notify import ACK_OK, ACK_REFUSED, PosNotifyParser
from adapters.pos.simulator import create_simulator_app
from tests.integration.service_harness import Service, running_service
from tests.integration.serving import NoticeDelivery, OrderDesk, running_receiver, serving
from tests.integration.serving import NotifyReceiver as Receiver
from tests.integration.wechat_harness import running_wechat_sim


@dataclass
class PosSim(OrderDesk):
    """A running terminal cloud, the keys on both sides, and a session for calling it."""

    base_url: str
    merchant: MerchantKeys
    platform: PlatformKeys
    app: web.Application
    session: aiohttp.ClientSession

    async def insert(self, terminal_id: str, **card: Any) -> tuple[int, Any]:
        """The card goes into the terminal; it asks for the PIN."""
        return await self.control("POST", f"/sim/terminals/{terminal_id}/insert", card)

    async def swipe(self, terminal_id: str, **knobs: Any) -> tuple[int, Any]:
        """Card and PIN on the terminal: approve (default) or decline with resp_code."""
        return await self.control("POST", f"/sim/terminals/{terminal_id}/swipe", knobs)

    async def settle(self, **body: Any) -> dict[str, Any]:
        status, data = await self.control("POST", "/sim/settle", body)
        assert status == 200, data
        return dict(data)


@asynccontextmanager
async def running_pos_sim(
    keys_root: Path,
    *,
    retry_scale: float = 0.01,
    fee_rate_ppm: int = 0,
    seed: int | None = None,
) -> AsyncIterator[PosSim]:
    """Generate (or reuse) a keyset under ``keys_root`` and serve a fresh simulator."""
    generate_keyset(keys_root)
    merchant = load_merchant_keys(keys_root / MERCHANT_DIR)
    platform = load_platform_keys(keys_root / PLATFORM_DIR)

    def make_app(base_url: str) -> web.Application:
        return create_simulator_app(
            platform,
            public_base_url=base_url,
            retry_scale=retry_scale,
            fee_rate_ppm=fee_rate_ppm,
            seed=seed,
        )

    async with serving(make_app) as (base_url, app), aiohttp.ClientSession() as session:
        yield PosSim(base_url, merchant, platform, app, session)


Delivery = NoticeDelivery
NotifyReceiver = Receiver[Delivery]


def running_notify_receiver(
    parser: PosNotifyParser, *, fail_first: int = 0
) -> AbstractAsyncContextManager[NotifyReceiver]:
    """Serve our endpoint at ``http://127.0.0.1:PORT/notify/pos``: it parses each notification
    and answers as the channel expects, or, for the first ``fail_first`` good ones, not (an answer
    other than the exact acknowledgement makes the cloud send again)."""
    receiver = NotifyReceiver(Delivery, parser.parse, ACK_OK, ACK_REFUSED, fail_first=fail_first)
    return running_receiver(receiver, "/notify/pos")


@asynccontextmanager
async def running_card_service(
    dsn: str, tmp: Path, terminals: Iterable[str], **settings: Any
) -> AsyncIterator[tuple[Service, PosSim]]:
    """The real service with its window's card terminals in a real terminal cloud (and WeChat,
    which every service has), both simulators retrying fast; ``settings`` go to the service."""
    async with (
        running_wechat_sim(tmp / "wechat", retry_scale=0.01) as sim,
        running_pos_sim(tmp / "pos", retry_scale=0.01) as pos,
        running_service(
            dsn, tmp, sim, others={"pos": pos}, pos_terminals=list(terminals), **settings
        ) as svc,
    ):
        yield svc, pos
