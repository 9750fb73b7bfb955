"""Window staff's work, made through the real service: a clerk's orders (as the route makes them
after asking the authorities), paid by the WeChat Pay simulator; shift calls."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from clearing.api.keys import CIPHER, LIMITS, POOL
from clearing.service import orders, principals
from clearing.service.orders import LineInput, OrderInput
from tests.integration.factories import PAYER_ID, place
from tests.integration.service_harness import Service


def resident_id(seq: int) -> str:
    """A valid resident ID number (GB 11643 check digit) that differs by ``seq``."""
    body = f"11010519800101{seq % 1000:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
    return body + check


def new_office() -> str:
    return f"H{secrets.token_hex(3).upper()}"


async def clerk_order(
    svc: Service,
    token: str,
    *,
    window: str = "W07",
    case_no: str | None = None,
    payer_id: str = PAYER_ID,
    amount_fen: int = 80_00,
) -> dict[str, Any]:
    """An order a clerk issued from a case (as the route does after asking the authorities), at
    ``window``: the clerk is assigned to it first, as 系统管理 would (an order's window is the
    clerk's assigned one)."""
    async with svc.app[POOL].acquire() as conn:
        who = await principals.authenticate(conn, token)
        assert who.office is not None
        await place(conn, who.office, window)
        await conn.execute("UPDATE principals SET window_code = $2 WHERE id = $1", who.id, window)
        who = await principals.authenticate(conn, token)
        _, view = await orders.create(
            conn,
            principal=who,
            order=OrderInput(
                case_no or f"2026-BDC-{secrets.token_hex(4)}",
                who.office,
                window,
                "李四",
                payer_id,
                [LineInput("REG_FEE", amount_fen)],
            ),
            idempotency_key=secrets.token_hex(8),
            body_hash=secrets.token_bytes(32),
            limits=svc.app[LIMITS],
            cipher=svc.app[CIPHER],
            now=datetime.now(UTC),
            ttl=timedelta(minutes=15),
            case_refs={},
        )
    return view


async def pay(svc: Service, token: str, order_no: str) -> None:
    qr = await svc.open_qr(token, order_no)
    status, body = await svc.sim.pay(qr["out_trade_no"])
    assert status == 200, body
    await svc.wait_state(token, order_no, "CLEARED")


async def find(svc: Service, token: str, **query: Any) -> tuple[int, Any]:
    return await svc.request("POST", "/api/v1/orders/search", token, json=query)


async def current(svc: Service, token: str, window: str) -> dict[str, Any]:
    body = await svc.answered("GET", f"/api/v1/shifts/current?window={window}", token)
    return dict(body)


async def close_shift(svc: Service, token: str, window: str) -> tuple[int, Any]:
    return await svc.request("POST", "/api/v1/shifts/close", token, json={"window": window})


def today_beijing() -> str:
    return (datetime.now(UTC) + timedelta(hours=8)).date().isoformat()
