"""The self-service kiosk (自助缴费终端): its page, its enrolment, finding an order, paying it, the
receipt; and the administrator's side (registering and revoking kiosks).

The kiosk never holds a staff session. Its credential is the ``tj_kiosk`` cookie, set once by
enrolment: HttpOnly, SameSite=Strict and sent only under /api/v1/kiosk, so a browser never
offers it to a staff route — and a staff route would not take it anyway (it is no session or
client token: ``principals.authenticate`` answers 401). The kiosk's routes, in turn, take nothing
but that cookie, and only where the access table's row names the ``kiosk`` caller.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import segno
from aiohttp import web

from clearing.api import access
from clearing.api.inputs import ID_PATTERN
from clearing.api.keys import (
    CIPHER,
    PAY_LINK_KEY,
    POOL,
    RECEIPTS,
)
from clearing.api.models import AttemptStarted
from clearing.api.models_kiosk import (
    EnrolIn,
    EnrolOut,
    KioskCreated,
    KioskIn,
    KioskList,
    KioskOut,
    KioskPayIn,
    KioskReceiptOut,
    LookupIn,
)
from clearing.api.route_kinds import audited
from clearing.api.routes_orders import amounts_still_due, pay_by_code, start_qr
from clearing.api.routes_pages import _html_file
from clearing.api.routes_receipts import verify_url
from clearing.api.web import authenticate, copied, need_json, ok, read_model, set_device_cookie
from clearing.errors import (
    ClearingError,
    Conflict,
    Forbidden,
    NotFound,
    Unauthenticated,
    UpstreamUnavailable,
)
from clearing.logs import request_id_var
from clearing.service import kiosk_lookup, kiosk_view, kiosks
from clearing.service.kiosks import Kiosk

routes = web.RouteTableDef()

COOKIE = "tj_kiosk"
COOKIE_PATH = "/api/v1/kiosk"
NO_STORE = {"Cache-Control": "no-store"}


def setup(app: web.Application) -> None:
    app.add_routes(routes)


async def _kiosk(request: web.Request) -> Kiosk:
    """The enrolled kiosk calling, on a route whose access row names the kiosk caller."""
    allowed, refused = access.for_request(request)
    if allowed is None or access.KIOSK_CALLER not in allowed:
        raise Forbidden(*refused, role=access.KIOSK_CALLER)
    async with request.app[POOL].acquire() as conn:
        return await kiosks.device(conn, request.cookies.get(COOKIE))


def _json(value: object, status: int = 200) -> web.Response:
    return web.json_response(
        value, status=status, headers=NO_STORE, dumps=lambda v: json.dumps(v, ensure_ascii=False)
    )


def _svg(url: str) -> web.Response:
    out = io.BytesIO()
    segno.make(url, error="m").save(
        out, kind="svg", scale=10, border=2, dark="#000", light="#fff", xmldecl=False
    )
    return web.Response(body=out.getvalue(), content_type="image/svg+xml", headers=NO_STORE)


# --- the kiosk ---------------------------------------------------------------------------------


@routes.get("/kiosk")
async def kiosk_page(request: web.Request) -> web.Response:
    """The page holds nothing: it asks for an enrolment code or reads its kiosk's state."""
    return _html_file(request, "kiosk.html")


@routes.post("/api/v1/kiosk/enrol")
async def enrol(request: web.Request) -> web.Response:
    need_json(request)
    body = await read_model(request, EnrolIn)
    async with request.app[POOL].acquire() as conn:
        token, kiosk = await kiosks.enrol(conn, body.code, datetime.now(UTC))
    resp = ok(EnrolOut(name=kiosk.name, office=kiosk.office), 201)
    set_device_cookie(resp, request, COOKIE, token, COOKIE_PATH)
    return resp


