"""One signed round trip to the terminal cloud, and the reading of its answer codes.

Requests are signed over the exact bytes sent; a 200 answer must carry the cloud's signature
bound to our request nonce, or it is treated as forged (PROTOCOL.md, "Signatures"). Business
refusals come as signed 200 answers with a ``resp_code`` other than 00.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from adapters.errors import AcquirerUnavailable, ResponseForged
from adapters.http import Exchange, JsonAnswer, compact_json, json_object
from adapters.pos import signing
from adapters.pos.keys import MerchantKeys
from adapters.pos.wire import OK, PROVIDER, RETRY_LATER_CODES
from adapters.wiretime import BEIJING

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 64 * 1024 * 1024


class Answer(JsonAnswer):
    """The cloud's envelope: ``resp_code`` 00 or an ISO 8583-style refusal, and ``resp_msg``."""

    code_field = "resp_code"
    message_field = "resp_msg"


def expect_ok(operation: str, answer: Answer) -> None:
    """Return on 00; otherwise raise what the code means: try later, or no."""
    if answer.status == 200 and answer.code == OK:
        return
    if answer.code in RETRY_LATER_CODES:
        raise AcquirerUnavailable(
            provider=PROVIDER, operation=operation, reason=answer.code, status=answer.status
        )
    if answer.status == 200 and not answer.code:
        raise unreadable(operation, answer, "resp_code missing")
    raise answer.refusal(PROVIDER, operation)


def unreadable(operation: str, answer: Answer, why: str) -> AcquirerUnavailable:
    return AcquirerUnavailable.unreadable(PROVIDER, operation, why, answer.status)


class Transport(Exchange[MerchantKeys]):
    """Signs, sends and verifies; knows nothing of sales."""

    party = PROVIDER

    async def call(self, operation: str, path: str, payload: Mapping[str, Any]) -> Answer:
        """POST ``payload`` to ``path``; AcquirerUnavailable for no answer or a 5xx."""
        body = compact_json(payload)
        nonce = signing.new_nonce()
        authorization = signing.authorization_header(
            app_id=self._keys.app_id,
            app_key=self._keys.app_key,
            body=body,
            timestamp=signing.timestamp_now(self._now()),
            nonce=nonce,
        )
        reply = await self.post_json(operation, path, body, {"Authorization": authorization})
        status = reply.status
        data = json_object(reply.body, empty={})
        answer = Answer(status=status, data=data if data is not None else {})
        if status >= 500 or status == 429:
            raise self.unavailable(operation, answer.code or "server error", status)
        # every business answer, refusals included, comes as a signed 200
        if status == 200:
            signature = reply.headers.get(signing.CLOUD_HEADER, "")
            self._check_signature(operation, signature, reply.body, nonce)
            if data is None:
                raise unreadable(operation, answer, "body is not a JSON object")
        return answer

    def _check_signature(self, operation: str, header: str, raw: bytes, nonce: str) -> None:
        try:
            signing.verify_cloud(
                header,
                raw,
                key_id=self._keys.cloud_key_id,
                cloud_key=self._keys.cloud_key,
                now=self._now(),
                max_skew_s=self._max_skew_s,
                request_nonce=nonce,
            )
        except signing.CloudSignatureError as exc:
            log.error("pos answer not trusted op=%s reason=%s", operation, exc.reason)
            raise ResponseForged(
                provider=PROVIDER, operation=operation, status=200, reason=exc.reason
            ) from None

    async def download(self, operation: str, url: str) -> bytes:
        """GET a file the cloud published; the caller checks it against a signed digest."""
        return await self.fetch_file(operation, url, MAX_FILE_BYTES)

    def _now(self) -> datetime:
        return self._now_in(BEIJING)
