"""A real WeChat Pay simulator, and a real notification receiver, on 127.0.0.1 for tests.

    async with running_wechat_sim(tmp_path) as sim:
        client = WeChatPayClient(sim.session, base_url=sim.base_url, keys=sim.merchant, ...)
        await sim.pay("T123456")

Both listen on ephemeral ports bound before the app starts, so the URLs are known up front.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web

from adapters.wechatpay.keys import (
    MERCHANT_DIR,
    PLATFORM_DIR,
    MerchantKeys,
    PlatformKeys,
    generate_keyset,
    load_merchant_keys,
    load_platform_keys,
)
from adapters.wechatpay.notify import (
    ACK_OK,
    ACK_REFUSED,
    NotifyVerifier,
    VerifiedNotification,
    payment_notice,
    refund_notice,
)
from adapters.wechatpay.simulator import create_simulator_app
from clearing.ports import PaymentNotice, RefundOutcome
from tests.integration.serving import Delivery as BaseDelivery
from tests.integration.serving import NotifyReceiver as Receiver
from tests.integration.serving import OrderDesk, running_receiver, serving


@dataclass
class WeChatSim(OrderDesk):
    """A running simulator, the keys on both sides, and a session for calling it."""

    base_url: str
    merchant: MerchantKeys
    platform: PlatformKeys
    app: web.Application
    session: aiohttp.ClientSession

    async def complete_refund(self, out_refund_no: str, status: str = "SUCCESS") -> dict[str, Any]:
        """The bank answers a PROCESSING (or ABNORMAL) refund."""
        status_code, data = await self.control(
            "POST", f"/sim/refunds/{quote(out_refund_no, safe='')}/complete", {"status": status}
        )
        assert status_code == 200, data
        return dict(data)


@asynccontextmanager
async def running_wechat_sim(
    keys_root: Path,
    *,
    retry_scale: float = 0.01,
    seed: int | None = None,
    fee_rate: str = "0.00%",
) -> AsyncIterator[WeChatSim]:
    """Generate (or reuse) a keyset under ``keys_root`` and serve a fresh simulator."""
    generate_keyset(keys_root)
    merchant = load_merchant_keys(keys_root / MERCHANT_DIR)
    platform = load_platform_keys(keys_root / PLATFORM_DIR)

    def make_app(base_url: str) -> web.Application:
        return create_simulator_app(
            platform,
            public_base_url=base_url,
            retry_scale=retry_scale,
            seed=seed,
            fee_rate=fee_rate,
        )

    async with serving(make_app) as (base_url, app), aiohttp.ClientSession() as session:
        yield WeChatSim(base_url, merchant, platform, app, session)


class Delivery(BaseDelivery[VerifiedNotification]):
    """One notification as the receiver saw it: ``notification`` is what the verifier opened,
    ``notice`` and ``refund`` the payment or refund it reports."""

    @property
    def notification(self) -> VerifiedNotification | None:
        return self.verified

    @property
    def notice(self) -> PaymentNotice | None:
        return None if self.verified is None else payment_notice(self.verified)

    @property
    def refund(self) -> RefundOutcome | None:
        return None if self.verified is None else refund_notice(self.verified)


NotifyReceiver = Receiver[Delivery]


def running_notify_receiver(
    verifier: NotifyVerifier, *, fail_first: int = 0, fail_status: int = 500
) -> AbstractAsyncContextManager[NotifyReceiver]:
    """Serve a receiver at ``http://127.0.0.1:PORT/notify/wechatpay``: it verifies each
    notification and answers as the core would (``ACK_OK``, ``ACK_REFUSED``), or fails the first
    ``fail_first`` good ones with ``fail_status``."""
    receiver = NotifyReceiver(
        Delivery,
        verifier.verify,
        ACK_OK,
        ACK_REFUSED,
        fail_first=fail_first,
        busy=(fail_status, "", b""),
    )
    return running_receiver(receiver, "/notify/wechatpay")
