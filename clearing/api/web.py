"""Middlewares and helpers shared by every route: request ids, problem+json, authentication."""

from __future__ import annotations

import itertools
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import asyncpg
from aiohttp import web
from pydantic import BaseModel, ValidationError

from clearing.api import access, inputs
from clearing.api.keys import METRICS, POOL, SETTINGS
from clearing.errors import (
    ClearingError,
    Forbidden,
    InvalidRequest,
    MalformedRequest,
    PasswordChangeRequired,
    Unauthenticated,
)
from clearing.logs import request_id_var
from clearing.service import principals
from clearing.service.principals import Principal

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
WebHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def problem(
    status: int, code: str, detail: str, detail_zh: str, title: str, **extra: Any
) -> web.Response:
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "code": code,
        "detail": detail,
        "detail_zh": detail_zh,
        "request_id": request_id_var.get(),
        **extra,
    }
    return web.Response(
        status=status,
        text=json.dumps(body, ensure_ascii=False, default=str),
        content_type="application/problem+json",
    )


_RID_PREFIX = secrets.token_hex(4)
_rid_counter = itertools.count(1)


def _next_request_id() -> str:
    # unique across processes by the random prefix; no system call per request
    return f"{_RID_PREFIX}{next(_rid_counter):08x}"


@web.middleware
async def request_context(request: web.Request, handler: WebHandler) -> web.StreamResponse:
    rid = request.headers.get("X-Request-Id", "")
    if not (0 < len(rid) <= 64 and rid.replace("-", "").isalnum()):
        rid = _next_request_id()
    token = request_id_var.set(rid)
    route = request.match_info.route.resource
    route_name = route.canonical if route is not None else "unmatched"
    status = 500
    try:
        resp = await _guarded(request, handler)
        status = resp.status
        resp.headers["X-Request-Id"] = rid
        return resp
    finally:
        request.app[METRICS].http_requests.labels(route_name, f"{status // 100}xx").inc()
        request_id_var.reset(token)


async def _guarded(request: web.Request, handler: WebHandler) -> web.StreamResponse:
    try:
        # before any handler: nothing a route reads from the request can hold what we refuse
        inputs.check_request(request.match_info, request.query, request.headers)
        return await handler(request)
    except PasswordChangeRequired as exc:
        if request.path.startswith("/api/"):
            return problem(exc.status, exc.code, exc.message, exc.message_zh, exc.title)
        # a page: the one page such a user may see
        return web.Response(
            status=302, headers={"Location": "/password", "Cache-Control": "no-store"}
        )
    except ClearingError as exc:
        if exc.status >= 500:
            log.warning("%s %s -> %s %s", request.method, request.path, exc.status, exc.code)
        return problem(exc.status, exc.code, exc.message, exc.message_zh, exc.title, **exc.fields)
    except ValidationError as exc:
        errors = [
            {"loc": ".".join(str(p) for p in e["loc"]), "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        return problem(
            422,
            "VALIDATION_FAILED",
            "the request body does not fit the schema",
            "提交的内容不完整或格式不正确",
            "Invalid request",
            errors=errors,
        )
    except web.HTTPException as exc:
        if exc.status >= 400 and request.path.startswith(("/api/", "/notify/")):
            code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "BODY_TOO_LARGE"}.get(
                exc.status, "HTTP_ERROR"
            )
            return problem(exc.status, code, exc.reason, exc.reason, exc.reason)
        raise
    except (
        OSError,
        asyncpg.InterfaceError,
        asyncpg.PostgresConnectionError,
        asyncpg.exceptions.OperatorInterventionError,
    ) as exc:
        log.error("%s %s: database unavailable: %r", request.method, request.path, exc)
        return problem(
            503,
            "DATABASE_UNAVAILABLE",
            "the database cannot be reached; try again shortly",
            "系统暂时无法访问数据库，请稍后重试",
            "Unavailable",
        )
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return problem(
            500,
            "INTERNAL",
            "internal error; the request id identifies it in the logs",
            "系统内部错误，请联系管理员并提供请求编号",
            "Internal error",
        )


async def read_model(request: web.Request, model: type[M]) -> M:
    raw = await request.read()
    try:
        data = json.loads(raw) if raw else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedRequest(
            "MALFORMED_JSON", f"request body is not valid JSON: {exc}", "请求内容不是有效的 JSON"
        ) from exc
    inputs.check_json(data)
    if not isinstance(data, dict):
        raise MalformedRequest(
            "MALFORMED_JSON", "request body must be a JSON object", "请求内容格式错误"
        )
    return model.model_validate(data)


def need_json(request: web.Request) -> None:
    """For a device's cookie-authenticated POSTs (the kiosk, the citizen's screen): the cookie
    rides along by itself, so a JSON body is what keeps a cross-site form from posting here."""
    if request.content_type != "application/json":
        raise InvalidRequest("JSON_REQUIRED", "send the body as application/json", "请求格式错误")


