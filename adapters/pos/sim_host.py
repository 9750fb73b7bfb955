"""The acquiring host behind the simulated terminal cloud: what a sale, a decline, a cancel, a
冲正, a 撤销, a 退货 and a batch settlement do to the terminals and to the transaction journal."""

from __future__ import annotations

import logging
from datetime import date, datetime

from adapters.pos.sim_state import DECLINES, Refund, Sale, SimState, Terminal, Txn, mask
from adapters.simkit.keyfiles import digits

log = logging.getLogger(__name__)


class WireError(Exception):
    """A refusal in the cloud's shape: ``resp_code`` and ``resp_msg`` in a signed answer."""

    def __init__(self, code: str, message: str, status: int = 200) -> None:
        super().__init__(code)
        self.code = code
        self.message = message
        self.status = status


def terminal_of(state: SimState, terminal_id: str) -> Terminal:
    terminal = state.terminals.get(terminal_id)
    if terminal is None:
        raise WireError("T2", "终端未登记")
    return terminal


def sale_of(state: SimState, out_trade_no: str) -> Sale:
    sale = state.sales.get(out_trade_no)
    if sale is None:
        raise WireError("25", "原交易不存在")
    return sale


def create_sale(state: SimState, request: dict[str, object], sale: Sale) -> Sale:
    """Put a sale on its terminal; the same request again answers with the sale as it is."""
    existing = state.sales.get(sale.out_trade_no)
    if existing is not None:
        # the same sale is the same money on the same terminal; wording and callback may differ
        if _essence(existing.request) != _essence(request):
            raise WireError("94", "商户订单号重复")
        return existing
    if sale.out_trade_no in state.tombstones:
        raise WireError("12", "订单已撤销或已冲正")
    terminal = terminal_of(state, sale.terminal_id)
    if terminal.pending is not None:
        raise WireError("T1", "终端忙，请稍后再试")
    terminal.pending = sale.out_trade_no
    state.sales[sale.out_trade_no] = sale
    log.info("sim sale on terminal=%s out_trade_no=%s", sale.terminal_id, sale.out_trade_no)
    return sale


def _essence(request: dict[str, object]) -> tuple[object, ...]:
    return request.get("terminal_id"), request.get("amount"), request.get("currency", "156")


def read_card(sale: Sale, card_no: str, card_type: str, entry_mode: str) -> None:
    """The card is inserted, tapped or swiped; the terminal now asks for the PIN."""
    if sale.state not in ("WAITING", "PROCESSING"):
        raise WireError("12", "终端上没有待付款的交易")
    sale.state = "PROCESSING"
    sale.card_no = mask(card_no)
    sale.card_type = card_type
    sale.entry_mode = entry_mode


def complete(state: SimState, sale: Sale, resp_code: str, paid_fen: int, now: datetime) -> None:
    """The host answers the terminal's 0200: approved (00) or declined with ``resp_code``."""
    if sale.state not in ("WAITING", "PROCESSING"):
        raise WireError("12", "终端上没有待付款的交易")
    terminal = state.terminals[sale.terminal_id]
    approved = resp_code == "00"
    sale.txn = Txn(
        txn_type="SALE",
        terminal_id=terminal.terminal_id,
        batch_no=terminal.batch,
        trace_no=terminal.next_trace(),
        txn_time=now,
        card_no=sale.card_no,
        card_type=sale.card_type,
        amount_fen=paid_fen,
        fee_millifen=state.fee(paid_fen),
        rrn=state.new_rrn(now),
        auth_code=digits(6) if approved else "",
        out_trade_no=sale.out_trade_no,
    )
    sale.state = "APPROVED" if approved else "DECLINED"
    sale.resp_code = resp_code
    sale.resp_msg = "交易成功" if approved else DECLINES[resp_code]
    terminal.pending = None
    if approved:
        sale.paid_fen = paid_fen
        state.journal.append(sale.txn)
    log.info("sim sale done out_trade_no=%s resp_code=%s", sale.out_trade_no, resp_code)


def cancel(state: SimState, out_trade_no: str) -> None:
    """Take a sale off the terminal before the card; a sale that is already over stays as is."""
    sale = state.sales.get(out_trade_no)
    if sale is None:
        state.tombstones.setdefault(out_trade_no, "CANCELLED")
        return
    if sale.state in ("APPROVED", "VOIDED", "REFUNDED"):
        raise WireError("12", "交易已成功，不能撤单")
    if sale.state in ("WAITING", "PROCESSING"):
        sale.state = "CANCELLED"
        state.terminals[sale.terminal_id].pending = None


