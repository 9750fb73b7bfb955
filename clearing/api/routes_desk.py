"""Pages for window staff beyond the window screen: 缴费单查询 (search, an order's history and its
补打), 日结交班 (the shift, its printable 日结单, the supervisor's 轧账)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from aiohttp import web

from clearing.api import receipt, shift_sheet
from clearing.api.inputs import ID_PATTERN
from clearing.api.keys import POOL, SETTINGS
from clearing.api.routes_pages import _html, page_viewer, staff_page
from clearing.errors import NotFound
from clearing.service import names as names_service
from clearing.service import office_days, shifts

routes = web.RouteTableDef()

SHIFT_PAGE_ROLES = frozenset({"clerk", "supervisor", "admin"})


@routes.get("/search")
async def search_page(request: web.Request) -> web.StreamResponse:
    """Every signed-in role may search; what each finds is limited by the API (office scope)."""
    return await staff_page(request, "search.html")


@routes.get("/shifts")
async def shifts_page(request: web.Request) -> web.StreamResponse:
    text = "日结交班页面供窗口人员和值班主任使用。如需查看各大厅的收款，请使用对账日报。"
    return await staff_page(request, "shifts.html", SHIFT_PAGE_ROLES, ("无权访问日结交班", text))


@routes.get("/shifts/{shift_id:" + ID_PATTERN + "}/print")
async def shift_sheet_page(request: web.Request) -> web.StreamResponse:
    """The 日结单 of a closed shift, as frozen at its close; other people's shifts do not exist."""
    who = await page_viewer(request)
    if isinstance(who, web.Response):
        return who
    try:
        async with request.app[POOL].acquire() as conn:
            shift = await shifts.get(conn, who, int(request.match_info["shift_id"]))
            names = await names_service.load(conn, request.app[SETTINGS])
    except NotFound:
        text = "未找到该交班记录，或它不属于您/本大厅。"
        return _html(receipt.message_page("交班记录不存在", text), 404)
    return _html(shift_sheet.render(shift, printed_at=datetime.now(UTC), names=names))


@routes.get("/office-days/{office}/{day:\\d{4}-\\d{2}-\\d{2}}/print")
async def day_sheet_page(request: web.Request) -> web.StreamResponse:
    """The 轧账单 of a closed office day, for the supervisor to sign."""
    who = await page_viewer(request)
    if isinstance(who, web.Response):
        return who
    office = request.match_info["office"]
    allowed = who.role in ("finance", "admin", "auditor") or (
        who.role == "supervisor" and who.office == office
    )
    try:
        day = date.fromisoformat(request.match_info["day"])
    except ValueError:
        allowed = False
    if not allowed:
        return _html(receipt.message_page("无此轧账单", "未找到该大厅该日的轧账记录。"), 404)
    async with request.app[POOL].acquire() as conn:
        view = await office_days.view(conn, office, day)
        names = await names_service.load(conn, request.app[SETTINGS])
    if view["closed"] is None:
        text = "该日尚未轧账。请先在日结交班页面轧账，再打印轧账单。"
        return _html(receipt.message_page("尚未轧账", text), 409)
    return _html(shift_sheet.render_day(view, printed_at=datetime.now(UTC), names=names))
