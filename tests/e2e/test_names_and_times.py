"""What staff read in a real browser: Chinese words and display names, never English or our codes,
and Beijing time whatever zone the browser runs in.

The discrepancies are written as the nightly run writes them (its facts, a rule's proposed match,
a refused payout, a statement that does not add up) so that every kind of fact the detail shows
is on screen; the run's statistics are the engine's keys.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import expect

from clearing.db.pool import init_connection
from clearing.domain.times import BEIJING, beijing_clock, business_day
from clearing.service import settlement
from tests.e2e.conftest import PageFactory, Stack, Watched
from tests.e2e.flows import api_when, manual_order, signed_in
from tests.staff_text import leaks

# the system's own codes that the demo's data holds: none may reach a screen as it is
CODES = {
    "HALL1", "W01", "SFBK", "clerk1", "clerk2", "super1", "finance1", "auditor1", "admin",
    "system:nightly", "system:recon", "TREASURY", "FISCAL_NONTAX", "FUND_CUSTODY", "DEED_TAX",
    "REG_FEE", "suspense", "bank:collection", "millifen",
}  # fmt: skip
TAG = secrets.token_hex(3)


async def _seed_reconciliation(stack: Stack, day: date) -> None:
    """A night's run and its discrepancies, as the engine and people leave them."""
    async with stack.connected() as conn:
        finance = await conn.fetchval("SELECT id FROM principals WHERE username = 'finance1'")
        stats = {
            "bill_payment_lines": 12, "payments_matched": 10, "our_payments": 12,
            "matched_across_days": 1, "refunds_matched": 0, "legs_matched": 9,
            "statement_lines": 4, "statement_lines_explained": 3, "rule_matched": 0,
            "rule_proposed": 1, "findings": 6, "discrepancies_new": 6, "discrepancies_closed": 1,
            "findings_by_type": {"TIMING": 1, "LONG": 1}, "auto_match_ratio": 0.8333,
            "fetch_errors": ["pos: ClientConnectorError('refused')"],
        }  # fmt: skip
        start = datetime.combine(day + timedelta(days=1), datetime.min.time(), BEIJING)
        run = await conn.fetchval(
            "INSERT INTO recon_runs (business_date, state, started_by, started_at, finished_at,"
            " stats) VALUES ($1, 'DONE', 'system:nightly', $2, $3, $4::jsonb) RETURNING id",
            day, start + timedelta(hours=2, minutes=30), start + timedelta(hours=2, minutes=31),
            json.dumps(stats),
        )  # fmt: skip
        match = await conn.fetchval(
            "INSERT INTO recon_matches (business_date, rule, confidence, state, external_ref,"
            " internal_ref, amount_fen, detail, run_id) VALUES ($1, 'amount_time_reference', 75,"
            " 'PROPOSED', $2, $3, 8000, $4::jsonb, $5) RETURNING id",
            day, f"alipay:2026{TAG}0001", f"wechatpay:4200{TAG}0002",
            json.dumps({"their_out_trade_no": "TJX1P01", "our_out_trade_no": "TJX2P01"}), run,
        )  # fmt: skip
        # fmt: off
        rows = [
            ("TIMING", "wechatpay", f"4200{TAG}0003", 8000, None,
             {"why": "该渠道当日账单尚无记录，暂按跨日在途处理"}, "OPEN", None, None),
            ("LONG", "alipay", f"2026{TAG}0001", None, 8000,
             {"match_id": match, "confidence": 75, "candidate": f"4200{TAG}0002"}, "OPEN",
             None, None),
            ("FEE_MISMATCH", "unionpay", f"6200{TAG}0004", 0, 48, {"unit": "millifen"},
             "ASSIGNED", None, None),
            ("SETTLEMENT_REJECTED", "bank:SFBK", f"E2E{TAG}0005", 8000, None,
             {"state": "RETURNED", "reason_code": "AC04", "batch_date": str(day)}, "OPEN",
             None, None),
            ("BALANCE_DRIFT", "bank:SFBK", f"6217000010000000009:{day}:{TAG}", 100000, 90000,
             {"why": "期初余额 ¥1,000.00 与上一期（前一日）对账单期末余额 ¥900.00 不一致"},
             "OPEN", None, None),
            ("SHORT", "pos", f"RRN{TAG}0006", 5000, None, {}, "RESOLVED", "system:recon",
             "第 1 次对账已匹配，自动解决"),
            ("DUPLICATE", "alipay", f"2026{TAG}0007", 5200, 5200, {"refund": "pending"},
             "OPEN", None, None),
            ("UNCONFIRMED_LEG", "tax", f"3101{TAG}0008", 35000, None,
             {"confirm_state": "PENDING", "listed": False}, "OPEN", None, None),
            ("STATEMENT_CREDIT_UNMATCHED", "bank:SFBK", f"STMT{TAG}0009", None, 1200,
             {"counterparty": "示范置业有限公司"}, "OPEN", None, None),
        ]
        # fmt: on
        for kind, source, ref, ours, theirs, detail, state, by, resolution in rows:
            d_id = await conn.fetchval(
                "INSERT INTO discrepancies (business_date, type, source, reference, amount_fen,"
                " their_amount_fen, detail, state, resolved_by, resolution, resolved_at,"
                " assigned_to, first_run_id, last_run_id) VALUES ($1, $2, $3, $4, $5, $6,"
                " $7::jsonb, $8, $9, $10, CASE WHEN $9::text IS NULL THEN NULL ELSE now() END,"
                " CASE WHEN $8 = 'ASSIGNED' THEN $11::bigint END, $12, $12) RETURNING id",
                day, kind, source, ref, ours, theirs, json.dumps(detail), state, by, resolution,
                finance, run,
            )  # fmt: skip
            if kind == "FEE_MISMATCH":
                await conn.execute(
                    "INSERT INTO discrepancy_comments (discrepancy_id, author, body)"
                    " VALUES ($1, $2, '已联系银联核对手续费')",
                    d_id,
                    finance,
                )
                await conn.execute(
                    "INSERT INTO recon_adjustments (discrepancy_id, legs, memo, requested_by)"
                    " VALUES ($1, $2::jsonb, '手续费差额转挂账', $3)",
                    d_id,
                    json.dumps([["suspense", 48], ["bank:collection", -48]]),
                    finance,
                )


