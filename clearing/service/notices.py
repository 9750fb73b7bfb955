"""Payment notices (缴费通知书): issue one for an open order, record its SMS, read them back.

A notice is the printed paper a window hands the payer: the order's lines and total, a QR code
and short link to the mobile payment page (clearing.service.pay_links), good until the order
expires. Only an OPEN order gets one (a paid, cancelled or expired order is refused 409); every
issue is a row and an audit entry, and the PDF is made from the latest recorded issue only.

A notice may also go by SMS. The send is recorded before it leaves (SENDING), then its outcome
(SENT with the provider's SerialNo, FAILED with its code, UNKNOWN when no answer came). A
request repeated with the same Idempotency-Key answers the recorded notice and never sends
again; the order itself is never touched by any of it. The phone number is stored encrypted,
and as a mask for display.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from clearing.db import Conn
from clearing.domain.display import name
from clearing.domain.orders import STATE_ZH, OrderState
from clearing.errors import Conflict, InvalidRequest
from clearing.messaging import SmsError, SmsOutcomeUnknown, SmsSent
from clearing.security import PiiCipher
from clearing.service import audit, orders
from clearing.service.principals import Principal, require_role

ISSUE_ROLES = orders.CREATE_ROLES  # clerk, supervisor, admin: the window's people
ISSUE_REFUSED = (
    "ROLE_FORBIDDEN",
    "only window staff issue payment notices",
    "缴费通知书由窗口工作人员开具，您的角色无权开具",
)
_PHONE_COLUMN = "payment_notices.sms_phone"
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")


def normalize_phone(text: str) -> str:
    """A mainland mobile number as E.164 (+86…): 11 digits starting 13–19, written with or
    without +86/0086/86 and spaces or dashes; anything else is refused."""
    digits = re.sub(r"[\s-]", "", text)
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix) :]
            break
    if not _MOBILE.match(digits):
        raise InvalidRequest(
            "PHONE_INVALID",
            "not a mainland China mobile number (11 digits starting 13 to 19)",
            "手机号码格式不正确，请输入11位中国大陆手机号码",
        )
    return "+86" + digits


def mask_phone(e164: str) -> str:
    local = e164[3:] if e164.startswith("+86") else e164
    return local[:3] + "****" + local[-4:]


def mask_name(name: str) -> str:
    """The payer's name as a notice prints it: enough to recognise, not to identify."""
    name = name.strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    if len(name) == 3:
        return name[0] + "*" + name[-1]
    return name[:2] + "*" * (len(name) - 4) + name[-2:]


@dataclass(frozen=True)
class Sms:
    state: str
    phone_masked: str
    provider: str | None
    serial_no: str | None
    code: str | None
    message_zh: str | None

    @property
    def state_zh(self) -> str:
        return name("sms_state", self.state)


@dataclass(frozen=True)
class Notice:
    id: int
    order_no: str
    issued_by: str
    issued_by_name: str
    issued_at: datetime
    link_expires_at: datetime
    sms: Sms | None


_NOTICE_SQL = """
SELECT n.id, o.order_no, p.username AS issued_by, p.display_name AS issued_by_name, n.issued_at,
       n.link_expires_at, n.request_hash, n.sms_phone_masked, n.sms_provider, n.sms_serial_no,
       n.sms_code,
       -- a send still SENDING long after its provider's timeout was cut off (the service
       -- stopped mid-send): it may have gone, so it reads as UNKNOWN and is never resent
       CASE WHEN n.sms_state = 'SENDING' AND n.issued_at < now() - interval '2 minutes'
            THEN 'UNKNOWN' ELSE n.sms_state END AS sms_state,
       CASE WHEN n.sms_state = 'SENDING' AND n.issued_at < now() - interval '2 minutes'
            THEN '短信发送中断，结果未知，请向缴款人核实后再重发' ELSE n.sms_message_zh END
            AS sms_message_zh
  FROM payment_notices n JOIN orders o ON o.id = n.order_id
  JOIN principals p ON p.id = n.issued_by
"""


def _notice(r: asyncpg.Record) -> Notice:
    sms = None
    if r["sms_state"] is not None:
        sms = Sms(
            r["sms_state"],
            r["sms_phone_masked"],
            r["sms_provider"],
            r["sms_serial_no"],
            r["sms_code"],
            r["sms_message_zh"],
        )
    return Notice(
        r["id"],
        r["order_no"],
        r["issued_by"],
        r["issued_by_name"],
        r["issued_at"],
        r["link_expires_at"],
        sms,
    )


