"""Structured logs: one JSON object per line, request id bound per request, nothing secret."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from datetime import UTC, datetime

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

# resident ID numbers and credit codes (18 characters), and PEM blocks, never reach a log line
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])")
_PEM = re.compile(r"-----BEGIN [A-Z ]+-----.*?-----END [A-Z ]+-----", re.S)
_BEARER = re.compile(r"(tj_)[A-Za-z0-9_-]{20,}")
# unified social credit codes (统一社会信用代码, GB 32100): registration body (1-9, A, N, Y),
# kind, 6-digit region, 9-character organisation code and a check character, letters from the
# set without I, O, S, V, Z; the all-digit ones are caught by _ID_NUMBER already
_USCC = re.compile(
    r"(?<![0-9A-Za-z])([1-9ANY][1-9])\d{6}[0-9A-HJ-NP-RTUW-Y]{8}([0-9A-HJ-NP-RTUW-Y]{2})"
    r"(?![0-9A-Za-z])"
)
# mainland mobile numbers, with or without +86
_MOBILE = re.compile(r"(?<![0-9])((?:\+?86)?1[3-9]\d)\d{4}(\d{4})(?![0-9])")


def scrub(text: str) -> str:
    text = _PEM.sub("[key removed]", text)
    text = _BEARER.sub(r"\1[token removed]", text)
    text = _ID_NUMBER.sub(r"\1********\2", text)
    text = _USCC.sub(r"\1**************\2", text)
    return _MOBILE.sub(r"\1****\2", text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": scrub(record.getMessage()),
        }
        rid = request_id_var.get()
        if rid:
            event["request_id"] = rid
        if record.exc_info:
            event["exc"] = scrub(self.formatException(record.exc_info))
        return json.dumps(event, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        rid = request_id_var.get()
        return scrub(super().format(record)) + (f" request_id={rid}" if rid else "")


def setup(level: str = "INFO", json_lines: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if json_lines
        else TextFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
