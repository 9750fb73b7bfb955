"""Typed keys for what the application holds (aiohttp's "no singletons")."""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp
import asyncpg
from aiohttp import web

from clearing.announce import Announcer
from clearing.api.events import EventHub
from clearing.api.refusal_log import RefusalLog
from clearing.channels import Channel
from clearing.config import Settings
from clearing.domain.orders import Limits
from clearing.metrics import Metrics
from clearing.ports import Authority, NotifyEndpoint
from clearing.security import PiiCipher
from clearing.service.batching import CaptureBatcher
from clearing.service.hashpool import HashPool
from clearing.service.receipts import ReceiptSigner

SETTINGS = web.AppKey("settings", Settings)
POOL = web.AppKey("pool", asyncpg.Pool)
METRICS = web.AppKey("metrics", Metrics)
CIPHER = web.AppKey("cipher", PiiCipher)
RECEIPTS = web.AppKey("receipts", ReceiptSigner)
LIMITS = web.AppKey("limits", Limits)
HTTP = web.AppKey("http", aiohttp.ClientSession)
# signs the pay links of payment notices (clearing.service.pay_links): notices make them, the
# mobile page and the kiosk read them
PAY_LINK_KEY = web.AppKey("pay_link_key", bytes)
ACQUIRERS = web.AppKey("acquirers", Mapping[str, Channel])
DSN = web.AppKey("dsn", str)
HASHER = web.AppKey("hasher", HashPool)

EVENTS = web.AppKey("events", EventHub)
NOTIFY_PARSERS = web.AppKey("notify_parsers", Mapping[str, NotifyEndpoint])
ANNOUNCER = web.AppKey("announcer", Announcer)
BATCHER = web.AppKey("batcher", CaptureBatcher)
AUTHORITIES = web.AppKey("authorities", Mapping[str, Authority])
REFUSALS = web.AppKey("refusals", RefusalLog)
# where the operators' listener is bound, once it is (its port may be chosen by the system)
OPS_URL = web.AppKey("ops_url", str)
