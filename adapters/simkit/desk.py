"""Reading what tests and the demo send to a simulator's unsigned ``/sim/`` desk, and the JSON
object a simulated party's wire API expects."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


async def json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object; no body at all is ``{}``. ``ValueError`` says what is wrong."""
    raw = await request.read()
    try:
        data = json.loads(raw) if raw.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError("body must be JSON") from None
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


async def wire_object(
    request: web.Request, not_json: Exception, not_object: Exception
) -> dict[str, Any]:
    """The body as a JSON object, or the party's own refusal: ``not_json`` for bytes that are not
    JSON (an empty body included), ``not_object`` for JSON that is not an object."""
    try:
        data = json.loads(await request.read())
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise not_json from None
    if not isinstance(data, dict):
        raise not_object
    return data


def answer_bytes(response: web.Response) -> bytes:
    """The exact bytes a simulated party signs and sends: a built answer, never a stream."""
    body = b"" if response.body is None else response.body
    if not isinstance(body, bytes):
        raise TypeError("signed answers need a bytes body")
    return body


def positive_fen(data: dict[str, Any], name: str, default: int) -> int:
    """An amount in fen the caller may give (the citizen paying another amount than asked)."""
    value = data.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} must be a positive integer")
    return value
