"""Forward-only numbered SQL migrations, applied exactly once under an advisory lock.

A migration file is ``NNNN_name.sql`` in ``clearing/db/migrations``. Its SHA-256 is recorded when
applied; if an applied file later changes, ``migrate`` refuses to go on: a changed migration means
the schema in production is not the schema in the repository.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from importlib import resources

from clearing.db import Conn

log = logging.getLogger(__name__)

_LOCK_KEY = 0x746F6E676A69  # "tongji"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    """The database's migration history does not fit the files in this release."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str = field(repr=False)

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available() -> list[Migration]:
    found: list[Migration] = []
    folder = resources.files("clearing.db") / "migrations"
    for entry in folder.iterdir():
        m = _NAME.match(entry.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), entry.read_text("utf-8")))
    found.sort(key=lambda mig: mig.version)
    versions = [mig.version for mig in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"migration numbers must run 1..n without gaps, found {versions}")
    return found


_HISTORY = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     int PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


async def applied(conn: Conn) -> dict[int, tuple[str, str]]:
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return {}
    rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
    return {r["version"]: (r["name"], r["checksum"]) for r in rows}


def _check(done: dict[int, tuple[str, str]], files: list[Migration]) -> list[Migration]:
    by_version = {m.version: m for m in files}
    for version, (name, checksum) in sorted(done.items()):
        mig = by_version.get(version)
        if mig is None:
            raise MigrationError(
                f"database has migration {version:04d}_{name} that this release does not know"
            )
        if mig.checksum != checksum:
            raise MigrationError(
                f"migration {version:04d}_{name} changed after it was applied "
                f"(database {checksum[:12]}, file {mig.checksum[:12]}); add a new migration instead"
            )
    return [m for m in files if m.version not in done]


async def pending(conn: Conn) -> list[Migration]:
    return _check(await applied(conn), available())


async def migrate(conn: Conn) -> list[Migration]:
    """Apply what is pending; return what was applied. Safe to run from several processes."""
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(_HISTORY)
        todo = await pending(conn)
        for mig in todo:
            async with conn.transaction():
                await conn.execute(mig.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    mig.version,
                    mig.name,
                    mig.checksum,
                )
            log.info("applied migration %04d_%s", mig.version, mig.name)
        return todo
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
