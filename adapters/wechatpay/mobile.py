"""WeChat Pay on the citizen's own phone (counter-and-beyond.md sections 1 and 2): H5 in a phone
browser outside WeChat (``MobileAcquirer``), and JSAPI inside WeChat's own browser
(``JsapiAcquirer``): the 网页授权 ``snsapi_base`` redirect, the code-for-openid exchange, the
JSAPI prepay and the bridge's ``paySign``.

A mixin of ``WeChatPayClient``: it uses the client's signed transport, keys and notify URL.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp

from adapters.errors import AcquirerRejected, AcquirerUnavailable
from adapters.wechatpay import crypto
from adapters.wechatpay.keys import MerchantKeys
from adapters.wechatpay.transport import PROVIDER, Transport, rejected, unreadable
from adapters.wiretime import BEIJING
from clearing.ports import PaymentAsk, PayPage

log = logging.getLogger(__name__)

# WeChat allows a-zA-Z0-9 in state, at most 128 bytes
_STATE = re.compile(r"[A-Za-z0-9]{1,128}")
_OPENID = re.compile(r"[A-Za-z0-9_-]{6,64}")


class MobileMixin:
    """H5 and JSAPI for ``WeChatPayClient``; the attributes below are the client's."""

    _keys: MerchantKeys
    _notify_url: str
    _t: Transport
    _session: aiohttp.ClientSession
    _open_url: str
    _sns_url: str
    _timeout_s: float

    async def _prepay(
        self,
        operation: str,
        kind: str,
        answer_field: str,
        extra: Mapping[str, Any],
        ask: PaymentAsk,
    ) -> str:
        """One prepay (``/v3/pay/transactions/{kind}``) of ``ask``, with the ``extra`` fields of
        its kind; the string ``answer_field`` of the answer."""
        body: dict[str, Any] = {
            "appid": self._keys.appid,
            "mchid": self._keys.mchid,
            "description": ask.description,
            "out_trade_no": ask.out_trade_no,
            "time_expire": ask.expires_at.astimezone(BEIJING).isoformat(timespec="seconds"),
            "notify_url": self._notify_url,
            "amount": {"total": ask.total_fen, "currency": "CNY"},
            **extra,
        }
        if ask.attach:
            body["attach"] = ask.attach
        answer = await self._t.call(operation, "POST", f"/v3/pay/transactions/{kind}", body)
        if answer.status != 200:
            raise rejected(operation, answer)
        value = answer.data.get(answer_field)
        if not isinstance(value, str) or not value:
            raise unreadable(operation, answer.status, f"{answer_field} missing")
        return value

    async def open_mobile_page(self, ask: PaymentAsk, *, return_url: str, payer_ip: str) -> PayPage:
        """H5 prepay; the browser goes to ``h5_url`` with ``redirect_url`` appended (section 2).
        WeChat compares ``payer_client_ip`` with the address that opens the link."""
        if not payer_ip:
            raise ValueError("payer_ip is required: WeChat checks it against the payer's phone")
        scene = {"payer_client_ip": payer_ip, "h5_info": {"type": "Wap"}}
        h5_url = await self._prepay("open_mobile_page", "h5", "h5_url", {"scene_info": scene}, ask)
        if not h5_url.startswith(("https://", "http://")):
            raise unreadable("open_mobile_page", 200, "h5_url missing")
        joiner = "&" if "?" in h5_url else "?"
        return PayPage(url=f"{h5_url}{joiner}redirect_url={quote(return_url, safe='')}")

    def oauth_url(self, *, redirect_uri: str, state: str) -> str:
        """The silent ``snsapi_base`` authorization link; parameters in WeChat's order (1.1)."""
        if not _STATE.fullmatch(state):
            raise ValueError("state must be 1-128 letters or digits")
        return (
            f"{self._open_url}/connect/oauth2/authorize?appid={self._keys.appid}"
            f"&redirect_uri={quote(redirect_uri, safe='')}&response_type=code"
            f"&scope=snsapi_base&state={state}#wechat_redirect"
        )

    async def openid_for(self, code: str) -> str:
        """``sns/oauth2/access_token``: the code (single use) for the payer's openid. The
        AppSecret never leaves the server; the access token is not needed for snsapi_base."""
        if not self._keys.app_secret:
            raise ValueError("no AppSecret in the WeChat key folder (appsecret.txt)")
        query = urlencode(
            {
                "appid": self._keys.appid,
                "secret": self._keys.app_secret,
                "code": code,
                "grant_type": "authorization_code",
            }
        )
        url = f"{self._sns_url}/sns/oauth2/access_token?{query}"
        try:
            async with self._session.get(
                url, timeout=aiohttp.ClientTimeout(total=self._timeout_s)
            ) as resp:
                status = resp.status
                data = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise AcquirerUnavailable(
                provider=PROVIDER, operation="openid_for", reason=type(exc).__name__, status=None
            ) from exc
        if status >= 500 or not isinstance(data, dict):
            raise AcquirerUnavailable(
                provider=PROVIDER, operation="openid_for", reason="bad answer", status=status
            )
        if data.get("errcode"):
            # 40029 invalid code, 40163 code been used, 40125 invalid appsecret
            raise AcquirerRejected(
                provider=PROVIDER,
                operation="openid_for",
                status=status,
                code=str(data.get("errcode")),
                message=str(data.get("errmsg", "")),
            )
        openid = data.get("openid")
        if not isinstance(openid, str) or not _OPENID.fullmatch(openid):
            raise AcquirerUnavailable(
                provider=PROVIDER, operation="openid_for", reason="openid missing", status=status
            )
        return openid

    async def create_jsapi(self, ask: PaymentAsk, *, openid: str) -> dict[str, str]:
        """JSAPI prepay (1.2), then the bridge parameters signed with the merchant API key,
        the same key as the prepay call (1.3)."""
        payer = {"payer": {"openid": openid}}
        prepay_id = await self._prepay("create_jsapi", "jsapi", "prepay_id", payer, ask)
        return bridge_params(self._keys, prepay_id)


def bridge_params(
    keys: MerchantKeys, prepay_id: str, *, now: float | None = None, nonce: str | None = None
) -> dict[str, str]:
    """``getBrandWCPayRequest``'s parameters, all strings, names as WeChat spells them."""
    params = {
        "appId": keys.appid,
        "timeStamp": str(int(time.time() if now is None else now)),
        "nonceStr": nonce or secrets.token_hex(16),
        "package": f"prepay_id={prepay_id}",
        "signType": "RSA",
    }
    message = crypto.bridge_message(
        params["appId"], params["timeStamp"], params["nonceStr"], params["package"]
    )
    params["paySign"] = crypto.sign(keys.private_key, message)
    return params
