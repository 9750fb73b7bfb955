"""Beneficiary accounts and their maker-checker correction.

Changing the account a public beneficiary is paid to is where payout fraud happens, so it takes
two people: a finance (or admin) user requests the new account with a reason, and a *different*
finance or admin user approves or rejects it. Only the approval touches ``beneficiaries``; it also
clears ``payout_hold``, so lines held back after a rejected or returned payout go out at the next
cut-off. Both steps write audit rows carrying the account before and after.

The database keeps the rules whatever callers race: one open request per beneficiary (partial
unique index ``beneficiary_account_changes_open``), the decider is never the requester
(``beneficiary_account_changes_four_eyes``), and a decision is an ``UPDATE … WHERE state =
'REQUESTED'`` so a request is decided once.
"""

from __future__ import annotations

import re
from typing import Any, Final

import asyncpg

from clearing.db import Conn
from clearing.errors import Conflict, Forbidden, InvalidRequest, NotFound
from clearing.service import audit
from clearing.service.principals import Principal, require_role

REQUEST_ROLES: Final = frozenset({"finance", "admin"})
DECIDE_ROLES: Final = frozenset({"finance", "admin"})
READ_ROLES: Final = frozenset({"finance", "admin", "auditor"})
STATES: Final = ("REQUESTED", "APPROVED", "REJECTED")

# CNAPS 联行号: bank class 3 + location 4 + branch 4 + check digit 1 (as clearing.settlement.model)
_BANK_CODE: Final = re.compile(r"[0-9]{12}")
# what the change table and the pain.001 (Max34Text) both accept
_ACCOUNT_NO: Final = re.compile(r"[0-9A-Za-z-]{6,34}")
# a name travels into the 批量代付 file, which is '|'-separated and line-based, and into XML
_UNSAFE_TEXT: Final = re.compile(r"[\x00-\x1f\x7f-\x9f|]")
_OPEN_INDEX: Final = "beneficiary_account_changes_open"


def _account(r: asyncpg.Record | dict[str, Any], prefix: str = "") -> dict[str, str | None]:
    return {k: r[prefix + k] for k in ("account_no", "account_name", "bank_name", "bank_code")}


def _text(field: str, value: str, max_len: int, what_zh: str) -> str:
    value = value.strip()
    if not value or len(value) > max_len or _UNSAFE_TEXT.search(value):
        raise InvalidRequest(
            f"INVALID_{field.upper()}",
            f"{field} must be 1-{max_len} characters without control characters or '|'",
            f"{what_zh}不能为空，最多{max_len}个字，且不能含“|”或控制字符",
            field=field,
        )
    return value


def validate(
    account_no: str, account_name: str, bank_name: str, bank_code: str, reason: str
) -> dict[str, str]:
    """The new account as it will be stored, or InvalidRequest (422) naming the field."""
    bank_code = bank_code.strip()
    if not _BANK_CODE.fullmatch(bank_code):
        raise InvalidRequest(
            "INVALID_BANK_CODE",
            "bank_code must be the branch's 12-digit CNAPS code (联行号)",
            "开户行联行号应为12位数字，请向开户银行核实",
            field="bank_code",
        )
    # banks print account numbers in groups of four; the grouping spaces are not part of it
    account_no = re.sub(r"\s+", "", account_no)
    if not _ACCOUNT_NO.fullmatch(account_no):
        raise InvalidRequest(
            "INVALID_ACCOUNT_NO",
            "account_no must be 6-34 digits, letters or '-'",
            "银行账号应为6至34位数字或字母",
            field="account_no",
        )
    reason = reason.strip()
    if not 2 <= len(reason) <= 200:
        raise InvalidRequest(
            "INVALID_REASON",
            "reason must be 2-200 characters",
            "请填写更正原因（2至200字），如开户许可证或银行来函编号",
            field="reason",
        )
    return {
        "account_no": account_no,
        "account_name": _text("account_name", account_name, 100, "户名"),
        "bank_name": _text("bank_name", bank_name, 100, "开户行名称"),
        "bank_code": bank_code,
        "reason": reason,
    }


