"""One MAC'd round trip to the non-tax system over HTTP POST (body = the frame).

Every answer must be a frame MAC'd with the shared token, sent by the fiscal node to us, naming
our request in ``MsgRef`` and fresh by its ``MsgID``; otherwise it is forged or replayed and none
of it is trusted. Generic refusals (MAC, format, replay, busy) come as an 8001 whose
``BatchReturn8001`` carries the error; they all mean "no answer to this question yet".
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from datetime import datetime
from typing import NoReturn

from adapters.fiscal import frame as fr
from adapters.fiscal.errors import FiscalAnswerForged, FiscalUnavailable
from adapters.fiscal.keys import MerchantKeys
from adapters.fiscal.messages import MSG_REPLY, RESULT_OK, read_fields
from adapters.http import Exchange

log = logging.getLogger(__name__)

GATEWAY_PATH = "/nontax/gateway"
_BATCH_FIELDS = ("OriMsgNo", "Result", "ErrCode", "AddWord")


unreadable = FiscalUnavailable.unreadable


class Transport(Exchange[MerchantKeys]):
    """Frames, MACs, sends and verifies; knows nothing of notices or bills."""

    party = "fiscal"

    def unavailable(
        self, operation: str, reason: str, status: int | None = None
    ) -> FiscalUnavailable:
        return FiscalUnavailable(operation=operation, reason=reason, status=status)

    def now(self) -> datetime:
        return self._now_in(fr.BEIJING)

    async def ask(self, operation: str, msg_no: str, msg: ET.Element, answer_no: str) -> ET.Element:
        """Send ``msg`` as message ``msg_no``; the ``MSG`` of the verified ``answer_no`` answer."""
        reg = self._keys.registration
        now = self.now()
        head = fr.Head(
            src=reg.bank_node,
            des=reg.fiscal_node,
            msg_no=msg_no,
            msg_id=fr.new_msg_id(now),
            msg_ref="",
            work_date=now.strftime("%Y%m%d"),
        )
        body = fr.encode_frame(msg_no, fr.build_message(head, msg), self._keys.token)
        raw, status = await self._post(operation, body)
        if status != 200:
            raise FiscalUnavailable(operation=operation, reason="HTTP error", status=status)
        try:
            frame = fr.decode_frame(raw)
        except fr.FrameError as exc:
            raise unreadable(operation, str(exc)) from None
        if not fr.mac_ok(self._keys.token, frame):
            self._forged(operation, "MAC invalid")
        try:
            answer, answer_msg = fr.parse_message(frame.xml)
        except fr.FrameError as exc:
            raise unreadable(operation, str(exc)) from None
        self._check_binding(operation, frame, answer, head)
        if answer.msg_no == MSG_REPLY and answer_no != MSG_REPLY:
            raise self._generic_refusal(operation, answer_msg)
        if answer.msg_no != answer_no:
            raise unreadable(operation, f"answer {answer.msg_no} to message {msg_no}")
        return answer_msg

    async def _post(self, operation: str, body: bytes) -> tuple[bytes, int]:
        # a frame is at most MAX_FRAME_BYTES; a body beyond that is nobody's answer
        reply = await self.send(
            operation,
            "POST",
            self.base_url + GATEWAY_PATH,
            data=body,
            headers={"Content-Type": fr.CONTENT_TYPE},
            max_bytes=fr.MAX_FRAME_BYTES,
        )
        return reply.body, reply.status

    def _check_binding(
        self, operation: str, frame: fr.Frame, answer: fr.Head, request: fr.Head
    ) -> None:
        reg = self._keys.registration
        skew = fr.msg_id_skew_s(answer.msg_id, self.now())
        if answer.app != fr.APP or answer.ver != fr.VERSION or answer.msg_no != frame.msg_no:
            self._forged(operation, "HEAD does not match the frame")
        if answer.src != reg.fiscal_node or answer.des != reg.bank_node:
            self._forged(operation, "answer is not from the fiscal node to us")
        if answer.msg_ref != request.msg_id:
            self._forged(operation, "answer names another request")
        if skew is None or skew > self._max_skew_s:
            self._forged(operation, "MsgID time missing or stale")

    def _forged(self, operation: str, reason: str) -> NoReturn:
        log.error("fiscal answer not trusted op=%s reason=%s", operation, reason)
        raise FiscalAnswerForged(operation=operation, reason=reason)

    def _generic_refusal(self, operation: str, msg: ET.Element) -> FiscalUnavailable:
        try:
            batch = read_fields(msg.find("BatchReturn8001"), _BATCH_FIELDS)
        except fr.FrameError as exc:
            return unreadable(operation, str(exc))
        if batch["Result"] == RESULT_OK:
            return unreadable(operation, "a generic 8001 that says OK")
        # our MAC, format or MsgID refused: a configuration or clock problem someone must fix
        log.error(
            "fiscal system refused the message op=%s err=%s add_word=%s",
            operation,
            batch["ErrCode"],
            batch["AddWord"],
        )
        return FiscalUnavailable(operation=operation, reason=batch["ErrCode"] or "99999")