@routes.get("/api/v1/kiosk/me")
async def me(request: web.Request) -> web.Response:
    """Whether this browser is an enrolled kiosk: asked first, so that a new or revoked kiosk
    learns it without a refused request (which browsers log as an error)."""
    try:
        async with request.app[POOL].acquire() as conn:
            kiosk = await kiosks.device(conn, request.cookies.get(COOKIE))
    except Unauthenticated:
        return _json({"enrolled": False})
    return _json({"enrolled": True, "name": kiosk.name, "office": kiosk.office})


@routes.post("/api/v1/kiosk/lookup")
async def lookup(request: web.Request) -> web.Response:
    need_json(request)
    kiosk = await _kiosk(request)
    body = await read_model(request, LookupIn)
    now = datetime.now(UTC)
    cipher = request.app[CIPHER]
    async with request.app[POOL].acquire() as conn:
        if body.notice is not None:
            await kiosk_lookup.open_notice(conn, kiosk, request.app[PAY_LINK_KEY], body.notice, now)
        else:
            assert body.case_no is not None and body.id_tail is not None
            await kiosk_lookup.lookup(
                conn,
                kiosk,
                lambda blob: cipher.decrypt(blob, "orders.payer_id"),
                case_no=body.case_no,
                id_tail=body.id_tail,
                now=now,
            )
        return _json(await kiosk_view.view(conn, kiosk, cipher, now))


@routes.get("/api/v1/kiosk/current")
async def current(request: web.Request) -> web.Response:
    kiosk = await _kiosk(request)
    async with request.app[POOL].acquire() as conn:
        return _json(await kiosk_view.view(conn, kiosk, request.app[CIPHER], datetime.now(UTC)))


@routes.delete("/api/v1/kiosk/current")
async def clear(request: web.Request) -> web.Response:
    """The screen clears itself (idle, after a payment) or the citizen pressed 返回首页."""
    kiosk = await _kiosk(request)
    why = request.query.get("why", "citizen")
    async with request.app[POOL].acquire() as conn:
        await kiosks.clear(conn, kiosk, why if why in ("idle", "paid", "citizen") else "citizen")
    return _json(kiosk_view.idle(kiosk))


async def _held(request: web.Request, kiosk: Kiosk) -> str:
    async with request.app[POOL].acquire() as conn:
        order_no = await kiosks.current_order_no(conn, kiosk, datetime.now(UTC))
    if order_no is None:
        raise Conflict(
            "KIOSK_NO_ORDER", "no order is open on this kiosk", "请先输入业务受理号查询缴费业务"
        )
    return order_no


async def _still_due(request: web.Request, order_no: str) -> None:
    """The authorities still ask these amounts, as at the window; a citizen who cannot pay here
    is sent to a window, in words for the citizen rather than the clerk's."""
    try:
        await amounts_still_due(request, order_no)
    except (Conflict, UpstreamUnavailable) as exc:
        if not exc.code.startswith(("AUTHORITY_", "AMOUNT_")):
            raise
        raise type(exc)(
            exc.code,
            exc.message,
            "应缴金额需要重新核对，暂不能在本机缴费，请到窗口办理"
            if isinstance(exc, Conflict)
            else "暂时无法核对应缴金额，请稍后再试或到窗口办理",
        ) from exc


@routes.post("/api/v1/kiosk/current/payments")
async def pay(request: web.Request) -> web.Response:
    need_json(request)
    kiosk = await _kiosk(request)
    body = await read_model(request, KioskPayIn)
    order_no = await _held(request, kiosk)
    await _still_due(request, order_no)
    if body.method == "qr":
        started = await start_qr(
            request, order_no=order_no, actor=kiosk.actor, channel=body.channel
        )
        started["qr_svg_url"] = "/api/v1/kiosk/current/qr.svg"
    else:
        assert body.auth_code is not None
        try:
            started = await pay_by_code(
                request, order_no=order_no, actor=kiosk.actor, auth_code=body.auth_code
            )
        except ClearingError as exc:
            await _audit_code(request, kiosk, order_no, {"refused": exc.code})
            raise
        # a code paid at once never passes through "attempt.opened": the kiosk's row says it
        await _audit_code(
            request,
            kiosk,
            order_no,
            {"state": started["state"], "out_trade_no": started["out_trade_no"]},
        )
    started.pop("code_url", None)  # the kiosk shows the QR as an image; it needs no URL
    return ok(AttemptStarted.model_validate(started), 201)


