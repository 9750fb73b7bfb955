"""/api/v1 administration: the registration fee schedule."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from clearing.api.keys import POOL
from clearing.api.models import FeeScheduleIn, FeeScheduleList, FeeScheduleOut
from clearing.api.web import authenticate, ok, read_model
from clearing.domain.fees import FeeSchedule
from clearing.domain.times import business_day
from clearing.logs import request_id_var
from clearing.service import fee_schedules

routes = web.RouteTableDef()


def _out(s: FeeSchedule, **extra: Any) -> FeeScheduleOut:
    return FeeScheduleOut(
        version=s.version,
        effective_from=s.effective_from,
        residential_fen=s.residential_fen,
        non_residential_fen=s.non_residential_fen,
        extra_certificate_fen=s.extra_certificate_fen,
        exemptions=sorted(s.exemptions),
        **extra,
    )


@routes.get("/api/v1/fee-schedules")
async def list_schedules(request: web.Request) -> web.Response:
    await authenticate(request)
    async with request.app[POOL].acquire() as conn:
        versions = await fee_schedules.all_versions(conn)
    return ok(FeeScheduleList(schedules=[_out(s, **meta) for s, meta in versions]))


@routes.post("/api/v1/fee-schedules")
async def publish_schedule(request: web.Request) -> web.Response:
    who = await authenticate(request, "admin")
    body = await read_model(request, FeeScheduleIn)
    async with request.app[POOL].acquire() as conn:
        s = await fee_schedules.add_version(
            conn,
            who,
            effective_from=body.effective_from,
            residential_fen=body.residential_fen,
            non_residential_fen=body.non_residential_fen,
            extra_certificate_fen=body.extra_certificate_fen,
            exemptions=body.exemptions,
            basis=body.basis,
            today=business_day(datetime.now(UTC)),
            request_id=request_id_var.get(),
        )
    return ok(_out(s, basis=body.basis, created_by=who.username), 201)
