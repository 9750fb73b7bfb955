"""Repeatable SQL: every function and view of the database, with its triggers, in one file each.

A numbered migration runs once and may never change, so a function that changes must otherwise be
written out whole again in a new migration (tj_capture stood in full in 0004, 0007 and 0008). The
files in ``clearing/db/sql`` instead hold each function or view as it is now, written so that it
can be applied again at any time (``CREATE OR REPLACE``; a constraint trigger dropped and made
again; signatures it no longer has dropped ``IF EXISTS``). ``migrate`` applies them after the
numbered migrations, each file whose SHA-256 differs from the one recorded in
``schema_repeatables``, each in its own transaction together with its new checksum.

Order: by name, except that a file may name what must exist before it on a header line
``-- after: other_name, ...`` (a view over a function, an SQL function calling another SQL
function; PL/pgSQL bodies are resolved when called, so they need none).
(docs/decisions, repeatable SQL.)
"""

from __future__ import annotations

import hashlib
import heapq
import re
from dataclasses import dataclass, field
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from clearing.db import Conn

_FILE = re.compile(r"^([a-z][a-z0-9_]*)\.sql$")
_DEFINES = re.compile(r"^CREATE OR REPLACE (FUNCTION|VIEW) ([a-z][a-z0-9_]*)\b", re.MULTILINE)
_AFTER = re.compile(r"^-- after: (.+)$", re.MULTILINE)

TABLE = """
CREATE TABLE IF NOT EXISTS schema_repeatables (
    name        text PRIMARY KEY,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


class RepeatableError(RuntimeError):
    """The files in clearing/db/sql do not describe one object each in an order that exists."""


@dataclass(frozen=True)
class Repeatable:
    name: str
    kind: str  # "function" or "view"
    sql: str = field(repr=False)
    after: tuple[str, ...] = ()

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"


def parse(filename: str, sql: str) -> Repeatable:
    m = _FILE.match(filename)
    if not m:
        raise RepeatableError(f"{filename}: a repeatable file is named <object>.sql in lower case")
    name = m.group(1)
    kinds = {kind.lower() for kind, defined in _DEFINES.findall(sql) if defined == name}
    if len(kinds) != 1:
        raise RepeatableError(
            f"{filename}: must define exactly one function or view named {name}"
            " with CREATE OR REPLACE"
        )
    after: list[str] = []
    for line in _AFTER.findall(sql):
        after += [n.strip() for n in line.split(",") if n.strip()]
    return Repeatable(name, kinds.pop(), sql, tuple(after))


def ordered(files: list[Repeatable]) -> list[Repeatable]:
    """Name order, each file after the ones its ``-- after:`` line names (Kahn's algorithm with
    the smallest name first among those ready, so that the order never depends on the disk)."""
    by_name = {r.name: r for r in files}
    waiting: dict[str, set[str]] = {}
    for r in files:
        unknown = [n for n in r.after if n not in by_name]
        if unknown:
            raise RepeatableError(f"{r.name}.sql comes after {', '.join(unknown)}: no such file")
        waiting[r.name] = set(r.after)
    ready = [n for n, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    out: list[Repeatable] = []
    while ready:
        name = heapq.heappop(ready)
        out.append(by_name[name])
        for other, deps in waiting.items():
            if name in deps:
                deps.discard(name)
                if not deps:
                    heapq.heappush(ready, other)
    if len(out) != len(files):
        stuck = sorted(n for n, deps in waiting.items() if deps)
        raise RepeatableError(f"repeatable files wait for each other in a circle: {stuck}")
    return out


def load(folder: Traversable | Path) -> list[Repeatable]:
    found = [
        parse(entry.name, entry.read_text("utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    ]
    return ordered(found)


def available() -> list[Repeatable]:
    return load(resources.files("clearing.db") / "sql")


async def recorded(conn: Conn) -> dict[str, str]:
    exists = await conn.fetchval("SELECT to_regclass('schema_repeatables') IS NOT NULL")
    if not exists:
        return {}
    rows = await conn.fetch("SELECT name, checksum FROM schema_repeatables")
    return {r["name"]: r["checksum"] for r in rows}


async def stale(conn: Conn, files: list[Repeatable] | None = None) -> list[Repeatable]:
    """The files whose text the database has not applied yet, in the order they would be."""
    done = await recorded(conn)
    return [r for r in (available() if files is None else files) if done.get(r.name) != r.checksum]


@dataclass(frozen=True)
class Applied:
    repeatable: Repeatable
    first: bool  # nothing was recorded for it before (a new file, or a database from before)

    def line(self) -> str:
        r = self.repeatable
        if self.first:
            return f"applied {r.label} (new)"
        return f"re-applied {r.label} (checksum changed)"


async def apply_stale(conn: Conn, files: list[Repeatable]) -> list[Applied]:
    """Apply every stale file, each in a transaction with its checksum. The caller holds the
    migration lock, so nobody applies the same file meanwhile."""
    done = await recorded(conn)
    out: list[Applied] = []
    for r in files:
        before = done.get(r.name)
        if before == r.checksum:
            continue
        async with conn.transaction():
            await conn.execute(r.sql)
            await conn.execute(
                "INSERT INTO schema_repeatables (name, checksum) VALUES ($1, $2)"
                " ON CONFLICT (name) DO UPDATE"
                " SET checksum = EXCLUDED.checksum, applied_at = now()",
                r.name,
                r.checksum,
            )
        out.append(Applied(r, first=before is None))
    return out
