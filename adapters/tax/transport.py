"""One MAC'd round trip to the bureau's front-end, and the reading of its answer envelope.

Every answer below 500 must be signed by the bureau and echo our ``TraNo`` as ``OriTraNo``; an
answer that is not is never read further. Business refusals come as signed answers whose
``Head.Result`` is not 90000 (PROTOCOL.md, "Result codes").
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapters.http import Exchange, compact_json
from adapters.tax import signing
from adapters.tax.errors import TaxAnswerForged, TaxRefused, TaxUnavailable
from adapters.tax.keys import MerchantKeys
from adapters.tax.wire import APP, OK, REFUSALS, RETRY_LATER, VERSION, wire_date, wire_time
from adapters.wiretime import BEIJING, WireFormatError, parse_time

log = logging.getLogger(__name__)

# (request MsgNo, answer MsgNo, path), as in ``wire``
Message = tuple[str, str, str]


@dataclass(frozen=True)
class Answer:
    status: int
    head: Mapping[str, Any]
    body: Mapping[str, Any]


unreadable = TaxUnavailable.unreadable


class Transport(Exchange[MerchantKeys]):
    """MACs, sends, verifies and reads the envelope; knows nothing of taxes."""

    party = "tax"

    def unavailable(self, operation: str, reason: str, status: int | None = None) -> TaxUnavailable:
        return TaxUnavailable(operation=operation, reason=reason, status=status)

    async def call(self, operation: str, message: Message, body: Mapping[str, Any]) -> Answer:
        """Send ``body`` as message ``message``; return the answer only when its Result is OK."""
        msg_no, answer_no, path = message
        now = self._now()
        tra_no = signing.new_tra_no()
        head = {
            "Ver": VERSION,
            "App": APP,
            "MsgNo": msg_no,
            "SrcOrgCode": self._keys.src_org_code,
            "TaxOrgCode": self._keys.tax_org_code,
            "EntrustDate": wire_date(now.date()),
            "TraNo": tra_no,
            "SendTime": wire_time(now),
        }
        raw_request = compact_json({"Head": head, "Body": body})
        signed = {
            signing.MAC_HEADER: signing.mac_header(self._keys.access_token, raw_request),
            signing.SRC_HEADER: self._keys.src_org_code,
        }
        reply = await self.post_json(operation, path, raw_request, signed)
        status, raw = reply.status, reply.body
        signature = reply.headers.get(signing.SIGNATURE_HEADER, "")
        if status >= 500 or status == 429:
            raise TaxUnavailable(operation=operation, reason="server error", status=status)
        if not signature:
            if status == 200:
                raise self._forged(operation, status, "signature header missing")
            # a proxy's or a router's page, not the bureau's word: nothing to act on
            raise TaxUnavailable(operation=operation, reason="unsigned answer", status=status)
        self._check_signature(operation, status, signature, raw)
        answer = self._envelope(operation, status, raw, answer_no, tra_no)
        result = str(answer.head.get("Result", ""))
        reason = str(answer.head.get("AddWord", ""))
        if result == OK:
            if status != 200:
                raise unreadable(operation, f"Result {OK} with HTTP {status}", status)
            return answer
        if result in RETRY_LATER:
            raise TaxUnavailable(operation=operation, reason=result, status=status)
        if result in REFUSALS:
            code, text = REFUSALS[result]
            log.info("tax refused op=%s result=%s code=%s", operation, result, code)
            raise TaxRefused(
                operation=operation,
                code=code,
                message=text,
                reason=reason,
                result_code=result,
                status=status,
            )
        raise unreadable(operation, f"unknown Result {result!r}", status)

    def _check_signature(self, operation: str, status: int, header: str, raw: bytes) -> None:
        try:
            parsed = signing.parse_signature_header(header)
        except ValueError:
            raise self._forged(operation, status, "signature header malformed") from None
        if parsed.key_id != self._keys.bureau_key_id or parsed.alg != signing.SIGN_ALG:
            raise self._forged(operation, status, "unknown KeyId or Alg")
        if not signing.verify_answer(self._keys.bureau_public_key, raw, parsed.signature):
            raise self._forged(operation, status, "signature invalid")

    def _envelope(
        self, operation: str, status: int, raw: bytes, answer_no: str, tra_no: str
    ) -> Answer:
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise unreadable(operation, "body is not JSON", status) from None
        if not isinstance(data, dict):
            raise unreadable(operation, "body is not a JSON object", status)
        head, body = data.get("Head"), data.get("Body")
        if not isinstance(head, dict) or not isinstance(body, dict):
            raise unreadable(operation, "Head or Body missing", status)
        # signed, yet maybe an old answer to another request: the echo of our serial tells
        if head.get("OriTraNo") != tra_no:
            raise self._forged(operation, status, "answer to another request")
        # no clock check on answers: the echo of a fresh random serial already proves freshness,
        # and a clock far off shows up as the bureau refusing our SendTime (91006)
        try:
            parse_time(str(head.get("SendTime", "")))
        except WireFormatError:
            raise unreadable(operation, "SendTime missing", status) from None
        if head.get("TaxOrgCode") != self._keys.tax_org_code:
            raise unreadable(operation, "answer from another tax office", status)
        if (head.get("Ver"), head.get("App"), head.get("MsgNo")) != (VERSION, APP, answer_no):
            raise unreadable(operation, "not the expected answer message", status)
        return Answer(status=status, head=head, body=body)

    def _forged(self, operation: str, status: int, reason: str) -> TaxAnswerForged:
        log.error("tax answer not trusted op=%s reason=%s", operation, reason)
        return TaxAnswerForged(operation=operation, reason=reason, status=status)

    def _now(self) -> datetime:
        return self._now_in(BEIJING)
