"""The one place where configuration becomes concrete adapters."""

from __future__ import annotations

import aiohttp

from clearing.channels import Channel
from clearing.config import Settings
from clearing.metrics import Metrics
from clearing.ports import NotifyEndpoint


def acquirers(
    settings: Settings, session: aiohttp.ClientSession, metrics: Metrics
) -> tuple[dict[str, Channel], dict[str, NotifyEndpoint]]:
    found: dict[str, Channel] = {}
    parsers: dict[str, NotifyEndpoint] = {}
    if settings.wechatpay_keys is not None:
        from adapters.wechatpay.client import WeChatPayClient
        from adapters.wechatpay.keys import load_merchant_keys
        from adapters.wechatpay.notify import NotifyVerifier

        keys = load_merchant_keys(settings.wechatpay_keys)
        client = WeChatPayClient(
            session,
            base_url=settings.wechatpay_base_url,
            keys=keys,
            notify_url=settings.public_base_url.rstrip("/") + "/notify/wechatpay",
            timeout_s=settings.wechatpay_timeout_s,
        )
        found["wechatpay"] = Channel(client, metrics)
        # refuses notifications for another merchant id or app id, too
        verifier = NotifyVerifier.for_merchant(keys)
        parsers["wechatpay"] = NotifyEndpoint(verifier.parse)
    return found, parsers
