"""Settlement for finance staff: batches, their files, and beneficiary account corrections.

Finance, admin and auditors read everything here; finance and admin act (an account correction
is requested by one of them and decided by another); auditors never act. Settlement files are
downloaded by name only if the name is a row of ``settlement_files``: the path on disk is built
from that row, never from the request, and every download is audited.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg
from aiohttp import web

from clearing.api import inputs
from clearing.api.keys import POOL, SETTINGS
from clearing.api.models_settlement import (
    AccountChangeIn,
    AccountChangeList,
    AccountChangeOut,
    BatchDetail,
    BatchList,
    BatchSummary,
    BeneficiaryList,
    BeneficiaryOut,
)
from clearing.api.route_kinds import acted, audited, decision_routes, read_signed_in
from clearing.api.web import authenticate, ok
from clearing.domain.times import business_day
from clearing.errors import Conflict, NotFound
from clearing.service import beneficiary_accounts as accounts
from clearing.service.settlement import file_path, files_root

routes = web.RouteTableDef()
log = logging.getLogger(__name__)

# business dates are Beijing dates, as the cut-off (tj_settlement_cutoff) counts them
INSTRUCTION_STATES = ("PENDING", "ACCEPTED", "BOOKED", "REJECTED", "RETURNED")
# sent as attachments whatever the type; the type only helps the program that opens them
_FILE_TYPES = {
    "pain001": "application/xml",
    "payout": "text/plain",
    "detail": "text/csv",
    "sha256": "text/plain",
    "sig": "application/json",
}


# --- beneficiary accounts ------------------------------------------------------------------


@routes.get("/api/v1/beneficiaries")
async def list_beneficiaries(request: web.Request) -> web.Response:
    views = await read_signed_in(request, accounts.beneficiaries)
    return ok(BeneficiaryList(beneficiaries=[BeneficiaryOut.model_validate(v) for v in views]))


@routes.post("/api/v1/beneficiaries/{code}/account-changes")
async def request_account_change(request: web.Request) -> web.Response:
    code = request.match_info["code"]
    view = await acted(request, accounts.request_change, code, reads=AccountChangeIn)
    return ok(AccountChangeOut.model_validate(view), 201)


@routes.get("/api/v1/account-changes")
async def list_account_changes(request: web.Request) -> web.Response:
    views = await read_signed_in(request, accounts.changes, request.query.get("state") or None)
    return ok(AccountChangeList(changes=[AccountChangeOut.model_validate(v) for v in views]))


decision_routes(
    routes,
    "/api/v1/account-changes/{change_id:" + inputs.ID_PATTERN + "}",
    "change_id",
    accounts.decide,
    AccountChangeOut,
)


# --- settlement batches (read-only views of what the cut-off and the bank recorded) ---------

_BATCH_COLUMNS = """
SELECT b.id, b.msg_id, b.bank, b.business_date, b.seq, b.state, b.cutoff_at, b.execution_date,
       b.instruction_count, b.line_count, b.total_fen, b.created_by, b.created_at,
       b.delivered_at,
       (SELECT coalesce(jsonb_object_agg(s.state, s.n), '{}'::jsonb)
          FROM (SELECT state, count(*) AS n FROM settlement_instructions
                 WHERE batch_id = b.id GROUP BY state) s) AS states
  FROM settlement_batches b
"""
_INSTRUCTIONS = """
SELECT i.seq, i.end_to_end_id, i.beneficiary_code, bn.name AS beneficiary_name,
       i.creditor_name, i.creditor_account, i.creditor_bank_code, i.creditor_bank_name,
       i.amount_fen, i.state, i.reason_code, i.reason_text, i.answered_at,
       (SELECT count(*) FROM settlement_items s WHERE s.instruction_id = i.id) AS line_count
  FROM settlement_instructions i JOIN beneficiaries bn ON bn.code = i.beneficiary_code
 WHERE i.batch_id = $1 ORDER BY i.seq
