"""A real WeChat Pay simulator, and a real notification receiver, on 127.0.0.1 for tests:
``running_wechat_sim(keys_root)`` yields a ``WeChatSim``; ``sim.client(notify_url)`` is our client
of it, ``sim.pay(out_trade_no)`` the citizen paying (serving.py says how both are served)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from adapters.wechatpay import keys as keyset
from adapters.wechatpay.client import WeChatPayClient
from adapters.wechatpay.keys import MerchantKeys, PlatformKeys
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
from tests.integration.serving import OrderDesk, load_keyset, running_receiver, running_sim


@dataclass
class WeChatSim(OrderDesk[MerchantKeys, PlatformKeys]):
    """A running WeChat Pay (see ``SimHandle``), and what its /sim/ desk offers beyond the others."""

    def notify_endpoint(
        self, fail_first: int, fail_status: int
    ) -> AbstractAsyncContextManager[Any]:
        return running_notify_receiver(
            self.verifier(), fail_first=fail_first, fail_status=fail_status
        )

    def client(self, notify_url: str, *, timeout_s: float = 2.0, **options: Any) -> WeChatPayClient:
        """Our real client of this simulator (``base_url`` in ``options`` points it elsewhere)."""
        options.setdefault("base_url", self.base_url)
        return WeChatPayClient(
            self.session, keys=self.merchant, notify_url=notify_url, timeout_s=timeout_s, **options
        )

    def verifier(self) -> NotifyVerifier:
        return NotifyVerifier(self.merchant.wechatpay_public_keys, self.merchant.apiv3_key)

    async def complete_refund(self, out_refund_no: str, status: str = "SUCCESS") -> dict[str, Any]:
        """The bank answers a PROCESSING (or ABNORMAL) refund."""
        return dict(
            await self.answered(
                "POST", f"/sim/refunds/{quote(out_refund_no, safe='')}/complete", {"status": status}
            )
        )


def running_wechat_sim(
    keys_root: Path,
    *,
    retry_scale: float = 0.01,
    seed: int | None = None,
    fee_rate: str = "0.00%",
) -> AbstractAsyncContextManager[WeChatSim]:
    """Generate (or reuse) a keyset under ``keys_root`` and serve a fresh simulator."""
    return running_sim(
        WeChatSim,
        create_simulator_app,
        load_keyset(keyset, keys_root),
        retry_scale=retry_scale,
        seed=seed,
        fee_rate=fee_rate,
    )


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
