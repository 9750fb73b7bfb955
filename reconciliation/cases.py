"""What finance staff do with the discrepancies nightly reconciliation raises.

The engine creates a discrepancy OPEN and closes it itself ('auto: …') when a later run finds the
record matched. People move it the rest of the way::

    OPEN ──assign──▶ ASSIGNED ──resolve / adjustment posted / match confirmed──▶ RESOLVED
      └─────────────────┴──────────void (not a discrepancy; audit kept)───────▶ VOID

A resolution that changes money is an adjusting journal entry: one finance or admin user proposes
its legs, a *different* one approves it, and only then is it posted, in the transaction that
resolves the discrepancy. While a proposal waits, the discrepancy is neither resolved nor voided
by hand, and an approval finds it still open or is refused: money is never posted for a case
that someone (or the engine) closed meanwhile.

Every writer here locks the discrepancy row first (then the adjustment), and every transition is
a guarded ``UPDATE … WHERE state …``: a decision made twice finds nothing to move (409), and two
writers never deadlock. Every change writes an audit row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import asyncpg

from clearing.db import Conn
from clearing.domain.display import name
from clearing.domain.money import MAX_FEN
from clearing.errors import Conflict, Forbidden, InvalidRequest
from clearing.service import audit
from clearing.service.principals import Principal
from clearing.service.settlement_answers import post
from reconciliation.case_reads import _MATCHES, ACT_ROLES, _may, _not_found, get, get_adjustment

MAX_LEGS: Final = 20

# --- rules shared by the writers ----------------------------------------------------------------


def _text(value: str, field: str, lo: int, hi: int, what_zh: str) -> str:
    value = value.strip()
    if not lo <= len(value) <= hi:
        raise InvalidRequest(
            f"INVALID_{field.upper()}",
            f"{field} must be {lo}-{hi} characters",
            f"请填写{what_zh}（{lo}至{hi}个字）",
            field=field,
        )
    return value


def _decided(what: str, key: int, state: str, what_zh: str) -> Conflict:
    return Conflict(
        f"{what.upper()}_ALREADY_DECIDED",
        f"{what} {key} is {state}",
        f"该{what_zh}已处理，请刷新后查看",
        state=state,
    )


async def _lock(conn: Conn, discrepancy_id: int, *, live: bool = True) -> asyncpg.Record:
    d = await conn.fetchrow(
        "SELECT id, state, assigned_to FROM discrepancies WHERE id = $1 FOR UPDATE",
        discrepancy_id,
    )
    if d is None:
        raise _not_found("discrepancy", discrepancy_id, "对账差异")
    if live and d["state"] not in ("OPEN", "ASSIGNED"):
        raise Conflict(
            "DISCREPANCY_CLOSED",
            f"discrepancy {discrepancy_id} is already {d['state']}",
            "该对账差异已解决或已作废，请刷新后查看",
            state=d["state"],
        )
    return d


async def _no_pending(conn: Conn, discrepancy_id: int) -> None:
    pending = await conn.fetchval(
        "SELECT id FROM recon_adjustments WHERE discrepancy_id = $1 AND state = 'REQUESTED'",
        discrepancy_id,
    )
    if pending is not None:
        raise Conflict(
            "ADJUSTMENT_PENDING",
            f"adjustment {pending} of this discrepancy waits for a decision",
            f"该差异有待审批的调整分录（编号 {pending}），请先审批或驳回",
            adjustment_id=pending,
        )


async def _audit(
    conn: Conn, who: Principal, action: str, key: int, rid: str | None, **detail: Any
) -> None:
    await audit.record(conn, who, action, key, detail, request_id=rid)


async def _finish(
    conn: Conn,
    who: Principal,
    key: int,
    *,
    state: str,
    resolution: str,
    rid: str | None,
    **why: Any,
) -> None:
    """Close a locked, live discrepancy as RESOLVED or VOID, audited."""
    await conn.execute(
        "UPDATE discrepancies SET state = $2, resolution = $3, resolved_by = $4,"
        " resolved_at = now() WHERE id = $1 AND state IN ('OPEN', 'ASSIGNED')",
        key,
        state,
        resolution,
        who.username,
    )
    action = "discrepancy.resolved" if state == "RESOLVED" else "discrepancy.voided"
    await _audit(conn, who, action, key, rid, resolution=resolution, **why)


# --- acting on a discrepancy -------------------------------------------------------------------


async def assign(
    conn: Conn, who: Principal, discrepancy_id: int, *, username: str, request_id: str | None = None
) -> dict[str, Any]:
    """OPEN or ASSIGNED → ASSIGNED to an active finance or admin user."""
    _may(who, ACT_ROLES)
    async with conn.transaction():
        to = await conn.fetchrow(
            "SELECT id, username FROM principals WHERE username = $1 AND kind = 'staff'"
            " AND NOT disabled AND role = ANY($2::text[])",
            username.strip(),
            sorted(ACT_ROLES),
        )
        if to is None:
            raise InvalidRequest(
                "INVALID_ASSIGNEE",
                f"{username} is not an active finance or admin user",
                "只能指派给在职的财务人员或管理员",
                field="username",
            )
        d = await _lock(conn, discrepancy_id)
        before = await conn.fetchval(
            "UPDATE discrepancies SET state = 'ASSIGNED', assigned_to = $2"
            " WHERE id = $1 AND state IN ('OPEN', 'ASSIGNED')"
            " RETURNING (SELECT username FROM principals WHERE id = $3)",
            discrepancy_id,
            to["id"],
            d["assigned_to"],
        )
        await _audit(
            conn, who, "discrepancy.assigned", discrepancy_id, request_id,
            from_state=d["state"], assigned_to=to["username"], before=before,
        )  # fmt: skip
    return await get(conn, who, discrepancy_id)


async def comment(
    conn: Conn, who: Principal, discrepancy_id: int, *, body: str, request_id: str | None = None
) -> dict[str, Any]:
    """A note on the case, in any state: what was found out stays with the discrepancy."""
    _may(who, ACT_ROLES)
    body = _text(body, "body", 1, 2000, "备注")
    async with conn.transaction():
        await _lock(conn, discrepancy_id, live=False)
        comment_id = await conn.fetchval(
            "INSERT INTO discrepancy_comments (discrepancy_id, author, body)"
            " VALUES ($1, $2, $3) RETURNING id",
            discrepancy_id,
            who.id,
            body,
        )
        await _audit(
            conn, who, "discrepancy.commented", discrepancy_id, request_id,
            comment_id=comment_id, body=body,
        )  # fmt: skip
    return await get(conn, who, discrepancy_id)


async def _close(
    conn: Conn, who: Principal, discrepancy_id: int, *, state: str, reason: str, rid: str | None
) -> dict[str, Any]:
    _may(who, ACT_ROLES)
    reason = _text(reason, "reason", 2, 500, "处理说明")
    async with conn.transaction():
        d = await _lock(conn, discrepancy_id)
        await _no_pending(conn, discrepancy_id)
        await _finish(
            conn, who, discrepancy_id, state=state, resolution=reason, rid=rid,
            from_state=d["state"],
        )  # fmt: skip
    return await get(conn, who, discrepancy_id)


async def resolve(
    conn: Conn, who: Principal, discrepancy_id: int, *, reason: str, request_id: str | None = None
) -> dict[str, Any]:
    """Closed by hand, the reason as its resolution (e.g. the bank's credit arrived later)."""
    return await _close(conn, who, discrepancy_id, state="RESOLVED", reason=reason, rid=request_id)


async def void(
    conn: Conn, who: Principal, discrepancy_id: int, *, reason: str, request_id: str | None = None
) -> dict[str, Any]:
    """Not a discrepancy after all (a test payment, a known artefact): VOID, kept and audited."""
    return await _close(conn, who, discrepancy_id, state="VOID", reason=reason, rid=request_id)


# --- adjustments and matches -------------------------------------------------------------------


def check_legs(legs: Sequence[Sequence[Any]]) -> list[tuple[str, int]]:
    """The legs of an adjusting entry as they will be posted, or 422: 2 to MAX_LEGS, one per
    account, each a non-zero integer number of fen (debit positive), summing to zero."""

    def bad(code: str, message: str, message_zh: str, **fields: Any) -> InvalidRequest:
        return InvalidRequest(code, message, message_zh, field="legs", **fields)

    clean: list[tuple[str, int]] = []
    for leg in legs:
        code, fen = (leg[0], leg[1]) if len(leg) == 2 else (None, None)
        # bool is an int to Python, and True fen is always a bug
        if not isinstance(code, str) or isinstance(fen, bool) or not isinstance(fen, int):
            raise bad("INVALID_LEG", "a leg is [account code, signed integer fen]",
                      "每条分录应为[科目代码, 金额（分，整数）]")  # fmt: skip
        if fen == 0 or abs(fen) > MAX_FEN:
            raise bad("INVALID_LEG_AMOUNT", "a leg's amount must be non-zero fen",
                      "分录金额不能为零，也不能超出上限")  # fmt: skip
        clean.append((code.strip(), fen))
    if not 2 <= len(clean) <= MAX_LEGS:
        raise bad("INVALID_LEG_COUNT", f"an adjustment has 2 to {MAX_LEGS} legs",
                  f"调整分录应有2至{MAX_LEGS}条借贷记录")  # fmt: skip
    if len({c for c, _ in clean}) != len(clean):
        raise bad("DUPLICATE_ACCOUNT", "each account may appear once", "同一科目只能出现一次")
    if total := sum(fen for _, fen in clean):
        raise bad("ADJUSTMENT_UNBALANCED", f"the legs must sum to zero, not {total} fen",
                  f"借贷不平（相差 {total} 分），借方合计应等于贷方合计",
                  difference_fen=total)  # fmt: skip
    return clean


async def propose_adjustment(
    conn: Conn,
    who: Principal,
    discrepancy_id: int,
    *,
    legs: Sequence[Sequence[Any]],
    memo: str,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Ask for an adjusting entry; it is posted only when someone else approves it."""
    _may(who, ACT_ROLES)
    clean = check_legs(legs)
    memo = _text(memo, "memo", 2, 200, "调整摘要")
    codes = [c for c, _ in clean]
    async with conn.transaction():
        await _lock(conn, discrepancy_id)
        await _no_pending(conn, discrepancy_id)
        found = await conn.fetch("SELECT code FROM ledger_accounts WHERE code = ANY($1)", codes)
        # refused at the proposal, with the staff's message, not first at the approval
        if unknown := sorted(set(codes) - {r["code"] for r in found}):
            raise InvalidRequest(
                "UNKNOWN_ACCOUNT",
                f"unknown ledger account: {', '.join(unknown)}",
                f"科目不存在：{'、'.join(unknown)}",
                field="legs",
                accounts=unknown,
            )
        adjustment_id = await conn.fetchval(
            "INSERT INTO recon_adjustments (discrepancy_id, legs, memo, requested_by)"
            " VALUES ($1, $2, $3, $4) RETURNING id",
            discrepancy_id,
            [list(leg) for leg in clean],
            memo,
            who.id,
        )
        await _audit(
            conn, who, "recon_adjustment.requested", adjustment_id, request_id,
            discrepancy_id=discrepancy_id, legs=clean, memo=memo,
        )  # fmt: skip
    return await get_adjustment(conn, who, adjustment_id)


async def decide_adjustment(
    conn: Conn,
    who: Principal,
    adjustment_id: int,
    *,
    approve: bool,
    note: str | None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Approve (the entry is posted and the discrepancy resolved, in one transaction) or reject;
    never by the person who proposed it. A note is kept as a comment on the discrepancy."""
    _may(who, ACT_ROLES)
    note = (note or "").strip() or None
    async with conn.transaction():
        a = await conn.fetchrow(
            "SELECT discrepancy_id, requested_by FROM recon_adjustments WHERE id = $1",
            adjustment_id,
        )
        if a is None:
            raise _not_found("adjustment", adjustment_id, "调整分录")
        if a["requested_by"] == who.id:
            raise Forbidden(
                "FOUR_EYES",
                "the person who proposed an adjustment cannot approve or reject it",
                "提议人不能审批自己提交的调整分录，请由另一位财务人员审批",
            )
        d_id = a["discrepancy_id"]
        # an approval needs the case still open; a rejection may tidy up after it closed
        await _lock(conn, d_id, live=approve)
        state = "POSTED" if approve else "REJECTED"
        row = await conn.fetchrow(
            "UPDATE recon_adjustments SET state = $2, decided_by = $3, decided_at = now()"
            " WHERE id = $1 AND state = 'REQUESTED' RETURNING legs, memo",
            adjustment_id,
            state,
            who.id,
        )
        if row is None:
            now = await conn.fetchval(
                "SELECT state FROM recon_adjustments WHERE id = $1", adjustment_id
            )
            raise _decided("adjustment", adjustment_id, now, "调整分录")
        detail: dict[str, Any] = {"discrepancy_id": d_id, "note": note}
        if approve:
            legs = [(str(code), int(fen)) for code, fen in row["legs"]]
            # post() refuses an unknown account itself: every leg is posted, or nothing
            entry = await post(conn, "ADJUSTMENT", row["memo"], legs)
            await conn.execute(
                "UPDATE recon_adjustments SET entry_id = $2 WHERE id = $1", adjustment_id, entry
            )
            detail |= {"entry_id": entry, "legs": legs}
            await _finish(
                conn, who, d_id, state="RESOLVED",
                resolution=f"已按调整分录过账（记账凭证 {entry}）",
                rid=request_id, adjustment_id=adjustment_id,
            )  # fmt: skip
        if note:
            await conn.execute(
                "INSERT INTO discrepancy_comments (discrepancy_id, author, body)"
                " VALUES ($1, $2, $3)",
                d_id,
                who.id,
                f"{'同意' if approve else '驳回'}调整分录 #{adjustment_id}：{note}",
            )
        action = f"recon_adjustment.{state.lower()}"
        await _audit(conn, who, action, adjustment_id, request_id, **detail)
    return await get_adjustment(conn, who, adjustment_id)


async def decide_match(
    conn: Conn, who: Principal, match_id: int, *, confirm: bool, request_id: str | None = None
) -> dict[str, Any]:
    """Confirm or reject a match a rule proposed. Confirming resolves the discrepancies the
    engine linked to it (``detail.match_id``); rejecting leaves them as they are."""
    _may(who, ACT_ROLES)
    state = "CONFIRMED" if confirm else "REJECTED"
    async with conn.transaction():
        linked = await conn.fetch(
            "SELECT id FROM discrepancies WHERE detail->>'match_id' = $1"
            " AND state IN ('OPEN', 'ASSIGNED') ORDER BY id FOR UPDATE",
            str(match_id),
        )
        m = await conn.fetchrow(
            "UPDATE recon_matches SET state = $2, decided_by = $3, decided_at = now()"
            " WHERE id = $1 AND state = 'PROPOSED' RETURNING rule, external_ref, internal_ref",
            match_id,
            state,
            who.id,
        )
        if m is None:
            now = await conn.fetchval("SELECT state FROM recon_matches WHERE id = $1", match_id)
            if now is None:
                raise _not_found("match", match_id, "匹配建议")
            raise _decided("match", match_id, now, "匹配建议")
        resolved = [d["id"] for d in linked] if confirm else []
        for d_id in resolved:
            await _no_pending(conn, d_id)
            resolution = f"已确认匹配建议 {match_id}（{name('match_rule', m['rule'])}）"
            await _finish(
                conn, who, d_id, state="RESOLVED", resolution=resolution, rid=request_id,
                match_id=match_id,
            )  # fmt: skip
        action = f"recon_match.{state.lower()}"
        await _audit(conn, who, action, match_id, request_id, **dict(m), discrepancies=resolved)
    r = await conn.fetchrow(_MATCHES + " WHERE m.id = $1", match_id)
    assert r is not None
    return dict(r)
