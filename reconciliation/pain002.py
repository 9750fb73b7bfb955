"""The bank's answer to a pain.001: a pain.002 Customer Payment Status Report, any version from
.001.03 to .001.10 and later, in the ISO namespace, a bank's own (the Swiss
``six-interbank-clearing.com`` ``pain.002.001.03.ch.02``), or none.

Elements are found by local name, so one reader serves every version: the names we need
(``GrpHdr``, ``OrgnlGrpInfAndSts``, ``OrgnlPmtInfAndSts``, ``TxInfAndSts``, ``StsRsnInf``) have
not changed since .03. Statuses come at three levels — group (``GrpSts``), payment information
(``PmtInfSts``) and transaction (``TxSts``) — and a level may be missing: a report that only
says ``GrpSts=RJCT`` rejects every transaction of the file (``StatusReport.status_of``).

A status is not settlement: ACCP/ACSP say the bank took the instruction; only camt.054/053
prove the money moved.

The parser is safe for untrusted input (no DTD, no entities, no network) and strict only where
the money is: a file without its own MsgId, CreDtTm or OrgnlMsgId, or with an amount that is
not a whole number of fen, raises ``Pain002Error`` with the line and the reason.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from lxml import etree

from clearing import bounds
from reconciliation.camt_entries import SAFE_PARSE, Element, child, children, line_of, local, text
from reconciliation.errors import ReconciliationError

_VERSION: Final = re.compile(r"pain\.002\.001\.\d{2}(\.ch\.\d{2})?")
_AMOUNT: Final = re.compile(r"([0-9]{1,18})(?:\.([0-9]{1,17}))?")


class Pain002Error(ReconciliationError):
    """A status report we cannot read safely; nothing from it should be used."""

    def __init__(self, *, line: int, reason: str) -> None:
        self.line = line
        self.reason = reason
        super().__init__(f"pain.002 line {line}: {reason}")


@dataclass(frozen=True)
class TxStatus:
    original_end_to_end_id: str | None
    original_instruction_id: str | None
    status: str | None  # ACCP, ACSC, ACSP, ACTC, ACWC, PDNG, RCVD, RJCT, … as the bank wrote it
    reason_code: str | None  # first StsRsnInf/Rsn/Cd (or Prtry): AC01, AM04, AM05, NARR, …
    reason_text: str | None  # every AddtlInf, joined
    amount_fen: int | None  # OrgnlTxRef/Amt/InstdAmt, when the bank echoes it
    currency: str | None
    original_payment_info_id: str | None


@dataclass(frozen=True)
class PaymentInfoStatus:
    original_payment_info_id: str
    status: str | None
    reason_code: str | None
    reason_text: str | None


@dataclass(frozen=True)
class StatusReport:
    version: (
        str | None
    )  # "pain.002.001.10", "pain.002.001.03.ch.02"; None if the namespace hides it
    msg_id: str
    created_at: datetime  # naive when the bank wrote no offset (PostFinance does not)
    original_msg_id: str
    original_msg_name_id: str | None
    group_status: str | None
    group_reason_code: str | None
    group_reason_text: str | None
    payment_infos: tuple[PaymentInfoStatus, ...]
    transactions: tuple[TxStatus, ...]

    def status_of(self, tx: TxStatus) -> str | None:
        """The transaction's own status, else its payment information's, else the group's."""
        if tx.status is not None:
            return tx.status
        for info in self.payment_infos:
            if info.original_payment_info_id == tx.original_payment_info_id and info.status:
                return info.status
        return self.group_status


def _parse(data: bytes) -> Element:
    if len(data) > bounds.MAX_STATUS_REPORT_BYTES:
        raise Pain002Error(
            line=1,
            reason=f"file of {len(data)} bytes is larger than the limit of"
            f" {bounds.MAX_STATUS_REPORT_BYTES} for a status report",
        )
    parser = etree.XMLParser(**SAFE_PARSE)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise Pain002Error(line=exc.lineno or 1, reason=f"not well-formed XML: {exc.msg}") from None
    if root.getroottree().docinfo.internalDTD is not None:
        # entities and external DTDs are an attack surface; no status report needs one
        at = data.find(b"<!DOCTYPE")
        line = data[:at].count(b"\n") + 1 if at >= 0 else 1
        raise Pain002Error(line=line, reason="DOCTYPE declarations are refused")
    return root


