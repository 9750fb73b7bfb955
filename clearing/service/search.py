"""Finding past orders (缴费单号, 业务受理号, the payer's ID number, dates, state, channel, window)
and an order's timeline, within what the asker may see.

The ID number is never compared in clear: it is normalized, hashed with the search key
(``PiiCipher.search_hash``) and matched against ``orders.payer_id_hmac``. Orders made before that
column existed are found by ID only once ``tongjiao pii backfill-search`` has filled it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from clearing.db import Conn
from clearing.domain.display import TABLES
from clearing.domain.money import format_yuan
from clearing.domain.orders import STATE_ZH, OrderState, normalize_payer_id
from clearing.errors import Forbidden, InvalidRequest
from clearing.security import PiiCipher
from clearing.service.orders import READ_ALL_ROLES
from clearing.service.principals import Principal

BEIJING = timezone(timedelta(hours=8))
# the channels by the names of the one table (clearing.domain.display)
CHANNEL_ZH = dict(TABLES["channel"])
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class Query:
    order_no: str | None = None
    case_no: str | None = None
    payer_id: str | None = None
    date_from: date | None = None  # Beijing dates, both inclusive
    date_to: date | None = None
    state: str | None = None
    channel: str | None = None
    window: str | None = None
    office: str | None = None
    page: int = 1
    page_size: int = 20


def office_scope(principal: Principal, asked: str | None) -> str | None:
    """The office a search is limited to: window staff see only their own office; finance,
    admin and auditors (and office-less API clients) any office, or all when none is asked."""
    if principal.role in READ_ALL_ROLES or principal.office is None:
        return asked or None
    if asked and asked != principal.office:
        raise Forbidden(
            "OFFICE_FORBIDDEN",
            "you can only search your own office's orders",
            "只能查询本大厅的缴费单",
        )
    return principal.office


_WHERE = """
  FROM orders o JOIN principals p ON p.id = o.created_by
 WHERE ($1::text IS NULL OR o.office = $1)
   AND ($2::text IS NULL OR o.order_no = $2)
   AND ($3::text IS NULL OR o.case_no = $3)
   AND ($4::bytea IS NULL OR o.payer_id_hmac = $4)
   AND ($5::timestamptz IS NULL OR o.created_at >= $5)
   AND ($6::timestamptz IS NULL OR o.created_at < $6)
   AND ($7::text IS NULL OR o.state = $7)
   AND ($8::text IS NULL OR EXISTS (SELECT 1 FROM payments pm
                                    WHERE pm.order_id = o.id AND pm.provider = $8))
   AND ($9::text IS NULL OR o.window_no = $9)
"""
_SELECT = """
SELECT o.order_no, o.case_no, o.office, o.window_no, o.payer_id_masked, o.total_fen, o.state,
       o.created_at, p.display_name AS created_by,
       (SELECT pm.provider FROM payments pm WHERE pm.order_id = o.id AND pm.outcome = 'CLEARED'
         ORDER BY pm.id LIMIT 1) AS channel"""
_ORDER = " ORDER BY o.created_at DESC, o.id DESC LIMIT $10 OFFSET $11"
# constant SQL pieces joined once; every value is a $n parameter
_COUNT = "SELECT count(*)" + _WHERE
_PAGE = _SELECT + _WHERE + _ORDER


def _day_start(d: date) -> datetime:
    return datetime.combine(d, time(), BEIJING)


async def search(conn: Conn, principal: Principal, q: Query, cipher: PiiCipher) -> dict[str, Any]:
    office = office_scope(principal, q.office)
    hashed: bytes | None = None
    if q.payer_id:
        hashed = cipher.search_hash(normalize_payer_id(q.payer_id))
        if hashed is None:
            raise InvalidRequest(
                "PAYER_SEARCH_UNAVAILABLE",
                "searching by ID number needs the PII search key",
                "未配置证件号查询密钥，暂不能按证件号查询",
            )
    if q.state is not None and q.state not in OrderState.__members__:
        raise InvalidRequest("INVALID_STATE", f"unknown state {q.state}", "缴费单状态无效")
    if q.date_from and q.date_to and q.date_from > q.date_to:
        raise InvalidRequest(
            "INVALID_DATE_RANGE", "date_from is after date_to", "开始日期晚于结束日期"
        )
    page_size = min(max(q.page_size, 1), MAX_PAGE_SIZE)
    page = max(q.page, 1)
    args: list[Any] = [
        office,
        q.order_no or None,
        q.case_no or None,
        hashed,
        _day_start(q.date_from) if q.date_from else None,
        _day_start(q.date_to) + timedelta(days=1) if q.date_to else None,
        q.state,
        q.channel or None,
        q.window or None,
    ]
    total = int(await conn.fetchval(_COUNT, *args))
    rows = await conn.fetch(_PAGE, *args, page_size, (page - 1) * page_size)
    return {
        "total": total,
        "page": page,
        "page_size": page_size,
        "pages": (total + page_size - 1) // page_size,
        "orders": [
            {
                "order_no": r["order_no"],
                "case_no": r["case_no"],
                "office": r["office"],
                "window": r["window_no"],
                "payer_id_masked": r["payer_id_masked"],
                "total_fen": r["total_fen"],
                "total_display": format_yuan(r["total_fen"]),
                "state": r["state"],
                "state_zh": STATE_ZH[OrderState(r["state"])],
                "channel": r["channel"],
                "channel_zh": CHANNEL_ZH.get(r["channel"] or ""),
                "created_by": r["created_by"],
                "created_at": r["created_at"].isoformat(),
            }
            for r in rows
        ],
    }


async def backfill_search_hashes(conn: Conn, cipher: PiiCipher, batch: int = 500) -> int:
    """Fill ``payer_id_hmac`` of orders made before it existed; returns how many were filled.
    Each number is decrypted in memory only and never printed."""
    done = 0
    while True:
        rows = await conn.fetch(
            "SELECT id, payer_id_enc FROM orders WHERE payer_id_hmac IS NULL ORDER BY id LIMIT $1",
            batch,
        )
        if not rows:
            return done
        updates = []
        for r in rows:
            hashed = cipher.search_hash(cipher.decrypt(r["payer_id_enc"], "orders.payer_id"))
            if hashed is None:
                raise InvalidRequest(
                    "PAYER_SEARCH_UNAVAILABLE",
                    "no PII search key configured",
                    "未配置证件号查询密钥",
                )
            updates.append((r["id"], hashed))
        await conn.executemany(
            "UPDATE orders SET payer_id_hmac = $2 WHERE id = $1 AND payer_id_hmac IS NULL", updates
        )
        done += len(updates)
