"""The receipt (缴费凭证): its printable page and PDF, reprints (补打), and verification by QR code.

``GET /orders/{no}/receipt`` shows the order's latest print (window staff opening it first make
the original); ``?n=`` shows an earlier one. ``POST /api/v1/orders/{no}/receipt/reprints`` makes
a reprint — the one entry point for every screen that offers 补打; the receipt page's own 补打
button is a plain form posting to ``/orders/{no}/receipt/reprints`` with the session cookie,
accepted only from this site's own pages (Sec-Fetch-Site or Origin checked; the cookie is
SameSite=Strict).
``/v/{code}`` is what a receipt's QR code opens; ``/verify/{token}`` still answers the long
tokens of receipts printed before short codes.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote, urlsplit

from aiohttp import web

from clearing.api import receipt, receipt_verify
from clearing.api.keys import CIPHER, POOL, RECEIPTS, SETTINGS
from clearing.api.models_receipts import (
    LineStandingOut,
    ReceiptCheckOut,
    ReceiptPrintList,
    ReceiptPrintOut,
    ReprintIn,
)
from clearing.api.route_kinds import seen_order
from clearing.api.routes_pages import (
    _html,
    _redirect,
    page_viewer,
    pdf_page,
    refusal_page,
)
from clearing.api.web import authenticate, bearer, copied, ok, read_model
from clearing.domain.display import Names
from clearing.errors import (
    ClearingError,
    Conflict,
    Forbidden,
    InvalidRequest,
    MalformedRequest,
    NotFound,
    Unauthenticated,
    Unavailable,
)
from clearing.logs import request_id_var
from clearing.service import names as names_service
from clearing.service import orders as order_service
from clearing.service import principals, receipts
from clearing.service import receipt_prints as prints
from clearing.service.principals import Principal

routes = web.RouteTableDef()
log = logging.getLogger(__name__)


def _refusal(exc: ClearingError) -> web.Response:
    """A refused page action, said on a page: 403 no right, 404 absent, 409 state, 400 input."""
    titles = {
        Forbidden: "无权补打",
        NotFound: "缴费单不存在",
        Conflict: "不能补打",
        Unavailable: "暂不能生成",
    }
    return refusal_page(exc, titles)


def verify_url(request: web.Request, printed: prints.Print) -> str:
    """What a print's QR code holds: the public base URL, /v/, the print's short code."""
    return f"{request.app[SETTINGS].public_base_url.rstrip('/')}/v/{printed.code}"


def _print_out(request: web.Request, p: prints.Print, latest: bool) -> ReceiptPrintOut:
    page = f"/orders/{quote(p.order_no)}/receipt"
    return copied(
        ReceiptPrintOut,
        p,
        refunded_fen=sum(p.refunded_fen().values()),
        verify_url=verify_url(request, p),
        receipt_url=f"{page}?n={p.print_no}",
        pdf_url=f"{page}.pdf" if latest else None,
    )


async def _sheet(
    request: web.Request,
) -> tuple[dict[str, Any], receipt.Sheet, Names] | web.Response:
    """The order and the print a receipt request asks for, or the page that says why not (the
    sign-in page for a caller without a session)."""
    who = await page_viewer(request)
    if isinstance(who, web.Response):
        return who
    order_no = request.match_info["order_no"]
    wanted = request.query.get("n")
    if wanted is not None and not (wanted.isdigit() and 1 <= int(wanted) <= 999):
        return _html(receipt.message_page("凭证不存在", "打印序号有误。"), 400)
    signer = request.app[RECEIPTS]
    async with request.app[POOL].acquire() as conn:
        try:
            view = await order_service.get(conn, who, order_no, request.app[CIPHER])
        except NotFound:
            text = "未找到该缴费单，请核对缴费单号。"
            return _html(receipt.message_page("缴费单不存在", text), 404)
        if view["state"] not in receipt.PAID_STATES:
            return _html(receipt.unpaid_page(view), 409)
        latest = await prints.latest(
            conn, who, view, mac=signer.mac, request_id=request_id_var.get()
        )
        if latest is None:
            text = "该缴费单尚未打印缴费凭证，凭证由窗口工作人员打印。"
            return _html(receipt.message_page("尚未打印凭证", text), 409)
        shown = latest
        if wanted is not None and int(wanted) != latest.print_no:
            found = await prints.by_receipt_no(
                conn, prints.receipt_no_of(order_no, int(wanted)), signer.mac
            )
            if found is None:
                return _html(receipt.message_page("凭证不存在", "没有该次打印记录。"), 404)
            shown = found
        refunded_now = await prints.refunded_by_line(conn, order_no)
        names = await names_service.load(conn, request.app[SETTINGS])
    return (
        view,
        receipt.Sheet(
            printed=shown,
            verify_url=verify_url(request, shown),
            latest=shown.print_no == latest.print_no,
            stale=prints.stale(shown, refunded_now),
            may_reprint=who.role in prints.REPRINT_ROLES,
        ),
        names,
    )


@routes.get("/orders/{order_no}/receipt")
async def receipt_page(request: web.Request) -> web.Response:
    """The 缴费凭证 of a paid order, for the clerk to print; other offices' orders do not exist."""
    got = await _sheet(request)
    if isinstance(got, web.Response):
        return got
    view, sheet, names = got
    return _html(receipt.render(view, sheet, names))


