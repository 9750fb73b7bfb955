"""Settlement as finance staff see it, on the real service and PostgreSQL: a beneficiary's account
is corrected only by two people (and the correction releases the held payouts), batches and their
instructions are listed with exact totals, and recorded files download byte for byte, audited,
while anything not recorded is 404."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from yarl import URL

from clearing.api.keys import SETTINGS
from clearing.service import settlement
from clearing.settlement.model import DebtorAccount
from clearing.settlement.signing import generate_keypair, load_signer
from tests.integration import factories as f
from tests.integration.admin_harness import audit_rows
from tests.integration.service_harness import Service, service_fixture, staff_fixture

BANK = "SFBK"
DEBTOR = DebtorAccount("6217000010000000009", "示范市不动产登记中心", "313100000013")
HOLD = "银行退汇：账户已销户（AC04）"
NEW_ACCOUNT = {
    "account_no": "6217 0000 2000 0000 077",  # as printed by the bank, in groups of four
    "account_name": "示范市财政局",
    "bank_name": "示范银行市分行开发区支行",
    "bank_code": "313100000021",
    "reason": "开户行变更，见银行来函 2026-017 号",
}


# no workers: nothing but the test writes or delivers these batches' files
svc = service_fixture("settlement-finance", workers=0)


staff = staff_fixture(
    clerk="HALL1", finance="HALL1", finance2="HALL1", admin="HALL1", auditor="HALL1"
)


async def _actor(svc: Service, token: str) -> str:
    _, me = await svc.request("GET", "/api/v1/me", token)
    return f"user:{me['username']}"


async def _beneficiary(pool: asyncpg.Pool, hold: str | None = HOLD) -> str:
    """A beneficiary of this test alone, with a fee item paying it, and its payouts held."""
    code = f"TB_{secrets.token_hex(3).upper()}"
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO beneficiaries (code, name, bank_name, account_no, account_name,"
            " account_kind, bank_code, payout_hold) VALUES ($1, '测试收款单位', '示范银行旧支行',"
            " '6217000010000000555', '示范市财政局', 'nontax_fiscal', '313100000013', $2)",
            code,
            hold,
        )
        await conn.execute(
            "INSERT INTO fee_items (code, name_zh, kind, beneficiary_code)"
            " VALUES ($1, '测试费', 'nontax', $1)",
            code,
        )
    return code


async def _cutoff(pool: asyncpg.Pool) -> int | None:
    async with pool.acquire() as conn:
        return await settlement.cutoff(
            conn, bank=BANK, now=datetime.now(UTC), every_account=True, actor="test"
        )


async def _request(svc: Service, token: str, code: str, **over: str) -> tuple[int, Any]:
    return await svc.request(
        "POST",
        f"/api/v1/beneficiaries/{code}/account-changes",
        token,
        json={**NEW_ACCOUNT, **over},
    )


# --- maker-checker ----------------------------------------------------------------------------


async def test_requester_cannot_approve_a_second_person_does_and_the_hold_is_cleared(
    svc: Service, staff: dict[str, str], pool: asyncpg.Pool
) -> None:
    code = await _beneficiary(pool)
    # a line paid to the held account waits: the cut-off leaves it alone
    order_no = await f.paid(pool, [123_45], [code])
    await _cutoff(pool)
    held = await pool.fetchval(
        "SELECT count(*) FROM order_lines l JOIN orders o ON o.id = l.order_id"
        " WHERE o.order_no = $1 AND l.settled_at IS NULL",
        order_no,
    )
    assert held == 1

    status, change = await _request(svc, staff["finance"], code)
    assert status == 201, change
    assert change["state"] == "REQUESTED" and change["account_no"] == "6217000020000000077"
    assert change["current"]["account_no"] == "6217000010000000555"

    # the requester cannot decide it, an auditor never acts; nothing changes
    status, body = await svc.request(
        "POST", f"/api/v1/account-changes/{change['id']}/approve", staff["finance"], json={}
    )
    assert status == 403 and body["code"] == "FOUR_EYES" and "申请人" in body["detail_zh"]
    status, body = await svc.request(
        "POST", f"/api/v1/account-changes/{change['id']}/approve", staff["auditor"], json={}
    )
    assert status == 403
    async with pool.acquire() as conn:
        b = await conn.fetchrow("SELECT * FROM beneficiaries WHERE code = $1", code)
        state = await conn.fetchval(
            "SELECT state FROM beneficiary_account_changes WHERE id = $1", change["id"]
        )
    assert (b["account_no"], b["bank_code"], b["payout_hold"], state) == (
        "6217000010000000555",
        "313100000013",
        HOLD,
        "REQUESTED",
    )

    approved = await svc.answered(
        "POST",
        f"/api/v1/account-changes/{change['id']}/approve",
        staff["finance2"],
        json={"note": "已电话核实"},
    )
    assert approved["state"] == "APPROVED" and approved["note"] == "已电话核实"
    b = await pool.fetchrow("SELECT * FROM beneficiaries WHERE code = $1", code)
    assert (b["account_no"], b["account_name"], b["bank_name"], b["bank_code"]) == (
        "6217000020000000077",
        NEW_ACCOUNT["account_name"],
        NEW_ACCOUNT["bank_name"],
        NEW_ACCOUNT["bank_code"],
    )
    assert b["payout_hold"] is None

    # both steps are audited with the account before and after
    (requested,) = await audit_rows(svc, "beneficiary.account_change_requested", code)
    (done,) = await audit_rows(svc, "beneficiary.account_change_approved", code)
    assert requested["actor"] == await _actor(svc, staff["finance"])
    assert done["actor"] == await _actor(svc, staff["finance2"])
    for row in (requested, done):
        assert row["detail"]["old"]["account_no"] == "6217000010000000555"
        assert row["detail"]["new"]["account_no"] == "6217000020000000077"
        assert row["detail"]["new"]["bank_code"] == NEW_ACCOUNT["bank_code"]
    assert done["detail"]["hold_cleared"] == HOLD

    # decided once: a second decision, by anyone, is a conflict
    for token in (staff["finance2"], staff["admin"]):
        status, body = await svc.request(
            "POST", f"/api/v1/account-changes/{change['id']}/reject", token, json={}
        )
        assert status == 409 and body["code"] == "ACCOUNT_CHANGE_ALREADY_DECIDED"

    # the held line goes out at the next cut-off, to the new account
    batch_id = await _cutoff(pool)
    assert batch_id is not None
    i = await pool.fetchrow(
        "SELECT creditor_account, creditor_bank_code, amount_fen FROM settlement_instructions"
        " WHERE batch_id = $1 AND beneficiary_code = $2",
        batch_id,
        code,
    )
    assert i is not None
    assert dict(i) == {
        "creditor_account": "6217000020000000077",
        "creditor_bank_code": NEW_ACCOUNT["bank_code"],
        "amount_fen": 123_45,
    }

    status, out = await svc.request("GET", "/api/v1/beneficiaries", staff["auditor"])
    assert status == 200
    (mine,) = [x for x in out["beneficiaries"] if x["code"] == code]
    assert mine["payout_hold"] is None and mine["open_change"] is None
    assert mine["account_no"] == "6217000020000000077" and mine["cutoff_local"] == "15:30"


async def test_only_finance_or_admin_may_request(
    svc: Service, staff: dict[str, str], pool: asyncpg.Pool
) -> None:
    code = await _beneficiary(pool)
    for role in ("clerk", "auditor"):
        status, body = await _request(svc, staff[role], code)
        assert status == 403, (role, body)
    status, _ = await svc.request("GET", "/api/v1/beneficiaries", staff["clerk"])
    assert status == 403
    n = await pool.fetchval(
        "SELECT count(*) FROM beneficiary_account_changes WHERE beneficiary_code = $1", code
    )
    assert n == 0
    status, _ = await _request(svc, staff["admin"], code)
    assert status == 201


async def test_one_open_request_per_beneficiary_and_a_rejection_frees_it(
    svc: Service, staff: dict[str, str], pool: asyncpg.Pool
) -> None:
    code = await _beneficiary(pool)
    status, first = await _request(svc, staff["finance"], code)
    assert status == 201
    status, body = await _request(svc, staff["finance2"], code, account_no="6217000099999")
    assert status == 409 and body["code"] == "ACCOUNT_CHANGE_OPEN"
    assert body["change_id"] == first["id"] and str(first["id"]) in body["detail_zh"]

    status, listed = await svc.request(
        "GET", "/api/v1/account-changes?state=REQUESTED", staff["auditor"]
    )
    assert status == 200
    assert [c["id"] for c in listed["changes"] if c["beneficiary_code"] == code] == [first["id"]]
    _, out = await svc.request("GET", "/api/v1/beneficiaries", staff["finance"])
    (mine,) = [x for x in out["beneficiaries"] if x["code"] == code]
    assert mine["open_change"]["id"] == first["id"] and mine["payout_hold"] == HOLD

    status, rejected = await svc.request(
        "POST",
        f"/api/v1/account-changes/{first['id']}/reject",
        staff["admin"],
        json={"note": "与银行来函不符"},
    )
    assert status == 200 and rejected["state"] == "REJECTED"
    b = await pool.fetchrow(
        "SELECT account_no, payout_hold FROM beneficiaries WHERE code = $1", code
    )
    assert (b["account_no"], b["payout_hold"]) == ("6217000010000000555", HOLD)
    (row,) = await audit_rows(svc, "beneficiary.account_change_rejected", code)
    assert row["detail"]["new"]["account_no"] == "6217000020000000077"
    assert row["detail"]["note"] == "与银行来函不符"
    status, _ = await _request(svc, staff["finance2"], code)
    assert status == 201


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("bank_code", "31310000002", "INVALID_BANK_CODE"),  # 11 digits
        ("bank_code", "31310000002X", "INVALID_BANK_CODE"),
        ("account_no", "6217/0000", "INVALID_ACCOUNT_NO"),
        ("account_no", "123", "INVALID_ACCOUNT_NO"),
        ("account_name", "示范市|财政局", "INVALID_ACCOUNT_NAME"),
        ("reason", " ", "INVALID_REASON"),
    ],
)
async def test_malformed_accounts_are_refused_with_the_field(
    svc: Service, staff: dict[str, str], pool: asyncpg.Pool, field: str, value: str, code: str
) -> None:
    ben = await _beneficiary(pool)
    status, body = await _request(svc, staff["finance"], ben, **{field: value})
    assert status == 422, body
    assert body["code"] == code and body["field"] == field and body["detail_zh"]


async def test_unknown_beneficiary_and_change(svc: Service, staff: dict[str, str]) -> None:
    status, body = await _request(svc, staff["finance"], "NO_SUCH_BEN")
    assert status == 404 and body["code"] == "BENEFICIARY_NOT_FOUND"
    status, body = await svc.request(
        "POST", "/api/v1/account-changes/999999/approve", staff["finance"], json={}
    )
    assert status == 404


# --- batches and files --------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def batch(svc: Service, pool: asyncpg.Pool) -> dict[str, Any]:
    """A batch of two paid orders, its files written where the service reads them."""
    await _cutoff(pool)  # whatever earlier tests left unsettled goes into a batch of its own
    await f.paid(pool, [350_000_00, 80_00], ["DEED_TAX", "REG_FEE"])
    await f.paid(pool, [1_234_56, 3_000_00], ["VAT", "MAINT_FUND"])
    batch_id = await _cutoff(pool)
    assert batch_id is not None
    tmp = Path(svc.app[SETTINGS].var_dir)
    key, _ = generate_keypair("ed25519", tmp / "settle-keys", "tj-settle-test")
    setup = settlement.SettlementSetup(
        bank=BANK,
        debtor=DEBTOR,
        signer=load_signer(key, "tj-settle-test", "ed25519"),
        out_dir=settlement.files_root(tmp, None),
    )
    async with pool.acquire() as conn:
        paths = await settlement.write_files(conn, batch_id, setup)
        row = await conn.fetchrow(
            "SELECT msg_id, business_date FROM settlement_batches WHERE id = $1", batch_id
        )
    assert row is not None
    return {"msg_id": row["msg_id"], "date": row["business_date"].isoformat(), "paths": paths}


async def test_the_day_lists_the_batch_with_its_totals(
    svc: Service, staff: dict[str, str], batch: dict[str, Any]
) -> None:
    out = await svc.answered(
        "GET", f"/api/v1/settlement/batches?date={batch['date']}", staff["auditor"]
    )
    assert out["date"] == batch["date"]
    (mine,) = [b for b in out["batches"] if b["msg_id"] == batch["msg_id"]]
    assert mine["total_fen"] == 350_000_00 + 80_00 + 1_234_56 + 3_000_00
    assert (mine["instruction_count"], mine["line_count"], mine["state"]) == (3, 4, "FILES_WRITTEN")
    assert mine["instruction_states"] == {
        "PENDING": 3,
        "ACCEPTED": 0,
        "BOOKED": 0,
        "REJECTED": 0,
        "RETURNED": 0,
    }
    # newest first
    cutoffs = [b["cutoff_at"] for b in out["batches"]]
    assert cutoffs == sorted(cutoffs, reverse=True)
    status, _ = await svc.request("GET", "/api/v1/settlement/batches", staff["clerk"])
    assert status == 403
    status, body = await svc.request(
        "GET", "/api/v1/settlement/batches?date=2026-13-01", staff["finance"]
    )
    assert status == 422 and body["code"] == "INVALID_DATE"
    status, out = await svc.request(
        "GET", "/api/v1/settlement/batches?date=2001-01-01", staff["finance"]
    )
    assert status == 200 and out["batches"] == []


async def test_batch_detail_lists_instructions_and_files(
    svc: Service, staff: dict[str, str], batch: dict[str, Any]
) -> None:
    out = await svc.answered(
        "GET", f"/api/v1/settlement/batches/{batch['msg_id']}", staff["finance"]
    )
    by_code = {i["beneficiary_code"]: i for i in out["instructions"]}
    assert {c: i["amount_fen"] for c, i in by_code.items()} == {
        "FISCAL_NONTAX": 80_00,
        "FUND_CUSTODY": 3_000_00,
        "TREASURY": 350_000_00 + 1_234_56,
    }
    assert by_code["TREASURY"]["line_count"] == 2
    for i in out["instructions"]:
        assert i["end_to_end_id"].startswith(batch["msg_id"])
        assert i["state"] == "PENDING" and i["reason_code"] is None
    on_disk = {p.name: p for p in batch["paths"]}
    assert {x["name"] for x in out["files"]} == set(on_disk)
    for x in out["files"]:
        data = on_disk[x["name"]].read_bytes()
        assert (x["size"], x["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
        assert x["download_url"] == f"/settlement/files/{x['name']}"
    assert {x["kind"] for x in out["files"]} == {"pain001", "payout", "detail", "sha256", "sig"}
    status, body = await svc.request(
        "GET", "/api/v1/settlement/batches/TJSFBK20010101001", staff["finance"]
    )
    assert status == 404 and body["code"] == "BATCH_NOT_FOUND"


async def _get(
    svc: Service, path: str, headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    # encoded=True: the path goes out exactly as written, %2F and all
    async with svc.session.get(
        URL(svc.base_url + path, encoded=True), headers=headers, allow_redirects=False
    ) as r:
        return r.status, dict(r.headers), await r.read()


async def test_a_recorded_file_downloads_byte_for_byte_and_is_audited(
    svc: Service, staff: dict[str, str], pool: asyncpg.Pool, batch: dict[str, Any]
) -> None:
    (pain,) = [p for p in batch["paths"] if p.name.endswith(".pain001.xml")]
    bearer = {"Authorization": f"Bearer {staff['finance']}"}
    status, headers, data = await _get(svc, f"/settlement/files/{pain.name}", bearer)
    assert status == 200
    assert data == pain.read_bytes()
    assert headers["Content-Disposition"] == f'attachment; filename="{pain.name}"'
    (row,) = await audit_rows(svc, "settlement.file_downloaded", pain.name)
    assert row["actor"] == await _actor(svc, staff["finance"])
    assert row["detail"]["msg_id"] == batch["msg_id"]

    # a plain link on the finance page: the session cookie, here an auditor's
    (detail,) = [p for p in batch["paths"] if p.name.endswith("TREASURY.detail.csv")]
    cookie = {"Cookie": f"tj_session={staff['auditor']}"}
    status, _, data = await _get(svc, f"/settlement/files/{detail.name}", cookie)
    assert status == 200 and data == detail.read_bytes()
    assert len(await audit_rows(svc, "settlement.file_downloaded", detail.name)) == 1

    status, _, _ = await _get(svc, f"/settlement/files/{pain.name}", {})
    assert status == 401
    clerk = {"Authorization": f"Bearer {staff['clerk']}"}
    status, _, _ = await _get(svc, f"/settlement/files/{pain.name}", clerk)
    assert status == 403
    assert len(await audit_rows(svc, "settlement.file_downloaded", pain.name)) == 1


@pytest.mark.parametrize(
    "name",
    [
        "..%2F..%2Fetc%2Fpasswd",
        "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "..%2Fwechat%2Fmerchant%2Fapiclient_key.pem",
        "TJ_SFBK_20010101_001.pain001.xml",
        "passwd",
    ],
)
async def test_a_name_not_recorded_is_404(
    svc: Service, staff: dict[str, str], pool: asyncpg.Pool, name: str
) -> None:
    bearer = {"Authorization": f"Bearer {staff['finance']}"}
    status, _, body = await _get(svc, f"/settlement/files/{name}", bearer)
    assert status == 404, body[:200]
    n = await pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'settlement.file_downloaded'"
        " AND object_id NOT LIKE 'TJ\\_%'"
    )
    assert n == 0


async def test_a_file_altered_on_disk_is_refused(
    svc: Service, staff: dict[str, str], batch: dict[str, Any]
) -> None:
    (payout,) = [p for p in batch["paths"] if p.name.endswith("_p01.payout.txt")]
    original = payout.read_bytes()
    payout.write_bytes(original.replace(b"6217000010000000001", b"6217000010000000666"))
    try:
        bearer = {"Authorization": f"Bearer {staff['finance']}"}
        status, _, body = await _get(svc, f"/settlement/files/{payout.name}", bearer)
        assert status == 409 and b"SETTLEMENT_FILE_ALTERED" in body
    finally:
        payout.write_bytes(original)


# --- the finance page ----------------------------------------------------------------------------


async def test_finance_page_carries_the_settlement_sections(
    svc: Service, staff: dict[str, str]
) -> None:
    cookie = {"Cookie": f"tj_session={staff['finance']}"}
    status, headers, html = await _get(svc, "/finance", cookie)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    text = html.decode()
    for words in ("清分结算", "收款账户", "审批退款"):
        assert words in text, words
    for script in ("settlement.js", "accounts.js"):
        assert f"/window/static/{script}" in text, script
        status, headers, body = await _get(svc, f"/window/static/{script}", {})
        assert status == 200 and headers["Content-Type"].startswith("text/javascript")
        assert b"innerHTML" not in body  # data reaches the page only as textContent
    _, _, entry = await _get(svc, "/window/static/finance.js", {})
    assert b'from "./settlement.js"' in entry and b'from "./accounts.js"' in entry
