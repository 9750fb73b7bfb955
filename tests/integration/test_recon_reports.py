"""The daily reconciliation report on real PostgreSQL and the real service: orders paid through
the service code on every channel, a refund, a suspense payment, a settlement batch with one
instruction booked, and reconciliation runs with discrepancies; then every split of the day adds
up to the day, the workbook and the CSV hold the same numbers on the right sheets, the printable
page has every section and its chart, and only finance, admin and auditors read any of it."""

from __future__ import annotations

import io
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from openpyxl import load_workbook

from clearing.api.keys import POOL
from clearing.ports import PaymentNotice
from clearing.service import orders, payments, refunds, settlement, settlement_answers
from clearing.service.orders import LineInput, OrderInput
from clearing.service.principals import Principal
from reconciliation import reports
from reconciliation.reports import BEIJING
from tests.integration import factories as f
from tests.integration.service_harness import Service, running_wechat_service
from tests.staff_text import REPORT_SHEETS, leaks, visible_text

NOW = datetime.now(UTC)
DAY = NOW.astimezone(BEIJING).date()
BEFORE = DAY - timedelta(days=2)

# (office, window, channel, [(item, fen)], paid_at): the day's orders, and one two days before
# fmt: off
PAID = [
    ("HALL1", "W01", "wechatpay", [("DEED_TAX", 350_000_00), ("REG_FEE", 80_00)], NOW),
    ("HALL1", "W02", "alipay", [("VAT", 1_234_56), ("REG_FEE", 90_00), ("MAINT_FUND", 3_000_00)], NOW),
    ("HALL2", "W01", "pos", [("STAMP_DUTY", 5_00), ("LAND_TRANSFER", 12_345_67)], NOW),
    ("HALL1", "W01", "wechatpay", [("IIT", 777_77)], NOW),  # refunded the same day
    ("HALL1", "W01", "wechatpay", [("DEED_TAX", 100_00)], NOW - timedelta(days=2)),
]
# fmt: on
DAY_TOTAL = 350_080_00 + 4_324_56 + 12_350_67 + 777_77
OFFICES = {"HALL1": "示范市不动产登记中心第一大厅", "HALL2": "示范市不动产登记中心第二大厅"}


@dataclass
class Seeded:
    svc: Service
    tokens: dict[str, str]
    run_id: int


async def _pay(
    pool: asyncpg.Pool, who: Principal, office: str, window: str, channel: str,
    lines: list[tuple[str, int]], paid_at: datetime, short_by: int = 0,
) -> str:  # fmt: skip
    async with pool.acquire() as conn:
        _, view = await orders.create(
            conn,
            principal=who,
            order=OrderInput(
                "2026-BDC-000900",
                office,
                window,
                "张三",
                f.PAYER_ID,
                [LineInput(item, fen, f"R{secrets.token_hex(4)}") for item, fen in lines],
            ),
            idempotency_key=secrets.token_hex(8),
            body_hash=secrets.token_bytes(32),
            limits=f.LIMITS,
            cipher=f.CIPHER,
            now=datetime.now(UTC),
            ttl=timedelta(minutes=15),
            manual_reason="测试：手工录入",
        )
        order_no = str(view["order_no"])
        out_trade_no = f"{order_no}P01"
        await conn.execute(
            "INSERT INTO payment_attempts (order_id, provider, out_trade_no, state, expires_at)"
            " SELECT id, $2, $3, 'OPEN', expires_at FROM orders WHERE order_no = $1",
            order_no,
            channel,
            out_trade_no,
        )
        notice = PaymentNotice(
            provider=channel,
            event_id="EV-" + secrets.token_hex(6),
            out_trade_no=out_trade_no,
            provider_txn_id="42" + secrets.token_hex(13),
            amount_fen=sum(fen for _, fen in lines) - short_by,
            paid_at=paid_at,
        )
        result = await payments.capture(conn, notice, "notify")
    assert result.outcome == ("SUSPENSE" if short_by else "CLEARED")
    return order_no


