"""The lenient camt.052/053/054 reader: hand-written messages in several versions, the violations
it records, the files it refuses, and the published bank samples in ../shared (never copied)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from reconciliation.camt import CamtFile, Statement, parse_camt
from reconciliation.camt_entries import format_minor, read_amount
from reconciliation.errors import ReconciliationError, StatementFileError

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples" / "statements"
CN = "CN0310012345678901234"  # not a real IBAN country; banks in China send Othr ids, see below

HEADER = "<GrpHdr><MsgId>MSG-1</MsgId><CreDtTm>2025-03-04T23:00:00+08:00</CreDtTm></GrpHdr>"
ACCT = f"<Acct><Id><IBAN>{CN}</IBAN></Id><Ccy>CNY</Ccy></Acct>"
BKTXCD = "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>DMCT</SubFmlyCd></Fmly></Domn></BkTxCd>"
ROOTS = {
    "camt.052": "BkToCstmrAcctRpt",
    "camt.053": "BkToCstmrStmt",
    "camt.054": "BkToCstmrDbtCdtNtfctn",
}


def document(
    body: str,
    *,
    message: str = "camt.053",
    version: str = "08",
    ns: str | None = None,
    header: str = HEADER,
) -> bytes:
    namespace = f"urn:iso:std:iso:20022:tech:xsd:{message}.001.{version}" if ns is None else ns
    xmlns = f' xmlns="{namespace}"' if namespace else ""
    root = ROOTS[message]
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Document{xmlns}>\n<{root}>\n{header}\n{body}\n</{root}>\n</Document>\n'
    ).encode()


def bal(
    code: str,
    amount: str,
    ind: str = "CRDT",
    ccy: str = "CNY",
    dt: str = "<Dt><Dt>2025-03-04</Dt></Dt>",
) -> str:
    return f'<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy="{ccy}">{amount}</Amt><CdtDbtInd>{ind}</CdtDbtInd>{dt}</Bal>'


def ntry(
    amount: str,
    ind: str = "CRDT",
    *,
    ccy: str = "CNY",
    sts: str = "<Sts><Cd>BOOK</Cd></Sts>",
    ref: str | None = None,
    details: str = "",
    dates: str = "<BookgDt><Dt>2025-03-04</Dt></BookgDt><ValDt><Dt>2025-03-05</Dt></ValDt>",
) -> str:
    acct_ref = f"<AcctSvcrRef>{ref}</AcctSvcrRef>" if ref else ""
    dtls = f"<NtryDtls>{details}</NtryDtls>" if details else ""
    return f'<Ntry><Amt Ccy="{ccy}">{amount}</Amt><CdtDbtInd>{ind}</CdtDbtInd>{sts}{dates}{acct_ref}{BKTXCD}{dtls}</Ntry>'


def stmt(
    *parts: str, sid: str = "STMT-1", acct: str = ACCT, elt: str = "Stmt", head: str = ""
) -> str:
    return f"<{elt}><Id>{sid}</Id>{head}{acct}{''.join(parts)}</{elt}>"


def one(data: bytes) -> Statement:
    camt = parse_camt(data)
    assert len(camt.statements) == 1
    return camt.statements[0]


def refused(data: bytes) -> StatementFileError:
    with pytest.raises(StatementFileError) as info:
        parse_camt(data)
    return info.value


# --- versions and shapes -------------------------------------------------------------------------


def test_camt053_v08_statement_reads_every_field():
    s = one(
        document(
            stmt(
                bal("OPBD", "1000.00"),
                bal("CLBD", "1150.51"),
                ntry("200.50", ref="R1"),
                ntry("0.01", ref="R2"),
                ntry("50.00", "DBIT", ref="R3"),
                ntry("999.00", sts="<Sts><Cd>PDNG</Cd></Sts>", ref="R4"),
                head="<ElctrncSeqNb>42</ElctrncSeqNb><LglSeqNb>7</LglSeqNb>"
                "<StmtPgntn><PgNb>1</PgNb><LastPgInd>true</LastPgInd></StmtPgntn>"
                "<CreDtTm>2025-03-04T23:59:00+08:00</CreDtTm>",
            )
        )
    )
    assert (s.kind, s.message, s.version) == ("statement", "camt.053", 8)
    assert (s.message_id, s.statement_id, s.electronic_seq, s.legal_seq) == (
        "MSG-1",
        "STMT-1",
        42,
        7,
    )
    assert s.page is not None and (s.page.number, s.page.last) == ("1", True)
    assert s.created_at == datetime(2025, 3, 4, 23, 59, tzinfo=timezone(timedelta(hours=8)))
    assert (s.account, s.currency) == (CN, "CNY")
    assert [(b.type, b.amount, b.currency, b.date) for b in s.balances] == [
        ("OPBD", 100000, "CNY", date(2025, 3, 4)),
        ("CLBD", 115051, "CNY", date(2025, 3, 4)),
    ]
    assert [(e.amount, e.credit_debit, e.status, e.account_servicer_ref) for e in s.entries] == [
        (20050, "CRDT", "BOOK", "R1"),
        (1, "CRDT", "BOOK", "R2"),
        (-5000, "DBIT", "BOOK", "R3"),
        (99900, "CRDT", "PDNG", "R4"),  # pending: not in the booked balance
    ]
    e = s.entries[0]
    assert (e.booking_date, e.value_date, e.currency, e.reversal) == (
        date(2025, 3, 4),
        date(2025, 3, 5),
        "CNY",
        False,
    )
    assert e.bank_transaction_code is not None
    assert (
        e.bank_transaction_code.domain,
        e.bank_transaction_code.family,
        e.bank_transaction_code.subfamily,
    ) == (
        "PMNT",
        "RCDT",
        "DMCT",
    )
    assert s.violations == []


def test_camt053_v02_plain_sts_and_old_party_shape():
    details = (
        "<TxDtls><Refs><InstrId>I-1</InstrId><EndToEndId>TJ20250304A1</EndToEndId><TxId>T-1</TxId></Refs>"
        '<AmtDtls><TxAmt><Amt Ccy="CNY">88.00</Amt></TxAmt></AmtDtls>'
        "<RltdPties><Dbtr><Nm>张三</Nm></Dbtr><DbtrAcct><Id><IBAN>CN000001</IBAN></Id></DbtrAcct>"
        "<Cdtr><Nm>不动产登记中心</Nm></Cdtr><CdtrAcct><Id><Othr><Id>6222000011112222</Id></Othr></Id></CdtrAcct></RltdPties>"
        "<RltdAgts><DbtrAgt><FinInstnId><BIC>ICBKCNBJ</BIC></FinInstnId></DbtrAgt></RltdAgts>"
        "<RmtInf><Ustrd>契税 TJ20250304A1</Ustrd></RmtInf></TxDtls>"
    )
    s = one(
        document(
            stmt(bal("OPBD", "0.00"), ntry("88.00", sts="<Sts>BOOK</Sts>", details=details)),
            version="02",
        )
    )
    assert s.version == 2
    e = s.entries[0]
    assert (e.status, e.amount) == ("BOOK", 8800)
    (d,) = e.details
    assert (d.instruction_id, d.end_to_end_id, d.transaction_id) == ("I-1", "TJ20250304A1", "T-1")
    assert (d.amount, d.currency) == (8800, "CNY")
    assert (d.debtor_name, d.debtor_account, d.creditor_name, d.creditor_account) == (
        "张三",
        "CN000001",
        "不动产登记中心",
        "6222000011112222",
    )
    assert d.unstructured == ("契税 TJ20250304A1",)
    assert s.violations == []


def test_camt053_v13_choice_shapes_and_other_account_id():
    details = (
        "<TxDtls><Refs><AcctSvcrRef>B-9</AcctSvcrRef><EndToEndId>E2E-9</EndToEndId>"
        "<UETR>eb6305c9-1f7f-49de-aed0-16487c27b42d</UETR></Refs>"
        '<Amt Ccy="EUR">12.30</Amt><CdtDbtInd>DBIT</CdtDbtInd>'
        "<RltdPties><Cdtr><Pty><Nm>Creditor AG</Nm></Pty></Cdtr><UltmtCdtr><Pty><Nm>Ultimate</Nm></Pty></UltmtCdtr></RltdPties>"
        "<RmtInf><Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp><Ref>RF18539007547034</Ref></CdtrRefInf></Strd></RmtInf>"
        "</TxDtls>"
    )
    acct = "<Acct><Id><Othr><Id>0001-22-333</Id></Othr></Id><Ccy>EUR</Ccy></Acct>"
    s = one(
        document(
            stmt(
                bal("PRCD", "12.30", ccy="EUR"),
                bal("CLBD", "0.00", ccy="EUR"),
                ntry("12.30", "DBIT", ccy="EUR", details=details),
                acct=acct,
            ),
            version="13",
        )
    )
    assert (s.version, s.account, s.currency) == (13, "0001-22-333", "EUR")
    assert s.opening_booked is not None and s.opening_booked.type == "PRCD"
    (d,) = s.entries[0].details
    assert (d.amount, d.currency, d.credit_debit) == (1230, "EUR", "DBIT")
    assert (d.creditor_name, d.ultimate_creditor_name) == ("Creditor AG", "Ultimate")
    assert (d.account_servicer_ref, d.end_to_end_id, d.uetr) == (
        "B-9",
        "E2E-9",
        "eb6305c9-1f7f-49de-aed0-16487c27b42d",
    )
    assert d.creditor_refs == ("RF18539007547034",)
    assert s.violations == []  # PRCD stands in for OPBD: 12.30 - 12.30 = 0.00


def test_camt052_report_with_interim_balances_and_report_pagination():
    body = stmt(
        bal("ITBD", "500.00", dt="<Dt><DtTm>2025-03-04T10:00:00+08:00</DtTm></Dt>"),
        ntry("20.00", dates="<BookgDt><DtTm>2025-03-04T11:00:00+08:00</DtTm></BookgDt>"),
        elt="Rpt",
        head="<RptPgntn><PgNb>2</PgNb><LastPgInd>false</LastPgInd></RptPgntn>",
    )
    s = one(document(body, message="camt.052"))
    assert (s.kind, s.message, s.version) == ("report", "camt.052", 8)
    assert [(b.type, b.amount, b.date) for b in s.balances] == [("ITBD", 50000, date(2025, 3, 4))]
    assert s.entries[0].booking_date == date(2025, 3, 4)
    assert s.page is not None and (s.page.number, s.page.last) == ("2", False)
    assert s.opening_booked is None and s.closing_booked is None
    assert s.violations == []  # a report, unlike a statement, needs no balance


def test_camt054_notification_with_batched_transactions_and_return_reason():
    txs = "".join(
        f"<TxDtls><Refs><EndToEndId>TJ-{i}</EndToEndId></Refs>"
        f'<AmtDtls><TxAmt><Amt Ccy="CNY">{amount}</Amt></TxAmt></AmtDtls>{extra}</TxDtls>'
        for i, amount, extra in [
            (1, "100.00", ""),
            (2, "150.00", ""),
            (3, "50.00", "<RtrInf><Rsn><Cd>AC04</Cd></Rsn></RtrInf>"),
        ]
    )
    batch = '<Btch><PmtInfId>PMT-1</PmtInfId><NbOfTxs>3</NbOfTxs><TtlAmt Ccy="CNY">300.00</TtlAmt></Btch>'
    s = one(
        document(
            stmt(ntry("300.00", details=batch + txs), elt="Ntfctn"),
            message="camt.054",
            version="08",
        )
    )
    assert (s.kind, s.message) == ("notification", "camt.054")
    (e,) = s.entries
    assert [(d.end_to_end_id, d.amount, d.return_reason) for d in e.details] == [
        ("TJ-1", 10000, None),
        ("TJ-2", 15000, None),
        ("TJ-3", 5000, "AC04"),
    ]
    assert s.balances == ()
    assert s.violations == []  # a notification carries no balance


def test_missing_optional_elements_are_none_not_violations():
    bare = (
        f'<Ntry><Amt Ccy="CNY">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>{BKTXCD}</Ntry>'
    )
    s = one(document(stmt(bal("OPBD", "0.00"), bare)))
    e = s.entries[0]
    assert (
        e.booking_date,
        e.value_date,
        e.entry_ref,
        e.account_servicer_ref,
        e.additional_info,
        e.details,
    ) == (
        None,
        None,
        None,
        None,
        None,
        (),
    )
    assert (s.electronic_seq, s.legal_seq, s.page) == (None, None, None)
    assert s.created_at == datetime(
        2025, 3, 4, 23, 0, tzinfo=timezone(timedelta(hours=8))
    )  # from GrpHdr
    assert s.violations == []


def test_several_statements_in_document_order_with_their_own_paths():
    usd = "<Acct><Id><IBAN>US000002</IBAN></Id><Ccy>USD</Ccy></Acct>"
    camt = parse_camt(
        document(
            stmt(bal("OPBD", "1.00"), sid="A")
            + stmt(bal("OPBD", "2.00", ccy="USD"), ntry("3.00", ccy="EUR"), sid="B", acct=usd)
        )
    )
    assert [(s.statement_id, s.account, s.currency) for s in camt.statements] == [
        ("A", CN, "CNY"),
        ("B", "US000002", "USD"),
    ]
    assert camt.statements[0].violations == []
    assert camt.statements[1].violations == [
        "Stmt[2]/Ntry[1]: Amt currency EUR differs from the account currency USD"
    ]


def test_references_only_in_unstructured_remittance():
    details = '<TxDtls><AmtDtls><TxAmt><Amt Ccy="CNY">80.00</Amt></TxAmt></AmtDtls><RmtInf><Ustrd>TJ20250304A1 登记费</Ustrd><Ustrd>第二行</Ustrd></RmtInf></TxDtls>'
    (d,) = one(document(stmt(bal("OPBD", "0"), ntry("80.00", details=details)))).entries[0].details
    assert d.unstructured == ("TJ20250304A1 登记费", "第二行")
    assert (
        d.end_to_end_id,
        d.instruction_id,
        d.transaction_id,
        d.account_servicer_ref,
        d.message_id,
        d.creditor_refs,
    ) == (
        None,
        None,
        None,
        None,
        None,
        (),
    )


def test_debit_closing_balance_is_negative_and_balances():
    s = one(
        document(stmt(bal("OPBD", "10.00"), bal("CLBD", "25.00", "DBIT"), ntry("35.00", "DBIT")))
    )
    assert s.closing_booked is not None and s.closing_booked.amount == -2500
    assert s.violations == []


# --- violations ----------------------------------------------------------------------------------


def test_unbalanced_statement_says_the_numbers():
    s = one(
        document(
            stmt(bal("OPBD", "100.00"), bal("CLBD", "130.00"), ntry("20.00"), ntry("5.00", "DBIT"))
        )
    )
    assert s.violations == [
        "Stmt[1]: does not balance: OPBD 100.00 + booked entries 15.00 = 115.00, but CLBD is 130.00 (15.00 more)"
    ]


@pytest.mark.parametrize(
    ("ccy", "opening", "amounts", "minor", "violations"),
    [
        # half to even; 1.500 is exact
        (
            "CHF",
            "0.00",
            ["1.00", "12.345", "1.500"],
            [100, 1234, 150],
            [
                "Stmt[1]/Ntry[2]: Amt '12.345' has more decimals than CHF allows (2); counted as 12.34",
                "Stmt[1]/Ntry[3]: Amt '1.500' has more decimals than CHF allows (2)",
            ],
        ),
        (
            "JPY",
            "0",
            ["79255", "1.5"],
            [79255, 2],
            ["Stmt[1]/Ntry[2]: Amt '1.5' has more decimals than JPY allows (0); counted as 2"],
        ),
    ],
)
def test_too_many_decimals_for_the_currency(
    ccy: str, opening: str, amounts: list[str], minor: list[int], violations: list[str]
) -> None:
    acct = f"<Acct><Id><IBAN>{ccy[:2]}00</IBAN></Id><Ccy>{ccy}</Ccy></Acct>"
    entries = [ntry(amount, ccy=ccy) for amount in amounts]
    s = one(document(stmt(bal("OPBD", opening, ccy=ccy), *entries, acct=acct)))
    assert [e.amount for e in s.entries] == minor
    assert s.violations == violations


def test_currency_minor_units_come_from_the_currency():
    kwd = "<Acct><Id><IBAN>KW00</IBAN></Id><Ccy>KWD</Ccy></Acct>"
    s = one(document(stmt(bal("OPBD", "1.234", ccy="KWD"), acct=kwd)))
    assert (s.balances[0].amount, s.violations) == (1234, [])


def test_negative_amount_unknown_indicator_and_missing_mandatory_elements():
    header = "<GrpHdr><CreDtTm>2025-03-04T23:00:00</CreDtTm></GrpHdr>"
    no_date = '<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="CNY">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd></Bal>'
    bare = '<Ntry><Amt Ccy="CNY">2.00</Amt><CdtDbtInd>CRDT</CdtDbtInd></Ntry>'
    s = one(
        document(
            f"<Stmt><Id>S</Id>{no_date}{ntry('-5.00')}{ntry('1.00', 'CRD')}{bare}</Stmt>",
            header=header,
        )
    )
    assert s.account is None
    assert [(e.amount, e.credit_debit) for e in s.entries] == [
        (-500, "CRDT"),
        (100, None),
        (200, "CRDT"),
    ]
    assert s.violations == [
        "GrpHdr/MsgId: missing",
        "Stmt[1]/Acct: missing",
        "Stmt[1]/Bal[1]: no Dt",
        "Stmt[1]/Ntry[1]: Amt '-5.00' is negative; amounts are positive and CdtDbtInd gives the sign",
        "Stmt[1]/Ntry[2]: unknown CdtDbtInd 'CRD'",
        "Stmt[1]/Ntry[3]: no Sts",
        "Stmt[1]/Ntry[3]: no BkTxCd",
    ]


def test_statement_without_balance_and_balance_without_indicator():
    # the Lithuanian camt.053.001.08 files leave CdtDbtInd out of Bal: read as a credit
    no_ind = '<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="CNY">9.00</Amt><Dt><Dt>2025-03-04</Dt></Dt></Bal>'
    assert one(document(stmt(ntry("1.00")))).violations == [
        "Stmt[1]: no Bal; a statement must carry at least one balance"
    ]
    s = one(document(stmt(no_ind)))
    assert (s.balances[0].amount, s.violations) == (900, ["Stmt[1]/Bal[1]: no CdtDbtInd"])


def test_summary_counts_and_sums_against_the_entries():
    summary = (
        "<TxsSummry><TtlNtries><NbOfNtries>3</NbOfNtries><Sum>25.00</Sum></TtlNtries>"
        "<TtlCdtNtries><NbOfNtries>1</NbOfNtries><Sum>20.00</Sum></TtlCdtNtries>"
        "<TtlDbtNtries><NbOfNtries>1</NbOfNtries><Sum>5.00</Sum></TtlDbtNtries></TxsSummry>"
    )
    s = one(document(stmt(bal("OPBD", "0.00"), summary, ntry("20.00"), ntry("6.00", "DBIT"))))
    assert s.violations == [
        "Stmt[1]/TxsSummry/TtlNtries: NbOfNtries 3 but 2 entries",
        "Stmt[1]/TxsSummry/TtlNtries: Sum 25.00 but the entries sum to 26.00",
        "Stmt[1]/TxsSummry/TtlDbtNtries: Sum 5.00 but the entries sum to 6.00",
    ]


def test_duplicate_account_servicer_reference():
    s = one(
        document(
            stmt(
                bal("OPBD", "0"),
                ntry("1.00", ref="X"),
                ntry("2.00", ref="Y"),
                ntry("3.00", ref="X"),
            )
        )
    )
    assert s.violations == ["Stmt[1]/Ntry[3]: AcctSvcrRef 'X' repeats that of Ntry[1]"]


def test_bad_dates_are_recorded_not_refused():
    s = one(document(stmt(bal("OPBD", "0", dt="<Dt><Dt>2025-02-30</Dt></Dt>"))))
    assert s.balances[0].date is None
    assert s.violations == ["Stmt[1]/Bal[1]/Dt: '2025-02-30' is not a date"]


# --- namespaces ----------------------------------------------------------------------------------


def test_swiss_bank_namespace_gives_message_and_version():
    ns = "http://www.six-interbank-clearing.com/de/camt.053.001.04.ch.02.xsd"
    s = one(document(stmt(bal("OPBD", "0")), ns=ns))
    assert (s.message, s.version, s.violations) == ("camt.053", 4, [])


def test_missing_or_foreign_namespace_reads_by_element_names():
    s = one(document(stmt(bal("OPBD", "0")), ns=""))
    assert (s.message, s.version) == ("camt.053", None)
    assert s.violations == ["Document: no namespace; read as camt.053 by its element names"]
    s = one(document(stmt(bal("OPBD", "0")), ns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"))
    assert s.violations == [
        "Document: namespace says camt.054 but the message is camt.053; read as camt.053"
    ]


# --- refusals ------------------------------------------------------------------------------------


def test_truncated_file_is_refused_with_its_line():
    data = document(stmt(bal("OPBD", "0"), ntry("1.00")))
    err = refused(data[: data.index(b"<Ntry>") + 20])
    assert isinstance(err, ReconciliationError)
    assert err.line == 5 and err.reason.startswith("not well-formed XML")


def test_doctype_and_entities_are_refused_before_parsing():
    bomb = b'<?xml version="1.0"?>\n<!DOCTYPE Document [\n<!ENTITY a "aaaaaaaaaa">\n<!ENTITY b "&a;&a;&a;&a;&a;">\n]>\n<Document>&b;</Document>'
    err = refused(bomb)
    assert err.line == 2 and "DOCTYPE" in err.reason
    xxe = b'<?xml version="1.0"?><!DOCTYPE d SYSTEM "http://example.invalid/x.dtd"><Document/>'
    assert "DOCTYPE" in refused(xxe).reason
    assert "DOCTYPE" in refused("<!DOCTYPE d><Document/>".encode("utf-16")).reason


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "not well-formed XML"),
        (b"account,amount\nCN01,1.00\n", "not well-formed XML"),
        (
            b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"><CstmrCdtTrfInitn/></Document>',
            "not a camt statement",
        ),
        (b"<html><body/></html>", "not a camt statement"),
        (b"<Document/>", "not a camt statement"),
    ],
)
def test_not_xml_or_not_camt_is_refused(data: bytes, reason: str):
    assert refused(data).reason.startswith(reason)


def test_amount_that_is_not_a_number_is_refused_with_its_line():
    err = refused(document(stmt(bal("OPBD", "0"), ntry("1,50"))))
    assert err.line == 5
    assert err.reason == "Stmt[1]/Ntry[1]: Amt '1,50' is not a number"


def test_cr_only_line_ends_still_give_line_numbers():
    data = document(stmt(bal("OPBD", "0"), ntry("NaN"))).replace(b"\n", b"\r")
    assert refused(data).line == 5


# --- exact amounts -------------------------------------------------------------------------------


@given(
    minor=st.integers(min_value=0, max_value=10**17),
    ccy=st.sampled_from(["CNY", "JPY", "KWD", "CLF"]),
)
def test_amount_text_round_trips_to_minor_units(minor: int, ccy: str):
    el = etree.fromstring(f'<Amt Ccy="{ccy}">{format_minor(minor, ccy)}</Amt>')
    violations: list[str] = []
    assert read_amount(el, "Ntry[1]/Amt", None, violations) == (minor, ccy)
    assert violations == []


# --- the published bank samples ------------------------------------------------------------------


def sample(name: str) -> CamtFile:
    if not SAMPLES.is_dir():
        pytest.skip(
            f"{SAMPLES} folder absent: these tests read the published bank samples from"
            " ../shared/samples/statements, which is not part of this repository"
        )
    return parse_camt((SAMPLES / name).read_bytes())


def test_postfinance_camt053_does_not_balance_and_repeats_a_reference():
    camt = sample("camt.053_P_CH2909000000250094239_1110092698_0_2020112503071366.xml")
    assert (camt.message, camt.version, camt.message_id) == (
        "camt.053",
        4,
        "20201124375204229003967",
    )
    (s,) = camt.statements
    assert (s.statement_id, s.electronic_seq, s.account) == (
        "20201124375204229003973",
        118,
        "CH2909000000250094239",
    )
    assert s.currency == "CHF"  # no Acct/Ccy: taken from the balances
    assert s.page is not None and (s.page.number, s.page.last) == ("1", True)
    assert [(b.type, b.amount) for b in s.balances] == [
        ("OPBD", 21199319),
        ("CLBD", 21511221),
        ("CLAV", 21511221),
        ("FWAV", 21664921),
    ]
    assert [e.amount for e in s.entries] == [450, -7770, 150000, 153700, 169222]
    assert {e.status for e in s.entries} == {"BOOK"}
    # 211993.19 + 4656.02 is the forward available balance: CLBD leaves out the entry valued
    # the next day (Ntry[4], 1537.00, ValDt 2020-11-25)
    assert s.entries[3].value_date == date(2020, 11, 25)
    assert s.violations == [
        "Stmt[1]/Ntry[5]: AcctSvcrRef '07582000303KBMSU' repeats that of Ntry[4]",
        "Stmt[1]: does not balance: OPBD 211993.19 + booked entries 4656.02 = 216649.21, but CLBD is 215112.21 (1537.00 less)",
    ]


def test_postfinance_camt054_debit_carries_the_whole_reference_chain():
    (s,) = sample(
        "200519_camt.054-Debit_P_CH2909000000250094239_1110092692_0_2019042401501580.xml"
    ).statements
    assert (s.kind, s.version, s.account, s.currency, s.balances) == (
        "notification",
        4,
        "CH2909000000250094239",
        "CHF",
        (),
    )
    (e,) = s.entries
    assert (e.amount, e.account_servicer_ref, e.booking_date) == (
        -91300,
        "074820002ZU1EQ0K",
        date(2019, 4, 25),
    )
    (d,) = e.details
    assert (d.message_id, d.payment_info_id, d.end_to_end_id, d.account_servicer_ref) == (
        "20190424-000369773",
        "30003101",
        "20190424001255000100006",
        "25-1120172999-2",
    )
    assert (d.amount, d.credit_debit) == (91300, "DBIT")
    assert s.created_at == datetime(2019, 4, 25, 1, 49, 54)  # Ntfctn/CreDtTm; GrpHdr says 2014
    assert s.violations == []


def test_postfinance_camt054_credit():
    (s,) = sample(
        "200519_camt.054-Credit_P_CH2909000000250094239_1110092691_0_2019042421291293.xml"
    ).statements
    assert [(e.amount, e.credit_debit, e.account_servicer_ref) for e in s.entries] == [
        (150000, "CRDT", "074820002ZZ9J42U")
    ]
    assert s.violations == []


def test_finnish_camt052_two_reports():
    camt = sample("FI_camt_052_sample.xml.xml")
    assert (camt.message, camt.version) == ("camt.052", 2)
    first, second = camt.statements
    assert (first.statement_id, first.electronic_seq, first.account, first.currency) == (
        "BANKFILEID00001NTR00001",
        196,
        "FI7433010001222090",
        "EUR",
    )
    assert first.balances == ()
    (pending,) = first.entries
    assert (pending.amount, pending.status, pending.entry_ref) == (212000, "PDNG", "21892819")
    (d,) = pending.details
    # TxAmt in EUR, not the instructed 3200.00 USD
    assert (d.amount, d.currency, d.instruction_id, d.unstructured) == (
        212000,
        "EUR",
        "ISSRBKREF12345678",
        ("INVOICE US20291092",),
    )
    # Bal/Amt, not the credit line's Bal/CdtLine/Amt (equal here, but a different element)
    assert [(b.type, b.amount) for b in second.balances] == [("ITBD", 100000), ("ITBD", 110000)]
    (booked,) = second.entries
    assert (booked.amount, booked.booking_date, booked.details[0].creditor_refs) == (
        10000,
        date(2009, 10, 30),
        ("RF98123456789012",),
    )
    assert first.violations == second.violations == []


def test_finnish_camt054_batches():
    (s,) = sample("FI_camt_054_sample.xml.xml").statements
    assert (s.account, s.currency, s.electronic_seq) == ("FI7433010001222090", "EUR", 96)
    assert [e.amount for e in s.entries] == [200000, 50000, 300000, -423005, -100000, 10000]
    assert [len(e.details) for e in s.entries] == [2, 2, 2, 3, 2, 2]
    for e in s.entries:  # every batch adds up to its entry
        assert sum(d.amount or 0 for d in e.details) == abs(e.amount)
    info = s.entries[5]
    assert (info.status, info.reversal) == ("INFO", True)
    assert [d.return_reason for d in info.details] == ["AC01", "CUST"]
    assert s.entries[2].details[0].creditor_refs == (
        "RF7812345",
        "RF0812344",
    )  # the first with a trailing space
    assert s.entries[3].details[0].creditor_account == "29501800020582"
    assert s.violations == []  # TxsSummry 6 entries, 10830.05


def test_lithuanian_camt053_available_balances_only():
    (s,) = sample("statement_1.xml").statements
    assert (s.version, s.account, s.currency, s.electronic_seq) == (
        2,
        "LT007180000000000000",
        "EUR",
        44,
    )
    assert [(b.type, b.amount) for b in s.balances] == [("OPAV", 276808), ("CLAV", 0)]
    assert s.opening_booked is None and s.closing_booked is None
    assert [e.amount for e in s.entries] == [-164, -273458, -3016, -170]  # '1.7' is 1.70
    d = s.entries[0].details[0]
    assert (d.instruction_id, d.transaction_id, d.end_to_end_id) == (
        "215431",
        "514026627",
        None,
    )  # NOTPROVIDED
    assert (d.debtor_account, d.creditor_name, d.creditor_account) == (
        "LT007180000000000000",
        'UAB "TESTAVIMAS"',
        "LT007180000000000001",
    )
    assert s.violations == []


@pytest.mark.parametrize(
    "name", ["pain002-epo_p_0_0_0_2018031510491259.xml", "pain002-epo_p_0_0_0_2018032614401842.xml"]
)
def test_pain002_status_reports_are_not_statements(name: str):
    with pytest.raises(
        StatementFileError, match="not a camt statement: the Document holds CstmrPmtStsRpt"
    ):
        sample(name)
