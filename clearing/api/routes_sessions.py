"""Signing in and out, one's own details and password, an administrator's unlock, and the page
where a user with a temporary password chooses their own."""

from __future__ import annotations

from dataclasses import replace

from aiohttp import web

from clearing.api.homes import home_page
from clearing.api.keys import HASHER, POOL, SETTINGS
from clearing.api.models import LoginIn, LoginOut, Me, PasswordChangeIn, UnlockOut
from clearing.api.routes_pages import _html_file
from clearing.api.web import authenticate, bearer, client_address, copied, is_secure, ok, read_model
from clearing.db import Conn
from clearing.logs import request_id_var
from clearing.service import login as login_service
from clearing.service import places, principals
from clearing.service.principals import SESSION_TTL

routes = web.RouteTableDef()
COOKIE = "tj_session"


async def _me(conn: Conn, p: principals.Principal) -> Me:
    return copied(Me, p, home=home_page(p.role), **await places.describe(conn, p))


@routes.post("/api/v1/sessions")
async def login(request: web.Request) -> web.Response:
    body = await read_model(request, LoginIn)
    who, token = await login_service.sign_in(
        request.app[POOL],
        request.app[HASHER],
        login_service.LoginPolicy.of(request.app[SETTINGS]),
        username=body.username,
        password=body.password,
        address=client_address(request),
    )
    async with request.app[POOL].acquire() as conn:
        user = await _me(conn, who)
    resp = ok(LoginOut(token=token, user=user), 201)
    # HttpOnly: no script reads it; Strict: no other site's page sends it; Secure behind TLS
    resp.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        secure=is_secure(request),
        max_age=int(SESSION_TTL.total_seconds()),
        path="/",
    )
    return resp


@routes.delete("/api/v1/sessions")
async def logout(request: web.Request) -> web.Response:
    token = bearer(request)
    if token:
        async with request.app[POOL].acquire() as conn:
            await principals.logout(conn, token)
    resp = web.Response(status=204)
    resp.del_cookie(COOKIE, path="/")
    return resp


@routes.get("/api/v1/me")
async def me(request: web.Request) -> web.Response:
    who = await authenticate(request, password_change=True)
    async with request.app[POOL].acquire() as conn:
        return ok(await _me(conn, who))


@routes.post("/api/v1/me/password")
async def change_password(request: web.Request) -> web.Response:
    """The user's own new password; a temporary one is replaced, the other sessions end."""
    who = await authenticate(request, password_change=True)
    body = await read_model(request, PasswordChangeIn)
    token = bearer(request, allow_cookie=False)
    assert token is not None  # authenticate accepts only a bearer token on POST
    await login_service.change_password(
        request.app[POOL],
        request.app[HASHER],
        login_service.LoginPolicy.of(request.app[SETTINGS]),
        who=who,
        token=token,
        current=body.current_password,
        new=body.new_password,
        address=client_address(request),
    )
    async with request.app[POOL].acquire() as conn:
        return ok(await _me(conn, replace(who, must_change_password=False)))


@routes.post("/api/v1/admin/users/{username}/unlock")
async def unlock(request: web.Request) -> web.Response:
    """An administrator lifts the lock that repeated failed sign-ins put on a user (audited)."""
    admin = await authenticate(request, "admin")
    username = request.match_info["username"]
    async with request.app[POOL].acquire() as conn:
        was_locked = await login_service.unlock(conn, admin, username, request_id_var.get())
    return ok(UnlockOut(username=username, was_locked=was_locked))


@routes.get("/password")
async def password_page(request: web.Request) -> web.Response:
    """修改密码: static; its script uses the tab's token, and goes to sign-in without one."""
    return _html_file(request, "password.html")
