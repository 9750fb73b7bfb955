"""Errors raised by the adapters to outside parties.

One root, one level below it; every leaf carries fields that callers dispatch on, never text::

    AdapterError
    ├── AcquirerUnavailable  5xx, 429, timeout, connection error, unreadable answer: retry later
    ├── AcquirerRejected     4xx with the acquirer's ``code`` and ``message``: do not retry as is
    ├── ResponseForged       a 2xx answer whose signature is missing or wrong: trust none of it
    ├── NotifyRejected       an inbound notification we refuse: stable ``code``, English ``message``
    └── AuthorityUnavailable an authority (tax, fund, fiscal) gave no usable answer: ask again later
"""

from __future__ import annotations

import logging
from typing import ClassVar, Self

from clearing.ports import AuthorityRefused, ChannelRefused, NotifyRefused

log = logging.getLogger(__name__)


class AdapterError(Exception):
    """Root of every error an adapter raises."""


class CodedValueError(ValueError):
    """Input a party's rules refuse, with a stable ``code`` beside the message (not a call's
    failure, so outside the ``AdapterError`` tree)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class AcquirerUnavailable(AdapterError):
    """The acquirer could not give an answer; the same call may succeed later."""

    def __init__(
        self, *, provider: str, operation: str, reason: str, status: int | None = None
    ) -> None:
        self.provider = provider
        self.operation = operation
        self.reason = reason
        self.status = status
        super().__init__(f"{provider} {operation} unavailable: {reason} (status={status})")

    @classmethod
    def unreadable(cls, provider: str, operation: str, why: str, status: int | None = 200) -> Self:
        """A (signed) answer we cannot make sense of: nothing in it is acted on, so the outcome
        is unknown and the call may be retried."""
        log.error("%s answer unreadable op=%s why=%s", provider, operation, why)
        return cls(
            provider=provider,
            operation=operation,
            reason=f"unreadable answer: {why}",
            status=status,
        )


class AcquirerRejected(AdapterError, ChannelRefused):
    """The acquirer refused the call and said why."""

    def __init__(
        self, *, provider: str, operation: str, status: int, code: str, message: str
    ) -> None:
        self.provider = provider
        self.operation = operation
        self.status = status
        self.code = code
        self.message = message
        super().__init__(f"{provider} {operation} rejected: {status} {code}: {message}")

    @classmethod
    def answered(cls, provider: str, operation: str, code: str, message: str) -> Self:
        """A no the acquirer said in an ordinary (HTTP 200) answer."""
        return cls(provider=provider, operation=operation, status=200, code=code, message=message)


class ResponseForged(AdapterError):
    """A success answer that the acquirer's key did not sign."""

    def __init__(self, *, provider: str, operation: str, status: int, reason: str) -> None:
        self.provider = provider
        self.operation = operation
        self.status = status
        self.reason = reason
        super().__init__(f"{provider} {operation} response not trusted: {reason}")


class NotifyRejected(AdapterError, NotifyRefused):
    """An inbound notification that we refuse to act on."""

    def __init__(self, *, provider: str, code: str, message: str) -> None:
        self.provider = provider
        self.code = code
        self.message = message
        super().__init__(f"{provider} notification rejected: {code}: {message}")


class AuthorityUnavailable(AdapterError):
    """An authority gave no usable answer; asking the same question later is safe (lookups only
    read, confirmations are idempotent). Each authority's adapter names itself in a subclass."""

    authority: ClassVar[str] = "authority"

    def __init__(self, *, operation: str, reason: str, status: int | None = None) -> None:
        self.operation = operation
        self.reason = reason
        self.status = status
        super().__init__(f"{self.authority} {operation} unavailable: {reason} (status={status})")

    @property
    def provider(self) -> str:
        """The same name under the word the acquirers' errors use, for logs that read either."""
        return self.authority

    @classmethod
    def unreadable(cls, operation: str, why: str, status: int | None = 200) -> Self:
        """An answer that came but cannot be read: nothing in it is acted on, so asking the same
        question later is still safe."""
        log.error("%s answer unreadable op=%s why=%s", cls.authority, operation, why)
        return cls(operation=operation, reason=f"unreadable answer: {why}", status=status)


class AuthorityRefusal(AdapterError, AuthorityRefused):
    """An authority answered no; final for this question. ``code`` is ours and stable (callers
    dispatch on it), ``message`` English, ``reason`` the authority's own words."""

    authority: ClassVar[str] = "authority"

    def __init__(
        self, *, operation: str, code: str, message: str, reason: str, detail: str | None = None
    ) -> None:
        self.operation = operation
        self.code = code
        self.message = message
        self.reason = reason
        # ``detail``: what the log line shows in brackets, when it is more than ``reason``
        why = reason if detail is None else detail
        super().__init__(f"{self.authority} {operation} refused: {code}: {message} ({why})")

    @property
    def provider(self) -> str:
        return self.authority
