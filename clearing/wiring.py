"""The one place where configuration becomes concrete adapters."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import aiohttp

from clearing.channels import Channel
from clearing.config import Settings
from clearing.metrics import Metrics
from clearing.ports import NotifyEndpoint, PaymentNotice


def acquirers(
    settings: Settings, session: aiohttp.ClientSession, metrics: Metrics
) -> tuple[dict[str, Channel], dict[str, NotifyEndpoint]]:
    found: dict[str, Channel] = {}
    parsers: dict[str, NotifyEndpoint] = {}
    if settings.wechatpay_keys is not None:
        from adapters.wechatpay.client import WeChatPayClient
        from adapters.wechatpay.keys import load_merchant_keys
        from adapters.wechatpay.notify import NotifyVerifier, payment_notice

        keys = load_merchant_keys(settings.wechatpay_keys)
        client = WeChatPayClient(
            session,
            base_url=settings.wechatpay_base_url,
            keys=keys,
            notify_url=settings.public_base_url.rstrip("/") + "/notify/wechatpay",
            timeout_s=settings.wechatpay_timeout_s,
        )
        found["wechatpay"] = Channel(client, metrics)
        verifier = NotifyVerifier(keys.wechatpay_public_keys, keys.apiv3_key)

        def wechat(headers: Mapping[str, str], body: bytes, now: datetime) -> PaymentNotice | None:
            return payment_notice(verifier.verify(headers, body, now))

        parsers["wechatpay"] = NotifyEndpoint(wechat)
    return found, parsers
