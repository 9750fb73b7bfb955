"""``tongjiao statements check``: one JSON line per statement, exit 0 for every readable file
(violations included), 2 for a file it cannot read — on hand-written files and on the published
bank samples in ../shared (read in place, never copied)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reconciliation.statements_cli import main
from tests.camt_files import write_statement

REPO = Path(__file__).resolve().parents[2]
SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples" / "statements"
KEYS = [
    "account",
    "currency",
    "opening_booked",
    "closing_booked",
    "credit_count",
    "credit_sum",
    "debit_count",
    "debit_sum",
    "violations",
]
BKTXCD = "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>DMCT</SubFmlyCd></Fmly></Domn></BkTxCd>"


def camt053(*statements: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">\n<BkToCstmrStmt>\n'
        "<GrpHdr><MsgId>M</MsgId><CreDtTm>2025-03-04T23:00:00</CreDtTm></GrpHdr>\n"
        + "\n".join(statements)
        + "\n</BkToCstmrStmt>\n</Document>\n"
    )


def statement(
    account: str, opening: str | None, closing: str | None, *entries: tuple[str, str, str]
) -> str:
    def bal(code: str, amount: str) -> str:
        ind = "DBIT" if amount.startswith("-") else "CRDT"
        return (
            f'<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy="CNY">{amount.lstrip("-")}</Amt>'
            f"<CdtDbtInd>{ind}</CdtDbtInd><Dt><Dt>2025-03-04</Dt></Dt></Bal>"
        )

    bals = (bal("OPBD", opening) if opening else "") + (bal("CLBD", closing) if closing else "")
    ntries = "".join(
        f'<Ntry><Amt Ccy="CNY">{amount}</Amt><CdtDbtInd>{ind}</CdtDbtInd><Sts><Cd>{sts}</Cd></Sts>{BKTXCD}</Ntry>'
        for amount, ind, sts in entries
    )
    return f"<Stmt><Id>S</Id><Acct><Id><Othr><Id>{account}</Id></Othr></Id><Ccy>CNY</Ccy></Acct>{bals}{ntries}</Stmt>"


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines()]


def test_one_line_per_statement_with_exactly_the_keys(tmp_path, capsys):
    f = write(
        tmp_path,
        "two.xml",
        camt053(
            statement(
                "收款户-001",
                "100.00",
                "-5.00",
                ("20.00", "CRDT", "BOOK"),
                ("125.00", "DBIT", "BOOK"),
                ("9.99", "CRDT", "PDNG"),
            ),
            statement("CN02", None, None, ("1.00", "DBIT", "INFO")),
        ),
    )
    assert main([f]) == 0
    out = capsys.readouterr()
    assert "收款户-001" in out.out  # ensure_ascii=False
    first, second = lines(out.out)
    assert list(first) == KEYS
    assert first == {
        "account": "收款户-001",
        "currency": "CNY",
        "opening_booked": 10000,
        "closing_booked": -500,
        "credit_count": 2,  # the pending one too: counted whatever its status
        "credit_sum": 2999,
        "debit_count": 1,
        "debit_sum": 12500,
        "violations": [],
    }
    assert second["opening_booked"] is None and second["closing_booked"] is None
    assert second["violations"] == ["Stmt[2]: no Bal; a statement must carry at least one balance"]
    assert (second["debit_count"], second["debit_sum"]) == (1, 100)
    assert out.err == ""


def test_unbalanced_statement_is_printed_with_its_violation_and_exit_0(tmp_path, capsys):
    f = write(
        tmp_path,
        "off.xml",
        camt053(statement("CN01", "100.00", "130.00", ("20.00", "CRDT", "BOOK"))),
    )
    assert main([f]) == 0
    (line,) = lines(capsys.readouterr().out)
    assert line["violations"] == [
        "Stmt[1]: does not balance: OPBD 100.00 + booked entries 20.00 = 120.00, but CLBD is 130.00 (10.00 more)"
    ]


def test_unreadable_file_is_named_on_stderr_and_the_others_still_checked(tmp_path, capsys):
    good = write(tmp_path, "good.xml", camt053(statement("CN01", "1.00", "1.00")))
    cut = camt053(statement("CN01", "1.00", "1.00"))
    cut = cut[: cut.index("<Stmt>") + 30]
    truncated = write(tmp_path, "cut.xml", cut)
    missing = str(tmp_path / "missing.xml")
    assert main([truncated, good, missing]) == 2
    out = capsys.readouterr()
    assert len(lines(out.out)) == 1
    err = out.err.splitlines()
    assert err[0].startswith(f"{truncated}: line {cut.count(chr(10)) + 1}: not well-formed XML")
    assert err[1].startswith(f"{missing}: cannot read")


def test_message_without_statements_says_so_on_stderr(tmp_path, capsys):
    f = write(tmp_path, "empty.xml", camt053())
    assert main([f]) == 0  # readable; nothing to print a line for
    out = capsys.readouterr()
    assert (out.out, out.err) == ("", f"{f}: BkToCstmrStmt: no Stmt\n")


def test_help(capsys):
    assert main(["--help"]) == 0
    assert "usage: tongjiao statements check" in capsys.readouterr().out
    assert main([]) == 2  # FILE is required


def test_exit_codes_through_a_real_process(tmp_path):
    ok = write(
        tmp_path, "ok.xml", camt053(statement("CN01", "1.00", "2.00"))
    )  # unbalanced: still 0
    bad = write(tmp_path, "bad.xml", '<!DOCTYPE x [<!ENTITY e "e">]>\n<x>&e;</x>')

    def run(path: str) -> subprocess.CompletedProcess[str]:
        # the command as users type it: tongjiao statements check FILE
        return subprocess.run(
            [sys.executable, "-m", "clearing", "statements", "check", path],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    done = run(ok)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["violations"][0].startswith("Stmt[1]: does not balance")
    done = run(bad)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith(f"{bad}: line 1: DOCTYPE declarations are refused")


# --- the published bank samples ------------------------------------------------------------------


def sample(name: str) -> str:
    if not SAMPLES.is_dir():
        pytest.skip(
            f"{SAMPLES} folder absent: these tests read the published bank samples from"
            " ../shared/samples/statements, which is not part of this repository"
        )
    return str(SAMPLES / name)


POSTFINANCE = "CH2909000000250094239"
FINLAND = "FI7433010001222090"


def row(account, currency, opening, closing, credits, credit_sum, debits, debit_sum, violations=()):
    return dict(
        zip(
            KEYS,
            [
                account,
                currency,
                opening,
                closing,
                credits,
                credit_sum,
                debits,
                debit_sum,
                list(violations),
            ],
            strict=True,
        )
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "camt.053_P_CH2909000000250094239_1110092698_0_2020112503071366.xml",
            [
                row(
                    POSTFINANCE,
                    "CHF",
                    21199319,
                    21511221,
                    4,
                    473372,
                    1,
                    7770,
                    [
                        "Stmt[1]/Ntry[5]: AcctSvcrRef '07582000303KBMSU' repeats that of Ntry[4]",
                        "Stmt[1]: does not balance: OPBD 211993.19 + booked entries 4656.02 = 216649.21, but CLBD is 215112.21 (1537.00 less)",
                    ],
                )
            ],
        ),
        (
            "200519_camt.054-Credit_P_CH2909000000250094239_1110092691_0_2019042421291293.xml",
            [row(POSTFINANCE, "CHF", None, None, 1, 150000, 0, 0)],
        ),
        (
            "200519_camt.054-Debit_P_CH2909000000250094239_1110092692_0_2019042401501580.xml",
            [row(POSTFINANCE, "CHF", None, None, 0, 0, 1, 91300)],
        ),
        (
            "FI_camt_052_sample.xml.xml",
            [
                row(FINLAND, "EUR", None, None, 1, 212000, 0, 0),
                row(FINLAND, "EUR", None, None, 1, 10000, 0, 0),
            ],
        ),
        # the information-only reversed credit (100.00) counts: every entry, whatever its status
        ("FI_camt_054_sample.xml.xml", [row(FINLAND, "EUR", None, None, 4, 560000, 2, 523005)]),
        # available balances only (OPAV 2768.08 → CLAV 0.00): no booked opening or closing
        ("statement_1.xml", [row("LT007180000000000000", "EUR", None, None, 0, 0, 4, 276808)]),
    ],
)
def test_published_camt_samples(name, expected, capsys):
    assert main([sample(name)]) == 0
    assert lines(capsys.readouterr().out) == expected


def test_published_pain002_samples_are_refused_as_not_a_statement(capsys):
    files = [
        sample("pain002-epo_p_0_0_0_2018031510491259.xml"),
        sample("pain002-epo_p_0_0_0_2018032614401842.xml"),
    ]
    assert main(files) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert [line.split(": ", 2)[1:] for line in out.err.splitlines()] == [
        [
            "line 2",
            "not a camt statement: the Document holds CstmrPmtStsRpt (namespace http://www.six-interbank-clearing.com/de/pain.002.001.03.ch.02.xsd)",
        ],
        [
            "line 3",
            "not a camt statement: the Document holds CstmrPmtStsRpt (namespace http://www.six-interbank-clearing.com/de/pain.002.001.03.ch.02.xsd)",
        ],
    ]


def _peak_rss_kib(*args: str) -> tuple[int, str]:
    """Run ``tongjiao statements check`` in a process of its own; its peak RSS and output."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "clearing", "statements", "check", *args],
        stdout=subprocess.PIPE,
        cwd=REPO,
    )
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, out
    return usage.ru_maxrss, out


