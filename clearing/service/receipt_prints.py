"""Receipt prints: each paper receipt is a stored print with a short, MACed verification code.

The first print of a paid order (the original) is made when window staff first open its receipt;
every later one is a reprint (补打), asked for with a reason, numbered, attributed and audited.
A print keeps the facts it states — every line with its amount, reference and how much of it had
been refunded when it was printed, the net paid — and its QR code carries only
``{receipt number}.{MAC of those facts}``: short enough to scan from paper, unguessable, and
bound to the stored facts, so a print cannot be edited in the database without the key.

Verification reads the ledger line by line (the REFUND entries' postings per line), so a print
that states a line as paid which the ledger shows refunded since no longer verifies.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from clearing.db import Conn
from clearing.domain.display import PAYER_ACTOR
from clearing.errors import Conflict, Forbidden, InvalidRequest
from clearing.service import audit
from clearing.service.orders import no_order
from clearing.service.principals import Principal

# window staff hand receipts to citizens; finance, auditors and administrators may read them
PRINT_ROLES = frozenset({"clerk", "supervisor"})
REPRINT_ROLES = PRINT_ROLES
REPRINT_REFUSED = (
    "RECEIPT_REPRINT_FORBIDDEN",
    "only window staff reprint receipts",
    "只有窗口收费员或值班主任可以补打缴费凭证",
)
PAID_STATES = frozenset({"CLEARED", "SETTLED"})
MAX_REASON = 200
# the receipt key's MAC (``ReceiptSigner.mac``): bytes in, 10 bytes out
Mac = Callable[[bytes], bytes]
CODE_RE = re.compile(r"(TJ[0-9]{8}[0-9A-F]{12}-[0-9]{1,3})\.([a-z2-7]{16})")


@dataclass(frozen=True)
class Print:
    """One paper receipt as printed; ``facts`` is exactly what its code's MAC covers."""

    receipt_no: str
    order_no: str
    print_no: int
    facts: dict[str, Any]
    paid_fen: int
    reason: str | None
    printed_by: str
    printed_at: datetime
    code: str

    @property
    def reprint_no(self) -> int:
        """0 for the original, n for the n-th reprint (补打)."""
        return self.print_no - 1

    def refunded_fen(self) -> dict[int, int]:
        """Line number → fen of it refunded when this was printed."""
        return {int(n): int(r) for n, _amount, _ref, r in self.facts["l"]}


