"""The bank's file exchange, served over mutual TLS only (PROTOCOL.md).

    PUT /inbox/{name}       a file, its .sha256 or its .sig; processed once file and .sig are in
    GET /outbox/?after=N    JSON list of the names published after N (all without it), in order
    GET /outbox/{name}      one published file's bytes

Every request must come over the TLS listener with a client certificate issued by the trusted CA
whose CN is the one the bank expects (``tongjiao``); the ``/sim/`` desk is served on the plain
listener only.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from adapters.bank.pki import peer_common_name
from adapters.bank.sim_intake import BadName, deliver_part
from adapters.bank.sim_signature import sha256_hex
from adapters.bank.sim_state import STATE

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_FILE_BYTES = 20 * 1024 * 1024
_EXCHANGE = ("/inbox/", "/outbox/")


def _problem(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status)


def on_tls(request: web.Request) -> bool:
    transport = request.transport
    return transport is not None and transport.get_extra_info("sslcontext") is not None


@web.middleware
async def bank_edge(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Who may call what, and the exchange's faults (delay, 503)."""
    if request.path.startswith("/sim/"):
        if on_tls(request):
            raise web.HTTPNotFound()
        return await handler(request)
    if not request.path.startswith(_EXCHANGE):
        return await handler(request)
    state = request.app[STATE]
    common_name = peer_common_name(request) if on_tls(request) else None
    if common_name is None:
        return _problem(
            403, "CLIENT_CERTIFICATE_REQUIRED", "use the TLS port with your certificate"
        )
    if common_name != state.client_cn:
        log.warning("sim bank refused client cn=%s path=%s", common_name, request.path)
        return _problem(403, "CLIENT_NOT_ALLOWED", "this certificate may not use the exchange")
    await state.pause(state.faults.delay_s)
    counter = "inbox_5xx" if request.path.startswith("/inbox/") else "outbox_5xx"
    if state.faults.take(counter):
        return web.Response(status=503, text="Service Unavailable", headers={"Retry-After": "5"})
    return await handler(request)


async def put_inbox(request: web.Request) -> web.Response:
    state = request.app[STATE]
    name = request.match_info["name"]
    body = await request.read()
    try:
        received = deliver_part(state, name, body, "push")
    except BadName as exc:
        return _problem(400, "BAD_NAME", str(exc))
    answer = {"name": name, "sha256": sha256_hex(body), "size": len(body)}
    return web.json_response({**answer, "complete": received is not None}, status=201)


async def list_outbox(request: web.Request) -> web.Response:
    state = request.app[STATE]
    names = state.outbox_after(request.query.get("after") or None)
    if names is None:
        return _problem(404, "UNKNOWN_NAME", "after names no published file")
    return web.json_response(names)


async def get_outbox(request: web.Request) -> web.Response:
    data = request.app[STATE].outbox.get(request.match_info["name"])
    if data is None:
        return _problem(404, "NOT_FOUND", "no such file")
    return web.Response(body=data, content_type="application/xml", charset="utf-8")


def add_api_routes(app: web.Application) -> None:
    app.router.add_put("/inbox/{name}", put_inbox)
    app.router.add_get("/outbox/", list_outbox)
    app.router.add_get("/outbox/{name}", get_outbox)