def copied(model: type[M], source: object, **given: Any) -> M:
    """``model`` from the ``given`` values and, for each other field, ``source``'s attribute of
    the same name (a field neither has keeps its default): an answer that restates what a
    service object holds names only what it adds or computes."""
    fields = (f for f in model.model_fields if f not in given and hasattr(source, f))
    return model(**{f: getattr(source, f) for f in fields}, **given)


def ok(model: BaseModel, status: int = 200) -> web.Response:
    return web.Response(
        status=status, text=model.model_dump_json(), content_type="application/json"
    )


async def event_stream(request: web.Request) -> web.StreamResponse:
    """A server-sent event stream, its headers sent: never cached, never buffered by a proxy
    (nginx holds a response back unless told, and a nudge must arrive when it is sent)."""
    resp = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await resp.prepare(request)
    return resp


def set_device_cookie(
    resp: web.StreamResponse, request: web.Request, name: str, token: str, path: str
) -> None:
    """An unattended device's whole identity (a kiosk, a customer display): HttpOnly, sent only
    to its own API ``path``, kept as long as browsers allow (400 days); revocation is in the
    table, not in the cookie's age."""
    resp.set_cookie(
        name,
        token,
        path=path,
        httponly=True,
        samesite="Strict",
        secure=request.secure,
        max_age=400 * 24 * 3600,
    )


def bearer(request: web.Request, *, allow_cookie: bool = False) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        return auth[7:].strip() or None
    if allow_cookie:
        # browsers cannot set headers on EventSource or <img>; only safe methods accept the cookie
        return request.cookies.get("tj_session")
    return None


async def authenticate(
    request: web.Request, *roles: str, password_change: bool = False
) -> Principal:
    """The caller, if their role may call this route: the route's row in clearing.api.access
    decides (``roles``, if given, can only narrow it; a route without a row is open to every
    signed-in role until it gets one, and the access-matrix test fails meanwhile). A user who
    must change a temporary password passes only where ``password_change`` says so (their own
    details, the change itself)."""
    token = bearer(request, allow_cookie=request.method in ("GET", "HEAD"))
    if not token:
        raise Unauthenticated("TOKEN_MISSING", "a bearer token is required", "请先登录")
    idle = timedelta(minutes=request.app[SETTINGS].session_idle_minutes)
    async with request.app[POOL].acquire() as conn:
        who = await principals.authenticate(conn, token, idle, active=_user_active(request))
    if who.must_change_password and not password_change:
        raise PasswordChangeRequired(
            "PASSWORD_CHANGE_REQUIRED",
            "this password was handed out by an administrator: choose your own first",
            "首次登录或密码被重置后须先修改密码",
        )
    allowed, refused = access.for_request(request)
    if (allowed is not None and who.role not in allowed) or (roles and who.role not in roles):
        raise Forbidden(*refused, role=who.role)
    return who


def _user_active(request: web.Request) -> bool:
    """Whether the person at the screen did something lately. The screens' script says how long
    ago the last key or click was (``X-User-Idle-S``); a page that reloads itself on a timer
    must not keep an unattended session alive. Advisory: a caller can always stay active."""
    raw = request.headers.get("X-User-Idle-S", "")
    return not (raw.isdigit() and int(raw) > 60)


def client_address(request: web.Request) -> str:
    """Who is calling: the peer, or behind a trusted proxy the last address it did not add."""
    remote = request.remote or ""
    trusted = request.app[SETTINGS].trusted_proxies
    if remote in trusted:
        hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",")]
        for hop in reversed(hops):
            if hop and hop not in trusted:
                return hop[:64]
    return remote


def is_secure(request: web.Request) -> bool:
    """Whether the browser reached us over HTTPS (directly, by setting, or via a trusted proxy)."""
    s = request.app[SETTINGS]
    if s.behind_tls or request.secure:
        return True
    forwarded = request.headers.get("X-Forwarded-Proto", "").lower()
    return request.remote in s.trusted_proxies and forwarded == "https"


# pages load scripts and styles from files of this site only: no inline script, no framing
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
    " connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self';"
    " frame-ancestors 'none'"
)
DATA_CSP = "default-src 'none'; frame-ancestors 'none'"


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every response, whatever route made it (errors and redirects too): set just before the
    headers leave, so that streams and files get them as well; a route's own choice stands."""
    h = response.headers
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "no-referrer")
    h.setdefault("X-Frame-Options", "DENY")
    ctype = response.content_type
    if ctype == "text/html":
        h.setdefault("Content-Security-Policy", PAGE_CSP)
    elif ctype in ("application/json", "application/problem+json"):
        h.setdefault("Content-Security-Policy", DATA_CSP)
    if request.path.startswith("/api/"):
        # API answers carry names, ID numbers and amounts: never kept by a browser or a proxy
        h.setdefault("Cache-Control", "no-store")
    if is_secure(request):
        h.setdefault("Strict-Transport-Security", "max-age=31536000")
