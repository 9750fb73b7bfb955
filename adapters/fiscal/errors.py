"""Errors of the fiscal non-tax adapter, under the adapters' one root::

    AdapterError
    ├── FiscalUnavailable       no answer, 5xx/503, timeout, unreadable frame, our MAC refused:
    │   │                       the same question may get an answer later (lookups only read,
    │   │                       confirmations are idempotent, so asking again is always safe)
    │   ├── FiscalAnswerForged  an answer whose MAC, sender or binding to our request is wrong:
    │   │                       nothing in it is used
    │   └── EBillPending        the confirmation was accepted, the e-bill is not issued yet
    └── FiscalRefused           also ``clearing.ports.AuthorityRefused``: the system said no

``FiscalRefused.code`` is one of ``REFUSAL_CODES``; callers dispatch on it, never on text.
"""

from __future__ import annotations

from typing import Final

from adapters.errors import AuthorityRefusal, AuthorityUnavailable

PROVIDER: Final = "fiscal"

REFUSAL_CODES: Final = frozenset(
    {
        "PAYMENT_CODE_INVALID",  # not a payment code of a region we collect for (no call made)
        "UNKNOWN_REFERENCE",  # the system knows no such payment code
        "ALREADY_PAID",  # settled, or confirmed for another payment
        "NOTICE_VOID",  # the 缴款书 was cancelled (作废) by the collecting agency
        "AMOUNT_MISMATCH",  # the confirmed amount is not what is due (it may have changed)
        "ACCOUNT_MISMATCH",  # the money did not go to the region's 汇缴专户
        "CONFIRM_REFUSED",  # the system refused the confirmation for a reason of its own
        "ITEM_UNKNOWN",  # a notice for a fee this window does not collect
        "PAYER_MISMATCH",  # the notice names another payer than the case
        "ITEM_MISMATCH",  # the notice is for another fee than the case expects
    }
)


class FiscalUnavailable(AuthorityUnavailable):
    """The non-tax system gave no usable answer; asking again later is safe (lookups read,
    confirmations are idempotent by payment code)."""

    authority = PROVIDER


class FiscalAnswerForged(FiscalUnavailable):
    """An answer that the shared token did not MAC, or that is not the answer to our question."""

    def __init__(self, *, operation: str, reason: str) -> None:
        super().__init__(operation=operation, reason=reason, status=200)


class EBillPending(FiscalUnavailable):
    """The payment is confirmed but the 财政电子票据 is not issued yet (protocols-cn 4.2)."""

    def __init__(self, *, reference: str, accepted_at: str) -> None:
        self.reference = reference
        self.accepted_at = accepted_at
        super().__init__(operation="confirm", reason="e-bill not yet issued")


class FiscalRefused(AuthorityRefusal):
    """The non-tax system (or our own check of a payment code) said no to this question."""

    authority = PROVIDER

    def __init__(self, *, operation: str, code: str, message: str, reason: str = "") -> None:
        if code not in REFUSAL_CODES:
            raise ValueError(f"unknown refusal code {code!r}")
        super().__init__(operation=operation, code=code, message=message, reason=reason)
