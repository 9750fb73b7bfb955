"""The migration files as main had them before functions and views moved to clearing/db/sql.

The upgrade tests run that real old text (not a rewrite of it): the 14 files that changed are
kept, with the checksums of all 28 files of that release (SHA256SUMS), in one frozen archive,
``tests/fixtures/migrations_before_sql.tar.gz``. It is a record, never edited, so it is kept
as data rather than as a second copy of the SQL to maintain (decision on repeatable SQL).
"""

from __future__ import annotations

import functools
import tarfile
from collections.abc import Iterable
from pathlib import Path

import asyncpg

from clearing.db import migrate

ARCHIVE = Path(__file__).parent / "fixtures" / "migrations_before_sql.tar.gz"


@functools.cache
def files() -> dict[str, str]:
    """File name (``0004_capture.sql``, ``SHA256SUMS``) to its text."""
    out: dict[str, str] = {}
    with tarfile.open(ARCHIVE, "r:gz") as tar:
        for member in tar.getmembers():
            if member.isfile():
                handle = tar.extractfile(member)
                assert handle is not None
                out[Path(member.name).name] = handle.read().decode("utf-8")
    return out


async def applied_as_before(conn: asyncpg.Connection, done: Iterable[migrate.Migration]) -> None:
    """A database as an earlier release's migrator left it, having applied ``done``: each file
    in a transaction, recorded with its checksum (a file left with only its comment sends
    nothing, as ``migrate`` does)."""
    await conn.execute(migrate._HISTORY)
    for m in done:
        async with conn.transaction():
            if m.has_statements:
                await conn.execute(m.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                m.version,
                m.name,
                m.checksum,
            )


def checksums() -> dict[str, str]:
    """File name to the SHA-256 main recorded for it, for all 28 migrations of that release."""
    return dict(line.split()[::-1] for line in files()["SHA256SUMS"].splitlines())
