"""Errors of the tax adapter, under the adapters' one root::

    AdapterError
    ├── TaxUnavailable       no answer, 5xx/503, timeout, unreadable answer: the same call may
    │   │                    succeed later (every call is a query or idempotent, so retry is safe)
    │   └── TaxAnswerForged  an answer the bureau's key did not sign, or one bound to another
    │                        request: nothing in it is used
    └── TaxRefused           the bureau answered no (also a ``clearing.ports.AuthorityRefused``):
                             stable ``code``, English ``message``, the bureau's own ``reason`` and
                             its ``result_code``

``TaxRefused.code`` is one of: BAD_REFERENCE (not a declaration or voucher number, refused before
sending), NOT_FOUND, ALREADY_PAID, AMOUNT_MISMATCH, CASE_MISMATCH, CONFIRM_REFUSED, REQUEST_REFUSED
(the bureau refused our request itself: MAC, replay, format; a configuration problem).
"""

from __future__ import annotations

from adapters.errors import AdapterError, AuthorityUnavailable
from clearing.ports import AuthorityRefused

AUTHORITY = "tax"


class TaxUnavailable(AuthorityUnavailable):
    """The bureau gave no usable answer; ask again later."""

    authority = AUTHORITY


class TaxAnswerForged(TaxUnavailable):
    """An answer whose signature, signer or binding to our request does not check out."""


class TaxRefused(AdapterError, AuthorityRefused):
    """The bureau refused; final for this question."""

    def __init__(
        self,
        *,
        operation: str,
        code: str,
        message: str,
        reason: str,
        result_code: str = "",
        status: int | None = None,
    ) -> None:
        self.authority = AUTHORITY
        self.operation = operation
        self.code = code
        self.message = message
        self.reason = reason
        self.result_code = result_code
        self.status = status
        super().__init__(f"tax {operation} refused: {code}: {message} ({result_code} {reason})")
