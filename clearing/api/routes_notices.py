"""Payment notices (缴费通知书): issue one (and send its link by SMS), list them, the PDF.

``POST /api/v1/orders/{no}/notice`` issues a notice for an OPEN order and answers the mobile
link, its expiry and the PDF's address; with ``phone`` it also sends the link by SMS (an
Idempotency-Key is then required: the same key answers the recorded send and never sends twice).
A failed send is said in Chinese in the answer's ``sms``; the notice stands and the order is
untouched. ``GET /orders/{no}/notice.pdf`` is the latest notice as a PDF, for the window staff
who may issue one (opened in a new tab with the session cookie, like the receipt PDF).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Final
from urllib.parse import quote

from aiohttp import web

from clearing import wiring
from clearing.api import receipt
from clearing.api.keys import CIPHER, HTTP, METRICS, PAY_LINK_KEY, POOL, SETTINGS
from clearing.api.models_notices import NoticeIn, NoticeList, NoticeOut, NoticeSmsOut
from clearing.api.routes_pages import _html, page_viewer, pdf_page, refusal_page
from clearing.api.web import authenticate, copied, ok, read_model
from clearing.errors import (
    ClearingError,
    Forbidden,
    MalformedRequest,
    NotFound,
    Unavailable,
)
from clearing.logs import request_id_var
from clearing.messaging import NoticeMessage, SmsError, SmsSender, SmsSent
from clearing.service import names as names_service
from clearing.service import notices, orders, pay_links

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

SMS: Final = web.AppKey[SmsSender | None]("sms_sender")


def _link(request: web.Request, notice: notices.Notice) -> str:
    token = pay_links.make_token(request.app[PAY_LINK_KEY], notice.order_no, notice.link_expires_at)
    return pay_links.link_url(request.app[SETTINGS].public_base_url, token)


def _out(request: web.Request, notice: notices.Notice, replayed: bool = False) -> NoticeOut:
    sms = notice.sms
    return copied(
        NoticeOut,
        notice,
        notice_id=notice.id,
        link=_link(request, notice),
        pdf_url=f"/orders/{quote(notice.order_no)}/notice.pdf",
        replayed=replayed,
        sms=None if sms is None else copied(NoticeSmsOut, sms),
    )


@routes.post("/api/v1/orders/{order_no}/notice")
async def issue_notice(request: web.Request) -> web.Response:
    who = await authenticate(request)
    raw = await request.read()
    body = await read_model(request, NoticeIn)
    key = request.headers.get("Idempotency-Key", "").strip() or None
    if key is not None and not 8 <= len(key) <= 128:
        raise MalformedRequest(
            "IDEMPOTENCY_KEY_INVALID",
            "an Idempotency-Key has 8 to 128 characters",
            "请求编号（Idempotency-Key）格式不正确",
        )
    phone = notices.normalize_phone(body.phone) if body.phone else None
    sender = request.app[SMS]
    if phone is not None:
        if key is None:
            raise MalformedRequest(
                "IDEMPOTENCY_KEY_REQUIRED",
                "sending by SMS needs an Idempotency-Key header of 8 to 128 characters",
                "发送短信须附请求编号（Idempotency-Key），以免重复发送",
            )
        if sender is None:
            raise Unavailable(
                "SMS_NOT_CONFIGURED",
                "no SMS provider is configured",
                "本系统未接入短信平台，不能发送短信，请将缴费通知书交缴款人",
            )
    order_no = request.match_info["order_no"]
    # the order is part of the request: one key reused for another order is a different request
    digest = None
    if key is not None:
        digest = orders.request_hash({"order_no": order_no, "body": json.loads(raw) if raw else {}})
    async with request.app[POOL].acquire() as conn:
        notice, replayed = await notices.issue(
            conn,
            who,
            order_no,
            phone=phone,
            request_key=key,
            request_hash=digest,
            cipher=request.app[CIPHER],
            now=datetime.now(UTC),
            request_id=request_id_var.get(),
        )
        view = await orders.get(conn, who, order_no, request.app[CIPHER])
    if phone is not None and not replayed:
        assert sender is not None
        token = pay_links.make_token(request.app[PAY_LINK_KEY], order_no, notice.link_expires_at)
        message = NoticeMessage(
            case_no=view["case_no"],
            amount_fen=int(view["total_fen"]),
            pay_by=notice.link_expires_at,
            token=token,
        )
        outcome: SmsSent | SmsError
        metrics = request.app[METRICS]
        started = time.monotonic()
        try:
            outcome = await sender.send_notice(phone, message, context=f"notice-{notice.id}")
        except SmsError as exc:
            log.warning("notice sms not sent: %s %s", exc.provider, exc.code)
            # the kind, not the code: labels stay few (refused, unavailable, unknown)
            kind = type(exc).__name__.removeprefix("Sms").lower()
            metrics.adapter_errors.labels("sms", "send", kind).inc()
            outcome = exc
        metrics.adapter_seconds.labels("sms", "send").observe(time.monotonic() - started)
        async with request.app[POOL].acquire() as conn:
            notice = await notices.record_sms(
                conn,
                who,
                notice,
                outcome,
                request_id_var.get(),
            )
    return ok(_out(request, notice, replayed), 200 if replayed else 201)


@routes.get("/api/v1/orders/{order_no}/notices")
async def list_notices(request: web.Request) -> web.Response:
    """The order's notices, the latest first, each with its SMS (whether it was sent)."""
    who = await authenticate(request)
    async with request.app[POOL].acquire() as conn:
        _, found = await notices.of_order(
            conn, who, request.match_info["order_no"], request.app[CIPHER]
        )
    return ok(NoticeList(notices=[_out(request, n) for n in found]))