def _check_role(principal: Principal) -> None:
    require_role(principal, ISSUE_ROLES, *ISSUE_REFUSED[1:])


async def issue(
    conn: Conn,
    principal: Principal,
    order_no: str,
    *,
    phone: str | None,
    request_key: str | None,
    request_hash: bytes | None,
    cipher: PiiCipher,
    now: datetime,
    request_id: str | None = None,
) -> tuple[Notice, bool]:
    """Issue a notice for an OPEN order (recording an SMS to ``phone`` as SENDING); the notice and
    whether it is an earlier answer to the same request (same key, same body)."""
    _check_role(principal)
    view = await orders.get(conn, principal, order_no, cipher)  # another office's: not found
    async with conn.transaction():
        if request_key is not None:
            earlier = await conn.fetchrow(
                _NOTICE_SQL + " WHERE n.issued_by = $1 AND n.request_key = $2",
                principal.id,
                request_key,
            )
            if earlier is not None:
                if bytes(earlier["request_hash"]) != request_hash:
                    raise Conflict(
                        "IDEMPOTENCY_KEY_REUSED",
                        "this Idempotency-Key was used with a different request body",
                        "重复的请求编号对应了不同的内容",
                    )
                return _notice(earlier), True
        row = await conn.fetchrow(
            "SELECT id, state, expires_at FROM orders WHERE order_no = $1 FOR UPDATE", order_no
        )
        assert row is not None
        if row["state"] != "OPEN" or row["expires_at"] <= now:
            state = row["state"] if row["state"] != "OPEN" else "EXPIRED"
            raise Conflict(
                "NOTICE_ORDER_NOT_OPEN",
                f"order {order_no} is {state}: a payment notice is issued for open orders only",
                f"缴费单当前状态为「{STATE_ZH[OrderState(state)]}」，不能开具缴费通知书",
                state=state,
            )
        masked = mask_phone(phone) if phone else None
        notice_id = await conn.fetchval(
            "INSERT INTO payment_notices (order_id, issued_by, issued_at, link_expires_at,"
            " request_key, request_hash, sms_phone_enc, sms_phone_masked, sms_state)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            row["id"],
            principal.id,
            now,
            row["expires_at"],
            request_key,
            request_hash,
            cipher.encrypt(phone, _PHONE_COLUMN) if phone else None,
            masked,
            "SENDING" if phone else None,
        )
        await audit.record(
            conn,
            principal,
            "order.notice_issued",
            order_no,
            {
                "notice_id": notice_id,
                "case_no": view["case_no"],
                "link_expires_at": row["expires_at"].isoformat(),
                "sms_to": masked,
            },
            request_id=request_id,
        )
        found = await conn.fetchrow(_NOTICE_SQL + " WHERE n.id = $1", notice_id)
    assert found is not None
    return _notice(found), False


async def record_sms(
    conn: Conn,
    principal: Principal,
    notice: Notice,
    outcome: SmsSent | SmsError,
    request_id: str | None = None,
) -> Notice:
    """What the provider answered, on the notice and in the audit log."""
    if isinstance(outcome, SmsSent):
        state, code, serial, zh = "SENT", outcome.code, outcome.serial_no, None
        provider = outcome.provider
    else:
        state = "UNKNOWN" if isinstance(outcome, SmsOutcomeUnknown) else "FAILED"
        code, serial, zh, provider = outcome.code, None, outcome.message_zh, outcome.provider
    async with conn.transaction():
        await conn.execute(
            "UPDATE payment_notices SET sms_state = $2, sms_provider = $3, sms_serial_no = $4,"
            " sms_code = $5, sms_message_zh = $6, sms_updated_at = now()"
            " WHERE id = $1 AND sms_state = 'SENDING'",
            notice.id,
            state,
            provider,
            serial,
            code,
            zh,
        )
        await audit.record(
            conn,
            principal,
            "order.notice_sms",
            notice.order_no,
            {"notice_id": notice.id, "state": state, "code": code, "serial_no": serial},
            request_id=request_id,
        )
        found = await conn.fetchrow(_NOTICE_SQL + " WHERE n.id = $1", notice.id)
    assert found is not None
    return _notice(found)


async def of_order(
    conn: Conn, principal: Principal, order_no: str, cipher: PiiCipher
) -> tuple[dict[str, Any], list[Notice]]:
    """The order (as its reader may see it) and its notices, the latest first."""
    _check_role(principal)
    view = await orders.get(conn, principal, order_no, cipher)
    rows = await conn.fetch(_NOTICE_SQL + " WHERE o.order_no = $1 ORDER BY n.id DESC", order_no)
    return view, [_notice(r) for r in rows]
