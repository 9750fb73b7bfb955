"""One signed round trip to the office, and the reading of its answer codes.

Every business answer, refusals included, is a 200 carrying the envelope
``{"code", "msg", "data"}`` and the office's signature bound to our request nonce; requests it
cannot authenticate get a signed 401. An answer without a valid signature is forged. 5xx, 429,
any other status, a timeout or a refused connection mean "no answer".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapters.fund import signing
from adapters.fund.errors import FundAnswerForged, FundRefused, FundUnavailable
from adapters.fund.keys import MerchantKeys
from adapters.fund.wire import OK, REFUSALS, RETRY_LATER_PREFIX
from adapters.http import Exchange, compact_json, json_object, text
from adapters.wiretime import BEIJING

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    status: int
    code: str
    msg: str
    data: Mapping[str, Any]


def refused(operation: str, answer: Answer, reference: str = "") -> FundRefused:
    """The office's refusal as our error; codes we do not know are still a refusal."""
    code = REFUSALS.get(answer.code, "REFUSED")
    return FundRefused(
        operation=operation,
        code=code,
        message=f"the maintenance-fund office refused ({code})",
        reason=answer.msg,
        office_code=answer.code,
        reference=reference,
    )


def unreadable(operation: str, answer: Answer, why: str) -> FundUnavailable:
    return FundUnavailable.unreadable(operation, why, answer.status)


class Transport(Exchange[MerchantKeys]):
    """Signs, sends and verifies; knows nothing of notices."""

    party = "fund"

    def unavailable(
        self, operation: str, reason: str, status: int | None = None
    ) -> FundUnavailable:
        return FundUnavailable(operation=operation, reason=reason, status=status)

    async def call(
        self, operation: str, path: str, payload: Mapping[str, Any], reference: str = ""
    ) -> Answer:
        """POST ``payload``; return the answer when its code is 0000, raise otherwise."""
        body = compact_json(payload)
        nonce = signing.new_nonce()
        signed = signing.request_headers(
            app_secret=self._keys.app_secret,
            app_id=self._keys.app_id,
            method="POST",
            path=path,
            body=body,
            timestamp=signing.timestamp(self._now()),
            nonce=nonce,
        )
        reply = await self.post_json(operation, path, body, signed)
        status, raw, answer_headers = reply.status, reply.body, reply.headers
        data = json_object(raw)
        envelope = data or {}
        answer = Answer(
            status=status,
            code=text(envelope.get("code")),
            msg=text(envelope.get("msg")),
            data=envelope["data"] if isinstance(envelope.get("data"), dict) else {},
        )
        if status >= 500 or status == 429:
            raise FundUnavailable(
                operation=operation, reason=answer.code or "server error", status=status
            )
        if status not in (200, 401):
            # not the office's API speaking (a proxy, a wrong base URL): nothing to believe
            raise FundUnavailable(operation=operation, reason=f"HTTP {status}", status=status)
        # refusals are signed too: a forged "no" must not end a leg any more than a forged "yes"
        self._check_signature(operation, status, answer_headers, raw, nonce)
        if data is None:
            raise unreadable(operation, answer, "body is not a JSON object")
        if status == 401:
            # our request was not accepted (key, clock, replay): trying again as is will not help
            raise refused(operation, answer, reference)
        if answer.code == OK:
            return answer
        if not answer.code:
            raise unreadable(operation, answer, "code missing")
        if answer.code.startswith(RETRY_LATER_PREFIX):
            raise FundUnavailable(operation=operation, reason=answer.code, status=status)
        log.info("fund refused op=%s code=%s", operation, answer.code)
        raise refused(operation, answer, reference)

    def _check_signature(
        self, operation: str, status: int, headers: Mapping[str, str], raw: bytes, nonce: str
    ) -> None:
        key_id = headers.get(signing.KEY_ID, "")
        stamp = headers.get(signing.TIMESTAMP, "")
        answer_nonce = headers.get(signing.NONCE, "")
        given = headers.get(signing.SIGN, "")
        skew = signing.skew_s(stamp, self._now())
        reason = ""
        if not (key_id and stamp and answer_nonce and given):
            reason = "signature headers missing"
        elif headers.get(signing.SIGN_TYPE_HEADER) != signing.SIGN_TYPE:
            reason = "unsupported signature type"
        elif key_id != self._keys.office_key_id:
            reason = "unknown key id"
        elif skew is None or skew > self._max_skew_s:
            reason = "timestamp missing or stale"
        else:
            expected = signing.answer_signature(
                self._keys.office_secret,
                key_id=key_id,
                timestamp=stamp,
                nonce=answer_nonce,
                request_nonce=nonce,
                body=raw,
            )
            if not signing.same(expected, given):
                reason = "signature invalid"
        if reason:
            log.error("fund answer not trusted op=%s reason=%s", operation, reason)
            raise FundAnswerForged(operation=operation, reason=reason, status=status)

    def _now(self) -> datetime:
        return self._now_in(BEIJING)
