"""The simulator's clearing files: one ZM (and an empty ZME) per clearing day, built from what it
actually processed, packed as UnionPay delivers them (ZIP, then zlib, then Base64)."""

from __future__ import annotations

import base64
import io
import zipfile
import zlib
from datetime import date

from adapters.unionpay import wire
from adapters.unionpay.bill import ZM_FIELDS, file_name
from adapters.unionpay.sim_state import SimState, Txn

# 交易代码: the trade codes as we read UnionPay's tables; the parser relies on txnType instead
TRADE_CODES = {"01": "S22", "31": "S31", "04": "S30"}
ACQUIRER_CODE = "00049992900"
MCC_GOVERNMENT = "9399"


def _signed(fen: int) -> str:
    return ("C" if fen >= 0 else "D") + f"{abs(fen):012d}"


def _fit(text: str, width: int) -> bytes:
    """Left-aligned GBK text padded with spaces, cut on a character boundary if too long."""
    raw = text.encode("gbk")
    while len(raw) > width:
        text = text[:-1]
        raw = text.encode("gbk")
    return raw.ljust(width, b" ")


def zm_line(state: SimState, txn: Txn, original: Txn | None) -> bytes:
    """One ZM record for a successful consumption, void or refund."""
    assert txn.completed_at is not None and txn.query_id is not None
    payment = txn.txn_type == "01"
    # the merchant pays the fee on a payment and gets it back on a void or refund
    fee = -txn.fee_fen if payment else txn.fee_fen
    settle = (txn.amount_fen if payment else -txn.amount_fen) + fee
    values = {
        "trade_code": TRADE_CODES[txn.txn_type],
        "acq_ins_code": ACQUIRER_CODE,
        "send_ins_code": ACQUIRER_CODE,
        "trace_no": txn.trace_no or "0",
        "trace_time": txn.completed_at.astimezone(wire.BEIJING).strftime("%m%d%H%M%S"),
        "acc_no": txn.acc_no or (original.acc_no if original else ""),
        "txn_amt": str(txn.amount_fen),
        "mcc": MCC_GOVERNMENT,
        "term_type": "08",
        "query_id": txn.query_id,
        "old_pay_type": "00",
        "order_id": txn.order_id,
        "pay_card_type": "01",
        "orig_trace_no": (original.trace_no or "") if original else "",
        "orig_trace_time": (
            original.completed_at.astimezone(wire.BEIJING).strftime("%m%d%H%M%S")
            if original is not None and original.completed_at is not None
            else ""
        ),
        "mer_fee": _signed(fee),
        "settle_amt": _signed(settle),
        "pay_type": "0002",
        "txn_type": txn.txn_type,
        "txn_sub_type": txn.txn_sub_type,
        "biz_type": wire.BIZ_TYPE,
        "acc_type": "01",
        "interact_mode": "1",
        "orig_qry_id": txn.orig_query_id or "",
        "mer_id": state.keys.mer_ids[0],
        "sub_mer_amt": _signed(0),
        "net_amt": _signed(settle),
        "mer_reserved": txn.req_reserved,
        "discount_amt": _signed(0),
        "invoice_amt": _signed(0),
        "instalment_fee": "0" * 12,
        "instalments": "00",
        "medium": "0",
    }
    parts = []
    for name, width, kind in ZM_FIELDS:
        value = values.get(name, "")
        parts.append(value.rjust(width, "0").encode() if kind == "n" else _fit(value, width))
    return b" ".join(parts) + b"\r\n"


def zm_file(state: SimState, day: date) -> bytes:
    """Every transaction that succeeded on clearing day ``day``, in the order it completed."""
    done = sorted(
        (t for t in state.txns.values() if t.state == "SUCCESS" and t.settle_date == day),
        key=lambda t: (t.completed_at, t.order_id),
    )
    lines = [zm_line(state, t, _original(state, t)) for t in done]
    data = b"".join(lines)
    if state.faults.bill_truncated and data:
        data = data[:-40]
    return data


def _original(state: SimState, txn: Txn) -> Txn | None:
    if not txn.orig_query_id:
        return None
    order_id = state.by_query_id.get(txn.orig_query_id)
    return state.txns.get(order_id) if order_id else None


def download(state: SimState, day: date) -> dict[str, str]:
    """``fileName`` and ``fileContent`` for a 76/01 answer."""
    mer_id = state.keys.mer_ids[0]
    stem = f"INN{day:%y%m%d}88"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{stem}ZM_{mer_id}", zm_file(state, day))
        zf.writestr(f"{stem}ZME_{mer_id}", b"")
    return {
        "fileName": file_name(mer_id, day),
        "fileContent": base64.b64encode(zlib.compress(buffer.getvalue())).decode("ascii"),
    }
