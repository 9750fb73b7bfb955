"""A real UnionPay ACP simulator and a merchant backUrl receiver. UnionPay takes only 200 or
302 as an acknowledgement; ``running_notify_receiver(fail_status=204)`` shows that. Queries need
the txnTime each order id was sent with: ``UnionPaySim.client`` keeps it in memory."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.unionpay import keys as keyset
from adapters.unionpay import wire
from adapters.unionpay.client import UnionPayClient
from adapters.unionpay.keys import MerchantKeys, PlatformKeys
from adapters.unionpay.notify import ACK_OK, ACK_REFUSED, UnionPayNotifyParser
from adapters.unionpay.simulator import create_simulator_app
from tests.integration.serving import (
    NoticeDelivery,
    OrderDesk,
    load_keyset,
    running_receiver,
    running_sim,
)
from tests.integration.serving import NotifyReceiver as Receiver


@dataclass
class UnionPaySim(OrderDesk[MerchantKeys, PlatformKeys]):
    """A running UnionPay (see ``SimHandle``), and what its /sim/ desk offers beyond the others."""

    def notify_endpoint(
        self, fail_first: int, fail_status: int
    ) -> AbstractAsyncContextManager[Any]:
        return running_notify_receiver(
            UnionPayNotifyParser(self.merchant), fail_first=fail_first, fail_status=fail_status
        )

    def client(self, notify_url: str, *, timeout_s: float = 2.0, **options: Any) -> UnionPayClient:
        """Our real client of this simulator (``base_url`` in ``options`` points it elsewhere)."""
        options.setdefault("base_url", self.base_url)
        return UnionPayClient(
            self.session, keys=self.merchant, notify_url=notify_url, timeout_s=timeout_s, **options
        )

    async def age(self, order_id: str, days: int = 1) -> dict[str, Any]:
        return dict(await self.answered("POST", self.order_path(order_id, "age"), {"days": days}))


def running_unionpay_sim(
    keys_root: Path,
    *,
    retry_scale: float = 0.001,
    fee_rate: str = "0.0038",
    seed: int | None = None,
    loaded: tuple[MerchantKeys, PlatformKeys] | None = None,
) -> AbstractAsyncContextManager[UnionPaySim]:
    """Generate (or reuse) a keyset under ``keys_root`` and serve a fresh simulator;
    ``loaded`` are both sides already loaded from it (RSA key checks make loading slow-ish)."""
    return running_sim(
        UnionPaySim,
        create_simulator_app,
        loaded or load_keyset(keyset, keys_root),
        retry_scale=retry_scale,
        fee_rate=fee_rate,
        seed=seed,
    )


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
