"""The port for text messages (短信) to a payer's phone, owned by clearing; adapters implement it.

``SmsSender.send_notice`` sends one payment notice's message and says what the provider answered.
What can happen, and what it means for a retry::

    SmsSent            the provider accepted it (its SerialNo): do not send again
    SmsRefused         the provider refused it (its code): nothing was sent; ``retryable`` when
                       the refusal is a rate limit or a passing fault, else fix the cause first
    SmsUnavailable     the provider was not reached: nothing was sent, try again later
    SmsOutcomeUnknown  no readable answer (a timeout, a 5xx): it may have been sent; check the
                       phone before sending again
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class NoticeMessage:
    """What a payment notice's SMS says; the template decides the words around it."""

    case_no: str
    amount_fen: int
    pay_by: datetime
    token: str


@dataclass(frozen=True)
class SmsSent:
    provider: str
    serial_no: str
    code: str


class SmsError(Exception):
    """Root of what a send can raise; ``message_zh`` is for the window."""

    def __init__(self, provider: str, code: str, message: str, message_zh: str) -> None:
        super().__init__(f"{provider} {code}: {message}")
        self.provider = provider
        self.code = code
        self.message = message
        self.message_zh = message_zh


class SmsRefused(SmsError):
    def __init__(
        self, provider: str, code: str, message: str, message_zh: str, *, retryable: bool
    ) -> None:
        super().__init__(provider, code, message, message_zh)
        self.retryable = retryable


class SmsUnavailable(SmsError):
    """Not reached: nothing was sent."""


class SmsOutcomeUnknown(SmsError):
    """No readable answer: it may have been sent."""


class SmsSender(Protocol):
    provider: str

    async def send_notice(self, phone_e164: str, message: NoticeMessage, context: str) -> SmsSent:
        """Send ``message`` to one mainland mobile number (+86…); ``context`` is our own
        reference for the send, echoed by the provider (SessionContext)."""
        ...
