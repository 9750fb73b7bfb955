"""The simulator's ``POST /``: SendSms as Tencent Cloud checks it.

In order: the action and version headers, the timestamp (±5 minutes), the TC3 signature over the
raw body with the request's own Host and Content-Type, then the body: application, sign, template,
its parameters (count, length, no links, message length), each number (+86 mainland mobile,
not blacklisted). Refusals answer HTTP 200 with ``Response.Error`` as the provider does; a
refused number gets its own status in ``SendStatusSet``.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import time
import uuid
from typing import Any

from aiohttp import web

from adapters.sms import tc3
from adapters.sms.sim_state import STATE, SimState
from adapters.sms.templates import TemplateRuleError

log = logging.getLogger(__name__)
_PHONE = re.compile(r"^\+861[3-9][0-9]{9}$")


def _error(code: str, message: str) -> web.Response:
    return web.json_response(
        {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": str(uuid.uuid4())}}
    )


def _auth_refusal(request: web.Request, raw: bytes, state: SimState) -> web.Response | None:
    h = request.headers
    if h.get("X-TC-Action") != "SendSms":
        return _error("InvalidAction", "the action does not exist")
    if h.get("X-TC-Version") != "2021-01-11":
        return _error("NoSuchVersion", "the API version does not exist")
    if not h.get("X-TC-Region"):
        return _error("MissingParameter", "X-TC-Region is required")
    stamp = h.get("X-TC-Timestamp", "")
    if not stamp.isdigit():
        return _error("MissingParameter", "X-TC-Timestamp is required")
    if abs(time.time() - int(stamp)) > tc3.MAX_SKEW_S:
        return _error("AuthFailure.SignatureExpire", "the timestamp is more than 5 minutes off")
    cred = tc3.parse_authorization(h.get("Authorization", ""))
    if cred is None or cred.signed_headers != tc3.SIGNED_HEADERS or cred.service != "sms":
        return _error("AuthFailure.InvalidAuthorization", "Authorization is not TC3-HMAC-SHA256")
    if cred.secret_id != state.account.secret_id:
        return _error("AuthFailure.SecretIdNotFound", "the SecretId does not exist")
    timestamp = int(stamp)
    if cred.date != tc3.scope_date(timestamp):
        return _error("AuthFailure.SignatureFailure", "the credential date is not the timestamp's")
    canonical = tc3.canonical_request(h.get("Host", ""), raw, h.get("Content-Type", ""))
    wanted = tc3.signature(
        state.account.secret_key, timestamp, "sms", tc3.string_to_sign(timestamp, "sms", canonical)
    )
    if state.faults.bad_signature or not hmac.compare_digest(wanted, cred.signature):
        return _error(
            "AuthFailure.SignatureFailure", "The provided credentials could not be validated."
        )
    return None


async def send_sms(request: web.Request) -> web.Response:
    state = request.app[STATE]
    state.requests += 1
    raw = await request.read()
    if state.faults.take("api_5xx"):
        return web.Response(
            status=502, text="<html>502 Bad Gateway</html>", content_type="text/html"
        )
    refused = _auth_refusal(request, raw, state)
    if refused is not None:
        return refused
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _error("FailedOperation.FailResolvePacket", "the request body is not JSON")
    if not isinstance(body, dict):
        return _error("FailedOperation.FailResolvePacket", "the request body is not an object")
    answer = _send(state, body)
    # the provider answers late but has delivered: the client's "unknown" is the truth
    await state.pause(state.faults.delay_s)
    return answer


def _send(state: SimState, body: dict[str, Any]) -> web.Response:
    a = state.account
    phones = body.get("PhoneNumberSet")
    if not isinstance(phones, list) or not 1 <= len(phones) <= 200:
        return _error("InvalidParameterValue.IncorrectPhoneNumber", "1 to 200 numbers")
    if body.get("SmsSdkAppId") != a.sdk_app_id:
        return _error("InvalidParameterValue.SdkAppIdNotExist", "no such SmsSdkAppId")
    if body.get("SignName") != a.sign_name:
        return _error("FailedOperation.SignatureIncorrectOrUnapproved", "the sign is not approved")
    template = a.templates.get(str(body.get("TemplateId", "")))
    if template is None:
        return _error(
            "FailedOperation.TemplateIncorrectOrUnapproved", "the template is not approved"
        )
    params = body.get("TemplateParamSet") or []
    if not isinstance(params, list):
        return _error("InvalidParameterValue.TemplateParameterFormatError", "a list of strings")
    try:
        content = template.check_params(a.sign_name, params)
    except TemplateRuleError as exc:
        return _error(exc.code, exc.message)
    context = str(body.get("SessionContext", ""))
    if len(context.encode()) >= 512:
        return _error("InvalidParameterValue", "SessionContext must be under 512 bytes")
    statuses = []
    for phone in phones:
        status: dict[str, Any] = {
            "SerialNo": "",
            "PhoneNumber": phone,
            "Fee": 0,
            "SessionContext": context,
            "IsoCode": "CN",
        }
        if not isinstance(phone, str) or not _PHONE.match(phone):
            status.update(Code="InvalidParameterValue.IncorrectPhoneNumber", Message="bad number")
        elif phone in state.faults.blacklist:
            status.update(Code="FailedOperation.PhoneNumberInBlacklist", Message="blacklisted")
        elif state.faults.take("rate_limit"):
            status.update(Code="LimitExceeded.DeliveryFrequencyLimit", Message="frequency limit")
        else:
            sent = state.deliver(phone, template.template_id, list(params), content, context)
            # billed per 70 characters of a long message (67 per part when split)
            fee = 1 if len(content) <= 70 else -(-len(content) // 67)
            status.update(SerialNo=sent.serial_no, Fee=fee, Code="Ok", Message="send success")
            log.info("sms delivered serial=%s template=%s", sent.serial_no, template.template_id)
        statuses.append(status)
    return web.json_response(
        {"Response": {"SendStatusSet": statuses, "RequestId": str(uuid.uuid4())}}
    )


def add_api_routes(app: web.Application) -> None:
    app.router.add_post("/", send_sms)
