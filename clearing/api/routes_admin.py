"""/api/v1 administration: the registration fee schedule, staff accounts, offices and their
windows, API clients; and the 系统管理 page. Admins only; the rules live in the services."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from clearing.api import models_admin as ma
from clearing.api.keys import POOL
from clearing.api.models import FeeScheduleIn, FeeScheduleList, FeeScheduleOut
from clearing.api.route_kinds import acted, read_signed_in
from clearing.api.routes_pages import staff_page
from clearing.api.web import authenticate, ok, read_model
from clearing.db import Conn
from clearing.domain.fees import FeeSchedule
from clearing.domain.times import business_day
from clearing.errors import InvalidRequest
from clearing.logs import request_id_var
from clearing.service import accounts_admin, fee_schedules, places
from clearing.service.principals import Principal

routes = web.RouteTableDef()


def _out(s: FeeSchedule, **extra: Any) -> FeeScheduleOut:
    # the answer holds the schedule's own fields, its exemptions as a sorted list
    return FeeScheduleOut(**{**asdict(s), "exemptions": sorted(s.exemptions), **extra})


@routes.get("/api/v1/fee-schedules")
async def list_schedules(request: web.Request) -> web.Response:
    versions = await read_signed_in(request, fee_schedules.all_versions)
    return ok(FeeScheduleList(schedules=[_out(s, **meta) for s, meta in versions]))


@routes.post("/api/v1/fee-schedules")
async def publish_schedule(request: web.Request) -> web.Response:
    who = await authenticate(request)
    body = await read_model(request, FeeScheduleIn)
    async with request.app[POOL].acquire() as conn:
        s = await fee_schedules.add_version(
            conn,
            who,
            **dict(body),  # the body's field names are the call's keywords
            today=business_day(datetime.now(UTC)),
            request_id=request_id_var.get(),
        )
    return ok(_out(s, basis=body.basis, created_by=who.username), 201)


@routes.get("/api/v1/admin/fee-schedules")
async def admin_list_schedules(request: web.Request) -> web.StreamResponse:
    await authenticate(request)
    return await list_schedules(request)


@routes.post("/api/v1/admin/fee-schedules")
async def admin_publish_schedule(request: web.Request) -> web.StreamResponse:
    return await publish_schedule(request)


# -- accounts, offices, windows, API clients ------------------------------------------------


def _user(a: accounts_admin.Account) -> ma.UserOut:
    return ma.UserOut(**asdict(a))


def _changes(body: BaseModel, nullable: tuple[str, ...]) -> dict[str, Any]:
    changes = {k: getattr(body, k) for k in body.model_fields_set}
    for k, v in changes.items():
        if v is None and k not in nullable:
            raise InvalidRequest("VALUE_REQUIRED", f"{k} cannot be null", "必填项不能为空", field=k)
    return changes


def _user_created(user: ma.UserOut, password: str) -> ma.UserCreated:
    return ma.UserCreated(user=user, temporary_password=password)


def _client_created(client: ma.UserOut, token: str) -> ma.ClientCreated:
    return ma.ClientCreated(client=client, token=token)


# a new secret for an account: (conn, admin, username, request id) -> the account and the secret
Renew = Callable[[Conn, Principal, str, str | None], Awaitable[tuple[accounts_admin.Account, str]]]


def _account_routes(
    kind: str,
    base: str,
    *,
    create: type[BaseModel],
    patch: type[BaseModel],
    nullable: tuple[str, ...],
    renew: tuple[str, Renew],
    shown: Callable[[ma.UserOut, str], BaseModel],
) -> None:
    """GET ``base`` lists the accounts of a kind (staff users, API clients); POST ``base``
    creates one from the fields of the body ``create``; PATCH
    ``base/{username}`` changes the fields the body names; POST ``base/{username}/{suffix}``
    gives the account a new secret (``renew``: the suffix, the service call). ``shown`` is the
    answer that shows a new secret once."""
    suffix, new_secret = renew

    async def listed(request: web.Request) -> web.Response:
        who = await authenticate(request)
        async with request.app[POOL].acquire() as conn:
            found = await accounts_admin.list_accounts(conn, who, kind)
        return ok(ma.UserList(users=[_user(a) for a in found]))

    async def created(request: web.Request) -> web.Response:
        who = await authenticate(request)
        body = await read_model(request, create)
        async with request.app[POOL].acquire() as conn:
            account, secret = await accounts_admin.create(conn, who, kind, **body.model_dump())
        return ok(shown(_user(account), secret), 201)

    async def updated(request: web.Request) -> web.Response:
        who = await authenticate(request)
        changes = _changes(await read_model(request, patch), nullable)
        async with request.app[POOL].acquire() as conn:
            account = await accounts_admin.update(
                conn,
                who,
                request.match_info["username"],
                kind=kind,
                changes=changes,
                request_id=request_id_var.get(),
            )
        return ok(_user(account))

    async def renewed(request: web.Request) -> web.Response:
        who = await authenticate(request)
        async with request.app[POOL].acquire() as conn:
            account, secret = await new_secret(
                conn, who, request.match_info["username"], request_id_var.get()
            )
        return ok(shown(_user(account), secret))

    routes.get(base)(listed)
    routes.post(base)(created)
    routes.patch(base + "/{username}")(updated)
    routes.post(base + "/{username}/" + suffix)(renewed)


_account_routes(
    "staff",
    "/api/v1/admin/users",
    create=ma.UserIn,
    patch=ma.UserPatch,
    nullable=("office", "window"),
    renew=("password-reset", accounts_admin.reset_password),
    shown=_user_created,
)
_account_routes(
    "client",
    "/api/v1/admin/clients",
    create=ma.ClientIn,
    patch=ma.ClientPatch,
    nullable=("office",),
    renew=("token", accounts_admin.rotate_token),
    shown=_client_created,
)


def _office(o: places.Office, windows: list[places.Window]) -> ma.OfficeOut:
    return ma.OfficeOut(
        **asdict(o),
        kind_zh=places.OFFICE_KINDS.get(o.kind, o.kind),
        windows=[ma.WindowOut(**asdict(w)) for w in windows if w.office == o.code],
    )


@routes.get("/api/v1/admin/offices")
async def list_offices(request: web.Request) -> web.Response:
    who = await authenticate(request)
    async with request.app[POOL].acquire() as conn:
        offices = await places.offices(conn, who)
        windows = await places.windows(conn, who)
    return ok(ma.OfficeList(offices=[_office(o, windows) for o in offices]))


@routes.post("/api/v1/admin/offices")
async def create_office(request: web.Request) -> web.Response:
    office = await acted(request, places.create_office, reads=ma.OfficeIn)
    return ok(_office(office, []), 201)


@routes.patch("/api/v1/admin/offices/{office}")
async def update_office(request: web.Request) -> web.Response:
    who = await authenticate(request)
    body = await read_model(request, ma.OfficePatch)
    changes = _changes(body, ("partner_bank", "branch_name"))
    code = request.match_info["office"]
    async with request.app[POOL].acquire() as conn:
        office = await places.update_office(conn, who, code, changes, request_id_var.get())
        windows = await places.windows(conn, who, code)
    return ok(_office(office, windows))


@routes.post("/api/v1/admin/offices/{office}/windows")
async def create_window(request: web.Request) -> web.Response:
    office = request.match_info["office"]
    window = await acted(request, places.create_window, reads=ma.WindowIn, office=office)
    return ok(ma.WindowOut(**asdict(window)), 201)


@routes.patch("/api/v1/admin/offices/{office}/windows/{window}")
async def update_window(request: web.Request) -> web.Response:
    who = await authenticate(request)
    body = await read_model(request, ma.WindowPatch)
    changes = _changes(body, ("terminal_id",))
    async with request.app[POOL].acquire() as conn:
        window = await places.update_window(
            conn,
            who,
            request.match_info["office"],
            request.match_info["window"],
            changes=changes,
            request_id=request_id_var.get(),
        )
    return ok(ma.WindowOut(**asdict(window)))


@routes.get("/api/v1/windows")
async def office_windows(request: web.Request) -> web.Response:
    """The windows a supervisor may take orders at: those of their office, in service."""
    who = await authenticate(request)
    office = request.query.get("office") or who.office
    async with request.app[POOL].acquire() as conn:
        found = await places.windows(conn, who, office) if office else []
    return ok(ma.WindowList(windows=[ma.WindowOut(**asdict(w)) for w in found if w.active]))


@routes.get("/admin")
async def admin_page(request: web.Request) -> web.StreamResponse:
    """系统管理: accounts, offices and windows, API clients, the fee schedule; admins only."""
    text = "系统管理页面（用户、大厅与窗口、接口客户端、收费标准）仅供系统管理员使用。"
    return await staff_page(
        request, "admin.html", {"admin"}, ("无权访问系统管理", text), login="/login?next=/admin"
    )
