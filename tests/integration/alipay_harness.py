"""A real Alipay gateway simulator and a notification receiver that answers as Alipay wants
(the word ``success``). ``running_alipay_sim`` yields an ``AlipaySim``: a QR exists at Alipay
only once ``sim.scan`` (or ``sim.pay``) is called."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.alipay import keys as keyset
from adapters.alipay.client import AlipayClient
from adapters.alipay.keys import AppKeys, PlatformKeys
from adapters.alipay.notify import ACK_OK, ACK_REFUSED, AlipayNotifyParser
from adapters.alipay.sim_gateway import GATEWAY_PATH
from adapters.alipay.simulator import create_simulator_app
from tests.integration.serving import (
    NoticeDelivery,
    OrderDesk,
    load_keyset,
    running_receiver,
    running_sim,
)
from tests.integration.serving import NotifyReceiver as Receiver


@dataclass
class AlipaySim(OrderDesk[AppKeys, PlatformKeys]):
    """A running Alipay (see ``SimHandle``), and what its /sim/ desk offers beyond the others."""

    def notify_endpoint(
        self, fail_first: int, fail_status: int
    ) -> AbstractAsyncContextManager[Any]:
        return running_notify_receiver(self.parser(), fail_first=fail_first)

    def client(self, notify_url: str, *, timeout_s: float = 2.0, **options: Any) -> AlipayClient:
        """Our real client of this simulator (``gateway_url`` in ``options`` points it elsewhere);
        it cancels again at once where Alipay asks it to retry."""
        options.setdefault("gateway_url", self.gateway_url)
        options.setdefault("cancel_retry_delay_s", 0.0)
        return AlipayClient(
            self.session, keys=self.merchant, notify_url=notify_url, timeout_s=timeout_s, **options
        )

    @property
    def gateway_url(self) -> str:
        return self.base_url + GATEWAY_PATH

    def parser(self, **kwargs: Any) -> AlipayNotifyParser:
        return AlipayNotifyParser(
            app_id=self.merchant.app_id,
            seller_id=self.merchant.seller_id,
            alipay_public_key=self.merchant.alipay_public_key,
            **kwargs,
        )

    async def scan(self, out_trade_no: str) -> tuple[int, Any]:
        """The citizen scans the QR code (the trade comes to exist)."""
        return await self.control("POST", self.order_path(out_trade_no, "scan"))


def load_keys(keys_root: Path) -> tuple[AppKeys, PlatformKeys]:
    """Generate the keyset if missing, then load both sides."""
    return load_keyset(keyset, keys_root)


def running_alipay_sim(
    keys_root: Path,
    *,
    retry_scale: float = 0.001,
    fee_rate_ppm: int = 0,
    seed: int | None = None,
    keys: tuple[AppKeys, PlatformKeys] | None = None,
) -> AbstractAsyncContextManager[AlipaySim]:
    """Generate (or reuse) a keyset under ``keys_root`` and serve a fresh simulator;
    ``keys`` are both sides already loaded from it (loading RSA keys is slow)."""
    return running_sim(
        AlipaySim,
        create_simulator_app,
        keys or load_keyset(keyset, keys_root),
        retry_scale=retry_scale,
        fee_rate_ppm=fee_rate_ppm,
        seed=seed,
    )


Delivery = NoticeDelivery
NotifyReceiver = Receiver[Delivery]


def running_notify_receiver(
    parser: AlipayNotifyParser, *, fail_first: int = 0
) -> AbstractAsyncContextManager[NotifyReceiver]:
    """Serve a receiver at ``http://127.0.0.1:PORT/notify/alipay``: it parses each notification
    and answers as Alipay expects, or, for the first ``fail_first`` good ones, not: a merchant
    that is not ready answers 500 with no "success", and Alipay must retry."""
    receiver = NotifyReceiver(Delivery, parser.parse, ACK_OK, ACK_REFUSED, fail_first=fail_first)
    return running_receiver(receiver, "/notify/alipay")
