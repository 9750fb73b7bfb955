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

from typing import Any, ClassVar


class ClearingError(Exception):
    status: ClassVar[int] = 400
    title: ClassVar[str] = "Bad request"

    def __init__(self, code: str, message: str, message_zh: str, **fields: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.message_zh = message_zh
        self.fields = fields


class InvalidRequest(ClearingError):
    status = 422
    title = "Invalid request"


class MalformedRequest(InvalidRequest):
    status = 400
    title = "Malformed request"


class Unauthenticated(ClearingError):
    status = 401
    title = "Unauthenticated"


class Forbidden(ClearingError):
    status = 403
    title = "Forbidden"


class PasswordChangeRequired(Forbidden):
    """Pages answer it with a redirect to the change-password page, the API with a 403."""


class NotFound(ClearingError):
    status = 404
    title = "Not found"


class Conflict(ClearingError):
    status = 409
    title = "Conflict"


class Locked(ClearingError):
    status = 423
    title = "Locked"


class TooManyRequests(ClearingError):
    status = 429
    title = "Too many requests"


class Unavailable(ClearingError):
    status = 503
    title = "Unavailable"


class UpstreamUnavailable(Unavailable):
    status = 502
    title = "Upstream unavailable"


class UpstreamTimeout(Unavailable):
    status = 504
    title = "Upstream timeout"