def reverse(state: SimState, out_trade_no: str, now: datetime) -> Sale | None:
    """冲正: the host restores the cardholder as if the sale never happened."""
    sale = state.sales.get(out_trade_no)
    if sale is None:
        state.tombstones.setdefault(out_trade_no, "REVERSED")
        return None
    sale.result_lost = False
    if sale.state in ("WAITING", "PROCESSING"):
        sale.state = "REVERSED"
        state.terminals[sale.terminal_id].pending = None
        return sale
    if sale.state == "REFUNDED":
        raise WireError("12", "原交易已部分退货，不能冲正")
    if sale.state != "APPROVED":
        return sale  # declined, cancelled, voided or already reversed: nothing is still taken
    original = sale.txn
    assert original is not None
    if original.settle_date is not None:
        raise WireError("12", "原交易已结算，不能冲正")
    # a reversal is the original message again (0400): same terminal, batch and trace
    state.journal.append(original.undone_by("REVS", now, fee_millifen=-original.fee_millifen))
    sale.state = "REVERSED"
    log.info("sim reversed out_trade_no=%s", out_trade_no)
    return sale


def give_back(
    state: SimState,
    sale: Sale,
    *,
    refund_type: str,
    out_refund_no: str,
    amount_fen: int,
    reason: str,
    now: datetime,
) -> Refund:
    """撤销 (VOID: whole amount, open batch) or 退货 (REFUND: any part, any time after)."""
    original = sale.txn
    if sale.state not in ("APPROVED", "REFUNDED") or original is None:
        raise WireError("12", "原交易不是成功的消费")
    if refund_type == "VOID":
        if original.settle_date is not None or sale.refunds:
            raise WireError("12", "原交易已结算，只能退货")
        amount_fen = original.amount_fen
    elif sale.refunded_fen() + amount_fen > original.amount_fen:
        raise WireError("13", "退货金额超过原交易可退金额")
    terminal = state.terminals[original.terminal_id]
    whole = amount_fen == original.amount_fen
    txn = original.undone_by(
        "VOID" if refund_type == "VOID" else "RFND",
        now,
        batch_no=terminal.batch,
        trace_no=terminal.next_trace(),
        amount_fen=amount_fen,
        # the fee comes back with the money, in proportion for a part
        fee_millifen=-(original.fee_millifen if whole else state.fee(amount_fen)),
        rrn=state.new_rrn(now),
        # a void carries the original authorization (field 38); a refund gets none
        auth_code=original.auth_code if refund_type == "VOID" else "",
        out_refund_no=out_refund_no,
    )
    refund = Refund(
        out_refund_no=out_refund_no,
        out_trade_no=sale.out_trade_no,
        refund_type=refund_type,
        amount_fen=amount_fen,
        reason=reason,
        # a void is the same day's business and is final at once; a refund may be queued
        state="SUCCESS" if refund_type == "VOID" else state.faults.refund_status,
        txn=txn,
    )
    state.journal.append(txn)
    sale.refunds.append(refund)
    sale.state = "VOIDED" if refund_type == "VOID" else "REFUNDED"
    state.refunds[out_refund_no] = refund
    log.info(
        "sim %s out_trade_no=%s amount_fen=%d", refund_type.lower(), sale.out_trade_no, amount_fen
    )
    return refund


def settle(state: SimState, day: date, terminal_ids: list[str]) -> list[dict[str, object]]:
    """批结算: close the open batch of each terminal; its transactions settle on ``day``."""
    closed: list[dict[str, object]] = []
    for terminal_id in terminal_ids:
        terminal = terminal_of(state, terminal_id)
        batch = terminal.batch
        txns = [
            t
            for t in state.journal
            if t.terminal_id == terminal_id and t.batch_no == batch and t.settle_date is None
        ]
        for txn in txns:
            txn.settle_date = day
        terminal.batch_no = terminal.batch_no % 999_999 + 1
        closed.append({"terminal_id": terminal_id, "batch_no": batch, "count": len(txns)})
        log.info("sim settled terminal=%s batch=%s count=%d", terminal_id, batch, len(txns))
    return closed
