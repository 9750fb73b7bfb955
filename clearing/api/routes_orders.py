"""/api/v1: catalogue, orders, QR payments, live order events."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import segno
from aiohttp import web

from clearing.api import inputs
from clearing.api.keys import (
    ACQUIRERS,
    ANNOUNCER,
    AUTHORITIES,
    CIPHER,
    EVENTS,
    LIMITS,
    POOL,
    SETTINGS,
)
from clearing.api.models import (
    AttemptStarted,
    CancelIn,
    CaseRefsIn,
    DueItemOut,
    FeeItemList,
    FeeItemOut,
    HeldWarning,
    LookupFailure,
    LookupIn,
    LookupOut,
    OrderIn,
    OrderList,
    OrderOut,
    OrderSummary,
    PaymentIn,
)
from clearing.api.route_kinds import read_seen_order, read_signed_in, seen_order
from clearing.api.web import authenticate, copied, event_stream, ok, read_model
from clearing.domain.fees import Matter
from clearing.domain.times import business_day
from clearing.errors import (
    Conflict,
    InvalidRequest,
    MalformedRequest,
    NotFound,
    UpstreamUnavailable,
)
from clearing.logs import request_id_var
from clearing.service import (
    attempts,
    cases,
    catalogue,
    fee_schedules,
    payments,
    places,
)
from clearing.service import held as holders
from clearing.service import orders as order_service
from clearing.service.orders import LineInput, OrderInput

routes = web.RouteTableDef()


@routes.get("/api/v1/fee-items")
async def fee_items(request: web.Request) -> web.Response:
    items = await read_signed_in(request, catalogue.fee_items)
    return ok(FeeItemList(items=[FeeItemOut(**vars(i)) for i in items.values()]))


@routes.post("/api/v1/orders")
async def create_order(request: web.Request) -> web.Response:
    who = await authenticate(request)
    key = request.headers.get("Idempotency-Key", "").strip()
    if not 8 <= len(key) <= 128:
        raise MalformedRequest(
            "IDEMPOTENCY_KEY_REQUIRED",
            "an Idempotency-Key header of 8 to 128 characters is required",
            "缺少请求编号（Idempotency-Key）",
        )
    raw = await request.read()
    body = await read_model(request, OrderIn)
    async with request.app[POOL].acquire() as conn:
        # a clerk at the wrong window hears so before any authority is asked about the case
        await places.order_window(conn, who, body.office, body.window)
    settings = request.app[SETTINGS]
    held: list[tuple[str, str]] = []
    if body.case is not None:
        found = await _lookup(request, body.payer_name, body.payer_id, body.case)
        if not found.complete:
            # nothing is made of a half-answered case: a refusal is final (422, 409 when paid),
            # only an authority that did not answer is worth asking again (502, 504)
            async with request.app[POOL].acquire() as conn:
                await holders.name_paying_orders(conn, found.failures)
            raise cases.lookup_error(found.failures)
        lines = [LineInput(i.item_code, i.amount_fen, i.reference or None) for i in found.items]
        held = [(i.authority, i.reference) for i in found.items if i.reference]
    else:
        assert body.lines is not None
        lines = [LineInput(ln.item_code, ln.amount_fen or 0, ln.reference) for ln in body.lines]
    order = OrderInput(
        case_no=body.case_no,
        office=body.office,
        window=body.window,
        payer_name=body.payer_name,
        payer_id=body.payer_id,
        lines=lines,
    )
    async with request.app[POOL].acquire() as conn:
        status, view = await order_service.create(
            conn,
            principal=who,
            order=order,
            idempotency_key=key,
            body_hash=order_service.request_hash(json.loads(raw)),
            limits=request.app[LIMITS],
            cipher=request.app[CIPHER],
            now=datetime.now(UTC),
            ttl=timedelta(seconds=settings.order_ttl_s),
            request_id=request_id_var.get(),
            held=held,
            case_refs=body.case.model_dump() if body.case is not None else None,
            manual_reason=body.manual_reason,
        )
    return web.json_response(view, status=status, dumps=_dumps)


async def _lookup(
    request: web.Request, payer_name: str, payer_id: str, case: CaseRefsIn
) -> cases.Lookup:
    async with request.app[POOL].acquire() as conn:
        schedules = [s for s, _ in await fee_schedules.all_versions(conn)]
    refs = cases.CaseRefs(
        payer_name=payer_name,
        payer_id=payer_id,
        declaration_no=case.declaration_no,
        payment_codes=tuple(case.payment_codes),
        fund_notice=case.fund_notice,
        property_unit=case.property_unit,
        matters=tuple(Matter(m.kind, m.extra_certificates, m.exemption) for m in case.matters),
    )
    return await cases.lookup(
        request.app[AUTHORITIES],
        refs,
        schedules=schedules,
        today=business_day(datetime.now(UTC)),
        timeout_s=request.app[SETTINGS].authority_timeout_s,
    )


@routes.post("/api/v1/cases/lookup")
async def lookup_case(request: web.Request) -> web.Response:
    """What a case owes, by authority; a failed authority can be asked again alone."""
    await authenticate(request)
    body = await read_model(request, LookupIn)
    found = await _lookup(request, body.payer_name, body.payer_id, body.case)
    async with request.app[POOL].acquire() as conn:
        await holders.name_paying_orders(conn, found.failures)
        warnings = await holders.held_elsewhere(conn, found.items)
    return ok(
        LookupOut(
            items=[copied(DueItemOut, i, details=dict(i.details)) for i in found.items],
            failures=[LookupFailure(**f) for f in found.failures],
            warnings=[HeldWarning(**w) for w in warnings],
            total_fen=sum(i.amount_fen for i in found.items),
        )
    )


def _dumps(v: object) -> str:
    return json.dumps(v, ensure_ascii=False, default=str)


@routes.get("/api/v1/orders/{order_no}")
async def get_order(request: web.Request) -> web.Response:
    _, view = await read_seen_order(request, await authenticate(request))
    return ok(OrderOut.model_validate(view))


@routes.get("/api/v1/orders")
async def list_orders(request: web.Request) -> web.Response:
    who = await authenticate(request)
    office = request.query.get("office") or who.office
    if not office:
        raise InvalidRequest("OFFICE_REQUIRED", "give ?office=", "请指定办事大厅")
    day = inputs.query_date(request.query, "date") or business_day(datetime.now(UTC))
    async with request.app[POOL].acquire() as conn:
        rows = await order_service.list_for_window(
            conn, who, office, request.query.get("window"), day
        )
    return ok(OrderList(orders=[OrderSummary(**r) for r in rows]))


@routes.post("/api/v1/orders/{order_no}/cancel")
async def cancel_order(request: web.Request) -> web.Response:
    who = await authenticate(request)
    body = await read_model(request, CancelIn)
    order_no, _ = await read_seen_order(request, who)
    # attempts are closed at the acquirer first, so that nobody can pay a cancelled order
    await payments.close_open_attempts(
        request.app[POOL], request.app[ACQUIRERS], order_no, request.app[ANNOUNCER]
    )
    async with request.app[POOL].acquire() as conn:
        await order_service.mark_cancelled(conn, who, order_no, body.reason, request_id_var.get())
        view = await order_service.get(conn, who, order_no, request.app[CIPHER])
    return ok(OrderOut.model_validate(view))


async def amounts_still_due(request: web.Request, order_no: str) -> None:
    """Before a QR is shown, a card charged or the payer's phone sent to a channel: the
    authorities still ask these amounts. The caller has checked who may see the order."""
    async with request.app[POOL].acquire() as conn:
        row = await conn.fetchrow(
            "SELECT id, case_refs, payer_id_enc, payer_name_enc FROM orders WHERE order_no = $1",
            order_no,
        )
        if row is None or row["case_refs"] is None:
            return
        lines = await conn.fetch(
            "SELECT reference, amount_fen FROM order_lines WHERE order_id = $1"
            " AND reference IS NOT NULL",
            row["id"],
        )
    changed, failures = await cases.recheck(
        request.app[AUTHORITIES],
        row["case_refs"],
        request.app[CIPHER].decrypt(row["payer_name_enc"], "orders.payer_name"),
        request.app[CIPHER].decrypt(row["payer_id_enc"], "orders.payer_id"),
        [(r["reference"], int(r["amount_fen"])) for r in lines],
        timeout_s=request.app[SETTINGS].authority_timeout_s,
    )
    refused = [f for f in failures if not f["retryable"]]
    if refused:
        # the authority no longer accepts the reference (voided, paid elsewhere): final, the
        # order cannot be paid as it is
        reasons = "；".join(f"{f['message_zh']}（{f['reference']}）" for f in refused)
        raise Conflict(
            "AUTHORITY_REFUSED",
            "an authority no longer accepts a reference of this order; cancel it",
            f"主管部门已不受理本缴费单的凭证，请撤销本缴费单：{reasons}",
            failures=failures,
        )
    if failures:
        names = "、".join(cases.AUTHORITY_ZH[f["authority"]] for f in failures)
        raise UpstreamUnavailable(
            "AUTHORITY_RECHECK_FAILED",
            "the amounts could not be checked with the authorities; try again shortly",
            f"{names}暂时无法核对金额，请稍后再收款",
            failures=failures,
        )
    if changed:
        raise Conflict(
            "AMOUNT_CHANGED_AT_AUTHORITY",
            "an authority now asks a different amount; create a new order for this case",
            "主管部门的应缴金额已变化，请撤销本缴费单并重新开具",
            changed=changed,
        )


def _start(request: web.Request, order_no: str, actor: str, poll_s: float) -> attempts.Start:
    """A payment started on ``request`` now; its poller first asks after ``poll_s`` seconds."""
    return attempts.Start(
        request.app[POOL], request.app[ACQUIRERS], order_no, actor, datetime.now(UTC),
        timedelta(seconds=poll_s), request_id_var.get(),
    )  # fmt: skip


async def start_qr(
    request: web.Request, *, order_no: str, actor: str, channel: str | None
) -> dict[str, Any]:
    """A QR payment for an order, as the window and the kiosk start it (WeChat Pay unless the
    caller names a channel)."""
    poll_s = request.app[SETTINGS].poll_first_s
    return await attempts.start_qr(_start(request, order_no, actor, poll_s), channel or "wechatpay")


async def pay_by_code(
    request: web.Request, *, order_no: str, actor: str, auth_code: str
) -> dict[str, Any]:
    """A payment with the code on the payer's phone, as the window and the kiosk take it."""
    s = request.app[SETTINGS]
    return await attempts.pay_by_code(
        _start(request, order_no, actor, s.code_poll_s),
        auth_code,
        wait_limit=timedelta(seconds=s.code_wait_s),
        announce=request.app[ANNOUNCER],
    )


