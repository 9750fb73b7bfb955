"""Forward-only numbered SQL migrations, then the repeatable functions and views, under a lock.

A migration file is ``NNNN_name.sql`` in ``clearing/db/migrations``: tables, indexes, constraints
and data changes. Its SHA-256 is recorded when applied; if an applied file later changes,
``migrate`` refuses to go on: a changed migration means the schema in production is not the schema
in the repository (the one exception: the earlier texts listed in ``superseded``). Functions,
views and their triggers live in ``clearing/db/sql``, one file each, applied after the numbered
migrations whenever their checksum changes (``repeatable``).

Everything runs under one session-level advisory lock, so that migrators started at once on
several nodes apply each migration and each changed file exactly once: the others wait, then find
nothing left to do.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from importlib import resources

from clearing.db import Conn, repeatable, superseded

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

    @property
    def has_statements(self) -> bool:
        """False for a migration left with only its comment, its definitions having moved to
        clearing/db/sql: it is recorded as applied, and there is nothing to send (asyncpg fails
        on a query that is empty but for comments)."""
        return any(
            line.strip() and not line.lstrip().startswith("--") for line in self.sql.splitlines()
        )


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
        if mig.checksum != checksum and not superseded.accepted(version, checksum):
            raise MigrationError(
                f"migration {version:04d}_{name} changed after it was applied "
                f"(database {checksum[:12]}, file {mig.checksum[:12]}); add a new migration instead"
            )
    return [m for m in files if m.version not in done]


async def pending(conn: Conn, files: list[Migration] | None = None) -> list[Migration]:
    return _check(await applied(conn), available() if files is None else files)


@dataclass(frozen=True)
class Report:
    """What one run did, for the operator: numbered migrations and repeatable files applied."""

    migrations: list[Migration]
    repeatables: list[repeatable.Applied]
    known_migrations: int
    known_repeatables: int

    def lines(self) -> list[str]:
        out = [f"applied {m.version:04d}_{m.name}" for m in self.migrations]
        out += [a.line() for a in self.repeatables]
        if not out:
            out.append(
                f"database is up to date: {self.known_migrations} migrations applied,"
                f" {self.known_repeatables} functions and views unchanged"
            )
        return out


async def upgrade(
    conn: Conn,
    *,
    files: list[Migration] | None = None,
    repeatables: list[repeatable.Repeatable] | None = None,
) -> Report:
    """Apply pending migrations, then every repeatable file whose checksum changed. Safe to run
    from several processes at once. ``files`` and ``repeatables`` default to this release's."""
    files = available() if files is None else files
    if repeatables is None:
        try:
            repeatables = repeatable.available()
        except repeatable.RepeatableError as exc:
            raise MigrationError(str(exc)) from exc
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(_HISTORY)
        await conn.execute(repeatable.TABLE)
        todo = _check(await applied(conn), files)
        for mig in todo:
            async with conn.transaction():
                if mig.has_statements:
                    await conn.execute(mig.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    mig.version,
                    mig.name,
                    mig.checksum,
                )
            log.info("applied migration %04d_%s", mig.version, mig.name)
        done = await repeatable.apply_stale(conn, repeatables)
        for a in done:
            log.info("%s", a.line())
        return Report(todo, done, len(files), len(repeatables))
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)


async def migrate(conn: Conn) -> list[Migration]:
    """Apply what is pending (numbered and repeatable); return the numbered migrations applied."""
    return (await upgrade(conn)).migrations
