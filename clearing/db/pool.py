"""Where the database is and how we connect to it."""

from __future__ import annotations

import json
import logging
from typing import Any

import asyncpg
import orjson

from clearing.config import Settings
from clearing.db.embedded import EmbeddedPostgres

log = logging.getLogger(__name__)

DEFAULT_DATABASE = "tongjiao"


def embedded_for(settings: Settings) -> EmbeddedPostgres:
    return EmbeddedPostgres(settings.var_dir / "pgdata")


async def ensure_database(admin_dsn: str, name: str, template: str | None = None) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            # identifiers cannot be parameters; the names are ours, checked here
            for ident in (name, template or "x"):
                if not ident.replace("_", "").isalnum():
                    raise ValueError(f"bad database name {ident!r}")
            tmpl = f" TEMPLATE {template}" if template else ""
            await conn.execute(f"CREATE DATABASE {name}{tmpl}")
    finally:
        await conn.close()


async def resolve_dsn(settings: Settings) -> str:
    """The external server when configured, else the embedded cluster (started if needed)."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    pg = embedded_for(settings)
    pg.start()
    await ensure_database(pg.dsn("postgres"), DEFAULT_DATABASE)
    return pg.dsn(DEFAULT_DATABASE)


def _json_dumps(value: Any) -> str:
    # orjson: compact UTF-8 like json.dumps(ensure_ascii=False) below, several times faster (every
    # capture encodes its details); what orjson refuses (an integer past 64 bits) goes the old way
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


async def init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=_json_dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=_json_dumps, decoder=json.loads, schema="pg_catalog")


async def _no_reset(_conn: asyncpg.Connection) -> None:
    """Our code keeps no session state on pooled connections (advisory locks are
    transaction-scoped, LISTEN has its own connection, no cursors outlive a transaction), so
    asyncpg's reset round trip on every release is pure cost."""


async def create_pool(
    dsn: str, *, min_size: int = 2, max_size: int = 10, statement_cache_size: int = 100
) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        statement_cache_size=statement_cache_size,
        init=init_connection,
        reset=_no_reset,
        command_timeout=30,
        # connections are replaced now and then, so that statement plans cached while a table was
        # small do not outlive its growth
        max_queries=20_000,
    )
    assert pool is not None
    return pool
