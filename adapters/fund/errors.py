"""Errors of the maintenance-fund adapter, below the one adapter root::

    AdapterError
    ├── FundUnavailable    no answer, 5xx/503, timeout, connection refused, an unreadable or
    │                      inconsistent answer: the same call may succeed later
    ├── FundAnswerForged   an answer whose signature is missing, stale or wrong: trust none of it
    └── FundRefused        the office answered no (also a ``clearing.ports.AuthorityRefused``):
                           final for this question; ``code`` stable, ``reason`` the office's words

``FundUnavailable`` and ``FundAnswerForged`` are both "ask again later" to the core; they differ
for the people reading the logs.
"""

from __future__ import annotations

from adapters.errors import AdapterError, AuthorityRefusal, AuthorityUnavailable

AUTHORITY = "fund"


class FundUnavailable(AuthorityUnavailable):
    """The office could not give a usable answer now."""

    authority = AUTHORITY


class FundAnswerForged(AdapterError):
    """An answer that the office's key did not sign for this request."""

    def __init__(self, *, operation: str, reason: str, status: int) -> None:
        self.authority = AUTHORITY
        self.operation = operation
        self.reason = reason
        self.status = status
        super().__init__(f"fund {operation} answer not trusted: {reason}")


class FundRefused(AuthorityRefusal):
    """The office refused; ``office_code`` is its own answer code, ``code`` ours (stable)."""

    authority = AUTHORITY

    def __init__(
        self,
        *,
        operation: str,
        code: str,
        message: str,
        reason: str,
        office_code: str = "",
        reference: str = "",
    ) -> None:
        self.office_code = office_code
        self.reference = reference
        super().__init__(operation=operation, code=code, message=message, reason=reason)
