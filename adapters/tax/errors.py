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

from adapters.errors import AuthorityRefusal, AuthorityUnavailable

AUTHORITY = "tax"


class TaxUnavailable(AuthorityUnavailable):
    """The bureau gave no usable answer; ask again later."""

    authority = AUTHORITY


class TaxAnswerForged(TaxUnavailable):
    """An answer whose signature, signer or binding to our request does not check out."""


class TaxRefused(AuthorityRefusal):
    """The bureau refused; final for this question."""

    authority = AUTHORITY

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
        self.result_code = result_code
        self.status = status
        detail = f"{result_code} {reason}"
        super().__init__(
            operation=operation, code=code, message=message, reason=reason, detail=detail
        )
