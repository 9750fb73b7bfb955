"""``tongjiao statements check FILE…``: read bank statements (camt.052/053/054) and say, per
statement, what they hold and what is wrong with them — without importing anything.

One JSON object per line for every ``Stmt``, ``Rpt`` or ``Ntfctn``, in document order, amounts as
integers in minor units. A statement that does not balance or breaks its schema is still
printed (exit 0) with its ``violations``; a file that cannot be read safely is named on stderr
with the line and the reason, the other files are still checked, and the exit status is 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from reconciliation.camt import Statement, read_camt_file
from reconciliation.errors import StatementFileError

UNREADABLE = 2


def summary(statement: Statement) -> dict[str, Any]:
    """The line ``statements check`` prints for one statement."""
    opening, closing = statement.opening_booked, statement.closing_booked
    # every entry directly under the statement counts on its own side, whatever its status;
    # an entry without a valid CdtDbtInd counts on neither (its violation says so)
    totals = statement.totals
    return {
        "account": statement.account,
        "currency": statement.currency,
        "opening_booked": opening.amount if opening else None,
        "closing_booked": closing.amount if closing else None,
        "credit_count": totals.credit_count,
        "credit_sum": totals.credit_sum,
        "debit_count": totals.debit_count,
        "debit_sum": totals.debit_sum,
        "violations": statement.violations,
    }


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tongjiao statements check",
        description="Check ISO 20022 bank statements (camt.052, camt.053, camt.054, versions"
        " .02 to .13): one JSON line per statement with account, currency, booked opening and"
        " closing balances, credit and debit counts and sums in minor units, and the schema and"
        " arithmetic violations found. Nothing is imported.",
        epilog="Exit status: 0 when every file could be read (even with violations), 2 when a"
        " file could not be read (named on stderr with line and reason).",
    )
    p.add_argument("files", nargs="+", metavar="FILE", type=Path, help="a camt XML file")
    return p


def main(argv: list[str]) -> int:
    """Run ``statements check`` on the arguments after ``check``; returns the exit status."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as e:  # --help and usage errors: argparse has already printed
        return e.code if isinstance(e.code, int) else UNREADABLE
    status = 0
    for path in args.files:
        try:
            camt = read_camt_file(path, keep_entries=False)
        except OSError as e:
            print(f"{path}: cannot read: {e.strerror or e}", file=sys.stderr)
            status = UNREADABLE
            continue
        except StatementFileError as e:
            print(f"{path}: line {e.line}: {e.reason}", file=sys.stderr)
            status = UNREADABLE
            continue
        if not camt.statements:
            # readable but nothing to print a line for; say so rather than stay silent
            print(f"{path}: {'; '.join(camt.violations)}", file=sys.stderr)
        for statement in camt.statements:
            print(json.dumps(summary(statement), ensure_ascii=False))
    return status
