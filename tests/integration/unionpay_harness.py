"""A real UnionPay simulator, and a real backUrl receiver, on 127.0.0.1 for tests.

    async with running_unionpay_sim(tmp_path) as sim:
        client = UnionPayClient(sim.session, base_url=sim.base_url, keys=sim.merchant, ...)
        await sim.pay("TJ12345678")

Both listen on ephemeral ports bound before the app starts, so the URLs are known up front.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from adapters.unionpay import wire
from adapters.unionpay.keys import (
    MERCHANT_DIR,
    PLATFORM_DIR,
    MerchantKeys,
    PlatformKeys,
    generate_keyset,
    load_merchant_keys,
    load_platform_keys,
)
from adapters.unionpay.notify import ACK_OK, ACK_REFUSED, UnionPayNotifyParser
from adapters.unionpay.simulator import create_simulator_app
from tests.integration.serving import NoticeDelivery, OrderDesk, running_receiver, serving
from tests.integration.serving import NotifyReceiver as Receiver


@dataclass
class UnionPaySim(OrderDesk):
    """A running simulator, the keys on both sides, and a session for calling it."""

    base_url: str
    merchant: MerchantKeys
    platform: PlatformKeys
    app: web.Application
    session: aiohttp.ClientSession

    async def age(self, order_id: str, days: int = 1) -> dict[str, Any]:
        status, data = await self.control("POST", self.order_path(order_id, "age"), {"days": days})
        assert status == 200, data
        return dict(data)


@asynccontextmanager
async def running_unionpay_sim(
    keys_root: Path,
    *,
    retry_scale: float = 0.001,
    fee_rate: str = "0.0038",
    seed: int | None = None,
    loaded: tuple[MerchantKeys, PlatformKeys] | None = None,
) -> AsyncIterator[UnionPaySim]:
    """Generate (or reuse) a keyset under ``keys_root`` and serve a fresh simulator.

    ``loaded`` skips reading the keys again (RSA key checks make loading slow-ish)."""
    if loaded is None:
        generate_keyset(keys_root)
        loaded = (
            load_merchant_keys(keys_root / MERCHANT_DIR),
            load_platform_keys(keys_root / PLATFORM_DIR),
        )
    merchant, platform = loaded

    def make_app(base_url: str) -> web.Application:
        return create_simulator_app(
            platform,
            public_base_url=base_url,
            retry_scale=retry_scale,
            fee_rate=fee_rate,
            seed=seed,
        )

    async with serving(make_app) as (base_url, app), aiohttp.ClientSession() as session:
        yield UnionPaySim(base_url, merchant, platform, app, session)


class Delivery(NoticeDelivery):
    """One notification as the receiver saw it, and what the parser made of it."""

    @property
    def fields(self) -> dict[str, str]:
        """For the record only: the fields as sent, whatever the verdict."""
        return wire.decode_form(self.body)


NotifyReceiver = Receiver[Delivery]


def running_notify_receiver(
    parser: UnionPayNotifyParser, *, fail_first: int = 0, fail_status: int = 500
) -> AbstractAsyncContextManager[NotifyReceiver]:
    """Serve a merchant backUrl at ``http://127.0.0.1:PORT/notify/unionpay``: it parses each
    notification and answers as the core would, or fails the first ``fail_first`` good ones with
    ``fail_status``."""
    receiver = NotifyReceiver(
        Delivery,
        parser.parse,
        ACK_OK,
        ACK_REFUSED,
        fail_first=fail_first,
        busy=(fail_status, "", b""),
    )
    return running_receiver(receiver, "/notify/unionpay")
