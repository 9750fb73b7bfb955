"""Reading the bank's pain.002 status reports: generated ones of several versions, and the two
real PostFinance samples (Swiss pain.002.001.03.ch.02) read from shared/ in place."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from adapters.iso20022 import schemas
from reconciliation.errors import ReconciliationError
from reconciliation.pain002 import Pain002Error, by_end_to_end_id, parse

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples" / "statements"


def _report(ns: str | None, body: str, *, created: str = "2026-11-26T09:15:00+08:00") -> bytes:
    xmlns = f' xmlns="{ns}"' if ns else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Document{xmlns}>\n<CstmrPmtStsRpt>\n'
        f"<GrpHdr><MsgId>ICBC-STS-0001</MsgId><CreDtTm>{created}</CreDtTm></GrpHdr>\n"
        f"{body}\n</CstmrPmtStsRpt>\n</Document>\n"
    ).encode()


PART = """<OrgnlGrpInfAndSts>
  <OrgnlMsgId>TJ20261125ICBC001</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId>
  <OrgnlNbOfTxs>3</OrgnlNbOfTxs><OrgnlCtrlSum>1323.45</OrgnlCtrlSum><GrpSts>PART</GrpSts>
</OrgnlGrpInfAndSts>
<OrgnlPmtInfAndSts>
  <OrgnlPmtInfId>B20261125ICBC001</OrgnlPmtInfId><PmtInfSts>PART</PmtInfSts>
  <TxInfAndSts>
    <OrgnlInstrId>TJ20261125E00001</OrgnlInstrId><OrgnlEndToEndId>TJ20261125E00001</OrgnlEndToEndId>
    <TxSts>ACSC</TxSts>
    <OrgnlTxRef><Amt><InstdAmt Ccy="CNY">123.45</InstdAmt></Amt></OrgnlTxRef>
  </TxInfAndSts>
  <TxInfAndSts>
    <OrgnlEndToEndId>TJ20261125E00002</OrgnlEndToEndId><TxSts>RJCT</TxSts>
    <StsRsnInf><Rsn><Cd>AC01</Cd></Rsn><AddtlInf>收款账号不存在</AddtlInf><AddtlInf>请核对</AddtlInf></StsRsnInf>
    <OrgnlTxRef><Amt><InstdAmt Ccy="CNY">1200.00000</InstdAmt></Amt></OrgnlTxRef>
  </TxInfAndSts>
  <TxInfAndSts>
    <OrgnlEndToEndId>TJ20261125E00003</OrgnlEndToEndId>
  </TxInfAndSts>
