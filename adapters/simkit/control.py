"""The ``/sim/`` desk's refusals and the fields it reads, the same for every simulator.

A desk handler raises ``BadRequest`` (a ``ValueError``) for what it cannot act on, and the
``desk_errors`` middleware answers it as ``{"code", "message"}`` with the request's status (400
unless said otherwise), so that no handler builds an error answer of its own. The readers below
raise it with the field's name: a JSON object body, text, a date, a ``?date=`` filter, a count.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import date
from typing import Any, TypeVar

from aiohttp import web

from adapters.simkit.desk import json_object

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
V = TypeVar("V")


class BadRequest(ValueError):
    """A desk request the simulator does not act on; nothing was changed."""

    def __init__(self, message: str, status: int = 400, code: str = "PARAM_ERROR") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def view(item: Any, **extra: Any) -> dict[str, Any]:
    """A record (a dataclass) as the desk shows it: its fields in order, dates and times in ISO
    form, and ``extra`` after them."""
    data = dataclasses.asdict(item)
    for name, value in data.items():
        if isinstance(value, date):  # a datetime too
            data[name] = value.isoformat()
    return {**data, **extra}


def json_answer(data: Any, status: int = 200) -> web.Response:
    # Chinese as Chinese: people read these views in the demo and in test failures
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, ensure_ascii=False))


@web.middleware
async def desk_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except BadRequest as exc:
        return json_answer({"code": exc.code, "message": str(exc)}, status=exc.status)


def found(
    request: web.Request, items: Mapping[str, V], name: str, message: str, code: str = "NOT_FOUND"
) -> V:
    """The item the path's ``{name}`` names; 404 with ``message`` (and ``code``) when unknown."""
    item = items.get(request.match_info[name])
    if item is None:
        raise BadRequest(message, 404, code)
    return item


async def body(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object (no body at all is ``{}``)."""
    try:
        return await json_object(request)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


def text(
    data: dict[str, Any], name: str, default: str | None = None, *, strict: bool = True
) -> str:
    """A text field (``default`` when absent); ``strict``: non-empty, returned stripped."""
    value = data.get(name, default)
    if not strict:
        if not isinstance(value, str):
            raise BadRequest(f"{name} must be text")
        return value
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{name} must be non-empty text")
    return value.strip()


def day(value: Any, name: str) -> date:
    """An ISO date (YYYY-MM-DD) given as text."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return date.fromisoformat(value)
    raise BadRequest(f"{name} must be YYYY-MM-DD")


def day_in(data: dict[str, Any], name: str, default: date) -> date:
    """An optional date field: ``default`` when absent or null."""
    value = data.get(name)
    return default if value is None else day(value, name)


def query_day(request: web.Request) -> date | None:
    """The day a ``?date=YYYY-MM-DD`` view keeps; None (no date given) shows every day."""
    value = request.query.get("date")
    return day(value, "date") if value else None


def count(data: dict[str, Any], default: int, most: int) -> int:
    """How many things a demo request asks for: ``count``, 1 to ``most``."""
    value = data.get("count", default)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= most:
        raise BadRequest(f"count must be an int from 1 to {most}")
    return value
