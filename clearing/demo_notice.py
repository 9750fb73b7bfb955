"""The demo's payment notice (缴费通知书): one open order, a notice for it sent by SMS to a demo
number through the SMS simulator, and the mobile link to print on the demo's banner."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import aiohttp

DEMO_PHONE = "13800138000"  # a test number: the simulator delivers to its outbox only


def prepare_keys(keys: Path, site: str) -> None:
    """The SMS account, its notice template approved for this demo's address."""
    from adapters.sms.keys import generate_keyset, register_site

    generate_keyset(keys, site=site)
    register_site(keys, site)


async def issue(base: str, users: dict[str, str]) -> dict[str, Any] | None:
    """Create an open order as the supervisor and issue its notice as clerk1, with an SMS; the
    notice (link, expiry, SMS state) or None when a step was refused (said on the console)."""
    async with aiohttp.ClientSession() as s:
        tokens = {}
        for user in ("super1", "clerk1"):
            async with s.post(
                f"{base}/api/v1/sessions", json={"username": user, "password": users[user]}
            ) as r:
                tokens[user] = (await r.json())["token"]
        body = {
            "case_no": f"2026-BDC-{secrets.randbelow(900000) + 100000}",
            "office": "HALL1",
            "window": "W01",
            "payer_name": "张三",
            "payer_id": "11010519491231002X",
            "lines": [
                {"item_code": "DEED_TAX", "amount_fen": 9000_00},
                {"item_code": "REG_FEE", "amount_fen": 80_00},
            ],
            "manual_reason": "演示：缴费通知书，手机缴费",
        }
        h = {
            "Authorization": f"Bearer {tokens['super1']}",
            "Idempotency-Key": secrets.token_hex(12),
        }
        async with s.post(f"{base}/api/v1/orders", json=body, headers=h) as r:
            order = await r.json()
            if r.status != 201:
                print(f"  notice skipped: the order was refused: {order.get('detail_zh')}")
                return None
        h = {
            "Authorization": f"Bearer {tokens['clerk1']}",
            "Idempotency-Key": secrets.token_hex(12),
        }
        async with s.post(
            f"{base}/api/v1/orders/{order['order_no']}/notice",
            json={"phone": DEMO_PHONE},
            headers=h,
        ) as r:
            notice = await r.json()
            if r.status != 201:
                print(f"  notice skipped: {notice.get('detail_zh')}")
                return None
    sms = notice.get("sms") or {}
    print(
        f"  notice for {order['order_no']}: SMS {sms.get('state_zh', '—')}"
        f" {sms.get('message_zh') or ''}".rstrip()
    )
    return dict(notice)