def test_a_large_statement_is_streamed_not_held(tmp_path: Path) -> None:
    """Memory follows one entry, not the file: 8,000 entries (4 MB) cost the process no more
    than a few MB over a 10-entry file (reading the whole tree took about 17 times the file)."""
    small, large = tmp_path / "small.xml", tmp_path / "large.xml"
    write_statement(small, 10)
    size = write_statement(large, 8_000)
    base, _ = _peak_rss_kib(str(small))
    peak, out = _peak_rss_kib(str(large))
    line = json.loads(out)
    assert (line["credit_count"], line["violations"]) == (8_000, [])
    assert line["credit_sum"] == 8_000 * 12_345
    growth_kib = peak - base
    assert growth_kib < size // 1024, (growth_kib, size)


def test_a_statement_past_the_size_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from clearing import bounds
    from reconciliation.camt import read_camt
    from reconciliation.errors import StatementFileError

    data = camt053(
        f"<Stmt><Id>S</Id><Acct><Id><Othr><Id>1</Id></Othr></Id><Ccy>CNY</Ccy></Acct>{'<AddtlStmtInf>x</AddtlStmtInf>' * 5000}</Stmt>"
    ).encode()
    monkeypatch.setattr(bounds, "MAX_STATEMENT_BYTES", 20_000)
    with pytest.raises(StatementFileError, match="larger than the limit"):
        read_camt(io.BytesIO(data), size=len(data))
    # a stream whose size is not known up front is stopped while it is read
    with pytest.raises(StatementFileError, match="larger than the limit"):
        read_camt(io.BytesIO(data))


def test_a_doctype_far_into_the_file_is_refused_with_its_line() -> None:
    from reconciliation.camt import read_camt
    from reconciliation.errors import StatementFileError

    padding = "<!-- padding -->\r\n" * 20_000  # well past the first read
    data = ('<?xml version="1.0"?>\r\n' + padding + "<!DOCTYPE d>\r\n<Document/>").encode()
    with pytest.raises(StatementFileError, match="DOCTYPE") as info:
        read_camt(io.BytesIO(data))
    assert info.value.line == 20_002