"""


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _summary(b: asyncpg.Record) -> dict[str, Any]:
    states = {s: int(b["states"].get(s, 0)) for s in INSTRUCTION_STATES}
    return {
        "msg_id": b["msg_id"],
        "bank": b["bank"],
        "business_date": b["business_date"].isoformat(),
        "seq": b["seq"],
        "state": b["state"],
        "cutoff_at": b["cutoff_at"].isoformat(),
        "instruction_count": b["instruction_count"],
        "line_count": b["line_count"],
        "total_fen": b["total_fen"],
        "instruction_states": states,
    }


def _business_date(request: web.Request) -> date:
    day = inputs.query_date(request.query, "date")
    return day if day is not None else business_day(datetime.now(UTC))


@routes.get("/api/v1/settlement/batches")
async def list_batches(request: web.Request) -> web.Response:
    """The batches of one business date (?date=, default today in Beijing), newest first."""
    await authenticate(request)
    day = _business_date(request)
    async with request.app[POOL].acquire() as conn:
        rows = await conn.fetch(
            _BATCH_COLUMNS + " WHERE b.business_date = $1 ORDER BY b.cutoff_at DESC, b.id DESC",
            day,
        )
    return ok(
        BatchList(
            date=day.isoformat(), batches=[BatchSummary.model_validate(_summary(r)) for r in rows]
        )
    )


@routes.get("/api/v1/settlement/batches/{msg_id}")
async def batch_detail(request: web.Request) -> web.Response:
    await authenticate(request)
    msg_id = request.match_info["msg_id"]
    async with request.app[POOL].acquire() as conn:
        b = await conn.fetchrow(_BATCH_COLUMNS + " WHERE b.msg_id = $1", msg_id)
        if b is None:
            raise NotFound("BATCH_NOT_FOUND", f"no settlement batch {msg_id}", "清分批次不存在")
        instructions = await conn.fetch(_INSTRUCTIONS, b["id"])
        files = await conn.fetch(
            "SELECT name, kind, size, sha256, created_at FROM settlement_files"
            " WHERE batch_id = $1 ORDER BY name",
            b["id"],
        )
    view = {
        **_summary(b),
        "execution_date": b["execution_date"].isoformat(),
        "created_by": b["created_by"],
        "created_at": b["created_at"].isoformat(),
        "delivered_at": _iso(b["delivered_at"]),
        "instructions": [{**dict(i), "answered_at": _iso(i["answered_at"])} for i in instructions],
        "files": [
            {
                **dict(f),
                "created_at": f["created_at"].isoformat(),
                "download_url": "/settlement/files/" + quote(f["name"], safe=""),
            }
            for f in files
        ],
    }
    return ok(BatchDetail.model_validate(view))


# --- settlement files -----------------------------------------------------------------------


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


@routes.get("/settlement/files/{name}")
async def download_file(request: web.Request) -> web.Response:
    """One recorded settlement file as an attachment (bearer token or the session cookie, so a
    plain link on the finance page works). Checked against its recorded SHA-256 before it goes
    out: a file altered on disk is refused, never handed to someone checking a payout."""
    who = await authenticate(request, *accounts.READ_ROLES)
    async with request.app[POOL].acquire() as conn:
        f = await conn.fetchrow(
            "SELECT f.name, f.kind, f.sha256, b.bank, b.business_date, b.msg_id"
            "  FROM settlement_files f JOIN settlement_batches b ON b.id = f.batch_id"
            " WHERE f.name = $1",
            request.match_info["name"],
        )
    if f is None:
        raise NotFound("SETTLEMENT_FILE_NOT_FOUND", "no such settlement file", "结算文件不存在")
    settings = request.app[SETTINGS]
    root = files_root(settings.var_dir, settings.settlement_dir)
    # the recorded name, not the requested one, and only ever a plain name in its folder
    name = str(f["name"])
    assert name == Path(name).name and not name.startswith(".")
    data = await asyncio.to_thread(_read, file_path(root, f["bank"], f["business_date"], name))
    if data is None:
        log.error("settlement file %s of %s is recorded but not on disk", name, f["msg_id"])
        raise NotFound(
            "SETTLEMENT_FILE_MISSING",
            f"settlement file {name} is recorded but missing on disk",
            "结算文件已登记但在服务器上找不到，请联系系统管理员",
        )
    if hashlib.sha256(data).hexdigest() != f["sha256"]:
        log.error("settlement file %s of %s differs from its recorded sha256", name, f["msg_id"])
        raise Conflict(
            "SETTLEMENT_FILE_ALTERED",
            f"settlement file {name} does not match its recorded SHA-256",
            "结算文件与登记的校验值不符，可能正在重新生成或已被改动，请稍后重试或联系系统管理员",
        )
    # audited before a byte goes out: a download that fails midway is still on record
    await audited(
        request,
        who,
        "settlement.file_downloaded",
        name,
        {"msg_id": f["msg_id"], "kind": f["kind"], "sha256": f["sha256"]},
        object_type="settlement_file",
    )
    return web.Response(
        body=data,
        content_type=_FILE_TYPES.get(f["kind"], "application/octet-stream"),
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
