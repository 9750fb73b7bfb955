"""Errors of the clearing service, each with a stable machine code.

    ClearingError                 code, English message, Chinese message for staff screens
    ├── InvalidRequest   (400/422) the request itself is wrong: bad amount, limit, ID number
    ├── Unauthenticated  (401)     no or unknown credentials
    ├── Forbidden        (403)     known caller, not allowed
    │   └── PasswordChangeRequired  a temporary password: only the change is allowed
    ├── NotFound         (404)
    ├── Conflict         (409)     state or idempotency conflicts
    ├── Locked           (423)     a user name locked after repeated failed sign-ins
    ├── TooManyRequests  (429)     too many failed sign-ins from one address
    └── Unavailable      (502/503/504) an outside party or the database cannot answer now

One middleware (clearing.api.errors) turns them into application/problem+json.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar


class ClearingError(Exception):
    status: ClassVar[int] = 400
    title: ClassVar[str] = "Bad request"

    def __init_subclass__(cls, status: int | None = None, **kwargs: Any) -> None:
        """A kind of error is declared by its name and status: its problem+json title is the
        name in words (``TooManyRequests`` is "Too many requests"). A subclass that names no
        status keeps its parent's status and title."""
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status = status
            cls.title = re.sub(r"(?<=.)([A-Z])", lambda m: " " + m[1].lower(), cls.__name__)

    def __init__(self, code: str, message: str, message_zh: str, **fields: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.message_zh = message_zh
        self.fields = fields


class InvalidRequest(ClearingError, status=422): ...


class MalformedRequest(InvalidRequest, status=400): ...


class Unauthenticated(ClearingError, status=401): ...


class Forbidden(ClearingError, status=403): ...


class NotFound(ClearingError, status=404): ...


class Conflict(ClearingError, status=409): ...


class Locked(ClearingError, status=423): ...


class TooManyRequests(ClearingError, status=429): ...


class Unavailable(ClearingError, status=503): ...


class UpstreamUnavailable(Unavailable, status=502): ...


class UpstreamTimeout(Unavailable, status=504): ...


class PasswordChangeRequired(Forbidden):
    """Pages answer it with a redirect to the change-password page, the API with a 403."""
