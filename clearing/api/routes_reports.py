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
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta

from aiohttp import web
from pydantic import BaseModel

from clearing.api import inputs, receipt
from clearing.api.keys import POOL, SETTINGS
from clearing.api.models_reports import DailyReportOut, TrendOut
from clearing.api.routes_pages import FINANCE_PAGE_ROLES, _html, page_viewer
from clearing.api.web import authenticate
from clearing.domain.display import Names
from clearing.domain.times import business_day
from clearing.errors import InvalidRequest
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
    who = await page_viewer(request)
    if isinstance(who, web.Response):
        return who
    if who.role not in READ_ROLES:
        text = "对账日报仅供财务人员、系统管理员和审计人员查看。如需了解收款情况，请联系财务部门。"
        return _html(receipt.message_page("无权查看对账日报", text), 403)
    return None


@dataclass(frozen=True, slots=True)
class _Reading:
    """One day's report and what goes with it, read in one snapshot."""

    day: date
    report: reports.DailyReport
    runs: list[reports.Run]
    trend: list[reports.TrendDay]
    names: Names


async def _read(request: web.Request, day: date, trend_days: int = 0) -> _Reading:
    async with request.app[POOL].acquire() as conn, reports.snapshot(conn):
        report = await reports.daily(conn, day)
        runs = await reports.runs(conn, day)
        trend = await reports.trend(conn, day, trend_days) if trend_days else []
        names = await names_service.load(conn, request.app[SETTINGS])
    return _Reading(day, report, runs, trend, names)


# one day's report as the reader gets it
Render = Callable[[_Reading], Awaitable[web.Response]]


async def _page_day(request: web.Request) -> date | web.Response:
    denied = await _page_access(request)
    if denied is not None:
        return denied
    try:
        return _business_date(request)
    except InvalidRequest:
        return _html(receipt.message_page("日期有误", "业务日期格式应为 YYYY-MM-DD。"), 400)


def _report_page(path: str, trend_days: int = 0) -> Callable[[Render], Render]:
    """GET ``path``: the report of ?date= (default yesterday) rendered by the decorated function,
    for those who may read it; others get the sign-in or the page that says why."""

    def register(render: Render) -> Render:
        async def handler(request: web.Request) -> web.Response:
            day = await _page_day(request)
            if isinstance(day, web.Response):
                return day
            return await render(await _read(request, day, trend_days))

        routes.get(path)(handler)
        return render

    return register


@_report_page("/reports/daily", TREND_DAYS)
async def daily_page(r: _Reading) -> web.Response:
    """税费通缴对账日报, to read on screen and print on A4."""
    now = datetime.now(UTC)
    return _html(report_page.render(r.report, r.runs, r.trend, generated_at=now, names=r.names))


def _attachment(body: bytes, content_type: str, day: date, ext: str) -> web.Response:
    headers = {**NO_STORE, "Content-Disposition": report_export.content_disposition(day, ext)}
    return web.Response(body=body, content_type=content_type, headers=headers)


@_report_page("/reports/daily.xlsx")
async def daily_xlsx(r: _Reading) -> web.Response:
    # a workbook takes tens of milliseconds to zip: not on the event loop
    body = await asyncio.to_thread(
        report_export.to_xlsx, r.report, r.runs, datetime.now(UTC), r.names
    )
    return _attachment(body, XLSX_TYPE, r.day, "xlsx")


@_report_page("/reports/daily.csv")
async def daily_csv(r: _Reading) -> web.Response:
    text = report_export.to_csv(r.report, r.runs, datetime.now(UTC), r.names)
    response = _attachment(text.encode("utf-8"), "text/csv", r.day, "csv")
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
    read = await _read(request, day)
    report, runs = read.report, read.runs
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
