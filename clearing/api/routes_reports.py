"""The daily reconciliation report for finance staff: a printable page, the same as XLSX and CSV,
and as JSON for other programs.

Finance, admin and auditors read it. The pages and downloads are opened from links (the session
cookie), so they answer like the receipt page: sign-in first for nobody, a page that says why
for other roles. The JSON routes answer problem+json like the rest of /api/v1. Everything is
read in one read-only snapshot, so the totals the page checks against each other are of one
moment, and nothing is cached anywhere (Cache-Control: no-store).
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote

from aiohttp import web
from pydantic import BaseModel

from clearing.api import inputs, receipt
from clearing.api.keys import POOL, SETTINGS
from clearing.api.models_reports import DailyReportOut, TrendOut
from clearing.api.routes_pages import FINANCE_PAGE_ROLES, _html
from clearing.api.web import authenticate
from clearing.domain.display import Names
from clearing.domain.times import business_day
from clearing.errors import InvalidRequest, Unauthenticated
from clearing.service import names as names_service
from reconciliation import report_export, report_page, reports

routes = web.RouteTableDef()

READ_ROLES = FINANCE_PAGE_ROLES
TREND_DAYS = 30
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _business_date(request: web.Request) -> date:
    """?date=YYYY-MM-DD; by default yesterday in Beijing, the day the nightly run reconciled."""
    day = inputs.query_date(request.query, "date")
    if day is None:
        return business_day(datetime.now(UTC)) - timedelta(days=1)
    return day


def _days(request: web.Request) -> int:
    return inputs.query_int(
        request.query,
        "days",
        default=TREND_DAYS,
        lo=1,
        hi=366,
        code="INVALID_DAYS",
        zh="天数应为 1 至 366 的整数",
    )


async def _page_access(request: web.Request) -> web.Response | None:
    """None when the caller may read reports; otherwise the answer to send instead."""
    try:
        who = await authenticate(request)
    except Unauthenticated:
        # returned, not raised: the request middleware counts raised responses as failures
        location = "/login?next=" + quote(request.path_qs, safe="/")
        return web.Response(status=302, headers={"Location": location, "Cache-Control": "no-store"})
    if who.role not in READ_ROLES:
        text = "对账日报仅供财务人员、系统管理员和审计人员查看。如需了解收款情况，请联系财务部门。"
        return _html(receipt.message_page("无权查看对账日报", text), 403)
    return None


async def _read(
    request: web.Request, day: date, trend_days: int = 0
) -> tuple[reports.DailyReport, list[reports.Run], list[reports.TrendDay], Names]:
    async with request.app[POOL].acquire() as conn, reports.snapshot(conn):
        report = await reports.daily(conn, day)
        runs = await reports.runs(conn, day)
        trend = await reports.trend(conn, day, trend_days) if trend_days else []
        names = await names_service.load(conn, request.app[SETTINGS])
    return report, runs, trend, names


async def _page_day(request: web.Request) -> date | web.Response:
    denied = await _page_access(request)
    if denied is not None:
        return denied
    try:
        return _business_date(request)
    except InvalidRequest:
        return _html(receipt.message_page("日期有误", "业务日期格式应为 YYYY-MM-DD。"), 400)


@routes.get("/reports/daily")
async def daily_page(request: web.Request) -> web.Response:
    """税费通缴对账日报 of ?date= (default yesterday), to read on screen and print on A4."""
    day = await _page_day(request)
    if isinstance(day, web.Response):
        return day
    report, runs, trend, names = await _read(request, day, TREND_DAYS)
    now = datetime.now(UTC)
    return _html(report_page.render(report, runs, trend, generated_at=now, names=names))


def _attachment(body: bytes, content_type: str, day: date, ext: str) -> web.Response:
    headers = {**NO_STORE, "Content-Disposition": report_export.content_disposition(day, ext)}
    return web.Response(body=body, content_type=content_type, headers=headers)


@routes.get("/reports/daily.xlsx")
async def daily_xlsx(request: web.Request) -> web.Response:
    day = await _page_day(request)
    if isinstance(day, web.Response):
        return day
    report, runs, _, names = await _read(request, day)
    # a workbook takes tens of milliseconds to zip: not on the event loop
    body = await asyncio.to_thread(report_export.to_xlsx, report, runs, datetime.now(UTC), names)
    return _attachment(body, XLSX_TYPE, day, "xlsx")


@routes.get("/reports/daily.csv")
async def daily_csv(request: web.Request) -> web.Response:
    day = await _page_day(request)
    if isinstance(day, web.Response):
        return day
    report, runs, _, names = await _read(request, day)
    text = report_export.to_csv(report, runs, datetime.now(UTC), names)
    response = _attachment(text.encode("utf-8"), "text/csv", day, "csv")
    response.charset = "utf-8"
    return response


def _json(body: BaseModel) -> web.Response:
    # validated through the response model: what is sent is what the OpenAPI document says
    return web.Response(
        text=body.model_dump_json(), content_type="application/json", headers=NO_STORE
    )


@routes.get("/api/v1/reports/daily")
async def daily_json(request: web.Request) -> web.Response:
    """The daily report as data: amounts as int ``*_fen``, balances signed (debit positive)."""
    await authenticate(request)
    day = _business_date(request)
    report, runs, _, _ = await _read(request, day)
    body = asdict(report)
    body.pop("day")
    for b in body["balances"]:
        b["direction"] = report_export.direction(b["balance_fen"])
    generated = datetime.now(UTC)
    return _json(
        DailyReportOut.model_validate(
            {"date": day, "generated_at": generated, **body, "runs": [asdict(r) for r in runs]}
        )
    )


@routes.get("/api/v1/reports/trend")
async def trend_json(request: web.Request) -> web.Response:
    """?days= (default 30) business days up to ?date= (default yesterday)."""
    await authenticate(request)
    day, days = _business_date(request), _days(request)
    async with request.app[POOL].acquire() as conn, reports.snapshot(conn):
        trend = await reports.trend(conn, day, days)
    rows = [{**asdict(t), "date": t.day} for t in trend]
    for row in rows:
        row.pop("day")
    return _json(TrendOut.model_validate({"end_date": day, "days": rows}))