async def _audit_code(
    request: web.Request, kiosk: Kiosk, order_no: str, detail: dict[str, str]
) -> None:
    await audited(request, kiosk, "kiosk.code_payment", order_no, detail, object_type="order")


@routes.get("/api/v1/kiosk/current/qr.svg")
async def qr_svg(request: web.Request) -> web.Response:
    kiosk = await _kiosk(request)
    order_no = await _held(request, kiosk)
    async with request.app[POOL].acquire() as conn:
        url = await conn.fetchval(
            "SELECT a.code_url FROM payment_attempts a JOIN orders o ON o.id = a.order_id"
            " WHERE o.order_no = $1 AND o.state IN ('OPEN', 'PAYING') AND a.state = 'OPEN'"
            " AND a.code_url IS NOT NULL ORDER BY a.id DESC LIMIT 1",
            order_no,
        )
    if url is None:
        raise NotFound("NO_OPEN_PAYMENT", "no QR waits on this kiosk", "当前没有待支付的二维码")
    return _svg(str(url))


async def _receipt(request: web.Request) -> KioskReceiptOut:
    kiosk = await _kiosk(request)
    order_no = await _held(request, kiosk)
    async with request.app[POOL].acquire() as conn:
        printed = await kiosk_view.receipt(
            conn, kiosk, order_no, mac=request.app[RECEIPTS].mac, request_id=request_id_var.get()
        )
    if printed is None:
        raise Conflict("ORDER_NOT_PAID", f"order {order_no} is not paid", "该缴费单尚未缴费")
    return copied(
        KioskReceiptOut,
        printed,
        verify_url=verify_url(request, printed),
        qr_svg_url="/api/v1/kiosk/current/receipt-qr.svg",
    )


@routes.get("/api/v1/kiosk/current/receipt")
async def receipt(request: web.Request) -> web.Response:
    """The receipt of the paid order on the kiosk (its original print, made here if none)."""
    return ok(await _receipt(request))


@routes.get("/api/v1/kiosk/current/receipt-qr.svg")
async def receipt_qr(request: web.Request) -> web.Response:
    """The receipt's short link as a QR: the citizen's phone opens and keeps it."""
    return _svg((await _receipt(request)).verify_url)


# --- the administrator's side ------------------------------------------------------------------


@routes.get("/api/v1/admin/kiosks")
async def list_kiosks(request: web.Request) -> web.Response:
    who = await authenticate(request)
    async with request.app[POOL].acquire() as conn:
        rows = await kiosks.listing(conn, who, datetime.now(UTC))
    return ok(KioskList(kiosks=[KioskOut.model_validate(r) for r in rows]))


@routes.post("/api/v1/admin/kiosks")
async def create_kiosk(request: web.Request) -> web.Response:
    who = await authenticate(request)
    body = await read_model(request, KioskIn)
    async with request.app[POOL].acquire() as conn:
        row, code = await kiosks.create(conn, who, body.office, body.name, datetime.now(UTC))
    return ok(KioskCreated.model_validate({**row, "enrol_code": code}), 201)


@routes.post("/api/v1/admin/kiosks/{kiosk_id:" + ID_PATTERN + "}/revoke")
async def revoke_kiosk(request: web.Request) -> web.Response:
    who = await authenticate(request)
    kiosk_id = int(request.match_info["kiosk_id"])
    async with request.app[POOL].acquire() as conn:
        row = await kiosks.revoke(conn, who, kiosk_id, datetime.now(UTC))
    return ok(KioskOut.model_validate(row))