def canonical(facts: dict[str, Any]) -> bytes:
    return json.dumps(facts, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def code_of(receipt_no: str, facts: dict[str, Any], mac: Mac) -> str:
    """``receipt_no.mac``: 80 bits of HMAC-SHA256 over the facts, base32 in lower case."""
    tag = base64.b32encode(mac(canonical(facts))).decode().lower()
    return f"{receipt_no}.{tag}"


_REFUNDED_SQL = """
SELECT p.line_no, sum(p.amount_fen)::bigint AS fen
  FROM journal_entries e JOIN postings p ON p.entry_id = e.id
 WHERE e.order_id = (SELECT id FROM orders WHERE order_no = $1) AND e.kind = 'REFUND'
   AND p.line_no IS NOT NULL
 GROUP BY p.line_no
"""


async def refunded_by_line(conn: Conn, order_no: str) -> dict[int, int]:
    """What the ledger says was given back, per line: the refund entries' postings to the line's
    beneficiary (a debit of its payable, or of the claim on it once paid out)."""
    rows = await conn.fetch(_REFUNDED_SQL, order_no)
    return {int(r["line_no"]): int(r["fen"]) for r in rows}


def facts_now(view: dict[str, Any], refunded: dict[int, int], receipt_no: str) -> dict[str, Any]:
    """The facts a receipt of ``view`` printed now states."""
    lines: list[tuple[int, int, str, int]] = [
        (
            int(ln["line_no"]),
            int(ln["amount_fen"]),
            str(ln["reference"] or ""),
            min(refunded.get(int(ln["line_no"]), 0), int(ln["amount_fen"])),
        )
        for ln in view["lines"]
    ]
    paid = [p for p in view["payments"] if p["outcome"] == "CLEARED"]
    return {
        "r": receipt_no,
        "o": view["order_no"],
        "c": view["case_no"],
        "f": view["office"],
        "t": int(view["total_fen"]),
        "p": sum(amount - back for _n, amount, _ref, back in lines),
        "l": [list(x) for x in lines],
        "x": [p["provider_txn_id"] for p in paid],
    }


def receipt_no_of(order_no: str, print_no: int) -> str:
    return f"{order_no}-{print_no}"


_PRINT_SQL = """
SELECT r.receipt_no, o.order_no, r.print_no, r.facts, r.paid_fen, r.reason,
       coalesce(p.username, 'kiosk:' || r.printed_by_kiosk, 'payer:mobile') AS username,
       r.printed_at
  FROM receipt_prints r JOIN orders o ON o.id = r.order_id
  LEFT JOIN principals p ON p.id = r.printed_by
"""
_BY_NO_SQL = _PRINT_SQL + " WHERE r.receipt_no = $1"
# constant text only; the order number is a $1 parameter
_OF_ORDER_SQL = (
    _PRINT_SQL  # noqa: S608
    + " WHERE r.order_id = (SELECT id FROM orders WHERE order_no = $1) ORDER BY r.print_no"
)


def _print(row: Any, mac: Mac) -> Print:
    facts = dict(row["facts"])  # decoded by the pool's jsonb codec
    return Print(
        receipt_no=row["receipt_no"],
        order_no=row["order_no"],
        print_no=int(row["print_no"]),
        facts=facts,
        paid_fen=int(row["paid_fen"]),
        reason=row["reason"],
        printed_by=row["username"],
        printed_at=row["printed_at"],
        code=code_of(row["receipt_no"], facts, mac),
    )


async def by_receipt_no(conn: Conn, receipt_no: str, mac: Mac) -> Print | None:
    row = await conn.fetchrow(_BY_NO_SQL, receipt_no)
    return _print(row, mac) if row is not None else None


async def of_order(conn: Conn, order_no: str, mac: Mac) -> list[Print]:
    """Every print of the order, the original first."""
    rows = await conn.fetch(_OF_ORDER_SQL, order_no)
    return [_print(r, mac) for r in rows]


async def _insert(
    conn: Conn,
    who: Principal | None,
    view: dict[str, Any],
    print_no: int,
    reason: str | None,
    *,
    kiosk_id: int | None = None,
) -> str:
    """The print, by a person (``who``) or, for an original only, by a kiosk (``kiosk_id``)."""
    receipt_no = receipt_no_of(view["order_no"], print_no)
    facts = facts_now(view, await refunded_by_line(conn, view["order_no"]), receipt_no)
    inserted = await conn.fetchval(
        "INSERT INTO receipt_prints (receipt_no, order_id, print_no, facts, paid_fen, reason,"
        " printed_by, printed_by_kiosk) SELECT $1, o.id, $3, $4::jsonb, $5, $6, $7, $8"
        " FROM orders o"
        " WHERE o.order_no = $2 ON CONFLICT (order_id, print_no) DO NOTHING RETURNING receipt_no",
        receipt_no,
        view["order_no"],
        print_no,
        facts,  # the pool's jsonb codec encodes it
        facts["p"],
        reason,
        who.id if who is not None else None,  # None: a kiosk, or the payer's own phone
        kiosk_id,
    )
    return str(inserted) if inserted else ""


async def _lock_paid(conn: Conn, order_no: str) -> str:
    # the order row, locked: no refund can start or finish between reading and printing
    state = await conn.fetchval("SELECT state FROM orders WHERE order_no = $1 FOR UPDATE", order_no)
    if state is None:
        raise no_order(order_no)
    return str(state)


async def latest(
    conn: Conn, who: Principal, view: dict[str, Any], *, mac: Mac, request_id: str | None = None
) -> Print | None:
    """The order's latest print; window staff opening a receipt never printed make the original.
    Anyone else gets None for an order nobody has printed yet."""
    if who.role not in PRINT_ROLES:
        prints = await of_order(conn, view["order_no"], mac)
        return prints[-1] if prints else None
    return await _latest_or_original(
        conn, who, view, kiosk_id=None, actor=who.actor, mac=mac, request_id=request_id
    )


async def _latest_or_original(
    conn: Conn,
    who: Principal | None,
    view: dict[str, Any],
    *,
    kiosk_id: int | None,
    actor: str,
    mac: Mac,
    request_id: str | None,
) -> Print | None:
    """The order's latest print; when nobody has printed a paid order yet, print no. 1 made
    under the order's lock and audited as ``actor`` (a concurrent maker wins quietly): by window
    staff (``who``), by the kiosk that took the payment (``kiosk_id``), or (both None) by the
    payer's own phone, so that its PDF carries a verification code like any paper receipt.
    None if the order is not paid."""
    prints = await of_order(conn, view["order_no"], mac)
    if prints:
        return prints[-1]
    async with conn.transaction():
        if await _lock_paid(conn, view["order_no"]) not in PAID_STATES:
            return None
        made = await _insert(conn, who, view, 1, None, kiosk_id=kiosk_id)
        if made:
            await audit.record(
                conn,
                actor,
                "receipt.printed",
                view["order_no"],
                {"receipt_no": made},
                object_type="order",
                request_id=request_id,
            )
    prints = await of_order(conn, view["order_no"], mac)
    return prints[-1] if prints else None


async def original_at_kiosk(
    conn: Conn,
    kiosk_id: int,
    view: dict[str, Any],
    *,
    mac: Mac,
    request_id: str | None = None,
) -> Print | None:
    """The latest print; the original attributed to the kiosk (``kiosk:<id>``) if none yet."""
    return await _latest_or_original(
        conn,
        None,
        view,
        kiosk_id=kiosk_id,
        actor=f"kiosk:{kiosk_id}",
        mac=mac,
        request_id=request_id,
    )


async def latest_for_payer(
    conn: Conn, view: dict[str, Any], *, mac: Mac, request_id: str | None = None
) -> Print | None:
    """The latest print of an order paid on the payer's own phone (``/m/{token}``); the original,
    printed by nobody on the staff and audited as the payer, if none yet."""
    return await _latest_or_original(
        conn, None, view, kiosk_id=None, actor=PAYER_ACTOR, mac=mac, request_id=request_id
    )


def _clean_reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text or len(text) > MAX_REASON:
        raise InvalidRequest(
            "REPRINT_REASON_REQUIRED",
            f"a reprint needs a reason of 1 to {MAX_REASON} characters",
            "请填写补打原因（1–200 字）",
            field="reason",
        )
    return text


async def reprint(
    conn: Conn,
    who: Principal,
    view: dict[str, Any],
    reason: str | None,
    *,
    mac: Mac,
    request_id: str | None = None,
) -> Print:
    """补打: a new print of the order as it stands now, marked as the n-th reprint, audited.

    ``view`` is the order as ``clearing.service.orders.get`` returned it to ``who`` (so another
    office's order is already absent)."""
    if who.role not in REPRINT_ROLES:
        raise Forbidden(*REPRINT_REFUSED, role=who.role)
    text = _clean_reason(reason)
    order_no = view["order_no"]
    async with conn.transaction():
        state = await _lock_paid(conn, order_no)
        if state not in PAID_STATES:
            raise Conflict(
                "RECEIPT_NOT_PRINTABLE",
                f"order {order_no} is {state}; only a paid order has a receipt",
                f"该缴费单当前状态为“{view['state_zh']}”，不能补打缴费凭证",
                state=state,
            )
        last = await conn.fetchval(
            "SELECT max(print_no) FROM receipt_prints"
            " WHERE order_id = (SELECT id FROM orders WHERE order_no = $1)",
            order_no,
        )
        if last is None:
            raise Conflict(
                "RECEIPT_NOT_PRINTED",
                f"order {order_no} has no receipt yet; print it before reprinting",
                "该缴费单尚未打印缴费凭证，请先打印凭证",
            )
        made = await _insert(conn, who, view, int(last) + 1, text)
        printed = await by_receipt_no(conn, made, mac)
        assert printed is not None
        await audit.record(
            conn,
            who,
            "receipt.reprinted",
            order_no,
            {
                "receipt_no": made,
                "reprint_count": printed.reprint_no,  # read by the order timeline
                "reason": text,
                "paid_fen": printed.paid_fen,
                "refunded_lines": sorted(n for n, r in printed.refunded_fen().items() if r),
            },
            object_type="order",
            request_id=request_id,
        )
    return printed


def stale(printed: Print, refunded_now: dict[int, int]) -> bool:
    """Whether money went back since ``printed`` was made (its paper no longer verifies)."""
    then = printed.refunded_fen()
    return any(refunded_now.get(n, 0) != back for n, back in then.items())