@routes.post("/api/v1/orders/{order_no}/payments")
async def start_payment(request: web.Request) -> web.Response:
    who = await authenticate(request)
    body = await read_model(request, PaymentIn)
    async with seen_order(request, who) as (conn, order_no, view):
        if body.method == "card" and body.terminal_id is not None:
            await places.check_terminal(conn, view["office"], body.terminal_id)
    await amounts_still_due(request, order_no)
    if body.method == "qr":
        started = await start_qr(request, order_no=order_no, actor=who.actor, channel=body.channel)
        started["qr_svg_url"] = f"/api/v1/orders/{order_no}/qr.svg"
    elif body.method == "code":
        assert body.auth_code is not None
        started = await pay_by_code(
            request, order_no=order_no, actor=who.actor, auth_code=body.auth_code
        )
    else:
        assert body.terminal_id is not None
        s = request.app[SETTINGS]
        started = await attempts.start_card(
            _start(request, order_no, who.actor, s.code_poll_s),
            body.channel or "pos",
            body.terminal_id,
            wait_limit=timedelta(seconds=s.card_wait_s),
        )
    return ok(AttemptStarted.model_validate(started), 201)


@routes.get("/api/v1/orders/{order_no}/qr.svg")
async def qr_svg(request: web.Request) -> web.Response:
    _, view = await read_seen_order(request, await authenticate(request))
    # ?provider= picks the channel whose QR the window shows; without it, the newest QR
    provider = request.query.get("provider")
    live = [
        a
        for a in view["attempts"]
        if a["state"] == "OPEN" and a["code_url"] and provider in (None, a["provider"])
    ]
    if not live:
        raise NotFound(
            "NO_OPEN_PAYMENT", "this order has no open QR payment", "该缴费单没有待支付的二维码"
        )
    qr = segno.make(live[-1]["code_url"], error="m")
    # a standalone document (an <img> source) needs the SVG namespace, which svg_inline omits
    svg = io.BytesIO()
    qr.save(svg, kind="svg", scale=6, border=2, dark="#000", light="#fff", xmldecl=False)
    return web.Response(
        body=svg.getvalue(), content_type="image/svg+xml", headers={"Cache-Control": "no-store"}
    )


@routes.get("/api/v1/events")
async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events for a window (or one order): each order state change, live."""
    who = await authenticate(request)
    office = request.query.get("office") or who.office
    if who.role in ("clerk", "supervisor") and office != who.office:
        raise NotFound("NOT_FOUND", "no such event stream", "无此事件流")
    resp = await event_stream(request)
    hub = request.app[EVENTS]
    async with hub.subscribe(
        office=office, window=request.query.get("window"), order_no=request.query.get("order_no")
    ) as sub:
        await resp.write(b": connected\n\n")
        while True:
            try:
                event = await asyncio.wait_for(sub.queue.get(), 15)
            except TimeoutError:
                await resp.write(b": keep-alive\n\n")
                continue
            await resp.write(f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode())
