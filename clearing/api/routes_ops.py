"""What an operator and a load balancer look at: health, readiness, metrics, the API document.

``routes`` go on the public listener (health for load balancers, the API document); ``ops_routes``
on the operators' listener only (``TONGJIAO_OPS_PORT``): metrics carry amounts per channel and
are nobody else's business.
"""

from __future__ import annotations

import asyncio
import functools
import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from clearing import keywatch
from clearing.api import openapi
from clearing.api.keys import METRICS, POOL, SETTINGS
from clearing.db import migrate, repeatable
from clearing.workers.runner import refresh_gauges

routes = web.RouteTableDef()
ops_routes = web.RouteTableDef()
log = logging.getLogger(__name__)


@routes.get("/healthz")
async def healthz(_request: web.Request) -> web.Response:
    """The process is up and serving (says nothing about its dependencies)."""
    return web.json_response({"status": "ok"})


@functools.cache
def _shipped() -> tuple[list[migrate.Migration], list[repeatable.Repeatable]]:
    """The migrations and function files this process was installed with: read once, not at
    every probe (a deployment that changes them starts a new process)."""
    return migrate.available(), repeatable.available()


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """Ready for traffic: the database answers, takes writes (a primary, not read-only), and
    every migration of this release is applied."""
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(2):
            async with request.app[POOL].acquire() as conn:
                # after a failover a connection may still reach the old primary, now a standby,
                # or a server that refuses writes: that is no place to send payments
                row = await conn.fetchrow(
                    "SELECT pg_is_in_recovery() AS standby,"
                    " current_setting('transaction_read_only') = 'on' AS read_only"
                )
                assert row is not None
                standby, read_only = row["standby"], row["read_only"]
                checks["database"] = (
                    "read-only: standby"
                    if standby
                    else "read-only: transaction_read_only"
                    if read_only
                    else "ok"
                )
                # a node whose numbered migrations or function files the database lacks would
                # write with the old definitions: not ready until `tongjiao migrate` has run
                numbered, functions = _shipped()
                todo = [f"{x.version:04d}_{x.name}" for x in await migrate.pending(conn, numbered)]
                todo += [r.label for r in await repeatable.stale(conn, functions)]
                checks["migrations"] = (
                    "ok" if not todo else f"{len(todo)} pending: " + ", ".join(todo)
                )
    except (TimeoutError, OSError, migrate.MigrationError, Exception) as exc:
        checks.setdefault("database", f"unavailable: {type(exc).__name__}")
        if "migrations" not in checks and isinstance(exc, migrate.MigrationError):
            checks["migrations"] = str(exc)
    ready = all(v == "ok" for v in checks.values()) and len(checks) == 2
    return web.json_response(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status=200 if ready else 503,
    )


@ops_routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    m = request.app[METRICS]
    try:
        async with asyncio.timeout(2):
            async with request.app[POOL].acquire() as conn:
                await refresh_gauges(conn, m)
    except Exception as exc:
        # stale gauges beat a failed scrape, but the operator must hear of it; and a database
        # that does not answer is, for this node, no writable primary
        m.db_writable.set(0)
        log.warning("metrics gauges not refreshed: %r", exc)
    settings = request.app.get(SETTINGS)
    if settings is not None:
        try:
            await asyncio.to_thread(keywatch.refresh, settings, m)
        except OSError as exc:
            log.warning("certificate and key gauges not refreshed: %r", exc)
    resp = web.Response(body=generate_latest(m.registry))
    resp.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    resp.charset = "utf-8"
    return resp


@routes.get("/api/v1/openapi.json")
async def openapi_json(_request: web.Request) -> web.Response:
    return web.json_response(openapi.document())


ops_routes.get("/healthz")(healthz)
ops_routes.get("/readyz")(readyz)