async def _order(stack: Stack, case_no: str) -> dict[str, Any]:
    return await manual_order(stack, case_no, [("REG_FEE", 8000)], reason="测试：名称与时间")


@pytest.fixture(scope="module")
async def batch(stack: Stack) -> int:
    """A paid order cut off into a settlement batch, so that /finance lists one."""
    order = await _order(stack, f"2026-BDC-ST{TAG}")
    no = order["order_no"]
    status, attempt = await stack.api(
        "POST", f"/api/v1/orders/{no}/payments", "clerk1", json={"channel": "wechatpay"}
    )
    assert status == 201, attempt
    status, paid = await stack.api(
        "POST", f"{stack.sim('wechatpay')}/sim/orders/{attempt['out_trade_no']}/pay"
    )
    assert status == 200, paid
    # the payment is captured
    await api_when(stack, f"/api/v1/orders/{no}", lambda o: o["state"] == "CLEARED")
    async with stack.connected() as conn:
        await init_connection(conn)
        batch_id = await settlement.cutoff(
            conn, bank="SFBK", now=datetime.now(UTC), every_account=True, actor="cli"
        )
    assert batch_id is not None
    return batch_id


@pytest.fixture(scope="module")
async def night(stack: Stack) -> AsyncIterator[date]:
    """Yesterday, Beijing time: the business day the night's run reconciled."""
    day = business_day(datetime.now(UTC)) - timedelta(days=1)
    await _seed_reconciliation(stack, day)
    yield day


async def _every_detail(page: Watched) -> list[str]:
    """The discrepancy section's text with each discrepancy's detail opened in turn."""
    await page.goto("/finance#recon-card")
    rows = page.locator("#discrepancies > tr:not(.detail-row)")
    await rows.first.wait_for()
    # every state, the resolved ones too (the list opens on the unfinished ones)
    await page.select_option("#recon-state", value="")
    await page.click("#recon-filters button[type=submit]")
    await page.locator("#discrepancies .badge.d-RESOLVED").first.wait_for()
    texts = []
    for i in range(await rows.count()):
        await rows.nth(i).get_by_role("button", name="查看").click()
        await page.locator("#discrepancies .detail-row .recon-detail").wait_for()
        texts.append(await page.inner_text("#recon-card"))
    return texts


