"""Alipay RSA2 signatures and the wire details both sides share (protocols-cn.md 2.1–2.3, 2.6).

Both the client and the simulator use these, so the two cannot drift apart: the app signs its
requests with its private key, Alipay signs its answers and notifications with its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from adapters import signatures, wiretime

SIGN_TYPE: Final = "RSA2"
CHARSET: Final = "utf-8"
VERSION: Final = "1.0"
# the wire time format: Beijing wall-clock time without an offset
TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"
BEIJING: Final = wiretime.BEIJING
ERROR_RESPONSE: Final = "error_response"

_WHITESPACE: Final = re.compile(r"[ \t\n\r]*")
_DECODER: Final = json.JSONDecoder()


def beijing_text(moment: datetime) -> str:
    """``yyyy-MM-dd HH:mm:ss`` in Beijing time; ``moment`` must be timezone-aware."""
    if moment.tzinfo is None:
        raise ValueError("moment must be timezone-aware")
    return moment.astimezone(BEIJING).strftime(TIME_FORMAT)


def parse_beijing(text: str) -> datetime:
    """Read ``yyyy-MM-dd HH:mm:ss`` as Beijing time; ``ValueError`` on any other shape."""
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=BEIJING)


def request_content(params: Mapping[str, str]) -> str:
    """What an app signs: every parameter but ``sign``, empty ones dropped, sorted, raw values.

    ``sign_type`` stays in (current OpenAPI docs and the reference SDK; protocols-cn.md 2.2).
    """
    items = sorted((k, v) for k, v in params.items() if k != "sign" and v != "")
    return "&".join(f"{k}={v}" for k, v in items)


def notify_content(params: Mapping[str, str]) -> str:
    """What Alipay signs in a notification: all but ``sign`` and ``sign_type``, sorted.

    Empty values stay in, as the official SDKs' check content keeps them; Alipay sends none.
    """
    items = sorted((k, v) for k, v in params.items() if k not in ("sign", "sign_type"))
    return "&".join(f"{k}={v}" for k, v in items)


def sign(private_key: RSAPrivateKey, content: str) -> str:
    """SHA256withRSA (PKCS#1 v1.5) over the UTF-8 bytes, Base64 without line breaks."""
    return signatures.rsa_sign(private_key, content.encode("utf-8"))


def verify(public_key: RSAPublicKey, content: str, signature_b64: str) -> bool:
    """True when ``signature_b64`` is a valid RSA2 signature of ``content``."""
    return signatures.rsa_verify(public_key, content.encode("utf-8"), signature_b64)


def response_key(method: str) -> str:
    """``alipay.trade.query`` → ``alipay_trade_query_response``."""
    return method.replace(".", "_") + "_response"


def compact_json(data: Any) -> str:
    """JSON as Alipay writes it: no spaces, Chinese left as is."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def top_level_spans(text: str) -> dict[str, tuple[int, int]]:
    """Where each top-level value of a JSON object lies in ``text``, as (start, end) offsets.

    The signature covers the exact text of one member, so we must cut it out of the body as
    sent, never re-serialize it. A repeated key is refused: with two candidates, an attacker
    could have us verify one and read the other.
    """
    spans: dict[str, tuple[int, int]] = {}
    index = _skip(text, 0)
    if text[index : index + 1] != "{":
        raise ValueError("answer is not a JSON object")
    index = _skip(text, index + 1)
    if text[index : index + 1] == "}":
        return _at_end(text, index + 1, spans)
    while True:
        key, index = _DECODER.raw_decode(text, index)
        if not isinstance(key, str):
            raise ValueError("object key is not a string")
        index = _skip(text, index)
        if text[index : index + 1] != ":":
            raise ValueError("expected ':' after a key")
        start = _skip(text, index + 1)
        _, end = _DECODER.raw_decode(text, start)
        if key in spans:
            raise ValueError(f"key {key!r} appears twice")
        spans[key] = (start, end)
        index = _skip(text, end)
        separator = text[index : index + 1]
        if separator == "}":
            return _at_end(text, index + 1, spans)
        if separator != ",":
            raise ValueError("expected ',' or '}' between members")
        index = _skip(text, index + 1)


def _skip(text: str, index: int) -> int:
    match = _WHITESPACE.match(text, index)
    return match.end() if match else index


def _at_end(text: str, index: int, spans: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    if _skip(text, index) != len(text):
        raise ValueError("text after the JSON object")
    return spans


def signed_response(name: str, payload: Mapping[str, Any], private_key: RSAPrivateKey) -> str:
    """A gateway answer: ``{"<name>":{…},"sign":"…"}`` with the sign over the exact inner text."""
    inner = compact_json(payload)
    return f'{{"{name}":{inner},"sign":"{sign(private_key, inner)}"}}'
