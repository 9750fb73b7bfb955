"""Building blocks for tests: staff, orders and payments made through the real service code."""

from __future__ import annotations

import base64
import os
import secrets
from datetime import UTC, datetime, timedelta

import asyncpg

from clearing.domain.display import window_name
from clearing.domain.orders import Limits
from clearing.ports import PaymentNotice
from clearing.security import PiiCipher
from clearing.service import kiosks, orders, payments, principals, settlement, settlement_answers
from clearing.service.orders import LineInput, OrderInput
from clearing.service.principals import Principal

CIPHER = PiiCipher(base64.b64decode(base64.b64encode(os.urandom(32))))
LIMITS = Limits(max_lines=20, max_line_fen=100_000_000_000, max_order_fen=500_000_000_000)
# a valid resident ID number (check digit X)
PAYER_ID = "11010519491231002X"


async def place(conn: asyncpg.Connection, office: str = "HALL1", window: str = "W01") -> None:
    """The office and the window orders are taken at (orders must name a window in service)."""
    await conn.execute(
        "INSERT INTO offices (code, name) VALUES ($1, $1 || '大厅') ON CONFLICT DO NOTHING", office
    )
    await conn.execute(
        "INSERT INTO windows (office_code, code, name) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        office,
        window,
        window_name(window),  # as a hall signs it: 1号窗口
    )


async def enrolled_kiosk(conn: asyncpg.Connection, admin: str, name: str) -> str:
    """The device token of a self-service kiosk of HALL1 called ``name``, made and enrolled by
    a new admin API client ``admin``."""
    who, _ = await principals.add(
        conn, kind="client", username=admin, display_name="管理", role="admin", office=None
    )
    _, code = await kiosks.create(conn, who, "HALL1", name, datetime.now(UTC))
    token, _ = await kiosks.enrol(conn, code, datetime.now(UTC))
    return token


async def staff(
    conn: asyncpg.Connection, office: str = "HALL1", role: str = "supervisor"
) -> Principal:
    """Window staff; a supervisor by default, because ``order`` types its lines by hand. Clerks
    are assigned window W01 of their office."""
    window_staff = role in ("clerk", "supervisor")
    if window_staff:
        await place(conn, office)
    p, _ = await principals.add(
        conn,
        kind="staff",
        username=f"u{secrets.token_hex(4)}",
        display_name="测试员",
        role=role,
        office=office if window_staff else None,
        window="W01" if role == "clerk" else None,
        password="Correct horse battery 9",
    )
    return p


async def order(
    conn: asyncpg.Connection,
    who: Principal,
    amounts: list[int],
    *,
    items: list[str] | None = None,
    office: str = "HALL1",
    ttl: timedelta = timedelta(minutes=15),
) -> dict[str, object]:
    codes = items or [
        "DEED_TAX",
        "REG_FEE",
        "MAINT_FUND",
        "VAT",
        "IIT",
        "STAMP_DUTY",
        "LAND_TRANSFER",
    ]
    lines = [LineInput(codes[i % len(codes)], a, f"REF{i}") for i, a in enumerate(amounts)]
    body = OrderInput("2026-BDC-000123", office, "W01", "张三", PAYER_ID, lines)
    _, view = await orders.create(
        conn,
        principal=who,
        order=body,
        idempotency_key=secrets.token_hex(8),
        body_hash=secrets.token_bytes(32),
        limits=LIMITS,
        cipher=CIPHER,
        now=datetime.now(UTC),
        ttl=ttl,
        manual_reason="测试：手工录入",
    )
    return view


async def attempt(conn: asyncpg.Connection, order_no: str, seq: int = 1) -> str:
    """An OPEN WeChat attempt recorded as if the acquirer had accepted it."""
    out_trade_no = f"{order_no}P{seq:02d}"
    await conn.execute(
        "INSERT INTO payment_attempts (order_id, provider, out_trade_no, state, code_url,"
        " expires_at) SELECT id, 'wechatpay', $2, 'OPEN', 'weixin://x', expires_at FROM orders"
        " WHERE order_no = $1",
        order_no,
        out_trade_no,
    )
    return out_trade_no


def notice(out_trade_no: str, amount_fen: int, txn: str | None = None) -> PaymentNotice:
    return PaymentNotice(
        provider="wechatpay",
        event_id="EV-" + secrets.token_hex(6),
        out_trade_no=out_trade_no,
        provider_txn_id=txn or "42" + secrets.token_hex(13),
        amount_fen=amount_fen,
        paid_at=datetime.now(UTC),
    )


async def capture(
    pool: asyncpg.Pool, n: PaymentNotice, source: str = "notify"
) -> payments.CaptureResult:
    async with pool.acquire() as conn:
        return await payments.capture(conn, n, source)


async def ledger_balances(pool: asyncpg.Pool, order_no: str) -> dict[str, int]:
    """The order's postings summed by ledger account code."""
    rows = await pool.fetch(
        "SELECT a.code, sum(p.amount_fen) AS s FROM postings p"
        " JOIN ledger_accounts a ON a.id = p.account_id JOIN orders o ON o.id = p.order_id"
        " WHERE o.order_no = $1 GROUP BY a.code",
        order_no,
    )
    return {r["code"]: int(r["s"]) for r in rows}


async def paid_out(conn: asyncpg.Connection) -> None:
    """A cut-off of every account, and the bank's word that every instruction of it was booked
    (no bank here): what is paid is then paid out."""
    batch_id = await settlement.cutoff(
        conn, bank="SFBK", now=datetime.now(UTC), every_account=True, actor="test"
    )
    assert batch_id is not None
    for row in await conn.fetch(
        "SELECT end_to_end_id FROM settlement_instructions WHERE batch_id = $1", batch_id
    ):
        async with conn.transaction():
            assert await settlement_answers.booked(conn, row[0], datetime.now(UTC))


async def paid(pool: asyncpg.Pool, amounts: list[int], items: list[str]) -> str:
    """An order of ``items`` paid through the real capture (cleared); its number."""
    async with pool.acquire() as conn:
        o = await order(conn, await staff(conn), amounts, items=items)
        otn = await attempt(conn, str(o["order_no"]))
    result = await capture(pool, notice(otn, sum(amounts)))
    assert result.outcome == "CLEARED"
    return str(o["order_no"])


async def open_notices(conn: asyncpg.Connection, amounts: list[int]) -> list[PaymentNotice]:
    """One order per amount, each with an open attempt, and the acquirer's notice paying it."""
    who = await staff(conn)
    notices = []
    for amount in amounts:
        o = await order(conn, who, [amount])
        notices.append(notice(await attempt(conn, str(o["order_no"])), amount))
    return notices
