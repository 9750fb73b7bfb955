"""What the clearing core needs from the outside parties it pays through.

Adapters implement these Protocols; the core never imports a concrete adapter except where
configuration is wired to instances (``clearing.wiring``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from clearing.domain.money import require_fen


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
    # channel facts worth keeping on the payment: card mask, RRN, terminal, batch, trace, bank
    details: Mapping[str, Any] = field(default_factory=dict)
    # why a PAYERROR attempt failed, when the channel says: its code (a card's ISO 8583 answer,
    # e.g. 51) and the reason in Chinese for the window (余额不足)
    decline_code: str | None = None
    decline_zh: str | None = None

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
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PaymentDeclined:
    """A verified notification that an attempt failed for good (a card declined at the terminal):
    nothing to capture, but the window waiting for it must hear why at once."""

    provider: str
    out_trade_no: str
    code: str  # the channel's word, e.g. the card's ISO 8583 answer 51
    reason_zh: str  # for the window: 余额不足, 密码错误


@dataclass(frozen=True)
class RefundOutcome:
    out_refund_no: str
    # PROCESSING, SUCCESS, CLOSED, ABNORMAL
    state: str
    provider_refund_id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundAsk:
    """A refund of part or all of one payment of ``total_fen``; ``out_refund_no`` is ours and
    makes asking twice safe. The amounts are checked here once, before any channel is asked."""

    out_trade_no: str
    out_refund_no: str
    refund_fen: int
    total_fen: int
    reason: str = ""

    def __post_init__(self) -> None:
        require_fen(self.refund_fen)
        require_fen(self.total_fen)
        if self.refund_fen > self.total_fen:
            raise ValueError("refund_fen exceeds total_fen")


class Acquirer(Protocol):
    """What every payment channel offers, whichever way the citizen pays through it.

    ``TradeStatus.state`` uses one vocabulary for every channel (adapters map their own words):
    NOT_FOUND (the acquirer has no such attempt, e.g. a QR not yet scanned), NOTPAY (open, unpaid),
    USERPAYING (the citizen is confirming on the phone), SUCCESS, REFUND (paid, then a refund was
    started), CLOSED (can no longer be paid), REVOKED (reversed), PAYERROR (failed for good).
    """

    provider: str

    async def query(self, out_trade_no: str) -> TradeStatus: ...

    async def close(self, out_trade_no: str) -> None:
        """Close an unpaid attempt so that it can no longer be paid. Closing twice is fine."""
        ...

    async def reverse(self, out_trade_no: str) -> None:
        """Undo an attempt whatever became of it: closed if unpaid, refunded in full if paid
        (WeChat reverse, Alipay cancel, UnionPay void, POS 冲正). For outcomes we never learned."""
        ...

    async def refund(self, ask: RefundAsk) -> RefundOutcome:
        """Refund part or all of a payment; the same out_refund_no never refunds twice."""
        ...

    async def query_refund(self, *, out_trade_no: str, out_refund_no: str) -> RefundOutcome: ...

    async def daily_bill(self, day: date) -> list[BillRecord]:
        """The channel's bill for one day, in its own format, turned into normalized records."""
        ...


@dataclass(frozen=True)
class PaymentAsk:
    """One attempt at payment as an acquirer opens it: our trade number, what the payer sees,
    the amount, until when it may be paid, and ``attach`` (our order number, which comes back in
    the notification). Checked here once, before any channel is asked."""

    out_trade_no: str
    description: str
    total_fen: int
    expires_at: datetime
    attach: str = ""

    def __post_init__(self) -> None:
        require_fen(self.total_fen)
        if self.expires_at.tzinfo is None:
            raise ValueError("expires_at must be timezone-aware")


class QrAcquirer(Acquirer, Protocol):
    """The citizen scans our code (C scans B)."""

    async def create_qr(self, ask: PaymentAsk) -> str:
        """Open a payment at the acquirer; return the code URL to render as a QR code."""
        ...


@dataclass(frozen=True)
class CodeAsk:
    """A charge of the payment code the payer shows (``auth_code``, a bearer credential: never
    logged): charged at once, so without the deadline of a ``PaymentAsk``."""

    out_trade_no: str
    auth_code: str
    description: str
    total_fen: int
    attach: str = ""

    def __post_init__(self) -> None:
        require_fen(self.total_fen)


class CodeAcquirer(Acquirer, Protocol):
    """The clerk's scanner reads the citizen's payment code (B scans C)."""

    async def pay_by_code(self, ask: CodeAsk) -> TradeStatus:
        """Charge the code. SUCCESS is final; USERPAYING means poll ``query`` until final."""
        ...


class TerminalAcquirer(Acquirer, Protocol):
    """The bank's smart POS at the window: we send the sale, the card is swiped there."""

    async def start_sale(
        self, *, out_trade_no: str, terminal_id: str, total_fen: int, description: str
    ) -> None:
        """Send the sale to the terminal; its result arrives as a notification or by query."""
        ...


@dataclass(frozen=True)
class PayPage:
    """Where the payer's phone browser goes to pay at the acquirer: ``GET url``, or an HTML form
    ``POST``ed to ``url`` with ``fields`` (UnionPay's front transactions and Alipay's page pay
    are form posts). The page submits it as given; it never rebuilds a signed request."""

    url: str
    method: str = "GET"  # "GET" or "POST"
    fields: Mapping[str, str] = field(default_factory=dict)


