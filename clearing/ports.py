"""What the clearing core needs from the outside parties it pays through.

Adapters implement these Protocols; the core never imports a concrete adapter except where
configuration is wired to instances (``clearing.wiring``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class TradeStatus:
    """An acquirer's answer to "what happened to this attempt?"."""

    out_trade_no: str
    # the acquirer's own state word: NOTPAY, SUCCESS, CLOSED, REFUND, PAYERROR, USERPAYING, REVOKED
    state: str
    provider_txn_id: str | None = None
    amount_fen: int | None = None
    paid_at: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def paid(self) -> bool:
        # REFUND means "paid, then a refund was started": the payment itself happened
        return self.state in ("SUCCESS", "REFUND") and self.provider_txn_id is not None


@dataclass(frozen=True)
class PaymentNotice:
    """A verified, decrypted notification that a payment succeeded."""

    provider: str
    event_id: str
    out_trade_no: str
    provider_txn_id: str
    amount_fen: int
    paid_at: datetime
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundOutcome:
    out_refund_no: str
    # PROCESSING, SUCCESS, CLOSED, ABNORMAL
    state: str
    provider_refund_id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


class Acquirer(Protocol):
    """A payment channel that shows the citizen a QR code and tells us when it was paid."""

    provider: str

    async def create_qr(
        self,
        *,
        out_trade_no: str,
        description: str,
        total_fen: int,
        expires_at: datetime,
        attach: str = "",
    ) -> str:
        """Open a payment at the acquirer; return the code URL to render as a QR code."""
        ...

    async def query(self, out_trade_no: str) -> TradeStatus: ...

    async def close(self, out_trade_no: str) -> None:
        """Close an unpaid attempt so that it can no longer be paid. Closing twice is fine."""
        ...

    async def refund(
        self,
        *,
        out_trade_no: str,
        out_refund_no: str,
        refund_fen: int,
        total_fen: int,
        reason: str,
    ) -> RefundOutcome: ...


class NotifyRefused(Exception):
    """An inbound notification failed verification; ``code`` is stable, ``message`` English.

    Adapters raise their own subclass; the core only needs these two fields."""

    code: str
    message: str


class NotifyParser(Protocol):
    """Verify a raw notification and return the payment it reports (None: nothing to capture)."""

    def __call__(
        self, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> PaymentNotice | None: ...
