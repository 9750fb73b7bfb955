"""The simulated acquirer's settlement file: written from the host journal for one settle date,
published under a short-lived download URL whose digest travels in the signed answer."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Any

from aiohttp import web

from adapters.pos.settlement import DETAIL, HEADER, TRAILER, VERSION, format_record
from adapters.pos.sim_state import BEIJING, STATE, SimState, Txn, wire_time
from adapters.simkit.bills import fee_text
from clearing.domain.money import yuan_str

_ORDER = {"SALE": 0, "VOID": 1, "RFND": 2, "REVS": 3}
_TOTALS = (("SALE", "sale"), ("VOID", "void"), ("RFND", "refund"), ("REVS", "reversal"))


def _detail(merchant_id: str, txn: Txn) -> str:
    assert txn.settle_date is not None
    return format_record(
        DETAIL,
        {
            "record_type": "D",
            "merchant_id": merchant_id,
            "terminal_id": txn.terminal_id,
            "batch_no": txn.batch_no,
            "trace_no": txn.trace_no,
            "txn_time": wire_time(txn.txn_time),
            "txn_type": txn.txn_type,
            "card_no": txn.card_no,
            "card_type": txn.card_type,
            "amount": f"{txn.amount_fen:012d}",
            "fee": fee_text(txn.fee_millifen),
            "rrn": txn.rrn,
            "auth_code": txn.auth_code,
            "orig_batch_no": txn.orig_batch_no,
            "orig_trace_no": txn.orig_trace_no,
            "orig_rrn": txn.orig_rrn,
            "settle_date": txn.settle_date.strftime("%Y%m%d"),
            "out_trade_no": txn.out_trade_no,
            "out_refund_no": txn.out_refund_no,
        },
    )


def settlement_file(state: SimState, day: date, now: datetime) -> tuple[str, bytes]:
    """(file name, bytes) of the file for ``day``: header, details, trailer, CRLF line ends."""
    merchant_id = state.keys.merchant_id
    txns = sorted(
        (t for t in state.journal if t.settle_date == day),
        key=lambda t: (t.terminal_id, t.batch_no, t.trace_no, _ORDER[t.txn_type]),
    )
    trailer: dict[str, str] = {"record_type": "T", "detail_count": f"{len(txns):08d}"}
    net = 0
    for txn_type, prefix in _TOTALS:
        rows = [t for t in txns if t.txn_type == txn_type]
        total = sum(t.amount_fen for t in rows)
        trailer[f"{prefix}_count"] = f"{len(rows):08d}"
        trailer[f"{prefix}_amount"] = f"{total:015d}"
        net += total if txn_type == "SALE" else -total
    trailer["fee_total"] = fee_text(sum(t.fee_millifen for t in txns))
    trailer["net_amount"] = yuan_str(net)
    header = {
        "record_type": "H",
        "merchant_id": merchant_id,
        "settle_date": day.strftime("%Y%m%d"),
        "created_at": wire_time(now),
        "detail_count": f"{len(txns):08d}",
        "version": VERSION,
    }
    lines = [
        format_record(HEADER, header),
        *(_detail(merchant_id, t) for t in txns),
        format_record(TRAILER, trailer),
    ]
    name = f"POS_{merchant_id}_{day.strftime('%Y%m%d')}.txt"
    return name, ("\r\n".join(lines) + "\r\n").encode("ascii")


def publish_file(state: SimState, day: date, now: datetime) -> dict[str, Any]:
    """Make the file downloadable once for a few minutes; the answer fields that name it."""
    name, data = settlement_file(state, day, now)
    token = state.files.issue(data, now)
    digest = hashlib.sha256(data).hexdigest()
    if state.faults.bad_file_digest:
        digest = hashlib.sha256(data + b"tampered").hexdigest()
    return {
        "file_name": name,
        "file_size": len(data),
        "file_sha256": digest,
        "download_url": f"{state.public_base_url}/files/{token}",
        "expire_time": wire_time(now + state.files.ttl),
    }


async def download(request: web.Request) -> web.Response:
    state = request.app[STATE]
    found = state.files.get(request.match_info["token"], datetime.now(BEIJING))
    if found is None:
        return web.Response(status=404, text="文件不存在或已过期")
    return web.Response(body=found, content_type="text/plain", charset="us-ascii")


def add_file_routes(app: web.Application) -> None:
    app.router.add_get("/files/{token}", download)