_CHANGES = """
SELECT c.id, c.beneficiary_code, c.account_no, c.account_name, c.bank_name, c.bank_code,
       c.reason, c.state, c.requested_at, c.decided_at, c.note, b.name AS beneficiary_name,
       b.account_no AS cur_account_no, b.account_name AS cur_account_name,
       b.bank_name AS cur_bank_name, b.bank_code AS cur_bank_code, rq.username AS requested_by_user,
       rq.display_name AS requested_by_name, d.username AS decided_by_user
  FROM beneficiary_account_changes c
  JOIN beneficiaries b ON b.code = c.beneficiary_code
  JOIN principals rq ON rq.id = c.requested_by
  LEFT JOIN principals d ON d.id = c.decided_by
"""


def _change_view(r: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": r["id"],
        "beneficiary_code": r["beneficiary_code"],
        "beneficiary_name": r["beneficiary_name"],
        **_account(r),
        # the account now: what an approval of a REQUESTED change replaces
        "current": _account(r, "cur_"),
        "reason": r["reason"],
        "state": r["state"],
        "requested_by": r["requested_by_user"],
        "requested_by_name": r["requested_by_name"],
        "requested_at": r["requested_at"].isoformat(),
        "decided_by": r["decided_by_user"],
        "decided_at": r["decided_at"].isoformat() if r["decided_at"] else None,
        "note": r["note"],
    }


async def get_change(conn: Conn, change_id: int) -> dict[str, Any]:
    r = await conn.fetchrow(_CHANGES + " WHERE c.id = $1", change_id)
    if r is None:
        raise NotFound(
            "ACCOUNT_CHANGE_NOT_FOUND", f"no account change {change_id}", "账户更正申请不存在"
        )
    return _change_view(r)


async def changes(
    conn: Conn, state: str | None = None, limit: int | None = 200
) -> list[dict[str, Any]]:
    """Account change requests, newest first; ``state`` narrows them (REQUESTED: the open ones,
    at most one per beneficiary); ``limit`` None: all of them."""
    if state is not None and state not in STATES:
        raise InvalidRequest(
            "INVALID_STATE", f"state must be one of {', '.join(STATES)}", "状态参数无效"
        )
    rows = await conn.fetch(
        _CHANGES + " WHERE ($1::text IS NULL OR c.state = $1) ORDER BY c.id DESC LIMIT $2",
        state,
        limit,
    )
    return [_change_view(r) for r in rows]


async def beneficiaries(conn: Conn) -> list[dict[str, Any]]:
    """Every beneficiary with its account, schedule, hold and open change request (if any)."""
    rows = await conn.fetch(
        "SELECT code, name, account_kind, active, account_no, account_name, bank_name,"
        " bank_code, settle_mode, cutoff_local, payout_hold FROM beneficiaries ORDER BY code"
    )
    open_by_code = {c["beneficiary_code"]: c for c in await changes(conn, "REQUESTED", None)}
    return [
        {
            "code": r["code"],
            "name": r["name"],
            "account_kind": r["account_kind"],
            "active": r["active"],
            **_account(r),
            "settle_mode": r["settle_mode"],
            "cutoff_local": f"{r['cutoff_local']:%H:%M}",
            "payout_hold": r["payout_hold"],
            "open_change": open_by_code.get(r["code"]),
        }
        for r in rows
    ]


