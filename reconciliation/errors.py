"""Errors of the reconciliation package.

One root, one level below it::

    ReconciliationError
    └── StatementFileError   a bank statement file we cannot read safely: ``line`` and ``reason``

Expected mismatches (a statement that does not balance, an element the schema requires but the
bank left out) are data, not exceptions: they are listed as violations on the parsed statement.
"""

from __future__ import annotations


class ReconciliationError(Exception):
    """Root of every error the reconciliation package raises."""


class StatementFileError(ReconciliationError):
    """A statement file that cannot be read safely: not XML, truncated, not a camt message,
    a DOCTYPE, or an amount that is not a number. Nothing from the file should be used."""

    def __init__(self, *, line: int, reason: str) -> None:
        self.line = line
        self.reason = reason
        super().__init__(f"line {line}: {reason}")
