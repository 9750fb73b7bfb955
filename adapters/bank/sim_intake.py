"""What the bank does with a delivered file: check it, book what it orders, answer with a pain.002.

A delivery is complete when the file and its ``.sig`` are both in (an optional ``.sha256`` must
come before the ``.sig``). Then, in this order:

1. the checksum and signature (sim_signature.py): refused → pain.002 RJCT DS0B/DS0E/DS17;
2. ``*.payout.txt`` (the 批量代付 text file) and ``*.detail.csv``: kept, nothing booked and
   nothing answered when intact (refused like a pain.001 when not); the bank books from the
   pain.001 only;
3. the pain.001 is validated against its version's XSD when the bank holds it (pain.001.001.09)
   and read by local names (unreadable or invalid → RJCT FF01);
4. its MsgId: seen with the same bytes → the same pain.002 again, nothing booked; seen with other
   bytes → RJCT AM05;
5. the group's NbOfTxs and CtrlSum (AM18, AM10), each PmtInf's (AM20, AM17) and debtor account
   (AC02), then each transaction on its own (sim_booking.py).
"""

from __future__ import annotations

import logging
import re

from adapters.bank.sim_booking import book_pain001
from adapters.bank.sim_pain001 import FileRejected, read_pain001, sniff_msg_id
from adapters.bank.sim_pain002 import StatusReport, render_pain002
from adapters.bank.sim_signature import check_delivery, sha256_hex
from adapters.bank.sim_state import Pending, Processed, Received, SimState
from adapters.iso20022 import schemas

log = logging.getLogger(__name__)

PAIN001 = ".xml"
PAYOUT = ".payout.txt"
COMPANIONS = (PAYOUT, ".detail.csv")  # verified and kept, never booked from
SIGNATURE = ".sig"
CHECKSUM = ".sha256"
DUPLICATE = "AM05"
DEFAULT_MESSAGE = "pain.001.001.09"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,219}")


class BadName(ValueError):
    """A name the inbox does not take."""


def split_name(name: str) -> tuple[str, str]:
    """(the data file's name, which part: "data", "sig" or "sha256") of an inbox name."""
    if not NAME.fullmatch(name) or ".." in name:
        raise BadName("names are letters, digits, '.', '_' and '-', at most 220")
    part, base = "data", name
    for suffix, kind in ((SIGNATURE, "sig"), (CHECKSUM, "sha256")):
        if name.endswith(suffix):
            part, base = kind, name[: -len(suffix)]
    kinds = (PAIN001, *COMPANIONS)
    if not base.endswith(kinds) or base in kinds:
        raise BadName(f"the bank takes *{PAIN001} (pain.001), *{PAYOUT} and *.detail.csv files")
    return base, part


def deliver_part(state: SimState, name: str, body: bytes, via: str) -> Received | None:
    """Put one part in the inbox; process the file once it is complete (its record, else None)."""
    base, part = split_name(name)
    pending = state.pending.setdefault(base, Pending())
    if part == "data":
        pending.data = body
    elif part == "sig":
        pending.sig = body
    else:
        pending.checksum = body
    if pending.data is None or pending.sig is None:
        return None
    del state.pending[base]
    return receive(state, base, pending.data, pending.sig, pending.checksum, via=via)


def receive(
    state: SimState, name: str, data: bytes, sig: bytes, checksum: bytes | None, *, via: str
) -> Received:
    """Check, book and answer one complete delivery."""
    digest = sha256_hex(data)
    refusal = check_delivery(name, data, sig, checksum, state.verify_keys)
    stem = name.split(".", 1)[0][:35]

    def record(verdict: str, code: str, text: str, msg_id: str, status_name: str) -> Received:
        received = Received(
            name, digest, len(data), via, verdict, code, text, msg_id, status_name, state.now()
        )
        state.received.append(received)
        log.info(
            "sim bank file name=%s via=%s verdict=%s code=%s status=%s",
            name,
            via,
            verdict,
            code,
            status_name,
        )
        return received

    if name.endswith(COMPANIONS):
        if refusal is None:
            return record("ACCEPTED", "", "kept; booking follows the pain.001", stem, "")
        kind = name.rsplit(".", 2)[-2] + "." + name.rsplit(".", 1)[-1]
        report = StatusReport(stem, kind, code=refusal.code, text=refusal.text)
        return record("REFUSED", refusal.code, refusal.text, stem, _answer(state, report, name))
    if refusal is not None:
        msg_id = sniff_msg_id(data) or stem
        report = StatusReport(msg_id, DEFAULT_MESSAGE, code=refusal.code, text=refusal.text)
        return record("REFUSED", refusal.code, refusal.text, msg_id, _answer(state, report, name))
    try:
        _check_schema(data)
        document = read_pain001(data)
    except FileRejected as exc:
        msg_id = sniff_msg_id(data) or stem
        report = StatusReport(msg_id, DEFAULT_MESSAGE, code=exc.code, text=exc.text)
        return record("REFUSED", exc.code, exc.text, msg_id, _answer(state, report, name))
    msg_id = document.msg_id
    seen = state.processed.get(msg_id)
    if seen is not None and seen.sha256 == digest:
        status_name = _publish(state, seen.report, name, msg_id)
        return record("RESENT", "", "same MsgId and bytes: nothing booked", msg_id, status_name)
    if seen is not None:
        text = f"MsgId {msg_id} was already used for another file"
        report = StatusReport(msg_id, document.message_name, code=DUPLICATE, text=text)
        return record("DUPLICATE", DUPLICATE, text, msg_id, _answer(state, report, name))
    report = book_pain001(state, document)
    xml = _render(state, report)
    state.processed[msg_id] = Processed(digest, xml)
    status_name = _publish(state, xml, name, msg_id)
    return record("ACCEPTED", report.code, report.text or report.status, msg_id, status_name)


def _check_schema(data: bytes) -> None:
    """A version whose XSD the bank holds must be valid against it; others are read leniently
    by local names."""
    try:
        errors = schemas.validate(data)
    except schemas.SchemaUnknown:
        return
    if errors:
        raise FileRejected("FF01", f"schema: {errors[0]}"[:105])


def _render(state: SimState, report: StatusReport) -> bytes:
    now = state.now()
    return render_pain002(report, msg_id=state.new_msg_id("P002"), created_at=now, bank=state.bank)


def _answer(state: SimState, report: StatusReport, name: str) -> str:
    return _publish(state, _render(state, report), name, report.orgnl_msg_id)


def _publish(state: SimState, xml: bytes, name: str, msg_id: str) -> str:
    """Put a pain.002 in the outbox (unless a fault drops it); its name, or ""."""
    if state.faults.take_drop(name, msg_id):
        log.info("sim bank pain.002 dropped (fault) file=%s", name)
        return ""
    day = state.business_date()
    status_name, _ = state.next_outbox_name("pain.002", day)
    state.publish(status_name, xml)
    if state.faults.take("duplicate_status"):
        again, _ = state.next_outbox_name("pain.002", day)
        state.publish(again, xml)
    return status_name
