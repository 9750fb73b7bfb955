"""Phone-browser payments through the real service, the same for every acquirer that offers
them: the service with WeChat (which every service has) and the named acquirer's simulator,
the poller out of the way so that what captures a payment is the notification.

    pay = PhonePay("alipay", running_alipay_sim)
    svc, phone, _faults = pay.fixtures()
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from clearing.api.keys import ACQUIRERS
from clearing.channels import Channel
from clearing.ports import PayPage, TradeStatus
from tests.integration.phone_browser import Page, PhoneBrowser, acknowledged
from tests.integration.service_harness import Service, running_wechat_service


@asynccontextmanager
async def running_phone_service(
    db_dsn: str,
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    start: Callable[..., AbstractAsyncContextManager[Any]],
) -> AsyncIterator[Service]:
    """The service with ``name``'s simulator (started by ``start(keys_root, retry_scale=...)``),
    kept on the service as ``PhonePay.sim`` finds it."""
    tmp = tmp_path_factory.mktemp(f"{name}-phone")
    async with (
        start(tmp / name, retry_scale=0.001) as acquirer,
        # the poller stays out of the way: these tests are about the notification
        running_wechat_service(db_dsn, tmp, others={name: acquirer}, poll_first_s=600) as s,
    ):
        s.phone_acquirer = acquirer  # type: ignore[attr-defined]
        await acquirer.reset_faults()
        yield s


def back_url(svc: Service, order_no: str) -> str:
    """Where the acquirer's page sends the payer back to (our order's page)."""
    return f"{svc.base_url}/m/{order_no}/back"


@dataclass(frozen=True)
class PhonePay:
    """Paying acquirer ``name`` in a phone browser, its simulator started by ``start``: what a
    test module of that acquirer's phone payments shares, the acquirer named once."""

    name: str
    start: Callable[..., AbstractAsyncContextManager[Any]]

    def sim(self, svc: Service) -> Any:
        """The simulator ``running_phone_service`` started."""
        return svc.phone_acquirer  # type: ignore[attr-defined]

    def channel(self, svc: Service) -> Channel:
        return svc.app[ACQUIRERS][self.name]

    async def page(
        self, svc: Service, otn: str, fen: int, expires_at: datetime, order_no: str
    ) -> PayPage:
        return await svc.mobile_page(self.name, otn, fen, expires_at, back_url(svc, order_no))

    async def opened(
        self, svc: Service, phone: PhoneBrowser, fen: int, **faults: Any
    ) -> tuple[str, str, datetime, Page]:
        """A new attempt of ``fen`` (the acquirer given ``faults`` first), its page opened in
        the phone: (order_no, out_trade_no, expires_at, the acquirer's page)."""
        order_no, otn, expires_at = await svc.open_attempt(self.name, fen)
        if faults:
            await self.sim(svc).set_faults(**faults)
        page = await phone.open(await self.page(svc, otn, fen, expires_at, order_no))
        return order_no, otn, expires_at, page

    async def late_page(self, svc: Service, phone: PhoneBrowser) -> tuple[Page, str]:
        """The page of a new attempt of 9.99 asked for with an expiry already past, and the
        attempt's out_trade_no."""
        order_no, otn, _ = await svc.open_attempt(self.name, 9_99)
        past = datetime.now(UTC) - timedelta(minutes=1)
        return await phone.open(await self.page(svc, otn, 9_99, past, order_no)), otn

    async def captured_once(self, svc: Service, order_no: str, otn: str) -> TradeStatus:
        """The order clears from the notification, which the acquirer sent at least three
        times (the test asked for duplicates) and saw acknowledged, and one payment is
        captured; returns what the acquirer answers when asked about it."""
        await svc.wait_state(await svc.supervisor(), order_no, "CLEARED")
        sent = await acknowledged(self.sim(svc).order, otn)
        assert sent["notifications"][0]["acknowledged"] is True
        assert len(sent["notifications"][0]["attempts"]) >= 3
        assert await svc.payment_counts(otn) == (1, 1)
        return await self.channel(svc).query(otn)

    async def captured_when_the_lost_notification_comes_again(
        self, svc: Service, order_no: str, otn: str
    ) -> None:
        """Nothing is captured while the acquirer drops its notifications; once it stops, the
        lost one comes again on its schedule, and that one captures the payment, once."""
        assert await svc.payment_counts(otn) == (0, 0)
        assert await svc.order_state(order_no) != "CLEARED"
        await self.sim(svc).reset_faults()
        await svc.wait_state(await svc.supervisor(), order_no, "CLEARED")
        assert await svc.payment_counts(otn) == (1, 1)

    async def another_amount(self, svc: Service, phone: PhoneBrowser) -> tuple[Page, str]:
        """The acquirer's page opened for an attempt of 700.00, then the page of the same
        attempt for 7.00: returns that second page and the attempt's out_trade_no."""
        order_no, otn, expires_at = await svc.open_attempt(self.name, 700_00)
        first = await phone.open(await self.page(svc, otn, 700_00, expires_at, order_no))
        assert first.url.path.startswith("/sim/wap/")
        return await phone.open(await self.page(svc, otn, 7_00, expires_at, order_no)), otn

    def fixtures(self) -> Any:
        """The fixtures a phone-payment test module needs, for ``svc, phone, _faults = ...``:
        the service for the whole module, a fresh phone browser per test, and the acquirer
        fault-free before and after each test."""

        @pytest.fixture(scope="module")
        async def svc(
            db_dsn: str, tmp_path_factory: pytest.TempPathFactory
        ) -> AsyncIterator[Service]:
            async with running_phone_service(
                db_dsn, tmp_path_factory, self.name, self.start
            ) as running:
                yield running

        @pytest.fixture
        async def phone() -> AsyncIterator[PhoneBrowser]:
            async with aiohttp.ClientSession() as session:
                yield PhoneBrowser(session)

        @pytest.fixture(autouse=True)
        async def faults(svc: Service) -> AsyncIterator[None]:
            await self.sim(svc).reset_faults()
            yield
            await self.sim(svc).reset_faults()

        return svc, phone, faults