class MobileAcquirer(Acquirer, Protocol):
    """The citizen pays in their phone's browser, outside any app (WeChat Pay H5, Alipay
    ``alipay.trade.wap.pay``, UnionPay ACP WAP with channelType 08)."""

    async def open_mobile_page(self, ask: PaymentAsk, *, return_url: str, payer_ip: str) -> PayPage:
        """Open the payment; return where the browser goes. After paying (or giving up) the
        acquirer sends the browser back to ``return_url``; the result itself still arrives as a
        notification or by ``query``, never from that return."""
        ...


class JsapiAcquirer(Acquirer, Protocol):
    """The citizen pays inside the acquirer's own app browser (WeChat Pay JSAPI): the page learns
    the payer's openid through the platform's web authorization, then asks the app's bridge to
    pay with parameters we sign."""

    def oauth_url(self, *, redirect_uri: str, state: str) -> str:
        """The authorization URL (``snsapi_base``) that comes back to ``redirect_uri`` with
        ``code`` and ``state``."""
        ...

    async def openid_for(self, code: str) -> str:
        """Exchange an authorization ``code`` (single use, minutes long) for the payer's openid."""
        ...

    async def create_jsapi(self, ask: PaymentAsk, *, openid: str) -> dict[str, str]:
        """Open the payment; return the bridge's ``getBrandWCPayRequest`` parameters (appId,
        timeStamp, nonceStr, package, signType, paySign), signed as the platform requires."""
        ...


@dataclass(frozen=True)
class BillRecord:
    """One line of an acquirer's daily bill, normalized for reconciliation. Fen are ints; fees are
    in thousandths of a fen because bills carry fees to five decimals of a yuan."""

    provider: str
    # PAYMENT, REFUND or REVERSAL
    kind: str
    occurred_at: datetime
    out_trade_no: str
    provider_txn_id: str
    amount_fen: int
    fee_millifen: int = 0
    out_refund_no: str | None = None
    provider_refund_id: str | None = None
    raw: Mapping[str, str] = field(default_factory=dict)


class ChannelRefused(Exception):
    """The channel answered and said no (code expired, insufficient funds, card declined):
    final for this attempt. Adapters raise their own subclass; ``code`` is the channel's word."""

    code: str
    message: str


class NotifyRefused(Exception):
    """An inbound notification failed verification; ``code`` is stable, ``message`` English.

    Adapters raise their own subclass; the core only needs these two fields."""

    code: str
    message: str


class NotifyParser(Protocol):
    """Verify a raw notification and return the payment it reports, or the failure it reports
    (a declined card), or None when there is nothing to act on."""

    def __call__(
        self, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> PaymentNotice | PaymentDeclined | None: ...


@dataclass(frozen=True)
class NotifyEndpoint:
    """How one channel's notifications are verified and what it expects back.

    ``ok`` is the (status, content type, body) that tells the channel "recorded, stop retrying";
    Alipay, for one, wants the word ``success``. Refusals answer ``refused_status`` with the
    refusal's message, in the channel's format when ``refused_body`` is given."""

    parse: NotifyParser
    ok: tuple[int, str, bytes] = (204, "application/json", b"")
    refused_status: int = 401
    refused_body: tuple[str, bytes] | None = None
    # the media type this channel sends its notifications as; anything else is refused (415)
    # before the body is read
    content_type: str = "application/json"


# ---- authorities: who decides what a case owes, and who must hear that it was paid ----


@dataclass(frozen=True)
class DueItem:
    """One amount an authority says a case owes, with the authority's own reference for it."""

    authority: str  # tax, fiscal, fund
    # our fee item code: DEED_TAX, VAT, IIT, STAMP_DUTY, LAND_TRANSFER, REG_FEE, MAINT_FUND
    item_code: str
    # e-tax voucher number (电子税票号), non-tax payment code (缴款码), fund notice number
    reference: str
    amount_fen: int
    payer_name: str | None = None
    # what the authority adds: tax type and basis, collecting account, custodial sub-account, ...
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LegConfirmation:
    """The authority's proof that one paid leg reached it."""

    reference: str
    # 完税证明号, fiscal e-bill number, deposit certificate number
    proof_no: str
    confirmed_at: datetime
    # e.g. the e-bill's code, number and check code
    proof: Mapping[str, str] = field(default_factory=dict)
    amount_fen: int | None = None


@dataclass(frozen=True)
class LegPaid:
    """One paid leg, as its authority must hear of it: the authority's reference, what was paid
    and when, the channel's reference for the payment, and our order."""

    reference: str
    amount_fen: int
    paid_at: datetime
    payment_ref: str
    order_no: str

    def __post_init__(self) -> None:
        # checked here once, before any authority is asked
        if isinstance(self.amount_fen, bool) or not isinstance(self.amount_fen, int):
            raise TypeError("amount_fen must be int fen")
        if self.amount_fen <= 0:
            raise ValueError("amount_fen must be positive")


class AuthorityRefused(Exception):
    """The authority answered no: unknown reference, already paid, amount changed, refused
    confirmation. Final for this question; ``code`` is stable, ``message`` English, ``reason`` the
    authority's own words."""

    code: str
    message: str
    reason: str


class Authority(Protocol):
    name: str  # tax, fiscal, fund

    async def lookup(self, reference: str, **case: str) -> list[DueItem]:
        """What the case owes under this reference (a declaration number, a payment code, a fund
        notice or property unit); raises AuthorityRefused for an unknown or settled reference."""
        ...

    async def confirm(self, leg: LegPaid) -> LegConfirmation:
        """Tell the authority this leg was paid; idempotent by reference (asking again returns the
        same proof)."""
        ...

    async def daily_confirmations(self, day: date) -> list[LegConfirmation]:
        """Everything the authority confirmed that day, for reconciliation."""
        ...