@pytest.mark.parametrize("user", ["finance1", "auditor1"])
async def test_discrepancy_details_are_chinese_with_names(
    stack: Stack, page_as: PageFactory, night: date, batch: int, user: str
) -> None:
    page = await page_as(user)
    texts = await _every_detail(page)
    assert len(texts) >= 9
    seen = "\n".join(texts)
    for word in ("跨日在途", "该渠道当日账单尚无记录", "示范银行", "已退汇", "账户已销户",
                 "厘（千分之一元）", "金额、时间与单号相近", "自动对账", "财务 赵静",
                 "手续费差额转挂账", "待查明款项（挂账）", "银行存款 归集账户",
                 "尚未退回缴款人", "待主管部门确认", "在主管部门确认清单中", "示范置业有限公司"):  # fmt: skip
        assert word in seen, word
    assert leaks(seen, CODES) == [], leaks(seen, CODES)
    assert await page.evaluate("document.documentElement.scrollWidth") <= 1366
    # the rest of the page too: refunds, settlement batches, beneficiary accounts, the header
    await page.locator("#batches tr").first.wait_for()
    whole = await page.inner_text("body")
    await expect(page.locator("#settlement-card")).to_contain_text("示范银行", use_inner_text=True)
    assert leaks(whole, CODES) == [], leaks(whole, CODES)


@pytest.mark.parametrize("user", ["finance1", "auditor1"])
async def test_the_daily_report_is_chinese_with_names(
    stack: Stack, page_as: PageFactory, night: date, user: str
) -> None:
    page = await page_as(user)
    await page.goto(f"/reports/daily?date={night}")
    await page.get_by_role("heading", name="税费通缴对账日报").wait_for()
    text = await page.inner_text("body")
    for word in ("跨日在途", "夜间自动对账", "账单支付笔数 12", "自动匹配率 83.3%", "示范银行"):
        assert word in text, word
    assert "{" not in text
    assert leaks(text, CODES) == [], leaks(text, CODES)


async def test_the_window_shows_beijing_time_in_a_new_york_browser(
    stack: Stack, page_as: PageFactory
) -> None:
    order = await _order(stack, f"2026-BDC-TZ{TAG}")
    page = await page_as("clerk1", timezone_id="America/New_York")
    assert await page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == (
        "America/New_York"
    )
    await page.wait_for_url("**/window")
    row = page.locator(f'#orders tr[data-order-no="{order["order_no"]}"]')
    await row.wait_for()
    shown = await row.locator("td").first.inner_text()
    assert shown == beijing_clock(order["created_at"]), shown
    new_york = datetime.fromisoformat(order["created_at"]).astimezone(ZoneInfo("America/New_York"))
    assert shown != new_york.strftime("%H:%M:%S")
    # the order's panel says when it was made, in Beijing time too
    await row.get_by_role("button").click()
    # expectations, not wait_for_function (its polling needs eval, which the page's CSP refuses)
    await expect(page.locator("#c-order-no")).to_have_text(order["order_no"])
    await expect(page.locator("#c-created")).to_have_text(re.compile(r"\S"))
    created = await page.locator("#c-created").inner_text()
    beijing = datetime.fromisoformat(order["created_at"]).astimezone(BEIJING)
    assert created.startswith(beijing.strftime("%Y-%m-%d %H:%M:%S")), created
    # the hall and the window by the names 系统管理 gave them
    assert "示范市不动产登记中心 窗口一" in created and "super1" not in created
    # the clerk's whole screen: the hall by its name, the clerk by name and role, no code
    whole = await page.inner_text("body")
    assert "示范市不动产登记中心" in whole and "窗口一 张敏（窗口收费员）" in whole
    assert leaks(whole, CODES) == [], leaks(whole, CODES)


async def test_an_administrator_reads_halls_and_windows_by_name(
    stack: Stack, page_as: PageFactory
) -> None:
    """Administrators keep the halls (系统管理), not a window: their page names every hall and
    window, and their header shows no code."""
    page = await signed_in(page_as, "admin", "/admin")
    await page.locator("#offices").get_by_text("示范市不动产登记中心").first.wait_for()
    await expect(page.locator("#offices")).to_contain_text("窗口一", use_inner_text=True)
    assert leaks(await page.inner_text("header"), CODES) == []
