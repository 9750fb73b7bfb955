"""What finance staff do with reconciliation discrepancies, on the real service and PostgreSQL:
list and filter them with counts, assign, comment, resolve or void them (each audited), fix money
with an adjusting entry that a second person approves (posted balanced, exactly as proposed), and
confirm the matches a rule proposed. Auditors read, clerks see nothing, a decision counts once."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest

from clearing.api.keys import POOL
from clearing.domain.display import TABLES
from clearing.errors import InvalidRequest
from reconciliation import case_reads, cases
from tests.integration.service_harness import Service, service_fixture, staff_fixture

DAY = date(2026, 3, 2)


svc = service_fixture("recon-cases", workers=0)


@pytest.fixture(scope="module")
def pool(svc: Service) -> asyncpg.Pool:
    return svc.app[POOL]


staff = staff_fixture(
    clerk="HALL1", supervisor="HALL1", finance=None, finance2=None, admin=None, auditor=None
)


@pytest.fixture(scope="module")
async def names(svc: Service, staff: dict[str, str]) -> dict[str, str]:
    out = {}
    for who, token in staff.items():
        me = await svc.answered("GET", "/api/v1/me", token)
        out[who] = me["username"]
    return out


@pytest.fixture(scope="module")
async def run_id(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        return int(
            await conn.fetchval(
                "INSERT INTO recon_runs (business_date, state, started_by)"
                " VALUES ($1, 'DONE', 'test') RETURNING id",
                DAY,
            )
        )


async def _discrepancy(
    pool: asyncpg.Pool,
    run_id: int,
    *,
    type: str = "AMOUNT_MISMATCH",
    source: str = "wechatpay",
    day: date = DAY,
    ours: int | None = 100_00,
    theirs: int | None = 99_50,
    detail: dict[str, Any] | None = None,
) -> int:
    """A discrepancy as the engine would raise it: OPEN, with a reference of its own."""
    async with pool.acquire() as conn:
        return int(
            await conn.fetchval(
                "INSERT INTO discrepancies (business_date, type, source, reference, our_ref,"
                " amount_fen, their_amount_fen, detail, first_run_id, last_run_id)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
                day,
                type,
                source,
                "4200002" + str(secrets.randbelow(10**21)).zfill(21),
                f"TJ{secrets.token_hex(6).upper()}",
                ours,
                theirs,
                detail or {},
                run_id,
            )
        )


async def _closed(svc: Service, d_id: int, action: str, token: str, reason: str) -> Any:
    """The discrepancy as ``action`` (resolve or void) with ``reason`` leaves it: the reason
    is its resolution."""
    d = await svc.answered("POST", _path(d_id, action), token, json={"reason": reason})
    assert d["resolution"] == reason
    return d


async def _audit(pool: asyncpg.Pool, object_type: str, object_id: int) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return list(
            await conn.fetch(
                "SELECT actor, action, detail FROM audit_log"
                " WHERE object_type = $1 AND object_id = $2 ORDER BY id",
                object_type,
                str(object_id),
            )
        )


async def _balances(pool: asyncpg.Pool, *codes: str) -> dict[str, int]:
    rows = await pool.fetch(
        "SELECT code, balance_fen FROM account_balances WHERE code = ANY($1)", list(codes)
    )
    return {r["code"]: r["balance_fen"] for r in rows}


def _path(d_id: int, action: str = "") -> str:
    return f"/api/v1/discrepancies/{d_id}" + (f"/{action}" if action else "")


# --- reading ---------------------------------------------------------------------------------


async def test_list_filters_pages_and_counts(
    svc: Service, staff: dict[str, str], pool: asyncpg.Pool, run_id: int
) -> None:
    source = f"t{secrets.token_hex(4)}"  # this test's rows alone
    long1 = await _discrepancy(pool, run_id, type="LONG", source=source, ours=None)
    long2 = await _discrepancy(pool, run_id, type="LONG", source=source, day=DAY - timedelta(1))
    short = await _discrepancy(pool, run_id, type="SHORT", source=source, theirs=None)
    old = await _discrepancy(pool, run_id, type="SHORT", source=source, day=DAY - timedelta(30))
    status, _ = await svc.request(
        "POST", _path(short, "void"), staff["finance"], json={"reason": "测试交易"}
    )
    assert status == 200

    week = f"source={source}&date_from={DAY - timedelta(6)}&date_to={DAY}"
    out = await svc.answered("GET", f"/api/v1/discrepancies?{week}", staff["finance"])
    assert [d["id"] for d in out["items"]] == [short, long1, long2]  # newest day, then newest
    assert out["total"] == 3
    assert out["counts"]["by_type"]["LONG"] == 2 and out["counts"]["by_type"]["SHORT"] == 1
    assert out["counts"]["by_state"] == {"OPEN": 2, "ASSIGNED": 0, "RESOLVED": 0, "VOID": 1}
    first = out["items"][1]
    assert (first["type"], first["state"], first["amount_fen"]) == ("LONG", "OPEN", None)
    assert first["difference_fen"] is None and first["their_amount_fen"] == 99_50

    # the state filter narrows the rows and the type counts, not the state counts
    out = await svc.answered(
        "GET", f"/api/v1/discrepancies?{week}&state=OPEN,ASSIGNED", staff["auditor"]
    )
    assert [d["id"] for d in out["items"]] == [long1, long2]
    assert out["counts"]["by_type"]["SHORT"] == 0 and out["counts"]["by_state"]["VOID"] == 1

    status, out = await svc.request(
        "GET", f"/api/v1/discrepancies?source={source}&type=SHORT", staff["finance"]
    )
    assert [d["id"] for d in out["items"]] == [short, old]
    assert out["counts"]["by_state"]["OPEN"] == 1

    status, out = await svc.request(
        "GET", f"/api/v1/discrepancies?source={source}&page=2&page_size=3", staff["finance"]
    )
    assert status == 200 and [d["id"] for d in out["items"]] == [old]
    assert (out["total"], out["page"], out["page_size"]) == (4, 2, 3)

    for bad in ("type=NOPE", "state=CLOSED", "date_from=2026-13-01", "page=0", "page_size=999",
                f"date_from={DAY}&date_to={DAY - timedelta(1)}"):  # fmt: skip
        status, problem = await svc.request("GET", f"/api/v1/discrepancies?{bad}", staff["finance"])
        assert status == 422, (bad, problem)


async def test_detail_and_unknown_ids(
    svc: Service, staff: dict[str, str], pool: asyncpg.Pool, run_id: int
) -> None:
    d_id = await _discrepancy(pool, run_id, detail={"bill_amount_fen": 99_50, "note": "x"})
    d = await svc.answered("GET", _path(d_id), staff["auditor"])
    assert d["detail"] == {"bill_amount_fen": 99_50, "note": "x"}
    assert (d["comments"], d["adjustments"], d["matches"]) == ([], [], [])
    assert d["difference_fen"] == -50
    for path in (_path(999_999_999), _path(999_999_999, "resolve"), "/api/v1/discrepancies/x"):
        await svc.answered(
            "POST" if path.endswith("resolve") else "GET",
            path,
            staff["finance"],
            json={"reason": "不存在"},
            expect=404,
        )


# --- acting ----------------------------------------------------------------------------------


async def test_assign_comment_resolve_each_audited(
    svc: Service, staff: dict[str, str], names: dict[str, str], pool: asyncpg.Pool, run_id: int
) -> None:
    d_id = await _discrepancy(pool, run_id)
    d = await svc.answered(
        "POST", _path(d_id, "assign"), staff["finance"], json={"username": names["finance"]}
    )
    assert (d["state"], d["assigned_to"]) == ("ASSIGNED", names["finance"])
    # reassigned to a colleague; a clerk or an unknown user cannot take it
    status, d = await svc.request(
        "POST", _path(d_id, "assign"), staff["finance"], json={"username": names["admin"]}
    )
    assert (status, d["assigned_to"]) == (200, names["admin"])
    for who in (names["clerk"], names["auditor"], "nobody"):
        status, problem = await svc.request(
            "POST", _path(d_id, "assign"), staff["finance"], json={"username": who}
        )
        assert (status, problem["code"]) == (422, "INVALID_ASSIGNEE"), who

    d = await svc.answered(
        "POST",
        _path(d_id, "comments"),
        staff["admin"],
        json={"body": "已致电微信支付核实"},
        expect=201,
    )
    assert [(c["author"], c["body"]) for c in d["comments"]] == [
        (names["admin"], "已致电微信支付核实")
    ]

    status, problem = await svc.request(
        "POST", _path(d_id, "resolve"), staff["admin"], json={"reason": "x"}
    )
    assert (status, problem["code"]) == (422, "INVALID_REASON")
    d = await _closed(svc, d_id, "resolve", staff["admin"], "次日补记，已核对")
    assert (d["state"], d["resolved_by"]) == ("RESOLVED", names["admin"])
    assert d["resolved_at"]

    rows = await _audit(pool, "discrepancy", d_id)
    assert [r["action"] for r in rows] == [
        "discrepancy.assigned",
        "discrepancy.assigned",
        "discrepancy.commented",
        "discrepancy.resolved",
    ]
    assert rows[0]["actor"] == f"user:{names['finance']}"
    assert rows[1]["detail"]["before"] == names["finance"]
    assert rows[3]["detail"]["resolution"] == "次日补记，已核对"

    # closed: a second resolution, a void or an assignment is a conflict; a comment is not
    for action, body in (("resolve", {"reason": "再次"}), ("void", {"reason": "作废"}),
                         ("assign", {"username": names["finance"]})):  # fmt: skip
        status, problem = await svc.request(
            "POST", _path(d_id, action), staff["finance"], json=body
        )
        assert (status, problem["code"]) == (409, "DISCREPANCY_CLOSED"), action
    status, _ = await svc.request(
        "POST", _path(d_id, "comments"), staff["finance"], json={"body": "补充：银行回单已归档"}
    )
    assert status == 201


async def test_void_keeps_the_row_and_its_audit(
    svc: Service, staff: dict[str, str], names: dict[str, str], pool: asyncpg.Pool, run_id: int
) -> None:
    d_id = await _discrepancy(pool, run_id, type="LONG")
    d = await _closed(svc, d_id, "void", staff["finance"], "测试商户号的测试交易")
    assert (d["state"], d["resolved_by"]) == ("VOID", names["finance"])
    assert [r["action"] for r in await _audit(pool, "discrepancy", d_id)] == ["discrepancy.voided"]


async def test_roles_clerks_see_nothing_auditors_only_read(
    svc: Service, staff: dict[str, str], names: dict[str, str], pool: asyncpg.Pool, run_id: int
) -> None:
    d_id = await _discrepancy(pool, run_id)
    for role in ("clerk", "supervisor"):
        for path in ("/api/v1/discrepancies", "/api/v1/discrepancies.csv", _path(d_id)):
            status, problem = await svc.request("GET", path, staff[role])
            assert (status, problem["code"]) == (403, "ROLE_FORBIDDEN"), (role, path)
    for path in ("/api/v1/discrepancies", "/api/v1/discrepancies.csv", _path(d_id),
                 "/api/v1/ledger-accounts"):  # fmt: skip
        status, _ = await svc.request("GET", path, staff["auditor"])
        assert status == 200, path
    acts: list[tuple[str, dict[str, Any]]] = [
        (_path(d_id, "assign"), {"username": names["finance"]}),
        (_path(d_id, "comments"), {"body": "看一下"}),
        (_path(d_id, "resolve"), {"reason": "已核对"}),
        (_path(d_id, "void"), {"reason": "已核对"}),
        (_path(d_id, "adjustments"), {"legs": [["suspense", 1], ["recon_writeoff", -1]], "memo": "调整"}),
        ("/api/v1/adjustments/1/approve", {}),
        ("/api/v1/recon-matches/1/confirm", {}),
    ]  # fmt: skip
    for role in ("auditor", "clerk"):
        for path, body in acts:
            status, problem = await svc.request("POST", path, staff[role], json=body)
            assert (status, problem["code"]) == (403, "ROLE_FORBIDDEN"), (role, path)
    status, _ = await svc.request("GET", "/api/v1/discrepancies")
    assert status == 401
    status, d = await svc.request("GET", _path(d_id), staff["finance"])
    assert (d["state"], d["comments"], d["adjustments"]) == ("OPEN", [], [])


# --- adjustments -----------------------------------------------------------------------------


async def test_adjustment_four_eyes_posts_exactly_the_legs(
    svc: Service, staff: dict[str, str], names: dict[str, str], pool: asyncpg.Pool, run_id: int
) -> None:
    d_id = await _discrepancy(pool, run_id, type="FEE_MISMATCH")
    legs = [["acquirer_fees", 50], ["recon_writeoff", -50]]
    before = await _balances(pool, "acquirer_fees", "recon_writeoff")
    status, adj = await svc.request(
        "POST", _path(d_id, "adjustments"), staff["finance"],
        json={"legs": legs, "memo": "微信手续费差额 0.50 元，冲入手续费"},
    )  # fmt: skip
    assert status == 201, adj
    assert (adj["state"], adj["legs"], adj["requested_by"]) == ("REQUESTED", legs, names["finance"])

    # while it waits: no second proposal, no resolution or void by hand
    status, problem = await svc.request(
        "POST", _path(d_id, "adjustments"), staff["finance2"], json={"legs": legs, "memo": "再提"}
    )
    assert (status, problem["code"]) == (409, "ADJUSTMENT_PENDING")
    for action in ("resolve", "void"):
        status, problem = await svc.request(
            "POST", _path(d_id, action), staff["finance2"], json={"reason": "已核对"}
        )
        assert (status, problem["code"], problem["adjustment_id"]) == (
            409,
            "ADJUSTMENT_PENDING",
            adj["id"],
        )

    # the proposer cannot decide it, whatever the decision
    for verdict in ("approve", "reject"):
        status, problem = await svc.request(
            "POST", f"/api/v1/adjustments/{adj['id']}/{verdict}", staff["finance"], json={}
        )
        assert (status, problem["code"]) == (403, "FOUR_EYES")
    assert await _balances(pool, "acquirer_fees", "recon_writeoff") == before

    status, done = await svc.request(
        "POST", f"/api/v1/adjustments/{adj['id']}/approve", staff["finance2"], json={"note": "核对无误"}
    )  # fmt: skip
    assert status == 200, done
    assert (done["state"], done["decided_by"]) == ("POSTED", names["finance2"])
    entry = done["entry_id"]
    async with pool.acquire() as conn:
        kind, memo = await conn.fetchrow(
            "SELECT kind, memo FROM journal_entries WHERE id = $1", entry
        )
        posted = await conn.fetch(
            "SELECT a.code, p.amount_fen FROM postings p JOIN ledger_accounts a"
            " ON a.id = p.account_id WHERE p.entry_id = $1 ORDER BY p.id",
            entry,
        )
    assert (kind, memo) == ("ADJUSTMENT", "微信手续费差额 0.50 元，冲入手续费")
    assert [[r["code"], r["amount_fen"]] for r in posted] == legs
    after = await _balances(pool, "acquirer_fees", "recon_writeoff")
    assert after == {
        "acquirer_fees": before["acquirer_fees"] + 50,
        "recon_writeoff": before["recon_writeoff"] - 50,
    }

    status, d = await svc.request("GET", _path(d_id), staff["auditor"])
    assert (d["state"], d["resolution"], d["resolved_by"]) == (
        "RESOLVED",
        f"已按调整分录过账（记账凭证 {entry}）",
        names["finance2"],
    )
    assert d["adjustments"][0]["entry_id"] == entry and d["pending_adjustments"] == 0
    assert d["comments"][-1]["body"] == f"同意调整分录 #{adj['id']}：核对无误"
    assert [r["action"] for r in await _audit(pool, "recon_adjustment", adj["id"])] == [
        "recon_adjustment.requested",
        "recon_adjustment.posted",
    ]
    assert (await _audit(pool, "discrepancy", d_id))[-1]["action"] == "discrepancy.resolved"

    # decided once: again, or the other way, is a conflict, and nothing more is posted
    for verdict in ("approve", "reject"):
        status, problem = await svc.request(
            "POST", f"/api/v1/adjustments/{adj['id']}/{verdict}", staff["admin"], json={}
        )
        assert (status, problem["code"]) in {
            (409, "ADJUSTMENT_ALREADY_DECIDED"),
            (409, "DISCREPANCY_CLOSED"),
        }
    assert await _balances(pool, "acquirer_fees", "recon_writeoff") == after


async def test_a_rejected_adjustment_posts_nothing_and_frees_the_case(
    svc: Service, staff: dict[str, str], pool: asyncpg.Pool, run_id: int
) -> None:
    d_id = await _discrepancy(pool, run_id)
    legs = [["suspense", 120], ["recon_writeoff", -120]]
    before = await _balances(pool, "suspense", "recon_writeoff")
    adj = await svc.answered(
        "POST",
        _path(d_id, "adjustments"),
        staff["admin"],
        json={"legs": legs, "memo": "挂账"},
        expect=201,
    )
    status, done = await svc.request(
        "POST", f"/api/v1/adjustments/{adj['id']}/reject", staff["finance"],
        json={"note": "科目不对"},
    )  # fmt: skip
    assert (status, done["state"], done["entry_id"]) == (200, "REJECTED", None)
    status, problem = await svc.request(
        "POST", f"/api/v1/adjustments/{adj['id']}/reject", staff["finance"], json={}
    )
    assert (status, problem["code"], problem["state"]) == (
        409,
        "ADJUSTMENT_ALREADY_DECIDED",
        "REJECTED",
    )
    assert await _balances(pool, "suspense", "recon_writeoff") == before
    status, d = await svc.request(
        "POST", _path(d_id, "resolve"), staff["admin"], json={"reason": "对方已更正账单"}
    )
    assert (status, d["state"]) == (200, "RESOLVED")
    assert d["comments"][0]["body"] == f"驳回调整分录 #{adj['id']}：科目不对"


@pytest.mark.parametrize(
    ("legs", "code"),
    [
        ([["acquirer_fees", 50], ["recon_writeoff", -40]], "ADJUSTMENT_UNBALANCED"),
        ([["acquirer_fees", 50], ["no_such_account", -50]], "UNKNOWN_ACCOUNT"),
        ([["payable:NOPE", 50], ["recon_writeoff", -50]], "UNKNOWN_ACCOUNT"),
        ([["acquirer_fees", 0], ["recon_writeoff", 0]], "INVALID_LEG_AMOUNT"),
        ([["acquirer_fees", 50]], "INVALID_LEG_COUNT"),
        ([["suspense", 50], ["suspense", -50]], "DUPLICATE_ACCOUNT"),
        ([["acquirer_fees", 0.5], ["recon_writeoff", -0.5]], "VALIDATION_FAILED"),
        ([["acquirer_fees", "50"], ["recon_writeoff", "-50"]], "VALIDATION_FAILED"),
        ([["acquirer_fees", True], ["recon_writeoff", -1]], "VALIDATION_FAILED"),
    ],
)
async def test_a_bad_adjustment_is_422_and_posts_nothing(
    svc: Service,
    staff: dict[str, str],
    pool: asyncpg.Pool,
    run_id: int,
    legs: list[list[Any]],
    code: str,
) -> None:
    d_id = await _discrepancy(pool, run_id)
    entries = await pool.fetchval("SELECT count(*) FROM journal_entries")
    status, problem = await svc.request(
        "POST", _path(d_id, "adjustments"), staff["finance"], json={"legs": legs, "memo": "调整"}
    )
    assert (status, problem["code"]) == (422, code), problem
    assert problem["detail_zh"]
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM journal_entries") == entries
        assert not await conn.fetchval(
            "SELECT count(*) FROM recon_adjustments WHERE discrepancy_id = $1", d_id
        )


def test_leg_rules_without_a_database() -> None:
    assert cases.check_legs([[" suspense ", 7], ["recon_writeoff", -3], ["acquirer_fees", -4]]) == [
        ("suspense", 7),
        ("recon_writeoff", -3),
        ("acquirer_fees", -4),
    ]
    with pytest.raises(InvalidRequest) as exc:
        cases.check_legs([["a", 10**16], ["b", -(10**16)]])
    assert exc.value.code == "INVALID_LEG_AMOUNT"


# --- rule matches ----------------------------------------------------------------------------


async def _match(pool: asyncpg.Pool, run_id: int, state: str = "PROPOSED") -> int:
    async with pool.acquire() as conn:
        return int(
            await conn.fetchval(
                "INSERT INTO recon_matches (business_date, rule, confidence, state, external_ref,"
                " internal_ref, amount_fen, detail, run_id) VALUES ($1, 'amount_within_tolerance',"
                " 85, $2, $3, $4, 99_50, '{\"days_apart\": 1}', $5) RETURNING id",
                DAY,
                state,
                f"EXT{secrets.token_hex(6)}",
                f"TJ{secrets.token_hex(6)}",
                run_id,
            )
        )


async def test_confirming_a_proposed_match_resolves_its_discrepancy(
    svc: Service, staff: dict[str, str], names: dict[str, str], pool: asyncpg.Pool, run_id: int
) -> None:
    m_id = await _match(pool, run_id)
    d_id = await _discrepancy(pool, run_id, detail={"match_id": m_id})
    status, d = await svc.request("GET", _path(d_id), staff["auditor"])
    assert [(m["id"], m["state"], m["confidence"]) for m in d["matches"]] == [
        (m_id, "PROPOSED", 85)
    ]

    m = await svc.answered("POST", f"/api/v1/recon-matches/{m_id}/confirm", staff["finance"])
    assert (m["state"], m["decided_by"]) == ("CONFIRMED", names["finance"])
    status, d = await svc.request("GET", _path(d_id), staff["finance"])
    assert d["state"] == "RESOLVED"
    assert d["resolution"] == f"已确认匹配建议 {m_id}（金额在容差内）"
    assert [r["action"] for r in await _audit(pool, "recon_match", m_id)] == [
        "recon_match.confirmed"
    ]
    assert [r["action"] for r in await _audit(pool, "discrepancy", d_id)] == [
        "discrepancy.resolved"
    ]
    for verdict in ("confirm", "reject"):
        status, problem = await svc.request(
            "POST", f"/api/v1/recon-matches/{m_id}/{verdict}", staff["admin"]
        )
        assert (status, problem["code"]) == (409, "MATCH_ALREADY_DECIDED")


async def test_rejecting_a_match_leaves_the_discrepancy_open(
    svc: Service, staff: dict[str, str], pool: asyncpg.Pool, run_id: int
) -> None:
    m_id = await _match(pool, run_id)
    d_id = await _discrepancy(pool, run_id, detail={"match_id": str(m_id)})
    status, m = await svc.request("POST", f"/api/v1/recon-matches/{m_id}/reject", staff["admin"])
    assert (status, m["state"]) == (200, "REJECTED")
    status, d = await svc.request("GET", _path(d_id), staff["finance"])
    assert (d["state"], d["matches"][0]["state"]) == ("OPEN", "REJECTED")
    auto = await _match(pool, run_id, state="AUTO")
    status, problem = await svc.request(
        "POST", f"/api/v1/recon-matches/{auto}/confirm", staff["admin"]
    )
    assert (status, problem["code"]) == (409, "MATCH_ALREADY_DECIDED")
    status, problem = await svc.request(
        "POST", "/api/v1/recon-matches/999999999/confirm", staff["admin"]
    )
    assert (status, problem["code"]) == (404, "MATCH_NOT_FOUND")


# --- export and the page ---------------------------------------------------------------------


async def test_csv_export_opens_in_excel(
    svc: Service, staff: dict[str, str], names: dict[str, str], pool: asyncpg.Pool, run_id: int
) -> None:
    source = f"t{secrets.token_hex(4)}"
    d_id = await _discrepancy(pool, run_id, type="LONG", source=source, ours=None, theirs=1234_56)
    await svc.request(
        "POST", _path(d_id, "void"), staff["finance"], json={"reason": "=HYPERLINK(测试)"}
    )
    query = f"source={source}&date_from={DAY}&date_to={DAY}"
    async with svc.session.get(
        f"{svc.base_url}/api/v1/discrepancies.csv?{query}",
        headers={"Authorization": f"Bearer {staff['auditor']}"},
    ) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/csv")
        assert f'filename="discrepancies-{DAY}-{DAY}.csv"' in r.headers["Content-Disposition"]
        raw = await r.read()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    assert text.count("\r\n") == 2 and text.endswith("\r\n")
    header, row = list(csv.reader(io.StringIO(text)))
    assert header[:4] == ["编号", "业务日期", "差异类型", "来源"] and "对方金额（元）" in header
    cells = dict(zip(header, row, strict=True))
    assert cells["编号"] == str(d_id)
    assert (cells["差异类型"], cells["状态"]) == ("长款", "已作废")
    assert cells["对方单号"].startswith("\t4200002") and cells["我方单号"].startswith("\tTJ")
    assert (cells["我方金额（元）"], cells["对方金额（元）"]) == ("", "1234.56")
    assert cells["处理结果"] == "\t=HYPERLINK(测试)"  # never a formula in Excel
    # who closed it is a person's name, never a login ("user:…")
    assert cells["办结人"] == "测试" and "user:" not in text
    exported = [
        r
        for r in await _audit_actions(pool, "discrepancy.exported")
        if r["detail"]["query"].get("source") == source
    ]
    assert [(r["actor"], r["detail"]["rows"]) for r in exported] == [
        (f"user:{names['auditor']}", 1)
    ]

    # the finance page links the export through the session cookie: no bearer needed
    status, _ = await svc.request("GET", "/api/v1/discrepancies.csv")
    assert status == 401


async def _audit_actions(pool: asyncpg.Pool, action: str) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return list(
            await conn.fetch("SELECT actor, detail FROM audit_log WHERE action = $1", action)
        )


async def test_finance_page_has_the_section_and_its_module(
    svc: Service, staff: dict[str, str]
) -> None:
    async with svc.session.get(f"{svc.base_url}/window/static/finance.js") as r:
        assert 'from "./discrepancies.js"' in await r.text()
    async with svc.session.get(f"{svc.base_url}/window/static/discrepancies.js") as r:
        assert r.status == 200
        script = await r.text()
    # the names come from the one table, served as names.js; the script keeps no copy
    assert 'from "./naming.js"' in script and "跨日" not in script
    async with svc.session.get(f"{svc.base_url}/window/names.js") as r:
        assert r.status == 200
        names = await r.text()
    for zh in cases_zh():
        assert zh in names, zh
    # nobody signed in: the system's names only, no person's
    assert '"user"' not in names and '"beneficiary"' not in names
    async with svc.session.get(
        f"{svc.base_url}/window/names.js", headers={"Authorization": f"Bearer {staff['auditor']}"}
    ) as r:
        signed_in = await r.text()
    assert '"user"' in signed_in and "示范市住宅专项维修资金专户" in signed_in


def cases_zh() -> list[str]:
    return [*TABLES["discrepancy_type"].values(), *TABLES["discrepancy_state"].values()]


def test_the_vocabularies_agree() -> None:
    assert tuple(TABLES["discrepancy_type"]) == case_reads.TYPES
    assert tuple(TABLES["discrepancy_state"]) == case_reads.STATES


async def test_openapi_lists_the_routes(svc: Service) -> None:
    status, doc = await svc.request("GET", "/api/v1/openapi.json")
    assert status == 200
    paths = doc["paths"]
    assert (
        "AdjustmentIn"
        in paths["/api/v1/discrepancies/{discrepancy_id}/adjustments"]["post"]["requestBody"][
            "content"
        ]["application/json"]["schema"]["$ref"]
    )
    for path in ("/api/v1/discrepancies", "/api/v1/discrepancies.csv",
                 "/api/v1/adjustments/{adjustment_id}/approve",
                 "/api/v1/recon-matches/{match_id}/confirm"):  # fmt: skip
        assert path in paths, path
