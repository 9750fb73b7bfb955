"""Settlement end to end, on real PostgreSQL and the bank simulator over mutual TLS: payments →
cut-off → signed files the bank fetches from our endpoint with its certificate → verified and
booked → pain.002 → statements → every payable zero and the collection account's ledger balance
equal to the statement's closing balance. Then the unhappy paths: a rejected line, a returned
line, a tampered file, and another bank's certificate."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.bank import pki
from adapters.bank.sim_control import DEMO_ACCOUNTS
from clearing.api.keys import POOL
from clearing.service import settlement
from tests.integration.bank_harness import (
    ACQUIRER,
    COLLECTION,
    account_of,
    balanced,
    running_settling_service,
)
from tests.integration.service_harness import Service, order_body

BEIJING = timezone(timedelta(hours=8))


@pytest.fixture(scope="module")
async def env(db_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    tmp = tmp_path_factory.mktemp("settle")
    settling = running_settling_service(db_dsn, tmp, demo=False, settlement_sign_alg="ed25519")
    async with settling as (svc, _wechat, bank, ours, tls):
        # the demo accounts, but our collection account starts empty: every fen on it comes
        # through this test
        accounts = [
            {**a, "balance_fen": 0} if a["number"] == COLLECTION else dict(a) for a in DEMO_ACCOUNTS
        ]
        await bank.answered("PUT", "/sim/accounts", {"accounts": accounts})
        yield svc, bank, ours, tls


async def _until(check: Callable[[], Awaitable[Any]], what: str, within_s: float = 10) -> Any:
    deadline = time.monotonic() + within_s
    while True:
        got = await check()
        if got:
            return got
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def _paid_orders(svc: Service, amounts: list[tuple[int, ...]]) -> int:
    supervisor = await svc.supervisor()
    total = 0
    for a in amounts:
        status, order = await svc.create_order(supervisor, order_body(a))
        assert status == 201, order
        qr = await svc.open_qr(supervisor, order["order_no"])
        await svc.sim.pay(qr["out_trade_no"])
        await svc.wait_state(supervisor, order["order_no"], "CLEARED")
        total += sum(a)
    return total


async def _ledger_agrees(
    svc: Service, statements: list[bytes], what: str
) -> tuple[int, dict[str, int]]:
    """Once the statement of our collection account among ``statements`` is imported (``what``)
    and the ledger's balance of the account is its closing balance: (that balance, every
    ledger balance)."""
    (ours,) = [s for s in statements if account_of(s) == COLLECTION]
    _, _, closing = balanced(ours)

    async def agreed() -> dict[str, int] | None:
        b = await _balances(svc)
        return b if b["bank:collection"] == closing else None

    return closing, await _until(agreed, what)


async def _balances(svc: Service) -> dict[str, int]:
    rows = await svc.app[POOL].fetch("SELECT code, balance_fen FROM account_balances")
    return {r["code"]: int(r["balance_fen"]) for r in rows}


async def _instructions(svc: Service, batch_id: int) -> dict[str, str]:
    rows = await svc.app[POOL].fetch(
        "SELECT beneficiary_code, state FROM settlement_instructions WHERE batch_id = $1",
        batch_id,
    )
    return {r["beneficiary_code"]: r["state"] for r in rows}


async def _cutoff(svc: Service) -> int:
    async with svc.app[POOL].acquire() as conn:
        batch_id = await settlement.cutoff(
            conn, bank="SFBK", now=datetime.now(UTC), every_account=True, actor="test"
        )
    assert batch_id is not None

    async def written() -> bool:
        state = await svc.app[POOL].fetchval(
            "SELECT state FROM settlement_batches WHERE id = $1", batch_id
        )
        return state != "CREATED"

    await _until(written, "the batch's files")
    return batch_id


async def test_payments_to_statement_every_payable_paid_out(env: Any) -> None:
    svc, bank, _, _ = env
    total = await _paid_orders(svc, [(350_000_00, 80_00), (1_234_56, 90_00, 3_000_00)])
    # the acquirer settles the day's payments into our collection account
    status, _ = await bank.control(
        "POST",
        "/sim/credit",
        {
            "account": COLLECTION,
            "amount_fen": total,
            "payer_name": ACQUIRER,
            "remittance": "微信支付结算",
        },
    )
    assert status == 201
    batch_id = await _cutoff(svc)
    # the bank pulls our files with its certificate, verifies them and books every transfer
    status, fetched = await bank.control("POST", "/sim/fetch", {})
    assert status == 200, fetched

    async def all_booked() -> bool:
        return set((await _instructions(svc, batch_id)).values()) == {"BOOKED"}

    await _until(all_booked, "every instruction booked from the pain.002")
    states = await svc.app[POOL].fetch(
        "SELECT DISTINCT o.state FROM settlement_items s JOIN orders o ON o.id = s.order_id"
        " JOIN settlement_instructions i ON i.id = s.instruction_id WHERE i.batch_id = $1",
        batch_id,
    )
    # paid out (and nothing to confirm on typed lines): the orders are SETTLED
    assert [r["state"] for r in states] == ["SETTLED"]
    statements = await bank.close_day(datetime.now(BEIJING).date())
    closing, balances = await _ledger_agrees(svc, statements, "the statement imported")
    assert closing == 0  # everything that came in went out to the beneficiaries
    assert {k: v for k, v in balances.items() if k.startswith("payable:")} == {
        "payable:TREASURY": 0,
        "payable:FISCAL_NONTAX": 0,
        "payable:FUND_CUSTODY": 0,
    }
    assert balances["receivable:wechatpay"] == 0  # the acquirer's money met its receivable
    async with svc.app[POOL].acquire() as conn:
        state = await conn.fetchval("SELECT state FROM settlement_batches WHERE id = $1", batch_id)
        fetched_audit = await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE action = 'settlement.file_fetched'"
            " AND actor = 'bank:SFBK'"
        )
    assert state == "ANSWERED"
    assert fetched_audit >= 2  # the pain.001 and its signature, at least


async def test_another_certificate_cannot_read_the_files(env: Any, tmp_path: Path) -> None:
    _, _, ours, tls = env
    # a client certificate from the same CA but not a bank's: refused by name
    stranger = pki.issue_client_cert(pki.ca_files(tls.directory), tmp_path, "tongjiao")
    context = pki.client_ssl_context(stranger.cert, stranger.key, tls.ca)
    async with aiohttp.ClientSession() as s, s.get(f"{ours}/bankfiles/", ssl=context) as r:
        assert r.status == 403
    # a bank whose certificate says another bank sees none of this bank's files
    other = pki.issue_client_cert(pki.ca_files(tls.directory), tmp_path, "bank:OTHR")
    context = pki.client_ssl_context(other.cert, other.key, tls.ca)
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{ours}/bankfiles/", ssl=context) as r:
            assert r.status == 200
            assert (await r.json())["files"] == []
        async with s.get(f"{ours}/bankfiles/TJ_SFBK_20261126_001.pain001.xml", ssl=context) as r:
            assert r.status == 404
    # no certificate at all: the handshake itself fails
    bare = pki.client_ssl_context(None, None, tls.ca)
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.ClientError):
            async with s.get(f"{ours}/bankfiles/", ssl=bare) as r:
                await r.read()


async def _account_change(svc: Service, code: str, **account: str) -> None:
    """One finance user asks for the account, a second approves it (maker-checker)."""
    maker, checker = await svc.add_user("finance", None), await svc.add_user("finance", None)
    change = await svc.answered(
        "POST", f"/api/v1/beneficiaries/{code}/account-changes", maker, json=account, expect=201
    )
    status, body = await svc.request(
        "POST", f"/api/v1/account-changes/{change['id']}/approve", maker, json={"note": "我自己"}
    )
    assert status == 403, body  # never the same person
    await svc.answered(
        "POST", f"/api/v1/account-changes/{change['id']}/approve", checker, json={"note": "核实"}
    )


async def _hold(svc: Service, code: str) -> str | None:
    hold: str | None = await svc.app[POOL].fetchval(
        "SELECT payout_hold FROM beneficiaries WHERE code = $1", code
    )
    return hold


async def _settle_round(svc: Service, bank: Any) -> int:
    batch_id = await _cutoff(svc)
    status, body = await bank.control("POST", "/sim/fetch", {})
    assert status == 200, body

    async def answered() -> bool:
        return "PENDING" not in (await _instructions(svc, batch_id)).values()

    await _until(answered, "the bank's answer to every instruction")
    return batch_id


FUND_ACCOUNT = {
    "account_no": "6217000010000000002",
    "bank_name": "示范银行市分行营业部",
    "bank_code": "313100000013",
}


async def test_rejected_and_returned_lines_come_back_and_go_out_once(env: Any) -> None:
    svc, bank, _, _ = env
    day = datetime.now(BEIJING).date()
    # a wrong holder name slips into the fund's account (through two people, as it must)
    await _account_change(
        svc, "FUND_CUSTODY", account_name="示范市住房局", reason="更名", **FUND_ACCOUNT
    )
    total = await _paid_orders(svc, [(500_00, 80_00, 2_000_00), (700_00, 90_00, 3_000_00)])
    status, _ = await bank.control(
        "POST", "/sim/credit", {"account": COLLECTION, "amount_fen": total, "payer_name": ACQUIRER}
    )
    assert status == 201
    first = await _settle_round(svc, bank)
    states = await _instructions(svc, first)
    assert states == {"TREASURY": "BOOKED", "FISCAL_NONTAX": "BOOKED", "FUND_CUSTODY": "REJECTED"}
    # the fund's money is still owed to it, and nothing more goes to that account for now
    assert (await _balances(svc))["payable:FUND_CUSTODY"] == -(2_000_00 + 3_000_00)
    assert "BE01" in (await _hold(svc, "FUND_CUSTODY") or "")
    async with svc.app[POOL].acquire() as conn:
        held = await settlement.cutoff(
            conn, bank="SFBK", now=datetime.now(UTC), every_account=True, actor="test"
        )
    assert held is None
    # the right name, approved by a second person, releases the hold; the lines go out again
    await _account_change(
        svc,
        "FUND_CUSTODY",
        account_name="示范市住房保障和房产管理局",
        reason="按银行回单更正户名",
        **FUND_ACCOUNT,
    )
    assert await _hold(svc, "FUND_CUSTODY") is None
    second = await _settle_round(svc, bank)
    assert await _instructions(svc, second) == {"FUND_CUSTODY": "BOOKED"}

    # days later the treasury's transfer comes back (退汇)
    e2e = await svc.app[POOL].fetchval(
        "SELECT end_to_end_id FROM settlement_instructions"
        " WHERE batch_id = $1 AND beneficiary_code = 'TREASURY'",
        first,
    )
    status, body = await bank.control(
        "POST", "/sim/return", {"end_to_end_id": e2e, "reason": "AC04"}
    )
    assert status in (200, 201), body
    await bank.close_day(day + timedelta(days=1))

    async def returned() -> bool:
        return (await _instructions(svc, first))["TREASURY"] == "RETURNED"

    await _until(returned, "the return imported from the statement")
    assert (await _balances(svc))["payable:TREASURY"] == -(500_00 + 700_00)
    assert await _hold(svc, "TREASURY")
    await _account_change(
        svc,
        "TREASURY",
        account_no="270000000001",
        account_name="国家金库示范市中心支库",
        bank_name="中国人民银行示范市中心支行",
        bank_code="001100000009",
        reason="国库确认账户正常，重新划款",
    )
    third = await _settle_round(svc, bank)
    assert await _instructions(svc, third) == {"TREASURY": "BOOKED"}
    # the bank booked each line's money once; the ledger agrees with its statement
    statements = await bank.close_day(day + timedelta(days=2))
    closing, balances = await _ledger_agrees(svc, statements, "the last statement imported")
    assert closing == 0
    assert all(v == 0 for k, v in balances.items() if k.startswith("payable:")), balances
    doubled = await svc.app[POOL].fetchval(
        "SELECT count(*) FROM (SELECT order_id, line_no FROM settlement_items"
        " WHERE released_at IS NULL GROUP BY 1, 2 HAVING count(*) > 1) d"
    )
    assert doubled == 0
