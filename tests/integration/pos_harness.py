"""A real smart-POS terminal cloud simulator and its notification receiver. A sale goes to a
terminal (``client.start_sale``), then ``sim.insert`` and ``sim.swipe`` play the card at it;
``running_card_service`` starts the whole service with its windows' terminals in the cloud."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters.pos import keys as keyset
from adapters.pos.client import PosClient
from adapters.pos.keys import MerchantKeys, PlatformKeys
from adapters.pos.notify import ACK_OK, ACK_REFUSED, PosNotifyParser
from adapters.pos.simulator import create_simulator_app
from tests.integration.service_harness import Service, running_wechat_service
from tests.integration.serving import (
    NoticeDelivery,
    OrderDesk,
    load_keyset,
    running_receiver,
    running_sim,
)
from tests.integration.serving import NotifyReceiver as Receiver


@dataclass
class PosSim(OrderDesk[MerchantKeys, PlatformKeys]):
    """A running terminal cloud (see ``SimHandle``), and what its /sim/ desk offers beyond the others."""

    def notify_endpoint(
        self, fail_first: int, fail_status: int
    ) -> AbstractAsyncContextManager[Any]:
        return running_notify_receiver(PosNotifyParser(self.merchant), fail_first=fail_first)

    def client(
        self, notify_url: str = "http://127.0.0.1:9/n", *, timeout_s: float = 2.0, **options: Any
    ) -> PosClient:
        """Our real client of this simulator (``base_url`` in ``options`` points it elsewhere)."""
        options.setdefault("base_url", self.base_url)
        return PosClient(
            self.session, keys=self.merchant, notify_url=notify_url, timeout_s=timeout_s, **options
        )

    async def insert(self, terminal_id: str, **card: Any) -> tuple[int, Any]:
        """The card goes into the terminal; it asks for the PIN."""
        return await self.control("POST", f"/sim/terminals/{terminal_id}/insert", card)

    async def swipe(self, terminal_id: str, **knobs: Any) -> tuple[int, Any]:
        """Card and PIN on the terminal: approve (default) or decline with resp_code."""
        return await self.control("POST", f"/sim/terminals/{terminal_id}/swipe", knobs)

    async def settle(self, **body: Any) -> dict[str, Any]:
        return dict(await self.answered("POST", "/sim/settle", body))


def running_pos_sim(
    keys_root: Path,
    *,
    retry_scale: float = 0.01,
    fee_rate_ppm: int = 0,
    seed: int | None = None,
) -> AbstractAsyncContextManager[PosSim]:
    """Generate (or reuse) a keyset under ``keys_root`` and serve a fresh simulator."""
    return running_sim(
        PosSim,
        create_simulator_app,
        load_keyset(keyset, keys_root),
        retry_scale=retry_scale,
        fee_rate_ppm=fee_rate_ppm,
        seed=seed,
    )


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
        running_pos_sim(tmp / "pos", retry_scale=0.01) as pos,
        running_wechat_service(
            dsn,
            tmp,
            sim_retry_scale=0.01,
            others={"pos": pos},
            pos_terminals=list(terminals),
            **settings,
        ) as svc,
    ):
        yield svc, pos


def card_service_fixture(name: str, terminals: Iterable[str], **settings: Any) -> Any:
    """A module fixture ``env``: ``running_card_service`` in a fresh folder ``name`` on the
    module's database, yielding ``(service, terminal cloud)``."""

    @pytest.fixture(scope="module")
    async def env(
        db_dsn: str, tmp_path_factory: pytest.TempPathFactory
    ) -> AsyncIterator[tuple[Service, PosSim]]:
        tmp = tmp_path_factory.mktemp(name)
        async with running_card_service(db_dsn, tmp, terminals, **settings) as running:
            yield running

    return env
