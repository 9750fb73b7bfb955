"""Offices and their windows, each window with the card terminal standing at it.

Other parts key on the office code and the window code (orders, the per-window report, the live
events, the citizen screen): the codes never change once created; names and terminals do.
An administrator with an office of their own manages that office only (office scope).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import asyncpg

from clearing.db import Conn
from clearing.errors import Conflict, Forbidden, InvalidRequest, NotFound
from clearing.service import audit
from clearing.service.principals import Principal, require_role

OFFICE_KINDS = {"hall": "登记大厅", "centre": "便民服务中心", "branch": "银行网点"}
# an outlet in a partner bank's branch (同城通办): it names the bank and the branch it stands in
OUTLET_KIND = "branch"


@dataclass(frozen=True)
class Office:
    code: str
    name: str
    kind: str
    active: bool
    partner_bank: str | None = None
    branch_name: str | None = None


_OFFICE_COLUMNS = "code, name, kind, active, partner_bank, branch_name"


def check_outlet(office: Office) -> Office:
    """An outlet (银行网点) names its partner bank and branch; another kind of office names
    neither (the table's ``offices_outlet_bank`` says the same)."""
    if office.kind == OUTLET_KIND:
        if not (office.partner_bank or "").strip() or not (office.branch_name or "").strip():
            raise InvalidRequest(
                "OUTLET_BANK_REQUIRED",
                "a bank outlet names its partner bank and branch (partner_bank, branch_name)",
                "银行网点须填写合作银行和所在支行（网点）名称",
            )
        return office
    if office.partner_bank is not None or office.branch_name is not None:
        raise InvalidRequest(
            "OUTLET_BANK_NOT_ALLOWED",
            "only a bank outlet (kind branch) names a partner bank and branch",
            "只有银行网点可以填写合作银行和支行名称；请先将类型改为银行网点",
        )
    return office


@dataclass(frozen=True)
class Window:
    office: str
    code: str
    name: str
    terminal_id: str | None
    active: bool


def check_office_scope(who: Principal, office: str | None) -> None:
    """An administrator bound to an office acts within it only; one without acts everywhere."""
    if who.office is not None and office != who.office:
        raise Forbidden(
            "OFFICE_FORBIDDEN",
            f"you act for office {who.office} only",
            "您只能处理本大厅的用户和窗口",
        )


def _window(r: asyncpg.Record) -> Window:
    return Window(r["office_code"], r["code"], r["name"], r["terminal_id"], r["active"])


async def offices(conn: Conn, who: Principal) -> list[Office]:
    rows = await conn.fetch(
        f"SELECT {_OFFICE_COLUMNS} FROM offices"  # noqa: S608 (a constant column list)
        " WHERE $1::text IS NULL OR code = $1 ORDER BY code",
        who.office,
    )
    return [Office(**dict(r)) for r in rows]


async def windows(conn: Conn, who: Principal, office: str | None = None) -> list[Window]:
    if office is not None:
        check_office_scope(who, office)
    rows = await conn.fetch(
        "SELECT office_code, code, name, terminal_id, active FROM windows"
        " WHERE ($1::text IS NULL OR office_code = $1) ORDER BY office_code, code",
        office or who.office,
    )
    return [_window(r) for r in rows]


async def require_in_service(conn: Conn, office: str) -> None:
    """OFFICE_UNKNOWN unless the office exists and is active: nothing new is placed in another."""
    if not await conn.fetchval("SELECT 1 FROM offices WHERE code = $1 AND active", office):
        raise InvalidRequest(
            "OFFICE_UNKNOWN", f"no office {office} in service", "办事大厅不存在或已停用"
        )


def _require_admin(who: Principal) -> None:
    require_role(who, ("admin",), "only an admin manages offices", "只有管理员可以管理大厅和窗口")


async def create_office(
    conn: Conn,
    who: Principal,
    *,
    code: str,
    name: str,
    kind: str,
    partner_bank: str | None = None,
    branch_name: str | None = None,
    request_id: str | None = None,
) -> Office:
    _require_admin(who)
    if who.office is not None:
        raise Forbidden(
            "OFFICE_FORBIDDEN",
            "an administrator of one office cannot create offices",
            "本大厅管理员不能新建办事大厅",
        )
    office = check_outlet(Office(code, name, kind, True, partner_bank, branch_name))
    async with conn.transaction():
        try:
            await conn.execute(
                "INSERT INTO offices (code, name, kind, partner_bank, branch_name)"
                " VALUES ($1, $2, $3, $4, $5)",
                code,
                name,
                kind,
                partner_bank,
                branch_name,
            )
        except asyncpg.UniqueViolationError as exc:
            raise Conflict("OFFICE_EXISTS", f"office {code} exists", "该大厅编码已存在") from exc
        detail: dict[str, Any] = {"name": name, "kind": kind}
        if kind == OUTLET_KIND:
            detail |= {"partner_bank": partner_bank, "branch_name": branch_name}
        await audit.record(conn, who, "office.created", code, detail, request_id=request_id)
    return office


async def update_office(
    conn: Conn, who: Principal, code: str, changes: dict[str, Any], request_id: str | None = None
) -> Office:
    _require_admin(who)
    check_office_scope(who, code)
    async with conn.transaction():
        row = await conn.fetchrow(
            f"SELECT {_OFFICE_COLUMNS} FROM offices WHERE code = $1 FOR UPDATE",  # noqa: S608
            code,
        )
        if row is None:
            raise NotFound("OFFICE_NOT_FOUND", f"no office {code}", "办事大厅不存在")
        before = Office(**dict(row))
        merged = {**asdict(before), **changes}
        if merged["kind"] != OUTLET_KIND and before.kind == OUTLET_KIND:
            # no longer an outlet: the bank and branch it stood in go with it (audited below)
            merged |= {k: None for k in ("partner_bank", "branch_name") if k not in changes}
        after = check_outlet(Office(**merged))
        await conn.execute(
            "UPDATE offices SET name = $2, kind = $3, active = $4, partner_bank = $5,"
            " branch_name = $6 WHERE code = $1",
            code,
            after.name,
            after.kind,
            after.active,
            after.partner_bank,
            after.branch_name,
        )
        await audit.record(
            conn,
            who,
            "office.updated",
            code,
            audit.changed(asdict(before), asdict(after)),
            request_id=request_id,
        )
    return after


def _terminal_taken(exc: asyncpg.UniqueViolationError, terminal_id: str | None) -> Conflict:
    return Conflict(
        "TERMINAL_IN_USE",
        f"terminal {terminal_id} already stands at another window",
        f"终端 {terminal_id} 已配置在其他窗口",
    )


async def create_window(
    conn: Conn,
    who: Principal,
    *,
    office: str,
    code: str,
    name: str,
    terminal_id: str | None,
    request_id: str | None = None,
) -> Window:
    _require_admin(who)
    check_office_scope(who, office)
    async with conn.transaction():
        if not await conn.fetchval("SELECT 1 FROM offices WHERE code = $1", office):
            raise NotFound("OFFICE_NOT_FOUND", f"no office {office}", "办事大厅不存在")
        try:
            await conn.execute(
                "INSERT INTO windows (office_code, code, name, terminal_id)"
                " VALUES ($1, $2, $3, $4)",
                office,
                code,
                name,
                terminal_id,
            )
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "windows_terminal_key":
                raise _terminal_taken(exc, terminal_id) from exc
            raise Conflict(
                "WINDOW_EXISTS", f"office {office} has a window {code}", "该窗口编号已存在"
            ) from exc
        await audit.record(
            conn,
            who,
            "window.created",
            f"{office}/{code}",
            {"name": name, "terminal_id": terminal_id},
            request_id=request_id,
        )
    return Window(office, code, name, terminal_id, True)


async def update_window(
    conn: Conn,
    who: Principal,
    office: str,
    code: str,
    *,
    changes: dict[str, Any],
    request_id: str | None = None,
) -> Window:
    _require_admin(who)
    check_office_scope(who, office)
    async with conn.transaction():
        row = await conn.fetchrow(
            "SELECT office_code, code, name, terminal_id, active FROM windows"
            " WHERE office_code = $1 AND code = $2 FOR UPDATE",
            office,
            code,
        )
        if row is None:
            raise NotFound("WINDOW_NOT_FOUND", f"no window {office}/{code}", "窗口不存在")
        before = _window(row)
        after = Window(**{**asdict(before), **changes})
        try:
            await conn.execute(
                "UPDATE windows SET name = $3, terminal_id = $4, active = $5"
                " WHERE office_code = $1 AND code = $2",
                office,
                code,
                after.name,
                after.terminal_id,
                after.active,
            )
        except asyncpg.UniqueViolationError as exc:
            raise _terminal_taken(exc, after.terminal_id) from exc
        await audit.record(
            conn,
            who,
            "window.updated",
            f"{office}/{code}",
            audit.changed(asdict(before), asdict(after)),
            request_id=request_id,
        )
    return after


def assigned_window(who: Principal, stated: str | None) -> str | None:
    """A clerk's window is the one assigned to them: another one stated is refused, none
    assigned is refused. Other roles have no fixed window (None)."""
    if who.role != "clerk":
        return None
    if who.window is None:
        raise Forbidden(
            "WINDOW_UNASSIGNED",
            "you have no window assigned; ask an administrator",
            "您尚未分配窗口，请联系系统管理员",
        )
    if stated and stated != who.window:
        raise Conflict(
            "WINDOW_MISMATCH",
            f"you work at window {who.window}, not {stated}",
            f"您的工作窗口是 {who.window}，不能在窗口 {stated} 办理；请刷新页面",
            assigned=who.window,
        )
    return who.window


def check_order_office(who: Principal, office: str) -> None:
    """Staff of one office take orders for that office only."""
    if who.office is not None and who.office != office:
        raise Forbidden(
            "OFFICE_FORBIDDEN",
            "you can only create orders for your own office",
            "只能为本大厅开具缴费单",
        )


async def order_window(conn: Conn, who: Principal, office: str, stated: str | None) -> str:
    """The window an order of ``who`` is taken at. A clerk's is their assigned window, whatever
    the browser says; a supervisor or administrator names one (or has one), and it must be a
    window of that office in service."""
    check_order_office(who, office)
    window = assigned_window(who, stated) or stated or who.window
    if window is None:
        raise InvalidRequest("WINDOW_REQUIRED", "say which window (window)", "请选择窗口")
    in_service = await conn.fetchval(
        "SELECT w.active AND o.active FROM windows w JOIN offices o ON o.code = w.office_code"
        " WHERE w.office_code = $1 AND w.code = $2",
        office,
        window,
    )
    if not in_service:
        raise InvalidRequest(
            "WINDOW_UNKNOWN",
            f"office {office} has no window {window} in service",
            f"本大厅没有在用的窗口 {window}",
        )
    return window


async def check_terminal(conn: Conn, office: str, terminal_id: str) -> None:
    """A card sale goes to a terminal of the order's office. The terminal is the browser's
    word: one standing at another office's window (a hall's, for an outlet's order, or the
    other way round) is refused. A terminal no window names yet is the deployment's own
    (``pos_terminals``) and is let through, as before windows had terminals."""
    at = await conn.fetchval("SELECT office_code FROM windows WHERE terminal_id = $1", terminal_id)
    if at is not None and at != office:
        raise Forbidden(
            "TERMINAL_OTHER_OFFICE",
            f"terminal {terminal_id} stands at another office's window",
            f"终端 {terminal_id} 不在本大厅（网点），不能在此刷卡；请使用本窗口的终端",
            terminal_id=terminal_id,
        )


async def describe(conn: Conn, who: Principal) -> dict[str, str | None]:
    """Display names of a principal's office and window, and the terminal at that window."""
    row = await conn.fetchrow(
        "SELECT o.name AS office_name, w.name AS window_name, w.terminal_id"
        "  FROM (SELECT $1::text AS office, $2::text AS window_code) p"
        "  LEFT JOIN offices o ON o.code = p.office"
        "  LEFT JOIN windows w ON w.office_code = p.office AND w.code = p.window_code",
        who.office,
        who.window,
    )
    assert row is not None
    return dict(row)
