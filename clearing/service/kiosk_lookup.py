"""Finding the citizen's order on a self-service kiosk (clearing.service.kiosks).

A citizen finds their order by the 业务受理号 and the last six characters of their ID (or by the
payment notice's QR code, ``clearing.service.pay_links``). The ID is stored encrypted with a
search hash of the whole number only, so the six characters are checked against the few
payable orders of that case number in the kiosk's office (decrypting those, never the table).
Every wrong pair is counted per kiosk and per case number, in the database (every API process
sees the same count); past the limit the kiosk refuses lookups for a while. A wrong pair, an
unknown case, another office's case and a case with nothing left to pay all get the same
neutral answer.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from datetime import datetime, timedelta

from clearing.db import Conn
from clearing.errors import Conflict, InvalidRequest, NotFound, TooManyRequests
from clearing.service import audit, pay_links
from clearing.service.kiosks import Kiosk, record_order

# guessing: per kiosk, and per case number over every kiosk
KIOSK_FAILURES = 10
KIOSK_FAILURE_WINDOW = timedelta(minutes=15)
CASE_FAILURES = 5
CASE_FAILURE_WINDOW = timedelta(hours=1)
PAYABLE = ("OPEN", "PAYING")
_ID_TAIL = re.compile(r"^[0-9A-Z]{6}$")


NOT_FOUND = NotFound(
    "KIOSK_LOOKUP_FAILED",
    "no payable order matches this case number and ID",
    "未找到待缴费的业务，请核对业务受理号和证件号码后6位，或到窗口办理",
)
TOO_MANY = TooManyRequests(
    "KIOSK_TOO_MANY_ATTEMPTS",
    "too many wrong lookups; try again later or go to a window",
    "输入错误次数过多，请稍后再试或到窗口办理",
)


async def _locked_out(conn: Conn, kiosk: Kiosk, case_no: str, now: datetime) -> bool:
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM kiosk_lookup_failures WHERE kiosk_id = $1"
        "         AND failed_at > $3) AS by_kiosk,"
        "       (SELECT count(*) FROM kiosk_lookup_failures WHERE case_no = $2"
        "         AND failed_at > $4) AS by_case",
        kiosk.id,
        case_no,
        now - KIOSK_FAILURE_WINDOW,
        now - CASE_FAILURE_WINDOW,
    )
    assert row is not None
    return bool(row["by_kiosk"] >= KIOSK_FAILURES or row["by_case"] >= CASE_FAILURES)


async def _refuse(conn: Conn, kiosk: Kiosk, case_no: str, now: datetime, why: str) -> NotFound:
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO kiosk_lookup_failures (kiosk_id, case_no, failed_at) VALUES ($1, $2, $3)",
            kiosk.id,
            case_no,
            now,
        )
        await audit.record(
            conn, kiosk, "kiosk.lookup_refused", kiosk.id, {"case_no": case_no, "why": why}
        )
    return NOT_FOUND


async def _hold(conn: Conn, kiosk: Kiosk, order: tuple[int, str], how: str, now: datetime) -> None:
    order_id, order_no = order
    async with conn.transaction():
        await conn.execute(
            "UPDATE kiosks SET order_id = $2, order_opened_at = $3, last_seen_at = $3"
            " WHERE id = $1",
            kiosk.id,
            order_id,
            now,
        )
        await record_order(conn, kiosk, "kiosk.order_opened", order_no, by=how)


async def lookup(
    conn: Conn,
    kiosk: Kiosk,
    decrypt_id: Callable[[bytes], str],
    *,
    case_no: str,
    id_tail: str,
    now: datetime,
) -> str:
    """Open the payable order of ``case_no`` whose payer's ID ends in ``id_tail``; its number.
    ``decrypt_id(blob) -> str`` reads one stored ID."""
    case_no = case_no.strip()
    tail = id_tail.strip().upper()
    if not (1 <= len(case_no) <= 64) or not _ID_TAIL.match(tail):
        raise InvalidRequest(
            "KIOSK_LOOKUP_INPUT",
            "give the case number and the last 6 characters of the ID",
            "请输入业务受理号和证件号码后6位",
        )
    if await _locked_out(conn, kiosk, case_no, now):
        raise TOO_MANY
    rows = await conn.fetch(
        "SELECT id, order_no, payer_id_enc FROM orders WHERE case_no = $1 AND office = $2"
        " AND state = ANY($3::text[]) AND expires_at > $4 ORDER BY id DESC LIMIT 5",
        case_no,
        kiosk.office,
        list(PAYABLE),
        now,
    )
    for r in rows:
        stored = str(decrypt_id(r["payer_id_enc"]))
        if hmac.compare_digest(stored[-6:].encode(), tail.encode()):
            await _hold(conn, kiosk, (r["id"], r["order_no"]), "case", now)
            return str(r["order_no"])
    raise await _refuse(conn, kiosk, case_no, now, "no match" if rows else "no payable order")


def token_of(scanned: str) -> str:
    """The pay-link token in what the scanner typed: the notice's URL or the bare token."""
    text = scanned.strip()
    return text.rsplit("/m/", 1)[1] if "/m/" in text else text


async def open_notice(conn: Conn, kiosk: Kiosk, key: bytes, scanned: str, now: datetime) -> str:
    """Open the order of a payment notice's QR code (``/m/{token}``); its number."""
    link = pay_links.read_token(key, token_of(scanned)[:200], now=now)
    row = await conn.fetchrow(
        "SELECT id, office, state, expires_at FROM orders WHERE order_no = $1", link.order_no
    )
    if row is None or row["office"] != kiosk.office:
        raise NotFound(
            "NOTICE_OTHER_OFFICE",
            "this notice is not for an order of this office",
            "该缴费通知书不属于本大厅，请到开具通知书的大厅缴费",
        )
    if row["state"] not in PAYABLE or row["expires_at"] <= now:
        raise Conflict(
            "ORDER_NOT_PAYABLE",
            f"order {link.order_no} is {row['state']}",
            "该缴费单已缴费、已撤销或已过期，无需再缴",
            state=row["state"],
        )
    await _hold(conn, kiosk, (row["id"], link.order_no), "notice", now)
    return link.order_no