async def _seed(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        staff = {office: await f.staff(conn, office) for office in ("HALL1", "HALL2")}
        finance = await f.staff(conn, role="finance")
    nos = [await _pay(pool, staff[o], o, w, c, lines, at) for o, w, c, lines, at in PAID]
    # money for an order that does not match it: suspense, never in the day's receipts
    await _pay(pool, staff["HALL1"], "HALL1", "W01", "wechatpay", [("REG_FEE", 80_00)], NOW, 1)
    async with pool.acquire() as conn:
        refund = await refunds.request(conn, staff["HALL1"], nos[3], lines=None, reason="测试退款")
        await refunds.decide(conn, finance, refund["id"], approve=True, note=None)
        assert await refunds.record_success(conn, refund["id"], "RF" + secrets.token_hex(6))
        batch = await settlement.cutoff(
            conn, bank="SFBK", now=datetime.now(UTC), every_account=True, actor="test"
        )
        e2e = await conn.fetchval(
            "SELECT end_to_end_id FROM settlement_instructions WHERE batch_id = $1"
            " AND beneficiary_code = 'FUND_CUSTODY'",
            batch,
        )
        async with conn.transaction():
            assert await settlement_answers.booked(conn, e2e, datetime.now(UTC))
        return await _recon_runs(conn, finance.actor)


async def _recon_runs(conn: Any, person: str) -> int:
    """Runs as the engine leaves them (its stats keys differ on purpose), and discrepancies."""
    hour, minute = timedelta(hours=1), timedelta(minutes=1)
    await conn.execute(
        "INSERT INTO recon_runs (business_date, state, started_by, started_at, finished_at, stats)"
        " VALUES ($1, 'DONE', 'system:nightly', $2, $3, $4)",
        BEFORE, NOW - 50 * hour, NOW - 49 * hour, {"matched": 8, "total": 10},
    )  # fmt: skip
    first = await conn.fetchval(
        "INSERT INTO recon_runs (business_date, state, started_by, started_at, finished_at, stats)"
        " VALUES ($1, 'DONE', 'system:nightly', $2, $3, $4) RETURNING id",
        DAY, NOW - 3 * hour, NOW - 3 * hour + timedelta(seconds=42), {"auto_match_ratio": 0.5},
    )  # fmt: skip
    last = await conn.fetchval(
        "INSERT INTO recon_runs (business_date, state, started_by, started_at, finished_at, stats)"
        " VALUES ($1, 'DONE', $5, $2, $3, $4) RETURNING id",
        DAY, NOW - 2 * hour, NOW - hour,
        {"wechatpay": {"matched": 3, "total": 4}, "alipay": {"matched": 1, "total": 1}}, person,
    )  # fmt: skip
    # fmt: off
    rows = [
        (DAY, "LONG", "wechatpay", "4200009999999999999999999999", None, 500, "OPEN", None, first),
        (DAY, "AMOUNT_MISMATCH", "alipay", "2026031522001", 100, 99, "ASSIGNED", None, first),
        (DAY, "TIMING", "unionpay", "Q-778", 300, None, "OPEN", None, last),
        (DAY, "SHORT", "pos", "RRN-1", 50, None, "RESOLVED", NOW - 90 * minute, first),
        # closed after the last run ended: it was still open when that run finished
        (DAY, "DUPLICATE", "pos", "RRN-2", 70, 70, "VOID", NOW, first),
    ]
    # fmt: on
    await conn.executemany(
        "INSERT INTO discrepancies (business_date, type, source, reference, amount_fen,"
        " their_amount_fen, state, resolved_at, first_run_id, last_run_id)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        rows,
    )
    return int(last)


@pytest.fixture(scope="module")
async def seeded(db_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Seeded]:
    tmp = tmp_path_factory.mktemp("recon-reports")
    async with running_wechat_service(db_dsn, tmp, workers=0, office_names=OFFICES) as svc:
        run_id = await _seed(svc.app[POOL])
        tokens = {
            r: await svc.add_user(r, "HALL1") for r in ("finance", "admin", "auditor", "clerk")
        }
        yield Seeded(svc, tokens, run_id)


async def _daily(s: Seeded, day: date = DAY) -> reports.DailyReport:
    async with s.svc.app[POOL].acquire() as conn, reports.snapshot(conn):
        return await reports.daily(conn, day)


def _by_key(rows: list[reports.Row]) -> dict[str, tuple[int, int]]:
    return {r.key: (r.count, r.amount_fen) for r in rows}


async def test_every_split_adds_up_to_the_day(seeded: Seeded) -> None:
    r = await _daily(seeded)
    assert r.received == reports.Total(4, DAY_TOTAL) and DAY_TOTAL == 367_533_00
    assert r.refunded == reports.Total(1, 777_77) and r.net_fen == DAY_TOTAL - 777_77
    assert r.suspense == reports.Total(1, 80_00 - 1)
    assert _by_key(r.by_item) == {
        "DEED_TAX": (1, 350_000_00), "REG_FEE": (2, 170_00), "VAT": (1, 1_234_56),
        "MAINT_FUND": (1, 3_000_00), "STAMP_DUTY": (1, 5_00), "LAND_TRANSFER": (1, 12_345_67),
        "IIT": (1, 777_77),
    }  # fmt: skip
    assert _by_key(r.by_beneficiary) == {
        "TREASURY": (4, 350_000_00 + 1_234_56 + 5_00 + 777_77),
        "FISCAL_NONTAX": (3, 170_00 + 12_345_67),
        "FUND_CUSTODY": (1, 3_000_00),
    }
    assert _by_key(r.by_channel) == {
        "wechatpay": (2, 350_080_00 + 777_77), "alipay": (1, 4_324_56), "pos": (1, 12_350_67),
    }  # fmt: skip
    assert {x.key: x.name for x in r.by_channel}["pos"] == "银行卡"
    assert _by_key(r.refunds_by_channel) == {"wechatpay": (1, 777_77)}
    assert _by_key(r.by_office) == {
        "HALL1": (3, 350_080_00 + 4_324_56 + 777_77),
        "HALL2": (1, 12_350_67),
    }
    assert {(w.key, w.name): (w.count, w.amount_fen) for w in r.by_window} == {
        ("HALL1", "W01"): (2, 350_080_00 + 777_77),
        ("HALL1", "W02"): (1, 4_324_56),
        ("HALL2", "W01"): (1, 12_350_67),
    }
    assert [c.dimension for c in r.checks] == [
        "按收费项目",
        "按收款单位",
        "按支付渠道",
        "按大厅",
        "按网点类型",
        "按窗口",
    ]
    # every office here is a registration hall: one kind, the whole day
    assert _by_key(r.by_office_kind) == {"hall": (4, DAY_TOTAL)}
    assert r.office_kinds == {"HALL1": "hall", "HALL2": "hall"}
    assert all(c.agrees and c.difference_fen == 0 and c.total_fen == DAY_TOTAL for c in r.checks)


async def test_the_day_before_has_only_its_own_money(seeded: Seeded) -> None:
    r = await _daily(seeded, BEFORE)
    assert r.received == reports.Total(1, 100_00) and _by_key(r.by_item) == {
        "DEED_TAX": (1, 100_00)
    }
    assert r.refunded == reports.Total(0, 0) and r.settlement.batches == []
    empty = await _daily(seeded, DAY - timedelta(days=1))
    assert empty.received == reports.Total(0, 0) and all(c.agrees for c in empty.checks)
    assert empty.recon.latest is None


async def test_settlement_reconciliation_and_balances(seeded: Seeded) -> None:
    r = await _daily(seeded)
    # every paid line not refunded, the earlier day's too, went into the day's cut-off
    (batch,) = r.settlement.batches
    assert batch.total_fen == r.settlement.total_fen == DAY_TOTAL - 777_77 + 100_00
    assert r.settlement.paid_out_fen == 3_000_00
    assert _by_key(r.settlement.instructions) == {
        "BOOKED": (1, 3_000_00),
        "PENDING": (2, batch.total_fen - 3_000_00),
    }
    assert r.recon.latest is not None and r.recon.latest.id == seeded.run_id
    assert r.recon.latest.duration_s == 3600
    assert r.recon.open_total == 3
    assert {(d.type, d.state) for d in r.recon.open} == {
        ("LONG", "OPEN"), ("AMOUNT_MISMATCH", "ASSIGNED"), ("TIMING", "OPEN"),
    }  # fmt: skip
    assert sum(c.count for c in r.recon.counts) == 5
    balances = {b.code: b.balance_fen for b in r.balances}
    assert balances["receivable:alipay"] == 4_324_56 and balances["receivable:pos"] == 12_350_67
    assert balances["payable:FUND_CUSTODY"] == 0 and balances["bank:collection"] == -3_000_00
    assert balances["suspense"] == -(80_00 - 1) and balances["bank_unapplied"] == 0
    assert balances["payable:TREASURY"] == -(350_000_00 + 1_234_56 + 5_00 + 100_00)


async def test_runs_and_the_trend(seeded: Seeded) -> None:
    async with seeded.svc.app[POOL].acquire() as conn, reports.snapshot(conn):
        runs = await reports.runs(conn, DAY)
        trend = await reports.trend(conn, DAY, 30)
    assert [r.duration_s for r in runs] == [42, 3600]
    assert len(trend) == 30 and trend[0].day == DAY - timedelta(days=29) and trend[-1].day == DAY
    today, yesterday, before = trend[-1], trend[-2], trend[-3]
    assert (today.received_count, today.received_fen) == (4, DAY_TOTAL)
    # at the end of the last run: the three open now, and the one closed after it finished
    assert today.open_discrepancies == 4 and today.auto_match_ratio == Decimal("0.8")
    assert (yesterday.received_fen, yesterday.run_state, yesterday.open_discrepancies) == (
        0,
        None,
        None,
    )
    assert (before.received_fen, before.auto_match_ratio, before.open_discrepancies) == (
        100_00,
        Decimal("0.8"),
        0,
    )


def _cookie(s: Seeded, role: str) -> dict[str, str]:
    return {"Cookie": f"tj_session={s.tokens[role]}"}


async def _get(
    s: Seeded, path: str, headers: dict[str, str] | None = None
) -> tuple[int, Any, bytes]:
    async with s.svc.session.get(
        s.svc.base_url + path, headers=headers or {}, allow_redirects=False
    ) as r:
        return r.status, r.headers, await r.read()


async def test_the_printable_page(seeded: Seeded) -> None:
    status, headers, body = await _get(
        seeded, f"/reports/daily?date={DAY}", _cookie(seeded, "finance")
    )
    assert status == 200, body
    assert headers["Cache-Control"] == "no-store" and "text/html" in headers["Content-Type"]
    page = body.decode()
    for text in ("税费通缴对账日报", "一、收款汇总与合计核对", "二、按收费项目", "三、按收款单位",
                 "四、按支付渠道", "五、按网点类型、大厅（网点）、窗口", "六、清分结算", "七、对账情况",
                 "八、账户余额",
                 "九、服务评价（好差评）", "十、近 30 日趋势", "¥367,533.00", "一致", "长款", "微信支付",
                 f"/reports/daily.xlsx?date={DAY}", f"/reports/daily.csv?date={DAY}"):  # fmt: skip
        assert text in page, text
    assert page.count("<svg") == 1 and "收款金额（万元）" in page and "未结差异（笔）" in page
    # the six checks, each marked as agreeing
    assert page.count('<tr class="ok">') == 6 and 'class="bad"' not in page
    for role in ("admin", "auditor"):
        assert (await _get(seeded, f"/reports/daily?date={DAY}", _cookie(seeded, role)))[0] == 200


async def test_only_finance_admin_and_auditors(seeded: Seeded) -> None:
    for path in ("/reports/daily", "/reports/daily.xlsx", "/reports/daily.csv"):
        status, _, body = await _get(seeded, f"{path}?date={DAY}", _cookie(seeded, "clerk"))
        assert status == 403 and "无权查看对账日报" in body.decode()
        status, headers, _ = await _get(seeded, f"{path}?date={DAY}")
        assert status == 302 and headers["Location"].startswith("/login?next=/reports/daily")
    bearer = {"Authorization": f"Bearer {seeded.tokens['clerk']}"}
    for path in ("/api/v1/reports/daily", "/api/v1/reports/trend"):
        status, headers, _ = await _get(seeded, path, bearer)
        assert status == 403 and headers["Content-Type"].startswith("application/problem+json")
        assert (await _get(seeded, path))[0] == 401
    status, _, body = await _get(
        seeded, "/reports/daily?date=15.03.2026", _cookie(seeded, "finance")
    )
    assert status == 400 and "YYYY-MM-DD" in body.decode()


async def test_the_workbook(seeded: Seeded) -> None:
    status, headers, body = await _get(
        seeded, f"/reports/daily.xlsx?date={DAY}", _cookie(seeded, "auditor")
    )
    assert status == 200 and headers["Content-Type"].startswith("application/vnd.openxmlformats")
    assert (
        f"filename*=UTF-8''%E5%AF%B9%E8%B4%A6%E6%97%A5%E6%8A%A5_{DAY}.xlsx"
        in headers["Content-Disposition"]
    )
    book = load_workbook(io.BytesIO(body))
    assert book.sheetnames == REPORT_SHEETS

    def rows(sheet: str) -> list[list[Any]]:
        return [[c.value for c in row] for row in book[sheet].iter_rows()]

    def amount(value: Any) -> int:
        return int(Decimal(str(value)) * 100)

    items = rows("按收费项目")
    assert items[0] == ["收费项目", "明细笔数", "金额（元）"]
    assert {r[0]: amount(r[2]) for r in items[1:-1]}["土地出让金"] == 12_345_67
    assert items[-1][0] == "合计" and amount(items[-1][2]) == DAY_TOTAL
    assert (
        book["按收费项目"]["C2"].number_format == "#,##0.00"
        and book["按收费项目"].freeze_panes == "A2"
    )
    payees = {r[0]: amount(r[2]) for r in rows("按收款单位")[1:]}
    assert payees["示范市住宅专项维修资金专户"] == 3_000_00 and payees["合计"] == DAY_TOTAL
    channels = {r[0]: r for r in rows("按渠道")[1:]}
    assert (
        amount(channels["微信支付"][2]) == 350_857_77 and amount(channels["微信支付"][4]) == 777_77
    )
    assert (
        amount(channels["微信支付"][5]) == 350_080_00
        and amount(channels["合计"][5]) == DAY_TOTAL - 777_77
    )
    summary = {r[0]: r for r in rows("汇总") if r and r[0]}
    assert summary["收款（已清分）"][1] == 4 and amount(summary["收款（已清分）"][2]) == DAY_TOTAL
    assert summary["按收费项目"][4] == "一致" and summary["按窗口"][4] == "一致"
    # HALL1's windows by the names the demo's 系统管理 gave them (窗口一, 窗口二)
    windows = [r for r in rows("按大厅窗口") if r[:2] == [OFFICES["HALL1"], "窗口二"]]
    assert len(windows) == 1 and amount(windows[0][3]) == 4_324_56
    (long,) = [r for r in rows("对账差异") if r[4] == "4200009999999999999999999999"]
    assert long[1:4] == ["长款", "待处理", "微信支付"] and amount(long[7]) == 5_00
    # one name per concept: the report calls TIMING what /finance calls it
    assert [r[1] for r in rows("对账差异") if r[4] == "Q-778"] == ["跨日在途"]
    assert len(rows("运行记录")) == 1 + 2


async def test_the_csv_and_the_json(seeded: Seeded) -> None:
    status, headers, body = await _get(
        seeded, f"/reports/daily.csv?date={DAY}", _cookie(seeded, "admin")
    )
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert body.startswith(b"\xef\xbb\xbf") and b"\r\n" in body
    text = body.decode("utf-8-sig")
    assert "按收款单位\r\n收款单位,明细笔数,金额（元）\r\n" in text and "合计,4,367533.00" in text
    bearer = {"Authorization": f"Bearer {seeded.tokens['finance']}"}
    status, headers, body = await _get(seeded, f"/api/v1/reports/daily?date={DAY}", bearer)
    assert status == 200 and headers["Cache-Control"] == "no-store"
    data = json.loads(body)
    assert data["date"] == DAY.isoformat() and data["received"] == {
        "count": 4,
        "amount_fen": DAY_TOTAL,
    }
    assert {r["key"]: r["amount_fen"] for r in data["by_beneficiary"]}["FUND_CUSTODY"] == 3_000_00
    assert all(c["agrees"] for c in data["checks"]) and len(data["runs"]) == 2
    assert {b["code"]: b["direction"] for b in data["balances"]}["bank:collection"] == "贷"
    status, _, body = await _get(seeded, f"/api/v1/reports/trend?days=30&date={DAY}", bearer)
    trend = json.loads(body)["days"]
    assert status == 200 and len(trend) == 30 and trend[-1]["received_fen"] == DAY_TOTAL
    assert trend[-1]["auto_match_ratio"] == 0.8 and trend[-1]["date"] == DAY.isoformat()
    assert (await _get(seeded, "/api/v1/reports/trend?days=0", bearer))[0] == 422


def _codes_of_the_day() -> set[str]:
    """The codes of this test's data that must never reach staff as they are."""
    return {
        *OFFICES, "W01", "W02", "SFBK", "system:nightly",
        "TREASURY", "FISCAL_NONTAX", "FUND_CUSTODY", "DEED_TAX", "REG_FEE", "VAT", "IIT",
        "MAINT_FUND", "STAMP_DUTY", "LAND_TRANSFER", "payable:TREASURY", "bank:collection",
        "receivable:wechatpay", "suspense", "bank_unapplied",
    }  # fmt: skip


async def test_the_report_speaks_chinese_with_names_not_codes(seeded: Seeded) -> None:
    """Every word of the page, the workbook and the CSV is Chinese: offices, channels, the
    bank, people and the run's statistics by their names; no English, no code, no JSON."""
    codes = _codes_of_the_day()
    status, _, body = await _get(seeded, f"/reports/daily?date={DAY}", _cookie(seeded, "finance"))
    assert status == 200
    page = visible_text(body.decode())
    assert leaks(page, codes) == [], leaks(page, codes)
    for shown in (OFFICES["HALL1"], OFFICES["HALL2"], "示范银行", "银行卡", "1号窗口"):
        assert shown in page, shown
    assert "{" not in page  # the run's statistics are words, not JSON
    assert "已匹配支付笔数" not in page or "自动匹配率" in page

    _, _, body = await _get(seeded, f"/reports/daily.csv?date={DAY}", _cookie(seeded, "auditor"))
    assert leaks(body.decode("utf-8-sig"), codes) == []

    _, _, body = await _get(seeded, f"/reports/daily.xlsx?date={DAY}", _cookie(seeded, "auditor"))
    book = load_workbook(io.BytesIO(body))
    cells = [
        str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value
    ]
    assert leaks(" ".join(cells), codes) == []
