"""Settlement in the background: the cut-off clock, writing a batch's files, pushing them to the
bank's inbox (push mode), and reading the bank's answers from its outbox.

Each step is idempotent and restartable: a cut-off commits its batch and queues
``settlement.files`` in one transaction; files are written again byte for byte when a crash
interrupted them; a push of the same file is a resend the bank answers once; an answer file is
imported once by name, and its effects are guarded transitions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import asyncpg

from clearing.service import settlement
from clearing.settlement import naming
from clearing.workers.runner import Handler

if TYPE_CHECKING:
    from adapters.bank.client import BankClient

log = logging.getLogger(__name__)


@dataclass
class SettlementWork:
    pool: asyncpg.Pool
    setup: settlement.SettlementSetup
    bank: BankClient | None = None
    push: bool = False
    acquirer_accounts: Mapping[str, str] = field(default_factory=dict)

    def table(self) -> dict[str, Handler]:
        return {"settlement.files": self.write_files, "settlement.deliver": self.deliver}

    async def write_files(self, payload: dict[str, Any]) -> None:
        batch_id = int(payload["batch_id"])
        async with self.pool.acquire() as conn:
            state = await conn.fetchval(
                "SELECT state FROM settlement_batches WHERE id = $1", batch_id
            )
            if state != "CREATED":
                return
            await settlement.write_files(conn, batch_id, self.setup)
            if self.push:
                await conn.execute(
                    "INSERT INTO tasks (kind, payload, dedupe_key) VALUES ('settlement.deliver',"
                    " jsonb_build_object('batch_id', $1::bigint), 'settlement.deliver:' || $1)"
                    " ON CONFLICT DO NOTHING",
                    batch_id,
                )

    async def deliver(self, payload: dict[str, Any]) -> None:
        """Push every data file of the batch with its sidecars; the bank processes a file when
        its signature arrives, and a repeated push is a resend it answers once."""
        if self.bank is None:
            raise RuntimeError("push delivery needs TONGJIAO_BANK_BASE_URL and BANK_TLS_DIR")
        batch_id = int(payload["batch_id"])
        async with self.pool.acquire() as conn:
            b = await conn.fetchrow(
                "SELECT bank, business_date, state FROM settlement_batches WHERE id = $1",
                batch_id,
            )
            files = await conn.fetch(
                "SELECT name FROM settlement_files WHERE batch_id = $1"
                " AND kind IN ('pain001', 'payout', 'detail') ORDER BY kind = 'pain001', id",
                batch_id,
            )
        if b is None or b["state"] == "CREATED":
            return
        folder = self.setup.folder(b["business_date"])
        for f in files:
            name = f["name"]
            data = await asyncio.to_thread((folder / name).read_bytes)
            checksum = await asyncio.to_thread((folder / naming.checksum_name(name)).read_bytes)
            sig = await asyncio.to_thread((folder / naming.signature_name(name)).read_bytes)
            await self.bank.push(name, data, sig, checksum=checksum)
        async with self.pool.acquire() as conn:
            await conn.execute(
                "UPDATE settlement_batches SET state = 'DELIVERED', delivered_at = now()"
                " WHERE id = $1 AND state = 'FILES_WRITTEN'",
                batch_id,
            )

    async def cutoff_once(self, now: datetime | None = None) -> int | None:
        async with self.pool.acquire() as conn:
            return await settlement.cutoff(
                conn,
                bank=self.setup.bank,
                now=now or datetime.now(UTC),
                every_account=False,
                actor="system:cutoff",
            )

    async def poll_once(self) -> int:
        """Import every answer file the bank published since the last one; how many."""
        from reconciliation.bank_answers import import_file

        if self.bank is None:
            return 0
        async with self.pool.acquire() as conn:
            last = await conn.fetchval(
                "SELECT name FROM bank_inbound_files WHERE bank = $1 ORDER BY id DESC LIMIT 1",
                self.setup.bank,
            )
        names = await self.bank.list_outbox(after=last)
        for name in names:
            data = await self.bank.fetch(name)
            async with self.pool.acquire() as conn:
                await import_file(
                    conn,
                    bank=self.setup.bank,
                    name=name,
                    data=data,
                    collection_account=self.setup.debtor.account_no,
                    acquirer_accounts=self.acquirer_accounts,
                )
        return len(names)

    async def run_clock(self, stop: asyncio.Event, *, cutoff_s: float, poll_s: float) -> None:
        """Cut-offs every ``cutoff_s`` (a daily account once, at its first run past its cut-off;
        real-time ones at once),
        and the bank's outbox every ``poll_s``; a failure is logged and tried next round."""
        loop = asyncio.get_running_loop()
        next_cut = next_poll = loop.time()
        while not stop.is_set():
            now = loop.time()
            if cutoff_s > 0 and now >= next_cut:
                next_cut = now + cutoff_s
                try:
                    await self.cutoff_once()
                except Exception as exc:
                    log.warning("scheduled cut-off failed: %r", exc)
            if self.bank is not None and now >= next_poll:
                next_poll = now + poll_s
                try:
                    await self.poll_once()
                except Exception as exc:
                    log.warning("reading the bank's answers failed: %r", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
