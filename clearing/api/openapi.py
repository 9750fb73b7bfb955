"""The OpenAPI 3.1 document of /api/v1, generated from the pydantic models."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from clearing.api import access
from clearing.api import models as m
from clearing.api import models_display as md
from clearing.api import models_receipts as mrc
from clearing.api import models_recon as mr
from clearing.api import models_reports as mp
from clearing.api import models_settlement as ms
from clearing.api import models_shifts as mh
from clearing.api.inputs import FIRST_DAY, LAST_DAY, MAX_ID


@dataclass(frozen=True)
class Query:
    """A query parameter, with the JSON schema of its value."""

    name: str
    schema: dict[str, Any]
    description: str = ""


_DATE = {"type": "string", "format": "date"}
_CALENDAR = f"YYYY-MM-DD from {FIRST_DAY} to {LAST_DAY}"


def _day(name: str, what: str) -> Query:
    return Query(name, _DATE, f"{what} ({_CALENDAR}, Beijing)")


def _text(name: str, what: str) -> Query:
    return Query(name, {"type": "string"}, what)


# path parameters that are not plain strings: database ids, refused past 18 digits (404)
_PATH_SCHEMAS: dict[str, dict[str, Any]] = {
    name: {"type": "integer", "minimum": 0, "maximum": MAX_ID}
    for name in (
        "refund_id",
        "change_id",
        "discrepancy_id",
        "adjustment_id",
        "match_id",
        "shift_id",
        "subscription_id",
        "delivery_id",
        "kiosk_id",
    )
}
# order numbers, beneficiary codes, batch message ids: letters, digits and - _ .
_KEY = {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"}
_RECON_FILTERS = (
    _day("date_from", "first business date"),
    _day("date_to", "last business date"),
    _text("type", "discrepancy types, comma-separated"),
    _text("state", "states, comma-separated"),
    _text("source", "the channel or source that reported it"),
)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    summary: str
    request: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    # whether a bearer token is needed follows from the route's callers in clearing.api.access
    # (none for a public or a device's route); a public route that reads a token when there is
    # one (signing out) says so here
    optional_bearer: bool = False
    headers: tuple[str, ...] = ()
    content_type: str = "application/json"
    query: tuple[Query, ...] = ()


def _decisions(
    base: str, what: str, out: type[BaseModel], who: str, approved: str = ""
) -> tuple[Route, Route]:
    """The four-eyes pair ``route_kinds.decision_routes`` serves: POST ``{base}/approve`` (with
    what approving does, ``approved``) and ``{base}/reject``, each with an optional note."""
    return (
        Route("post", f"{base}/approve", f"Approve {what}{approved} ({who})", m.DecisionIn, out),
        Route("post", f"{base}/reject", f"Reject {what} ({who})", m.DecisionIn, out),
    )


# the citizen's screen (客显屏): staff routes take a bearer token; the screen's own routes take
# only its tj_display cookie, set by /api/v1/display/pair (its caller in access: no bearer)
DISPLAY_ROUTES: tuple[Route, ...] = (
    Route(
        "post",
        "/api/v1/display/pairing-codes",
        "A six-digit code, valid five minutes, to pair the citizen's screen of a window",
        md.CodeIn,
        md.CodeOut,
        201,
    ),
    Route(
        "put",
        "/api/v1/display/current",
        "The order open at the window, which its citizen's screen shows (null: none)",
        md.CurrentIn,
        md.StatusOut,
    ),
    Route(
        "get",
        "/api/v1/display/windows/{window}",
        "Whether the window's screen is paired and what it shows (?office= for admins)",
        response=md.StatusOut,
        query=(_text("office", "registration office, for admins"),),
    ),
    Route(
        "delete",
        "/api/v1/display/windows/{window}/device",
        "Unpair the window's citizen's screen",
        response=md.StatusOut,
        query=(_text("office", "registration office, for admins"),),
    ),
    Route(
        "post",
        "/api/v1/display/pair",
        "Pair this browser as a citizen's screen with a code; sets the tj_display cookie",
        md.PairIn,
        md.PairOut,
        201,
    ),
    Route("get", "/api/v1/display/me", "Whether this browser is a paired screen"),
    Route(
        "get",
        "/api/v1/display/state",
        "What the screen shows: phase, the order's lines and total (payer masked), the rating",
    ),
    Route(
        "get",
        "/api/v1/display/qr.svg",
        "The QR code waiting at the screen's window",
        content_type="image/svg+xml",
    ),
    Route(
        "get",
        "/api/v1/display/events",
        "Nudges to read the state again, as server-sent events",
        content_type="text/event-stream",
    ),
    Route(
        "post",
        "/api/v1/display/ratings",
        "The 好差评 rating of the order on display; one per order (409 after)",
        md.RatingIn,
        md.RatingOut,
        201,
    ),
)

ROUTES: tuple[Route, ...] = (
    Route(
        "post",
        "/api/v1/sessions",
        "Sign in (staff); returns a bearer token",
        m.LoginIn,
        m.LoginOut,
        201,
    ),
    Route("delete", "/api/v1/sessions", "Sign out", status=204, optional_bearer=True),
    Route("get", "/api/v1/me", "Who am I", response=m.Me),
    Route(
        "post",
        "/api/v1/me/password",
        "Change one's own password (the only call a temporary password allows)",
        m.PasswordChangeIn,
        m.Me,
    ),
    Route(
        "post",
        "/api/v1/admin/users/{username}/unlock",
        "Unlock a user locked by failed sign-ins (admin, audited)",
        response=m.UnlockOut,
    ),
    Route(
        "get",
        "/api/v1/fee-items",
        "Active fee items and their beneficiaries",
        response=m.FeeItemList,
    ),
    Route(
        "post",
        "/api/v1/orders",
        "Create a payment order for a case (idempotent). An authority's refusal of a reference"
        " is final: 422 AUTHORITY_REFUSED, 409 REFERENCE_ALREADY_PAID (with the paying order_no"
        " where known) or REFERENCE_HELD; only an authority that does not answer is 502"
        " AUTHORITY_LOOKUP_FAILED or 504 AUTHORITY_TIMEOUT, worth retrying",
        m.OrderIn,
        m.OrderOut,
        201,
        headers=("Idempotency-Key",),
    ),
    Route(
        "get",
        "/api/v1/orders",
        "A window's orders for a day (?office=&window=&date=)",
        response=m.OrderList,
        query=(
            _text("office", "registration office; by default the caller's"),
            _text("window", "window number"),
            _day("date", "the day; by default today"),
        ),
    ),
    Route("get", "/api/v1/orders/{order_no}", "Read an order", response=m.OrderOut),
    Route(
        "post", "/api/v1/orders/{order_no}/cancel", "Cancel an unpaid order", m.CancelIn, m.OrderOut
    ),
    Route(
        "post",
        "/api/v1/orders/{order_no}/payments",
        "Start a payment: QR code, payment code or card terminal",
        m.PaymentIn,
        m.AttemptStarted,
        201,
    ),
    Route(
        "post",
        "/api/v1/cases/lookup",
        "What a case owes, asked of the authorities; each failure says whether asking again"
        " can help (retryable), warnings name references another order holds",
        m.LookupIn,
        m.LookupOut,
    ),
    Route(
        "get",
        "/api/v1/fee-schedules",
        "Registration fee schedule versions",
        response=m.FeeScheduleList,
    ),
    Route(
        "post",
        "/api/v1/fee-schedules",
        "Publish a new fee schedule version (admin, audited)",
        m.FeeScheduleIn,
        m.FeeScheduleOut,
        201,
    ),
    Route(
        "post",
        "/api/v1/orders/{order_no}/refunds",
        "Request a refund (supervisor)",
        m.RefundIn,
        m.RefundOut,
        201,
    ),
    Route(
        "get",
        "/api/v1/orders/{order_no}/refunds",
        "An order's refund requests",
        response=m.RefundList,
    ),
    Route(
        "get",
        "/api/v1/refunds",
        "Refunds waiting for a decision or the channel",
        response=m.RefundList,
    ),
    *_decisions(
        "/api/v1/refunds/{refund_id}", "a refund", m.RefundOut, "finance, never the requester"
    ),
    Route(
        "get",
        "/api/v1/beneficiaries",
        "Beneficiaries: accounts, 联行号, schedule, payout hold, open account change",
        response=ms.BeneficiaryList,
    ),
    Route(
        "post",
        "/api/v1/beneficiaries/{code}/account-changes",
        "Request a beneficiary account correction (finance/admin; another person decides)",
        ms.AccountChangeIn,
        ms.AccountChangeOut,
        201,
    ),
    Route(
        "get",
        "/api/v1/account-changes",
        "Account change requests, newest first (?state=REQUESTED for the open ones)",
        response=ms.AccountChangeList,
        query=(_text("state", "REQUESTED, APPROVED or REJECTED"),),
    ),
    *_decisions(
        "/api/v1/account-changes/{change_id}",
        "an account change",
        ms.AccountChangeOut,
        "finance/admin, never the requester",
        ": the account is replaced, the payout hold cleared",
    ),
    Route(
        "get",
        "/api/v1/settlement/batches",
        "Settlement batches of a business date (?date=YYYY-MM-DD, Beijing), newest first",
        response=ms.BatchList,
        query=(_day("date", "business date; by default today"),),
    ),
    Route(
        "get",
        "/api/v1/settlement/batches/{msg_id}",
        "A settlement batch: its instructions and the files written for it",
        response=ms.BatchDetail,
    ),
    Route(
        "get",
        "/api/v1/discrepancies",
        "Reconciliation discrepancies (?date_from=&date_to=&type=&state=&source=&page=&page_size=;"
        " type and state take comma-separated values), with counts per type and state",
        response=mr.DiscrepancyList,
        query=(
            *_RECON_FILTERS,
            Query("page", {"type": "integer", "minimum": 1, "maximum": 1_000_000}),
            Query("page_size", {"type": "integer", "minimum": 1, "maximum": 200}),
        ),
    ),
    Route(
        "get",
        "/api/v1/discrepancies.csv",
        "The filtered discrepancies as CSV for Excel (UTF-8 with BOM, Chinese headers); audited",
        content_type="text/csv",
        query=_RECON_FILTERS,
    ),
    Route(
        "get",
        "/api/v1/discrepancies/{discrepancy_id}",
        "A discrepancy with its comments, adjustments and the rule match it waits for",
        response=mr.DiscrepancyDetail,
    ),
    Route(
        "post",
        "/api/v1/discrepancies/{discrepancy_id}/assign",
        "Assign a discrepancy to a finance or admin user (finance/admin)",
        mr.AssignIn,
        mr.DiscrepancyDetail,
    ),
    Route(
        "post",
        "/api/v1/discrepancies/{discrepancy_id}/comments",
        "Add a comment (finance/admin)",
        mr.CommentIn,
        mr.DiscrepancyDetail,
        201,
    ),
    Route(
        "post",
        "/api/v1/discrepancies/{discrepancy_id}/resolve",
        "Resolve with a reason (finance/admin; 409 while an adjustment waits)",
        mr.ReasonIn,
        mr.DiscrepancyDetail,
    ),
    Route(
        "post",
        "/api/v1/discrepancies/{discrepancy_id}/void",
        "Void: not a discrepancy after all (finance/admin; 409 while an adjustment waits)",
        mr.ReasonIn,
        mr.DiscrepancyDetail,
    ),
    Route(
        "post",
        "/api/v1/discrepancies/{discrepancy_id}/adjustments",
        "Propose an adjusting journal entry (finance/admin; another person decides)",
        mr.AdjustmentIn,
        mr.AdjustmentOut,
        201,
    ),
    *_decisions(
        "/api/v1/adjustments/{adjustment_id}",
        "an adjustment",
        mr.AdjustmentOut,
        "finance/admin, never the proposer",
        ": the entry is posted and the discrepancy resolved",
    ),
    Route(
        "post",
        "/api/v1/recon-matches/{match_id}/confirm",
        "Confirm a proposed match; resolves the discrepancy that waits for it (finance/admin)",
        response=mr.MatchOut,
    ),
    Route(
        "post",
        "/api/v1/recon-matches/{match_id}/reject",
        "Reject a proposed match (finance/admin)",
        response=mr.MatchOut,
    ),
    Route(
        "get",
        "/api/v1/ledger-accounts",
        "Ledger accounts an adjustment may name",
        response=mr.LedgerAccountList,
    ),
    Route(
        "get",
        "/api/v1/orders/{order_no}/qr.svg",
        "The open payment's QR code as SVG",
        content_type="image/svg+xml",
        query=(_text("provider", "the channel whose QR to show; by default the newest"),),
    ),
    Route(
        "get",
        "/api/v1/receipts/verify",
        "Check a receipt's verification code (?token= from its QR code); no sign-in",
        response=mrc.ReceiptCheckOut,
        query=(Query("token", {"type": "string"}, "from the receipt's QR"),),
    ),
    Route(
        "post",
        "/api/v1/orders/{order_no}/receipt/reprints",
        "Reprint (补打) the receipt as the order stands now; window staff; audited",
        mrc.ReprintIn,
        mrc.ReceiptPrintOut,
        201,
    ),
    Route(
        "get",
        "/api/v1/orders/{order_no}/receipt/prints",
        "Every print of the order's receipt (the original, then each 补打)",
        response=mrc.ReceiptPrintList,
    ),
    Route(
        "get",
        "/api/v1/reports/daily",
        "The daily reconciliation report (?date=, default yesterday in Beijing); amounts in fen",
        response=mp.DailyReportOut,
        query=(_day("date", "business date; by default yesterday"),),
    ),
    Route(
        "get",
        "/api/v1/reports/trend",
        "Received money, open discrepancies and auto-match ratio per day (?days=30&date=)",
        response=mp.TrendOut,
        query=(
            _day("date", "last business date; by default yesterday"),
            Query("days", {"type": "integer", "minimum": 1, "maximum": 366}, "default 30"),
        ),
    ),
    Route(
        "post",
        "/api/v1/orders/search",
        "Find orders (缴费单号, 业务受理号, payer ID by keyed hash, dates, state, channel, window)",
        mh.OrderSearchIn,
        mh.OrderSearchOut,
    ),
    Route(
        "get",
        "/api/v1/orders/{order_no}/timeline",
        "An order with its history: attempts, callbacks, confirmations, refunds, settlement",
        response=mh.OrderTimelineOut,
    ),
    Route(
        "get",
        "/api/v1/shifts/current",
        "The caller's open shift at a window (?window=), live numbers",
        response=mh.ShiftOut,
        query=(_text("window", "window number"),),
    ),
    Route(
        "post",
        "/api/v1/shifts/close",
        "Close the caller's shift at a window (交班); its numbers are frozen",
        mh.ShiftCloseIn,
        mh.ShiftOut,
        201,
    ),
    Route(
        "get",
        "/api/v1/shifts",
        "Shifts closed on a day in an office (?office=&date=); supervisors see unclosed windows",
        response=mh.ShiftList,
        query=(
            _text("office", "registration office; by default the caller's"),
            _day("date", "the day; by default today"),
        ),
    ),
    Route("get", "/api/v1/shifts/{shift_id}", "A closed shift", response=mh.ShiftOut),
    Route(
        "get",
        "/api/v1/office-days/{office}/{day}",
        "An office's day: closed shifts against the ledger, by channel, and the 轧账 if made",
        response=mh.OfficeDayOut,
    ),
    Route(
        "post",
        "/api/v1/office-days/{office}/{day}/close",
        "Close the office's day (轧账, supervisor); a difference needs a note",
        mh.OfficeDayCloseIn,
        mh.OfficeDayOut,
        201,
    ),
    Route(
        "get",
        "/api/v1/events",
        "Order state changes as server-sent events; an attempt that failed after it started"
        " (a declined card) comes as type attempt_failed with out_trade_no and reason_zh",
        content_type="text/event-stream",
        query=(
            _text("office", "registration office; by default the caller's"),
            _text("window", "window number"),
            _text("order_no", "one order only"),
        ),
    ),
    Route(
        "get",
        "/api/v1/openapi.json",
        "This document",
        content_type="application/json",
    ),
    *DISPLAY_ROUTES,
)


def document() -> dict[str, Any]:
    from clearing.api.openapi_admin import ADMIN_ROUTES  # it imports Route from here
    from clearing.api.openapi_kiosk import KIOSK_ROUTES
    from clearing.api.openapi_notices import NOTICE_ROUTES

    routes = (*ROUTES, *ADMIN_ROUTES, *KIOSK_ROUTES, *NOTICE_ROUTES)
    models: set[type[BaseModel]] = {m.Problem}
    for r in routes:
        models.update(x for x in (r.request, r.response) if x is not None)
    ordered = sorted(models, key=lambda x: x.__name__)
    keys, defs = models_json_schema(
        [
            (x, "validation" if x in {r.request for r in routes} else "serialization")
            for x in ordered
        ],
        ref_template="#/components/schemas/{model}",
    )
    schemas = defs.get("$defs", {})

    def ref(model: type[BaseModel], mode: str) -> dict[str, Any]:
        return dict(keys[(model, mode)])  # type: ignore[index]

    paths: dict[str, dict[str, Any]] = {}
    for r in routes:
        op: dict[str, Any] = {"summary": r.summary, "responses": {}}
        params = [
            {
                "name": n,
                "in": "path",
                "required": True,
                "schema": _PATH_SCHEMAS.get(n, _KEY),
            }
            for n in _path_params(r.path)
        ]
        params += [
            {"name": q.name, "in": "query", "required": False, "schema": q.schema}
            | ({"description": q.description} if q.description else {})
            for q in r.query
        ]
        params += [
            {
                "name": h,
                "in": "header",
                "required": True,
                "schema": {"type": "string", "minLength": 8, "maxLength": 128},
            }
            for h in r.headers
        ]
        if params:
            op["parameters"] = params
        if r.request is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": ref(r.request, "validation")}},
            }
        ok: dict[str, Any] = {"description": "OK"}
        if r.response is not None:
            ok["content"] = {r.content_type: {"schema": ref(r.response, "serialization")}}
        elif r.status == 204:
            pass
        elif r.content_type == "application/json":
            ok["content"] = {r.content_type: {"schema": {"type": "object"}}}
        else:
            ok["content"] = {r.content_type: {"schema": {"type": "string"}}}
        op["responses"][str(r.status)] = ok
        op["responses"]["default"] = {
            "description": "Error",
            "content": {"application/problem+json": {"schema": ref(m.Problem, "serialization")}},
        }
        who = access.callers(r.method, r.path)
        if who is not None:
            # the row of clearing.api.access, as data for programs and as words for people
            op["x-roles"] = sorted(who)
            op["description"] = "Callers: " + (
                "anyone"
                if who == access.PUBLIC
                else ", ".join(c for c in (*access.CALLERS, *access.DEVICES) if c in who)
            )
        if who is None or (access.ANONYMOUS not in who and not who <= set(access.DEVICES)):
            op["security"] = [{"bearer": []}]
        elif r.optional_bearer:
            op["security"] = [{"bearer": []}, {}]
        paths.setdefault(r.path, {})[r.method] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "tongjiao clearing API",
            "version": "1",
            "description": "税费通缴: one payment at the window, split exactly to every "
            "beneficiary. Amounts are integer fen.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _path_params(path: str) -> list[str]:
    return [seg[1:-1] for seg in path.split("/") if seg.startswith("{") and seg.endswith("}")]
