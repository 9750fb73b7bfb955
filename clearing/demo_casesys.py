"""The demo's case system: the simulator subscribed to every order event, as an admin would.

Each start points one subscription at the simulator's current address (a demo may move ports)
and hands its secret to the simulator through its keys folder, as a real case system's operator
would type it into its settings.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from clearing.config import Settings
from clearing.db.pool import init_connection, resolve_dsn
from clearing.domain.webhooks import EVENT_TYPES

NAME = "不动产登记业务系统（模拟）"
SECRET_FILE = "casesys-webhook-secret"  # noqa: S105 - a file name (adapters.casesys.simulator)


def subscribe(settings: Settings, sim_url: str, keys: Path) -> None:
    """Subscribe the simulator at ``sim_url``; its secret goes to ``keys``/SECRET_FILE."""
    from adapters.casesys.simulator import WEBHOOK_PATH

    secret = asyncio.run(_subscribe(settings, sim_url + WEBHOOK_PATH))
    keys.mkdir(parents=True, exist_ok=True)
    path = keys / SECRET_FILE
    path.write_text(secret + "\n", "utf-8")
    os.chmod(path, 0o600)


async def _subscribe(settings: Settings, webhook_url: str) -> str:
    import asyncpg

    from clearing.api.app import pii_cipher
    from clearing.service import webhooks
    from clearing.service.principals import Principal

    conn = await asyncpg.connect(await resolve_dsn(settings))
    await init_connection(conn)
    try:
        admin = await conn.fetchrow(
            "SELECT id, username, display_name FROM principals WHERE username = 'admin'"
        )
        assert admin is not None, "the demo's admin account is made first"
        who = Principal(
            admin["id"], "staff", admin["username"], admin["display_name"], "admin", None
        )
        for sub in await webhooks.subscriptions(conn, who):
            if sub.name == NAME and sub.active:
                await webhooks.disable(conn, who, sub.id)  # the address of an earlier start
        _, secret = await webhooks.create(
            conn,
            who,
            pii_cipher(settings),
            name_=NAME,
            url=webhook_url,
            event_types=list(EVENT_TYPES),
        )
    finally:
        await conn.close()
    return secret
