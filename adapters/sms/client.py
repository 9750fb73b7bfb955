"""Tencent Cloud SMS ``SendSms`` (API 2021-01-11): one payment notice to one phone.

POST JSON to ``https://sms.tencentcloudapi.com/`` with the ``X-TC-*`` headers and a
TC3-HMAC-SHA256 ``Authorization`` (tc3.py). The provider answers HTTP 200 with ``Response``: either
``Error`` (the whole request refused) or ``SendStatusSet``, one status per number whose ``Code``
is ``Ok`` when accepted. We send one number per request, so one status decides.

The provider has no idempotency of its own (Alibaba's neither): the caller records each send
and never repeats one whose outcome is unknown (clearing.service.notices). ``SessionContext``
carries our reference for the send, which the provider echoes.
"""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import urlsplit

import aiohttp

from adapters.sms import errors, tc3
from adapters.sms.keys import SmsAccount
from adapters.sms.templates import TemplateRuleError
from clearing.domain.money import yuan_str
from clearing.domain.times import beijing
from clearing.messaging import (
    NoticeMessage,
    SmsOutcomeUnknown,
    SmsRefused,
    SmsSent,
    SmsUnavailable,
)

log = logging.getLogger(__name__)

PROVIDER = "tencent-sms"
ACTION = "SendSms"
VERSION = "2021-01-11"
SERVICE = "sms"
DEFAULT_BASE_URL = "https://sms.tencentcloudapi.com"


def notice_params(message: NoticeMessage) -> list[str]:
    """The notice template's {1}…{4}: case number, amount in yuan, deadline, link token."""
    return [
        message.case_no,
        yuan_str(message.amount_fen),
        beijing(message.pay_by).strftime("%m月%d日%H:%M"),
        message.token,
    ]


class TencentSmsClient:
    provider = PROVIDER

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        account: SmsAccount,
        base_url: str = DEFAULT_BASE_URL,
        timeout_s: float = 5.0,
    ) -> None:
        self._session = session
        self._account = account
        self._url = base_url.rstrip("/") + "/"
        self._host = urlsplit(self._url).netloc
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    def request(
        self, phone_e164: str, params: list[str], context: str
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers of one signed SendSms request."""
        a = self._account
        body = json.dumps(
            {
                "PhoneNumberSet": [phone_e164],
                "SmsSdkAppId": a.sdk_app_id,
                "TemplateId": a.notice_template_id,
                "SignName": a.sign_name,
                "TemplateParamSet": params,
                "SessionContext": context,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        now = int(time.time())
        headers = {
            "Content-Type": tc3.CONTENT_TYPE,
            "Host": self._host,
            "X-TC-Action": ACTION,
            "X-TC-Version": VERSION,
            "X-TC-Region": a.region,
            "X-TC-Timestamp": str(now),
            "X-TC-RequestClient": "tongjiao",
            "Authorization": tc3.authorization(
                secret_id=a.secret_id,
                secret_key=a.secret_key,
                service=SERVICE,
                host=self._host,
                body=body,
                timestamp=now,
            ),
        }
        return body, headers

    async def send_notice(self, phone_e164: str, message: NoticeMessage, context: str) -> SmsSent:
        params = notice_params(message)
        try:
            # what the provider would refuse is refused here, before anything leaves
            self._account.notice_template.check_params(self._account.sign_name, params)
        except TemplateRuleError as exc:
            retry, zh = errors.meaning(exc.code)
            raise SmsRefused(PROVIDER, exc.code, exc.message, zh, retryable=retry) from None
        body, headers = self.request(phone_e164, params, context)
        try:
            async with self._session.post(
                self._url, data=body, headers=headers, timeout=self._timeout
            ) as r:
                raw = await r.read()
                status = r.status
        except aiohttp.ClientConnectorError as exc:
            raise SmsUnavailable(
                PROVIDER,
                "UNREACHABLE",
                f"cannot connect: {exc}",
                "无法连接短信平台，短信未发出，请稍后重发",
            ) from None
        except TimeoutError:
            raise SmsOutcomeUnknown(
                PROVIDER,
                "TIMEOUT",
                "no answer in time",
                "短信平台未及时应答，短信可能已发出，请向缴款人核实后再重发",
            ) from None
        except aiohttp.ClientError as exc:
            raise SmsOutcomeUnknown(
                PROVIDER,
                "TRANSPORT",
                repr(exc),
                "与短信平台的连接中断，短信可能已发出，请向缴款人核实后再重发",
            ) from None
        return _read_answer(status, raw, context)


def _read_answer(status: int, raw: bytes, context: str) -> SmsSent:
    unknown = SmsOutcomeUnknown(
        PROVIDER,
        f"HTTP_{status}",
        f"unreadable answer (HTTP {status})",
        "短信平台应答异常，短信可能已发出，请向缴款人核实后再重发",
    )
    if status != 200:
        raise unknown
    try:
        response = json.loads(raw)["Response"]
    except (ValueError, KeyError, TypeError):
        raise unknown from None
    error = response.get("Error") if isinstance(response, dict) else None
    if isinstance(error, dict):
        code = str(error.get("Code", "FailedOperation"))
        retry, zh = errors.meaning(code)
        raise SmsRefused(PROVIDER, code, str(error.get("Message", "")), zh, retryable=retry)
    try:
        [sent] = response["SendStatusSet"]
        code = str(sent["Code"])
    except (KeyError, TypeError, ValueError):
        raise unknown from None
    if code != "Ok":
        retry, zh = errors.meaning(code)
        raise SmsRefused(PROVIDER, code, str(sent.get("Message", "")), zh, retryable=retry)
    if sent.get("SessionContext", context) != context:
        log.warning("sms answer echoes another SessionContext")
    return SmsSent(provider=PROVIDER, serial_no=str(sent.get("SerialNo", "")), code=code)
