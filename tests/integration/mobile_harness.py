"""Phone-browser payments through the real service, the same for every acquirer that offers
them: the service with WeChat (which every service has) and the named acquirer's simulator,
the poller out of the way so that what captures a payment is the notification.

    svc, phone, _faults = phone_fixtures("alipay", running_alipay_sim)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import aiohttp
import pytest

from clearing.api.keys import ACQUIRERS
from clearing.channels import Channel
from tests.integration.phone_browser import PhoneBrowser
from tests.integration.service_harness import Service, running_service
from tests.integration.wechat_harness import running_wechat_sim


@asynccontextmanager
async def running_phone_service(
    db_dsn: str,
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    start: Callable[..., AbstractAsyncContextManager[Any]],
) -> AsyncIterator[Service]:
    """The service with ``name``'s simulator (started by ``start(keys_root, retry_scale=...)``),
    kept on the service as ``acquirer_sim(svc)`` finds it."""
    tmp = tmp_path_factory.mktemp(f"{name}-phone")
    async with (
        running_wechat_sim(tmp / "wechat") as wechat,
        start(tmp / name, retry_scale=0.001) as acquirer,
        # the poller stays out of the way: these tests are about the notification
        running_service(db_dsn, tmp, wechat, others={name: acquirer}, poll_first_s=600) as s,
    ):
        s.phone_acquirer = acquirer  # type: ignore[attr-defined]
        await acquirer.reset_faults()
        yield s


def acquirer_sim(svc: Service) -> Any:
    """The simulator of the acquirer ``running_phone_service`` started."""
    return svc.phone_acquirer  # type: ignore[attr-defined]


def channel(svc: Service, name: str) -> Channel:
    return svc.app[ACQUIRERS][name]


def phone_fixtures(name: str, start: Callable[..., AbstractAsyncContextManager[Any]]) -> Any:
    """The fixtures a phone-payment test module needs, for ``svc, phone, _faults = ...``: the
    service for the whole module, a fresh phone browser per test, and the acquirer fault-free
    before and after each test."""

    @pytest.fixture(scope="module")
    async def svc(db_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
        async with running_phone_service(db_dsn, tmp_path_factory, name, start) as running:
            yield running

    @pytest.fixture
    async def phone() -> AsyncIterator[PhoneBrowser]:
        async with aiohttp.ClientSession() as session:
            yield PhoneBrowser(session)

    @pytest.fixture(autouse=True)
    async def faults(svc: Service) -> AsyncIterator[None]:
        await acquirer_sim(svc).reset_faults()
        yield
        await acquirer_sim(svc).reset_faults()

    return svc, phone, faults
