"""Settlement for finance staff: batches, their files, and beneficiary account corrections."""

from __future__ import annotations

from aiohttp import web

routes = web.RouteTableDef()
