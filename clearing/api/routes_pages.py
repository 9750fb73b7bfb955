"""Pages for people: the window screen and the sign-in page."""

from __future__ import annotations

from aiohttp import web

routes = web.RouteTableDef()


@routes.get("/")
async def index(_request: web.Request) -> web.Response:
    raise web.HTTPFound("/window")