async def request_change(
    conn: Conn,
    principal: Principal,
    code: str,
    *,
    account_no: str,
    account_name: str,
    bank_name: str,
    bank_code: str,
    reason: str,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Ask for a beneficiary's account to be replaced; takes effect only once someone else
    approves. 409 with the open request's id when one is already waiting."""
    require_role(
        principal,
        REQUEST_ROLES,
        "only finance or admin may request an account change",
        "只有财务人员或管理员可以申请更正收款账户",
    )
    new = validate(account_no, account_name, bank_name, bank_code, reason)
    async with conn.transaction():
        # the row lock orders this request after any approval of the same beneficiary in flight
        b = await conn.fetchrow(
            "SELECT code, account_no, account_name, bank_name, bank_code FROM beneficiaries"
            " WHERE code = $1 FOR UPDATE",
            code,
        )
        if b is None:
            raise NotFound("BENEFICIARY_NOT_FOUND", f"no beneficiary {code}", "收款单位不存在")
        try:
            async with conn.transaction():  # a savepoint: the index violation is answered below
                change_id = await conn.fetchval(
                    "INSERT INTO beneficiary_account_changes (beneficiary_code, account_no,"
                    " account_name, bank_name, bank_code, reason, requested_by)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                    code,
                    new["account_no"],
                    new["account_name"],
                    new["bank_name"],
                    new["bank_code"],
                    new["reason"],
                    principal.id,
                )
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name != _OPEN_INDEX:
                raise
            open_id = await conn.fetchval(
                "SELECT id FROM beneficiary_account_changes"
                " WHERE beneficiary_code = $1 AND state = 'REQUESTED'",
                code,
            )
            raise Conflict(
                "ACCOUNT_CHANGE_OPEN",
                f"beneficiary {code} already has account change {open_id} waiting for a decision",
                f"该收款单位已有待审批的账户更正申请（编号 {open_id}），请先审批或驳回",
                change_id=open_id,
            ) from None
        await audit.record(
            conn,
            principal,
            "beneficiary.account_change_requested",
            code,
            {
                "change_id": change_id,
                "old": _account(b),
                "new": _account(new),
                "reason": new["reason"],
            },
            request_id=request_id,
        )
        return await get_change(conn, int(change_id))


async def decide(
    conn: Conn,
    principal: Principal,
    change_id: int,
    *,
    approve: bool,
    note: str | None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Approve (the account is replaced, the payout hold cleared) or reject a request; never by
    the person who asked for it."""
    require_role(
        principal,
        DECIDE_ROLES,
        "only finance or admin may decide an account change",
        "只有财务人员或管理员可以审批收款账户更正",
    )
    note = (note or "").strip() or None
    async with conn.transaction():
        c = await conn.fetchrow(
            "SELECT beneficiary_code, requested_by FROM beneficiary_account_changes WHERE id = $1",
            change_id,
        )
        if c is None:
            raise NotFound(
                "ACCOUNT_CHANGE_NOT_FOUND", f"no account change {change_id}", "账户更正申请不存在"
            )
        if c["requested_by"] == principal.id:
            raise Forbidden(
                "FOUR_EYES",
                "the person who requested an account change cannot approve or reject it",
                "申请人不能审批自己提交的收款账户更正，请由另一位财务人员审批",
            )
        code = c["beneficiary_code"]
        b = await conn.fetchrow(
            "SELECT account_no, account_name, bank_name, bank_code, payout_hold"
            " FROM beneficiaries WHERE code = $1 FOR UPDATE",
            code,
        )
        assert b is not None  # a foreign key
        state = "APPROVED" if approve else "REJECTED"
        # the guard: of two decisions racing, exactly one finds the request still REQUESTED
        decided = await conn.fetchrow(
            "UPDATE beneficiary_account_changes SET state = $2, decided_by = $3,"
            " decided_at = now(), note = $4 WHERE id = $1 AND state = 'REQUESTED'"
            " RETURNING account_no, account_name, bank_name, bank_code",
            change_id,
            state,
            principal.id,
            note,
        )
        if decided is None:
            now = await conn.fetchval(
                "SELECT state FROM beneficiary_account_changes WHERE id = $1", change_id
            )
            raise Conflict(
                "ACCOUNT_CHANGE_ALREADY_DECIDED",
                f"account change {change_id} is {now}",
                "该账户更正申请已审批，请刷新后查看",
                state=now,
            )
        detail: dict[str, Any] = {
            "change_id": change_id,
            "old": _account(b),
            "new": _account(decided),
            "note": note,
        }
        if approve:
            await conn.execute(
                "UPDATE beneficiaries SET account_no = $2, account_name = $3, bank_name = $4,"
                " bank_code = $5, payout_hold = NULL WHERE code = $1",
                code,
                decided["account_no"],
                decided["account_name"],
                decided["bank_name"],
                decided["bank_code"],
            )
            detail["hold_cleared"] = b["payout_hold"]
        await audit.record(
            conn,
            principal,
            f"beneficiary.account_change_{state.lower()}",
            code,
            detail,
            request_id=request_id,
        )
        return await get_change(conn, change_id)
