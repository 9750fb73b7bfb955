"""Client of the bank's smart-POS terminal cloud: the ``clearing.ports.TerminalAcquirer`` for cards.

We push a sale to the terminal at the window; the card is inserted, tapped or swiped there and the
PIN entered; the result comes back as a notification (``notify``) or by ``query``. Every request is
signed over the exact bytes sent and every 200 answer must carry the cloud's signature bound to our
request nonce, or it is treated as forged (PROTOCOL.md).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from datetime import date
from typing import Any, Unpack

import aiohttp

from adapters.errors import AcquirerRejected, ResponseForged
from adapters.http import Client, Options
from adapters.pos import signing
from adapters.pos.keys import MerchantKeys
from adapters.pos.settlement import SettlementFileError, bill_records, parse_settlement_file
from adapters.pos.transport import Answer, Transport, expect_ok, unreadable
from adapters.pos.wire import (
    INVALID_TXN_CODE,
    NOT_FOUND_CODE,
    OK,
    PROVIDER,
    REFUND_STATE,
    Sale,
    masked_raw,
    parse_sale,
    txn_id,
)
from adapters.wiretime import WireFormatError
from clearing.domain.money import require_fen
from clearing.ports import BillRecord, RefundAsk, RefundOutcome, TradeStatus

log = logging.getLogger(__name__)

NOT_FOUND = "NOT_FOUND"
DESCRIPTION_MAX = 64  # what the terminal's screen shows; longer text is cut, not refused
# the card was charged in these states, so the RRN names a real payment
_CHARGED = frozenset({"APPROVED", "VOIDED", "REFUNDED", "REVERSED"})


class PosClient(Client[MerchantKeys, Transport]):
    """Calls the terminal cloud (or its simulator) over a session the caller owns."""

    provider = PROVIDER
    transport = Transport
    max_skew_s = signing.MAX_SKEW_S
    shows = ("merchant_id", "merchant_id")

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        notify_url: str,
        **options: Unpack[Options[MerchantKeys]],
    ) -> None:
        super().__init__(session, **options)
        self._notify_url = notify_url

    async def start_sale(
        self, *, out_trade_no: str, terminal_id: str, total_fen: int, description: str
    ) -> None:
        """Put the sale on the terminal's screen. Sending the same sale again is safe."""
        require_fen(total_fen)
        payload = {
            **self._merchant(),
            "terminal_id": terminal_id,
            "out_trade_no": out_trade_no,
            "amount": total_fen,
            "currency": "156",
            "description": description[:DESCRIPTION_MAX],
            "notify_url": self._notify_url,
        }
        answer = await self._t.call("start_sale", "/v1/pos/sale", payload)
        expect_ok("start_sale", answer)

    async def query(self, out_trade_no: str) -> TradeStatus:
        """The cloud's view of one sale, with the card result; ``NOT_FOUND`` if it has none."""
        answer = await self._t.call("query", "/v1/pos/sale/query", self._trade(out_trade_no))
        if answer.code == NOT_FOUND_CODE:
            return TradeStatus(out_trade_no=out_trade_no, state=NOT_FOUND, raw=answer.data)
        expect_ok("query", answer)
        data, sale = self._sale_of("query", answer, out_trade_no)
        charged = sale.state in _CHARGED and sale.resp_code == OK
        return TradeStatus(
            out_trade_no=out_trade_no,
            state=sale.normalized_state,
            provider_txn_id=sale.provider_txn_id if charged else None,
            amount_fen=sale.amount_fen,
            paid_at=sale.txn_time if charged else None,
            raw=masked_raw(data),
            details=sale.details() if sale.has_card_result else {},
            decline_code=sale.resp_code if sale.decline_zh else None,
            decline_zh=sale.decline_zh,
        )

    async def close(self, out_trade_no: str) -> None:
        """Take a sale off the terminal before a card is presented; closing twice is fine."""
        answer = await self._t.call("close", "/v1/pos/sale/cancel", self._trade(out_trade_no))
        expect_ok("close", answer)

    async def reverse(self, out_trade_no: str) -> None:
        """冲正: undo a sale whose result we never learned, whatever happened on the terminal.

        The host reverses by terminal and trace until the batch is settled; after that (or once
        part of the sale was refunded) only a refund of what is left can return the money, under
        a refund number derived from the sale so that retries never refund twice.
        """
        payload = {**self._trade(out_trade_no), "reason_code": "98"}  # 98: no response received
        answer = await self._t.call("reverse", "/v1/pos/sale/reverse", payload)
        if answer.code != INVALID_TXN_CODE:
            expect_ok("reverse", answer)
            return
        sale = await self._sale("reverse", out_trade_no)
        left = sale.amount_fen - sale.refunded_fen
        if sale.state not in ("APPROVED", "REFUNDED") or left <= 0:
            return
        log.info("pos reversal refused, refunding the rest out_trade_no=%s", out_trade_no)
        ask = RefundAsk(out_trade_no, "RV" + out_trade_no, left, sale.amount_fen, "冲正")
        outcome = await self.refund(ask)
        if outcome.state == "ABNORMAL":
            raise AcquirerRejected.answered(
                PROVIDER,
                "reverse",
                "REFUND_ABNORMAL",
                "the refund that replaces the reversal failed",
            )

    async def refund(self, ask: RefundAsk) -> RefundOutcome:
        """撤销 (void) while the sale's batch is open and the whole amount goes back, 退货
        (refund) otherwise; the same ``out_refund_no`` never gives money back twice."""
        body = {
            **self._trade(ask.out_trade_no),
            "out_refund_no": ask.out_refund_no,
            "orig_amount": ask.total_fen,
            "reason": ask.reason[:DESCRIPTION_MAX],
        }
        sale = await self._sale("refund", ask.out_trade_no)
        whole = ask.refund_fen == ask.total_fen == sale.amount_fen and sale.refunded_fen == 0
        if sale.state == "APPROVED" and sale.batch_state == "OPEN" and whole:
            answer = await self._t.call("refund", "/v1/pos/void", body)
            # 12: the batch was settled since we asked, so it is a refund after all
            if answer.code != INVALID_TXN_CODE:
                return self._refund_outcome("refund", answer, ask.out_trade_no, ask.out_refund_no)
        answer = await self._t.call("refund", "/v1/pos/refund", {**body, "amount": ask.refund_fen})
        return self._refund_outcome("refund", answer, ask.out_trade_no, ask.out_refund_no)

    async def query_refund(self, *, out_trade_no: str, out_refund_no: str) -> RefundOutcome:
        """The state of one void or refund."""
        payload = {**self._merchant(), "out_refund_no": out_refund_no}
        answer = await self._t.call("query_refund", "/v1/pos/refund/query", payload)
        return self._refund_outcome("query_refund", answer, out_trade_no, out_refund_no)

    async def daily_bill(self, day: date) -> list[BillRecord]:
        """Download the settlement file for settle date ``day`` and read it strictly."""
        payload = {**self._merchant(), "settle_date": day.strftime("%Y%m%d")}
        answer = await self._t.call("daily_bill", "/v1/pos/settlement/file", payload)
        expect_ok("daily_bill", answer)
        url, digest = answer.data.get("download_url"), answer.data.get("file_sha256")
        if not isinstance(url, str) or not url or not isinstance(digest, str):
            raise unreadable("daily_bill", answer, "download_url or file_sha256 missing")
        raw = await self._t.download("daily_bill", url)
        # the file itself is not signed; the digest in the signed answer vouches for it
        if hashlib.sha256(raw).hexdigest() != digest.lower():
            log.error("pos settlement file digest mismatch day=%s", day.isoformat())
            raise ResponseForged(
                provider=PROVIDER, operation="daily_bill", status=200, reason="file digest mismatch"
            )
        try:
            parsed = parse_settlement_file(raw)
        except SettlementFileError as exc:
            log.error("pos settlement file unreadable day=%s why=%s", day.isoformat(), exc)
            raise unreadable("daily_bill", answer, str(exc)) from exc
        if parsed.merchant_id != self._keys.merchant_id or parsed.settle_date != day:
            raise unreadable("daily_bill", answer, "file is for another merchant or day")
        return bill_records(parsed)

    # --- plumbing ----------------------------------------------------------------------------

    def _merchant(self) -> dict[str, Any]:
        return {"merchant_id": self._keys.merchant_id}

    def _trade(self, out_trade_no: str) -> dict[str, Any]:
        return {**self._merchant(), "out_trade_no": out_trade_no}

    async def _sale(self, operation: str, out_trade_no: str) -> Sale:
        answer = await self._t.call(operation, "/v1/pos/sale/query", self._trade(out_trade_no))
        expect_ok(operation, answer)
        return self._sale_of(operation, answer, out_trade_no)[1]

    def _sale_of(
        self, operation: str, answer: Answer, out_trade_no: str
    ) -> tuple[Mapping[str, Any], Sale]:
        data = answer.data.get("sale")
        if not isinstance(data, dict):
            raise unreadable(operation, answer, "sale missing")
        try:
            sale = parse_sale(data)
        except WireFormatError as exc:
            raise unreadable(operation, answer, str(exc)) from None
        if sale.out_trade_no != out_trade_no or sale.merchant_id != self._keys.merchant_id:
            raise unreadable(operation, answer, "answer is about another sale")
        return data, sale

    def _refund_outcome(
        self, operation: str, answer: Answer, out_trade_no: str, out_refund_no: str
    ) -> RefundOutcome:
        expect_ok(operation, answer)
        data = answer.data.get("refund")
        if not isinstance(data, dict) or data.get("out_refund_no") != out_refund_no:
            raise unreadable(operation, answer, "refund missing or about another refund")
        if data.get("out_trade_no") != out_trade_no:
            raise AcquirerRejected(
                provider=PROVIDER,
                operation=operation,
                status=answer.status,
                code="REFUND_OF_OTHER_SALE",
                message="this out_refund_no was used for another sale",
            )
        state = REFUND_STATE.get(str(data.get("state")))
        if state is None:
            raise unreadable(operation, answer, "unknown refund state")
        parts = [data.get(name) for name in ("rrn", "terminal_id", "batch_no", "trace_no")]
        refund_id = None
        if all(isinstance(part, str) and part for part in parts):
            rrn, terminal_id, batch_no, trace_no = (str(part) for part in parts)
            refund_id = txn_id(
                rrn=rrn, terminal_id=terminal_id, batch_no=batch_no, trace_no=trace_no
            )
        return RefundOutcome(
            out_refund_no=out_refund_no, state=state, provider_refund_id=refund_id, raw=data
        )
