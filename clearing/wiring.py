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
    if settings.pos_keys is not None:
        from adapters.pos.client import PosClient
        from adapters.pos.keys import load_merchant_keys as load_pos_keys
        from adapters.pos.notify import ACK_OK as POS_OK
        from adapters.pos.notify import ACK_REFUSED as POS_REFUSED
        from adapters.pos.notify import PosNotifyParser

        pos_keys = load_pos_keys(settings.pos_keys)
        pos = PosClient(
            session,
            base_url=settings.pos_base_url,
            keys=pos_keys,
            notify_url=settings.public_base_url.rstrip("/") + "/notify/pos",
            timeout_s=settings.channel_timeout_s,
        )
        found["pos"] = Channel(pos, metrics)
        parsers["pos"] = NotifyEndpoint(
            PosNotifyParser(pos_keys).parse,
            ok=POS_OK,
            refused_status=POS_REFUSED[0],
            refused_body=(POS_REFUSED[1], POS_REFUSED[2]),
        )
    return found, parsers