def _required(parent: Element, path: str) -> str:
    value = text(parent, path)
    if value is None:
        raise Pain002Error(line=line_of(parent), reason=f"{local(parent)}/{path} is missing")
    return value


def _reasons(parent: Element) -> tuple[str | None, str | None]:
    infos = children(parent, "StsRsnInf")
    codes = [text(i, "Rsn/Cd") or text(i, "Rsn/Prtry") for i in infos]
    texts = [t for i in infos for t in (text(a) for a in children(i, "AddtlInf")) if t]
    code = next((c for c in codes if c), None)
    return code, "; ".join(texts) or None


def _fen(amount: Element) -> int:
    raw = (amount.text or "").strip()
    match = _AMOUNT.fullmatch(raw)
    if match is None:
        raise Pain002Error(line=line_of(amount), reason=f"amount {raw[:40]!r} is not a number")
    whole, fraction = match.group(1), match.group(2) or ""
    if fraction[2:].strip("0"):
        raise Pain002Error(
            line=line_of(amount), reason=f"amount {raw!r} is not a whole number of fen"
        )
    return int(whole) * 100 + int(fraction[:2].ljust(2, "0"))


def _transaction(tx: Element, payment_info_id: str | None) -> TxStatus:
    amount = child(tx, "OrgnlTxRef/Amt/InstdAmt")
    currency: str | None = None
    if amount is not None:
        currency = (amount.get("Ccy") or "").strip() or None
    code, reason = _reasons(tx)
    return TxStatus(
        original_end_to_end_id=text(tx, "OrgnlEndToEndId"),
        original_instruction_id=text(tx, "OrgnlInstrId"),
        status=text(tx, "TxSts"),
        reason_code=code,
        reason_text=reason,
        amount_fen=_fen(amount) if amount is not None else None,
        currency=currency,
        original_payment_info_id=payment_info_id,
    )


def _payment_infos(report: Element) -> tuple[list[PaymentInfoStatus], list[TxStatus]]:
    infos: list[PaymentInfoStatus] = []
    txs: list[TxStatus] = []
    for pmt in children(report, "OrgnlPmtInfAndSts"):
        pmt_id = _required(pmt, "OrgnlPmtInfId")
        code, reason = _reasons(pmt)
        infos.append(PaymentInfoStatus(pmt_id, text(pmt, "PmtInfSts"), code, reason))
        txs.extend(_transaction(tx, pmt_id) for tx in children(pmt, "TxInfAndSts"))
    return infos, txs


def _version(root: Element) -> str | None:
    match = _VERSION.search(etree.QName(root).namespace or "")
    return match.group(0) if match else None


def parse(data: bytes) -> StatusReport:
    """The status report in ``data``; Pain002Error when it cannot be read safely."""
    root = _parse(data)
    report = child(root, "CstmrPmtStsRpt")
    if local(root) != "Document" or report is None:
        raise Pain002Error(line=line_of(root), reason="not a pain.002 (no Document/CstmrPmtStsRpt)")
    header = child(report, "GrpHdr")
    group = child(report, "OrgnlGrpInfAndSts")
    if header is None or group is None:
        raise Pain002Error(line=line_of(report), reason="GrpHdr or OrgnlGrpInfAndSts is missing")
    created_raw = _required(header, "CreDtTm")
    try:
        created_at = datetime.fromisoformat(created_raw)
    except ValueError:
        created_el = child(header, "CreDtTm")
        line = line_of(created_el) if created_el is not None else line_of(header)
        raise Pain002Error(
            line=line, reason=f"CreDtTm {created_raw!r} is not a date and time"
        ) from None
    group_code, group_reason = _reasons(group)
    infos, txs = _payment_infos(report)
    return StatusReport(
        version=_version(root),
        msg_id=_required(header, "MsgId"),
        created_at=created_at,
        original_msg_id=_required(group, "OrgnlMsgId"),
        original_msg_name_id=text(group, "OrgnlMsgNmId"),
        group_status=text(group, "GrpSts"),
        group_reason_code=group_code,
        group_reason_text=group_reason,
        payment_infos=tuple(infos),
        transactions=tuple(txs),
    )


def by_end_to_end_id(report: StatusReport) -> dict[str, Sequence[TxStatus]]:
    """Transactions grouped by EndToEndId: a bank may report one transaction more than once."""
    grouped: dict[str, list[TxStatus]] = {}
    for tx in report.transactions:
        if tx.original_end_to_end_id is not None:
            grouped.setdefault(tx.original_end_to_end_id, []).append(tx)
    return dict(grouped)