@routes.get("/orders/{order_no}/receipt.pdf")
async def receipt_pdf(request: web.Request) -> web.Response:
    """The latest print as a PDF, to file or send; same access rules as the page. A print whose
    money went back since, or an earlier print, is not made into a new paper."""
    from clearing.api.receipt_pdf import render_pdf  # reportlab loads only when asked for

    got = await _sheet(request)
    if isinstance(got, web.Response):
        return got
    view, sheet, names = got
    if sheet.stale or not sheet.latest:
        text = (
            "该凭证打印后已有退款，已失效，请先补打。"
            if sheet.stale
            else "历史打印记录不能再次生成。"
        )
        return _html(receipt.message_page("不能生成 PDF", text), 409)
    no = sheet.printed.receipt_no
    files = f"receipt-{no}.pdf", f"缴费凭证-{no}.pdf"
    return await pdf_page(
        request, render_pdf, view, sheet, names=names, files=files, log=log, what="receipt PDF"
    )


async def _reprint(request: web.Request, who: Principal, reason: str | None) -> prints.Print:
    async with request.app[POOL].acquire() as conn:
        view = await order_service.get(
            conn, who, request.match_info["order_no"], request.app[CIPHER]
        )
        return await prints.reprint(
            conn,
            who,
            view,
            reason,
            mac=request.app[RECEIPTS].mac,
            request_id=request_id_var.get(),
        )


@routes.post("/api/v1/orders/{order_no}/receipt/reprints")
async def reprint_receipt(request: web.Request) -> web.Response:
    """补打: a new print of the receipt as the order stands now (refunded lines 已退), numbered,
    audited; window staff (clerk, supervisor) of the order's office only."""
    who = await authenticate(request)
    body = await read_model(request, ReprintIn)
    printed = await _reprint(request, who, body.reason)
    return ok(_print_out(request, printed, latest=True), 201)


@routes.get("/api/v1/orders/{order_no}/receipt/prints")
async def receipt_prints(request: web.Request) -> web.Response:
    """Every print of the order's receipt, the original first; whoever may see the order."""
    async with seen_order(request, await authenticate(request)) as (conn, order_no, _):
        found = await prints.of_order(conn, order_no, request.app[RECEIPTS].mac)
    last = len(found)
    return ok(ReceiptPrintList(prints=[_print_out(request, p, p.print_no == last) for p in found]))


def _same_site(request: web.Request) -> bool:
    """Whether a form post comes from one of our own pages (against cross-site form posts).

    Browsers say so in Sec-Fetch-Site; older ones are judged by Origin (our pages send no
    Referer and, with it, an Origin of "null", so only a browser without fetch metadata relies on
    this)."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site == "same-origin"
    parts = urlsplit(request.headers.get("Origin") or "")
    own = {request.host, urlsplit(request.app[SETTINGS].public_base_url).netloc}
    return bool(parts.netloc) and parts.netloc in own


@routes.post("/orders/{order_no}/receipt/reprints")
async def reprint_form(request: web.Request) -> web.Response:
    """The receipt page's 补打 button: the same reprint, then the new print's page."""
    if not _same_site(request):
        text = "补打请求不是来自本系统的页面，已拒绝。"
        return _html(receipt.message_page("无权补打", text), 403)
    token = bearer(request) or request.cookies.get("tj_session")
    if not token:
        return _redirect("/login?next=" + quote(request.path, safe="/"), 303)
    try:
        async with request.app[POOL].acquire() as conn:
            who = await principals.authenticate(conn, token)
        form = await request.post()
        reason = form.get("reason")
        printed = await _reprint(request, who, reason if isinstance(reason, str) else None)
    except Unauthenticated:
        return _redirect("/login", 303)
    except (Forbidden, NotFound, Conflict, InvalidRequest) as exc:
        return _refusal(exc)
    # after a POST, the new print is fetched with GET (a reload does not reprint)
    return _redirect(f"/orders/{quote(printed.order_no)}/receipt?n={printed.print_no}", 303)


@routes.get("/v/{code}")
@routes.get("/verify/{code}")
async def verify_page(request: web.Request) -> web.Response:
    """Anyone who scans a receipt's QR code lands here: genuine, or why not, and the items as
    they stand now. No sign-in."""
    try:
        async with request.app[POOL].acquire() as conn:
            verdict = await receipts.verify(conn, request.match_info["code"], request.app[RECEIPTS])
    except MalformedRequest:
        text = "这不是缴费凭证的核验码，请扫描凭证上的二维码。"
        return _html(receipt.message_page("无法核验", text), 400)
    if not verdict.valid:
        log.warning("receipt check failed", extra={"code": verdict.code})
    return _html(receipt_verify.verdict_page(verdict), 200)


@routes.get("/api/v1/receipts/verify")
async def verify_receipt(request: web.Request) -> web.Response:
    """Check a receipt's verification code (?token=, the short code or an old long token);
    public, like the QR code printed on the receipt."""
    token = request.query.get("token", "")
    async with request.app[POOL].acquire() as conn:
        verdict = await receipts.verify(conn, token, request.app[RECEIPTS])
    c = verdict.claims or {}
    return ok(
        copied(
            ReceiptCheckOut,
            verdict,
            order_no=c.get("o"),
            total_fen=c.get("t"),
            lines=[LineStandingOut(**x) for x in verdict.lines] if verdict.lines else None,
        )
    )