</OrgnlPmtInfAndSts>"""


def test_v10_partial_acceptance_per_transaction() -> None:
    data = _report("urn:iso:std:iso:20022:tech:xsd:pain.002.001.10", PART)
    assert schemas.validate(data) == []  # the generated report is itself a valid .10
    report = parse(data)
    assert report.version == "pain.002.001.10"
    assert report.msg_id == "ICBC-STS-0001"
    assert report.created_at == datetime(2026, 11, 26, 9, 15, tzinfo=timezone(timedelta(hours=8)))
    assert (report.original_msg_id, report.original_msg_name_id) == (
        "TJ20261125ICBC001",
        "pain.001.001.09",
    )
    assert report.group_status == "PART"
    ok, rejected, silent = report.transactions
    assert (ok.status, ok.amount_fen, ok.currency, ok.reason_code) == ("ACSC", 12_345, "CNY", None)
    assert ok.original_instruction_id == "TJ20261125E00001"
    assert ok.original_payment_info_id == "B20261125ICBC001"
    assert (rejected.status, rejected.reason_code) == ("RJCT", "AC01")
    assert rejected.reason_text == "收款账号不存在; 请核对"
    assert rejected.amount_fen == 120_000
    assert silent.status is None and silent.amount_fen is None
    assert report.status_of(silent) == "PART"  # falls back to the payment information's status
    assert set(by_end_to_end_id(report)) == {f"TJ20261125E0000{i}" for i in (1, 2, 3)}


@pytest.mark.parametrize(
    "ns",
    [
        "urn:iso:std:iso:20022:tech:xsd:pain.002.001.03",
        "urn:iso:std:iso:20022:tech:xsd:pain.002.001.06",
        "urn:iso:std:iso:20022:tech:xsd:pain.002.001.09",
        None,
    ],
)
def test_older_versions_and_no_namespace_read_alike(ns: str | None) -> None:
    report = parse(_report(ns, PART, created="2026-11-26T01:15:00Z"))
    assert report.version == (ns.rsplit(":", 1)[1] if ns else None)
    assert [t.status for t in report.transactions] == ["ACSC", "RJCT", None]
    assert report.created_at.utcoffset() == timedelta(0)


def test_group_rejection_without_transactions_rejects_everything() -> None:
    body = """<OrgnlGrpInfAndSts><OrgnlMsgId>TJ1</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId>
      <GrpSts>RJCT</GrpSts><StsRsnInf><Rsn><Prtry>DUPL</Prtry></Rsn></StsRsnInf></OrgnlGrpInfAndSts>"""
    report = parse(_report("urn:iso:std:iso:20022:tech:xsd:pain.002.001.10", body))
    assert (report.group_status, report.group_reason_code, report.transactions) == (
        "RJCT",
        "DUPL",
        (),
    )


@pytest.mark.parametrize(
    ("data", "line", "reason"),
    [
        (b"<Document><CstmrPmtStsRpt>", 1, "not well-formed XML"),
        (b"<Document>\n<Other/>\n</Document>", 1, "not a pain.002"),
        (
            _report(None, "<OrgnlGrpInfAndSts><GrpSts>ACTC</GrpSts></OrgnlGrpInfAndSts>"),
            5,
            "OrgnlGrpInfAndSts/OrgnlMsgId is missing",
        ),
        (
            _report(None, PART, created="yesterday"),
            4,
            "CreDtTm 'yesterday' is not a date and time",
        ),
        (
            _report(None, PART.replace("123.45", "123.456")),
            14,
            "not a whole number of fen",
        ),
        (
            _report(None, PART.replace("123.45", "1,5")),
            14,
            "is not a number",
        ),
        (
            b'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
            b"<Document><CstmrPmtStsRpt>&x;</CstmrPmtStsRpt></Document>",
            2,
            "DOCTYPE",
        ),
    ],
)
def test_malformed_reports_name_line_and_reason(data: bytes, line: int, reason: str) -> None:
    with pytest.raises(Pain002Error) as caught:
        parse(data)
    assert caught.value.line == line and reason in caught.value.reason
    assert isinstance(caught.value, ReconciliationError)


def _sample(name: str) -> bytes:
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"sample {path} not present (shared/samples is outside the repository)")
    return path.read_bytes()


def test_postfinance_group_accepted_sample() -> None:
    report = parse(_sample("pain002-epo_p_0_0_0_2018031510491259.xml"))
    assert report.version == "pain.002.001.03.ch.02"  # SIX namespace, not ISO's
    assert report.msg_id == "20180315375204222821684"
    assert report.created_at == datetime(2018, 3, 15, 10, 49, 10)  # no offset in the file
    assert report.original_msg_id == "MsgId-001"
    assert report.original_msg_name_id == "pain.001.001.03.ch.02"
    assert report.group_status == "ACTC"
    assert report.group_reason_code is None and report.transactions == ()


def test_postfinance_control_sum_rejection_sample() -> None:
    report = parse(_sample("pain002-epo_p_0_0_0_2018032614401842.xml"))
    assert report.msg_id == "20180326375204011685776"
    assert report.created_at == datetime(2018, 3, 26, 14, 40)
    assert report.original_msg_id == "MsgId-005"
    assert (report.group_status, report.group_reason_code) == ("RJCT", "AM10")
    assert report.group_reason_text == "904114;ControlSum fehlerhaft"
    assert report.payment_infos == () and report.transactions == ()
