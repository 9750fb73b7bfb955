"""Stage outside records of a business day with COPY: a channel's bill, an authority's list.

Staging one source for one day replaces what was staged before for it, in one transaction, so a
re-fetched bill never counts twice and a failed fetch leaves the previous copy in place.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from clearing.db import Conn
from clearing.ports import BillRecord, LegConfirmation

BILL_COLUMNS = (
    "business_date",
    "provider",
    "kind",
    "occurred_at",
    "out_trade_no",
    "provider_txn_id",
    "out_refund_no",
    "provider_refund_id",
    "amount_fen",
    "fee_millifen",
)
CONFIRMATION_COLUMNS = (
    "business_date",
    "authority",
    "reference",
    "proof_no",
    "amount_fen",
    "confirmed_at",
)


def _digest(rows: Sequence[tuple[Any, ...]]) -> str:
    h = hashlib.sha256()
    for row in rows:
        h.update(repr(row).encode())
    return h.hexdigest()


async def bill_partition(conn: Conn, day: date) -> None:
    """The partition of ``recon_bill_lines`` for ``day`` (made when first needed)."""
    # the name and the bound come from a date object, never from outside text
    await conn.execute(
        f"CREATE TABLE IF NOT EXISTS recon_bill_lines_{day:%Y%m%d} PARTITION OF recon_bill_lines"
        f" FOR VALUES IN ('{day.isoformat()}')"
    )


async def _replace(
    conn: Conn,
    *,
    table: str,
    key_column: str,
    columns: tuple[str, ...],
    day: date,
    source: str,
    rows: list[tuple[Any, ...]],
) -> int:
    async with conn.transaction():
        if table == "recon_bill_lines":
            await bill_partition(conn, day)
        await conn.execute(
            f"DELETE FROM {table} WHERE business_date = $1 AND {key_column} = $2",  # noqa: S608 - our own names
            day,
            source,
        )
        if rows:
            await conn.copy_records_to_table(table, records=rows, columns=list(columns))
        await conn.execute(
            "INSERT INTO recon_sources (business_date, source, records, sha256)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (business_date, source) DO UPDATE"
            " SET records = EXCLUDED.records, sha256 = EXCLUDED.sha256, fetched_at = now()",
            day,
            f"{table.removeprefix('recon_').removesuffix('_lines')}:{source}",
            len(rows),
            _digest(rows),
        )
    return len(rows)


async def stage_bill(conn: Conn, day: date, provider: str, records: Iterable[BillRecord]) -> int:
    """Replace the staged bill of ``provider`` for ``day``; how many lines it holds."""
    rows = [
        (
            day,
            provider,
            r.kind,
            r.occurred_at,
            r.out_trade_no,
            r.provider_txn_id,
            r.out_refund_no,
            r.provider_refund_id,
            abs(r.amount_fen),
            r.fee_millifen,
        )
        for r in records
    ]
    return await _replace(
        conn,
        table="recon_bill_lines",
        key_column="provider",
        columns=BILL_COLUMNS,
        day=day,
        source=provider,
        rows=rows,
    )


async def stage_bill_file(conn: Conn, day: date, provider: str, path: Path) -> int:
    """Replace the staged bill of ``provider`` for ``day`` from a file in COPY text format (the
    ``BILL_COLUMNS``, tab-separated): how a million-line bill goes in without passing through
    Python objects. Every line must be of that day and provider, or nothing is staged."""
    async with conn.transaction():
        await bill_partition(conn, day)
        await conn.execute(
            "DELETE FROM recon_bill_lines WHERE business_date = $1 AND provider = $2", day, provider
        )
        status = await conn.copy_to_table(
            "recon_bill_lines", source=path, columns=list(BILL_COLUMNS), format="text"
        )
        copied = int(status.split()[-1])
        n: int = await conn.fetchval(
            "SELECT count(*) FROM recon_bill_lines WHERE business_date = $1 AND provider = $2",
            day,
            provider,
        )
        if n != copied:
            raise ValueError(f"{path}: {copied - n} lines are not of {provider} on {day}")
        await conn.execute(
            "INSERT INTO recon_sources (business_date, source, records, sha256)"
            " VALUES ($1, $2, $3, NULL) ON CONFLICT (business_date, source) DO UPDATE"
            " SET records = EXCLUDED.records, sha256 = NULL, fetched_at = now()",
            day,
            f"bill:{provider}",
            n,
        )
    return int(n)


async def stage_confirmations(
    conn: Conn, day: date, authority: str, found: Iterable[LegConfirmation]
) -> int:
    """Replace the staged confirmation list of ``authority`` for ``day``."""
    rows = [(day, authority, c.reference, c.proof_no, c.amount_fen, c.confirmed_at) for c in found]
    return await _replace(
        conn,
        table="recon_confirmation_lines",
        key_column="authority",
        columns=CONFIRMATION_COLUMNS,
        day=day,
        source=authority,
        rows=rows,
    )
