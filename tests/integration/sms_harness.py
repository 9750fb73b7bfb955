"""A real SMS provider simulator (Tencent Cloud SendSms) on 127.0.0.1 for tests.

async with running_sms_sim(tmp_path / "sms") as sim:
    client = sim.client()
    sent = await client.send_notice("+8613800138000", message, "ctx")
    [delivered] = await sim.outbox()
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from adapters.sms.client import TencentSmsClient
from adapters.sms.keys import (
    DEFAULT_SITE,
    MERCHANT_DIR,
    PLATFORM_DIR,
    SmsAccount,
    generate_keyset,
    load_account,
)
from adapters.sms.simulator import create_simulator_app
from tests.integration.serving import SimControl, serving


@dataclass
class SmsSim(SimControl):
    base_url: str
    merchant: SmsAccount
    platform: SmsAccount
    app: web.Application
    session: aiohttp.ClientSession
    keys_root: Path

    def client(self, *, account: SmsAccount | None = None, **options: Any) -> TencentSmsClient:
        return TencentSmsClient(
            self.session, account=account or self.merchant, base_url=self.base_url, **options
        )

    async def outbox(self, phone: str | None = None) -> list[dict[str, Any]]:
        path = "/sim/outbox" + (f"?phone={phone.replace('+', '%2B')}" if phone else "")
        return list((await self.answered("GET", path))["messages"])


@asynccontextmanager
async def running_sms_sim(keys_root: Path, *, site: str = DEFAULT_SITE) -> AsyncIterator[SmsSim]:
    """Generate (or reuse) a keyset under ``keys_root`` and serve a fresh simulator."""
    generate_keyset(keys_root, site=site)
    merchant = load_account(keys_root / MERCHANT_DIR)
    platform = load_account(keys_root / PLATFORM_DIR)

    def make_app(base_url: str) -> web.Application:
        return create_simulator_app(platform, public_base_url=base_url)

    async with serving(make_app) as (base_url, app), aiohttp.ClientSession() as session:
        yield SmsSim(base_url, merchant, platform, app, session, keys_root)