def _refusal(exc: ClearingError) -> web.Response:
    titles = {
        Forbidden: "无权查看缴费通知书",
        NotFound: "缴费单不存在",
        Unavailable: "暂不能生成",
    }
    return refusal_page(exc, titles)


@routes.get("/orders/{order_no}/notice.pdf")
async def notice_pdf(request: web.Request) -> web.Response:
    """The latest notice of an order still open, as A4 PDF; window staff of its office."""
    from clearing.api.notice_pdf import render_pdf  # reportlab loads only when asked for

    who = await page_viewer(request)
    if isinstance(who, web.Response):
        return who
    order_no = request.match_info["order_no"]
    try:
        async with request.app[POOL].acquire() as conn:
            view, found = await notices.of_order(conn, who, order_no, request.app[CIPHER])
            names = await names_service.load(conn, request.app[SETTINGS])
    except (Forbidden, NotFound) as exc:
        return _refusal(exc)
    if not found:
        text = "该缴费单尚未开具缴费通知书，请在窗口点击“缴费通知书”开具。"
        return _html(receipt.message_page("尚未开具缴费通知书", text), 409)
    notice = found[0]
    if view["state"] not in ("OPEN", "PAYING") or notice.link_expires_at <= datetime.now(UTC):
        state_zh = view["state_zh"] if view["state"] not in ("OPEN", "PAYING") else "已过期"
        text = f"缴费单当前状态为「{state_zh}」，缴费通知书已失效，不再生成。"
        return _html(receipt.message_page("缴费通知书已失效", text), 409)
    files = f"notice-{order_no}.pdf", f"缴费通知书-{order_no}.pdf"
    args = view, notice, _link(request, notice)
    return await pdf_page(
        request, render_pdf, *args, names=names, files=files, log=log, what="notice PDF"
    )


async def _sms(app: web.Application) -> AsyncIterator[None]:
    app[SMS] = wiring.sms_sender(app[SETTINGS], app[HTTP])
    yield


def setup(app: web.Application) -> None:
    """Routes and the SMS provider (after the outside session exists: cleanup_ctx order)."""
    app.cleanup_ctx.append(_sms)
    app.add_routes(routes)
