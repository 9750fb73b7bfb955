"""Where banks fetch their settlement files: HTTPS with a client certificate (mutual TLS).

A separate listener (``TONGJIAO_BANKFILES_PORT``) with its own TLS context that refuses, during
the handshake, any client without a certificate from the CA in ``TONGJIAO_BANK_TLS_DIR``. The
certificate's CN names the bank (``bank:SFBK``); a bank only ever sees the files of its own
batches, and every download is audited. Names come from ``settlement_files``, never from a path
in the request.

    GET /bankfiles/          {"files": [{"name", "sha256", "size"}, …]}
    GET /bankfiles/{name}    the bytes
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
from aiohttp import web

from adapters.bank.pki import peer_common_name
from clearing.api.inputs import check_request
from clearing.errors import MalformedRequest
from clearing.service import audit
from clearing.service.settlement import file_path

log = logging.getLogger(__name__)

POOL = web.AppKey("bankfiles_pool", asyncpg.Pool)
ROOT = web.AppKey("bankfiles_root", Path)
routes = web.RouteTableDef()

_LIST_SQL = """
SELECT f.name, f.sha256, f.size
  FROM settlement_files f JOIN settlement_batches b ON b.id = f.batch_id
 WHERE b.bank = $1 AND b.state <> 'CREATED'
 ORDER BY f.id
"""
_ONE_SQL = """
SELECT f.name, f.kind, b.id AS batch_id, b.bank, b.business_date, b.msg_id
  FROM settlement_files f JOIN settlement_batches b ON b.id = f.batch_id
 WHERE f.name = $1 AND b.bank = $2 AND b.state <> 'CREATED'
"""


def _refuse(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status)


def _bank(request: web.Request) -> str | None:
    cn = peer_common_name(request)
    return cn.removeprefix("bank:") if cn and cn.startswith("bank:") else None


@web.middleware
async def checked_input(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """The service's own check (clearing.api.inputs), answered in this endpoint's format: a
    name the database cannot hold never reaches it."""
    try:
        check_request(request.match_info, request.query, request.headers)
    except MalformedRequest as exc:
        return _refuse(exc.status, exc.code, exc.message)
    return await handler(request)


@routes.get("/bankfiles/")
async def listing(request: web.Request) -> web.Response:
    bank = _bank(request)
    if bank is None:
        return _refuse(403, "CLIENT_NOT_ALLOWED", "a bank's client certificate is required")
    async with request.app[POOL].acquire() as conn:
        rows = await conn.fetch(_LIST_SQL, bank)
    return web.json_response({"files": [dict(r) for r in rows]})


@routes.get("/bankfiles/{name}")
async def download(request: web.Request) -> web.Response:
    bank = _bank(request)
    if bank is None:
        return _refuse(403, "CLIENT_NOT_ALLOWED", "a bank's client certificate is required")
    name = request.match_info["name"]
    async with request.app[POOL].acquire() as conn:
        row = await conn.fetchrow(_ONE_SQL, name, bank)
        if row is None:
            # another bank's file is as absent as a file that does not exist
            return _refuse(404, "NOT_FOUND", "no such file")
        path = file_path(request.app[ROOT], row["bank"], row["business_date"], row["name"])
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            log.error("recorded settlement file missing on disk", extra={"file": name})
            return _refuse(503, "FILE_NOT_READY", "the file is being written; try again")
        async with conn.transaction():
            await audit.record(
                conn,
                actor=f"bank:{bank}",
                action="settlement.file_fetched",
                object_type="settlement_file",
                object_id=name,
                detail={"msg_id": row["msg_id"], "size": len(data)},
            )
            if row["kind"] == "pain001":
                await conn.execute(
                    "UPDATE settlement_batches SET state = 'DELIVERED', delivered_at = now()"
                    " WHERE id = $1 AND state = 'FILES_WRITTEN'",
                    row["batch_id"],
                )
    return web.Response(body=data, content_type="application/octet-stream")


def create_bankfiles_app(pool: asyncpg.Pool, root: Path) -> web.Application:
    app = web.Application(middlewares=[checked_input])
    app[POOL] = pool
    app[ROOT] = root
    app.add_routes(routes)
    return app
