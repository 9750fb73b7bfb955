"""Reconciliation discrepancies for finance staff: the list with its filters and counts, one
discrepancy with its comments, adjustments and matches, what people do with them, and the CSV
export for Excel.

Finance, admin and auditors read; finance and admin act (an adjustment is proposed by one of them
and decided by another); auditors never act. The rules live in ``reconciliation.case_reads``
(reading) and ``reconciliation.cases`` (acting); this module only reads requests and writes
responses.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Any

from aiohttp import web

from clearing.api import inputs
from clearing.api.keys import POOL, SETTINGS
from clearing.api.models_recon import (
    AdjustmentIn,
    AdjustmentOut,
    AssignIn,
    CommentIn,
    DiscrepancyDetail,
    DiscrepancyList,
    LedgerAccountList,
    MatchOut,
    ReasonIn,
)
from clearing.api.route_kinds import acted, body_actions, decision_routes
from clearing.api.web import authenticate, ok
from clearing.domain.display import STATIC_NAMES, Names, name
from clearing.domain.money import yuan_str
from clearing.domain.times import beijing_time
from clearing.logs import request_id_var
from clearing.service import audit
from clearing.service import names as names_service
from reconciliation import case_reads, cases

routes = web.RouteTableDef()

MAX_PAGE_SIZE = 200
# a path id that fits in a bigint; anything else is 404 before it reaches the database
ID = "{id:" + inputs.ID_PATTERN + "}"

CSV_COLUMNS = (
    "编号", "业务日期", "差异类型", "来源", "对方单号", "我方单号", "我方金额（元）",
    "对方金额（元）", "差额（元）", "状态", "处理人", "处理结果", "办结人", "办结时间", "发现时间",
)  # fmt: skip


def _date(request: web.Request, name: str) -> date | None:
    return inputs.query_date(request.query, name)


def _int(request: web.Request, name: str, default: int, hi: int) -> int:
    return inputs.query_int(
        request.query, name, default=default, lo=1, hi=hi, code="INVALID_PAGE", zh="分页参数无效"
    )


def _filters(request: web.Request) -> case_reads.Filters:
    """``type`` and ``state`` take one value or several separated by commas."""

    def many(name: str) -> tuple[str, ...]:
        return tuple(x for x in request.query.get(name, "").split(",") if x.strip())

    return case_reads.Filters(
        date_from=_date(request, "date_from"),
        date_to=_date(request, "date_to"),
        types=many("type"),
        states=many("state"),
        source=request.query.get("source") or None,
    )


def _key(request: web.Request) -> int:
    return int(request.match_info["id"])


@routes.get("/api/v1/discrepancies")
async def list_discrepancies(request: web.Request) -> web.Response:
    who = await authenticate(request)
    filters = _filters(request)
    page = _int(request, "page", 1, 1_000_000)
    size = _int(request, "page_size", 50, MAX_PAGE_SIZE)
    async with request.app[POOL].acquire() as conn:
        view = await case_reads.search(conn, who, filters=filters, page=page, page_size=size)
    return ok(DiscrepancyList.model_validate(view))


# --- CSV for Excel ---------------------------------------------------------------------------


def _id(value: str | None) -> str:
    # a leading tab keeps Excel from turning 28-digit numbers into 4.2E+27
    return "\t" + value if value else ""


def _words(value: str | None) -> str:
    # free text that Excel would read as a formula (=, +, -, @) is kept as text the same way
    return "\t" + value if value and value[0] in "=+-@" else value or ""


def _yuan(fen: int | None) -> str:
    return yuan_str(fen) if fen is not None else ""


def _time(at: datetime | None) -> str:
    return beijing_time(at)


def to_csv(rows: list[dict[str, Any]], names: Names = STATIC_NAMES) -> str:
    """UTF-8 text with a byte-order mark (Excel reads UTF-8 only with it), CRLF line ends; every
    code by its name."""
    out = io.StringIO()
    out.write("\ufeff")
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for r in rows:
        w.writerow(
            [
                r["id"],
                r["business_date"].isoformat(),
                name("discrepancy_type", r["type"]),
                _words(names.source(r["source"])),
                _id(r["reference"]),
                _id(r["our_ref"]),
                _yuan(r["amount_fen"]),
                _yuan(r["their_amount_fen"]),
                _yuan(r["difference_fen"]),
                name("discrepancy_state", r["state"]),
                r["assigned_to_name"] or "",
                _words(r["resolution"]),
                names.actor(r["resolved_by"]),
                _time(r["resolved_at"]),
                _time(r["created_at"]),
            ]
        )
    return out.getvalue()


@routes.get("/api/v1/discrepancies.csv")
async def export_discrepancies(request: web.Request) -> web.Response:
    """Every discrepancy the filters select, for Excel (bearer token or the session cookie, so
    the page can offer a plain link). Each export is audited with its filters."""
    who = await authenticate(request)
    filters = _filters(request)
    async with request.app[POOL].acquire() as conn:
        rows = await case_reads.export(conn, who, filters=filters)
        names = await names_service.load(conn, request.app[SETTINGS])
        await audit.record(
            conn,
            actor=who.actor,
            action="discrepancy.exported",
            object_type="discrepancy",
            object_id="csv",
            detail={"query": dict(request.query), "rows": len(rows)},
            request_id=request_id_var.get(),
        )
    span = "-".join(str(d or "all") for d in (filters.date_from, filters.date_to))
    return web.Response(
        body=to_csv(rows, names).encode(),
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="discrepancies-{span}.csv"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


# --- one discrepancy and what people do with it ---------------------------------------------


@routes.get(f"/api/v1/discrepancies/{ID}")
async def get_discrepancy(request: web.Request) -> web.Response:
    who = await authenticate(request)
    async with request.app[POOL].acquire() as conn:
        view = await case_reads.get(conn, who, _key(request))
    return ok(DiscrepancyDetail.model_validate(view))


# assign, comment, resolve, void: each passes one field of its body to the case
body_actions(
    routes,
    f"/api/v1/discrepancies/{ID}",
    "id",
    DiscrepancyDetail,
    (
        ("assign", AssignIn, cases.assign, 200),
        ("comments", CommentIn, cases.comment, 201),
        ("resolve", ReasonIn, cases.resolve, 200),
        ("void", ReasonIn, cases.void, 200),
    ),
)


@routes.post(f"/api/v1/discrepancies/{ID}/adjustments")
async def propose_adjustment(request: web.Request) -> web.Response:
    view = await acted(request, cases.propose_adjustment, _key(request), reads=AdjustmentIn)
    return ok(AdjustmentOut.model_validate(view), 201)


decision_routes(routes, f"/api/v1/adjustments/{ID}", "id", cases.decide_adjustment, AdjustmentOut)


async def _decide_match(request: web.Request, confirm: bool) -> web.Response:
    # no body: the decision is the path
    view = await acted(request, cases.decide_match, _key(request), confirm=confirm)
    return ok(MatchOut.model_validate(view))


@routes.post(f"/api/v1/recon-matches/{ID}/confirm")
async def confirm_match(request: web.Request) -> web.Response:
    return await _decide_match(request, confirm=True)


@routes.post(f"/api/v1/recon-matches/{ID}/reject")
async def reject_match(request: web.Request) -> web.Response:
    return await _decide_match(request, confirm=False)


@routes.get("/api/v1/ledger-accounts")
async def ledger_accounts(request: web.Request) -> web.Response:
    """The accounts an adjustment may name (code, name, kind), for the proposal form."""
    who = await authenticate(request)
    async with request.app[POOL].acquire() as conn:
        rows = await case_reads.accounts(conn, who)
    return ok(LedgerAccountList.model_validate({"accounts": rows}))
