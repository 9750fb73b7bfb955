"""Cut-off and the files of a settlement batch.

A cut-off (``tj_settlement_cutoff``, one SQL call under a per-bank advisory lock) gathers the paid
lines whose beneficiary account is due into one batch with one instruction per account, marks
them settled, and queues ``settlement.files``. A daily account is due once per business day, at
its cut-off (Beijing time), for the lines paid before that instant; a real-time account at every
cut-off, for everything paid so far (migration 0021).

Writing the files is separate and repeatable: the batch row holds everything a file depends on
(MsgId, cut-off time, the accounts as they were), so the pain.001, the 批量代付 chunks and the
detail CSVs come out byte-identical each time, and a crash between the two steps only means they
are written on the next try.

Files land in ``{settlement_dir}/{bank}/{YYYYMMDD}/`` through a temporary name and a rename, each
with its ``.sha256`` and detached ``.sig``; ``settlement_files`` lists them for the bank's
download endpoint and the finance page.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Literal

from clearing.db import Conn
from clearing.db.rows import row_into
from clearing.service import audit
from clearing.settlement import detail_csv, naming, pain001, payout_cn
from clearing.settlement.model import (
    DebtorAccount,
    Instruction,
    InstructionDetail,
    SettlementBatch,
)
from clearing.settlement.signing import Signer, sidecars

log = logging.getLogger(__name__)


def files_root(var_dir: Path, settlement_dir: Path | None) -> Path:
    """Where settlement files live: ``TONGJIAO_SETTLEMENT_DIR``, else ``var/settlement``."""
    return settlement_dir if settlement_dir is not None else var_dir / "settlement"


def file_path(root: Path, bank: str, business_date: date, name: str) -> Path:
    """The path of one recorded settlement file (``settlement_files.name`` of a batch)."""
    return root / bank / f"{business_date:%Y%m%d}" / name


@dataclass(frozen=True)
class SettlementSetup:
    """What writing a bank's files needs: our account there, the signing key, where files go."""

    bank: str
    debtor: DebtorAccount
    signer: Signer
    out_dir: Path
    encoding: Literal["gbk", "utf-8"] = "gbk"  # of the 批量代付 file, as the bank specifies
    chunk_size: int = 1000

    def folder(self, business_date: date) -> Path:
        return file_path(self.out_dir, self.bank, business_date, "")


async def cutoff(
    conn: Conn, *, bank: str, now: datetime, every_account: bool, actor: str
) -> int | None:
    """Run one cut-off; the new batch's id, or None when nothing was due."""
    async with conn.transaction():
        batch_id: int | None = await conn.fetchval(
            "SELECT tj_settlement_cutoff($1, $2, $3, $4)", bank, now, every_account, actor
        )
        if batch_id is not None:
            row = await conn.fetchrow(
                "SELECT msg_id, instruction_count, total_fen, line_count"
                " FROM settlement_batches WHERE id = $1",
                batch_id,
            )
            assert row is not None
            await audit.record(
                conn,
                actor,
                "settlement.cutoff",
                row["msg_id"],
                {
                    "instructions": row["instruction_count"],
                    "lines": row["line_count"],
                    "total_fen": row["total_fen"],
                    "every_account": every_account,
                },
                object_type="settlement_batch",
            )
    return batch_id


_BATCH_SQL = """
SELECT id, bank, business_date, seq, msg_id, cutoff_at, execution_date, state
  FROM settlement_batches WHERE id = $1
"""
_INSTRUCTIONS_SQL = """
SELECT id, end_to_end_id, beneficiary_code, creditor_name, creditor_account, creditor_bank_code,
       creditor_bank_name, amount_fen
  FROM settlement_instructions WHERE batch_id = $1 ORDER BY seq
"""
_DETAILS_SQL = """
SELECT s.instruction_id, o.order_no, o.case_no, s.line_no, l.item_code, f.name_zh AS item_name,
       l.reference, s.amount_fen
  FROM settlement_items s
  JOIN settlement_instructions i ON i.id = s.instruction_id
  JOIN orders o ON o.id = s.order_id
  JOIN order_lines l ON l.order_id = s.order_id AND l.line_no = s.line_no
  JOIN fee_items f ON f.code = l.item_code
 WHERE i.batch_id = $1
 ORDER BY s.instruction_id, o.order_no, s.line_no
"""


async def load_batch(conn: Conn, batch_id: int, debtor: DebtorAccount) -> SettlementBatch:
    """The batch as the files state it, rebuilt from what the cut-off recorded."""
    b = await conn.fetchrow(_BATCH_SQL, batch_id)
    if b is None:
        raise LookupError(f"no settlement batch {batch_id}")
    details: dict[int, list[InstructionDetail]] = {}
    for d in await conn.fetch(_DETAILS_SQL, batch_id):
        details.setdefault(d["instruction_id"], []).append(
            row_into(InstructionDetail, d, amount_fen=int(d["amount_fen"]))
        )
    instructions = tuple(
        row_into(
            Instruction,
            i,
            amount_fen=int(i["amount_fen"]),
            purpose=f"税费通缴清分 {b['business_date']:%Y%m%d} 第{b['seq']}批",
            details=tuple(details.get(i["id"], ())),
        )
        for i in await conn.fetch(_INSTRUCTIONS_SQL, batch_id)
    )
    return SettlementBatch(
        batch_id=b["msg_id"],
        bank_code=b["bank"],
        business_date=b["business_date"],
        sequence=int(b["seq"]),
        created_at=b["cutoff_at"],
        execution_date=b["execution_date"],
        msg_id=b["msg_id"],
        debtor=debtor,
        instructions=instructions,
    )


def render_files(batch: SettlementBatch, setup: SettlementSetup) -> dict[str, tuple[str, bytes]]:
    """Every file of the batch, by name: (kind, bytes). Pure and deterministic but for the
    signatures (RSA-PSS and SM2 are randomized; what they sign is not)."""
    files: dict[str, tuple[str, bytes]] = {}
    files[naming.pain001_name(batch)] = ("pain001", pain001.render(batch))
    for chunk, data in payout_cn.render(
        batch, encoding=setup.encoding, chunk_size=setup.chunk_size
    ):
        files[naming.payout_name(batch, chunk)] = ("payout", data)
    for code, data in detail_csv.render(batch).items():
        files[naming.detail_name(batch, code)] = ("detail", data)
    signed: dict[str, tuple[str, bytes]] = {}
    for name, (_, data) in files.items():
        for side, content in sidecars(setup.signer, name, data).items():
            signed[side] = ("sha256" if side.endswith(".sha256") else "sig", content)
    return {**files, **signed}


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _write_all(folder: Path, files: dict[str, tuple[str, bytes]]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    # the signatures last: a bank that sees a .sig finds the file it signs already complete
    for name in sorted(files, key=lambda n: (files[n][0] in ("sha256", "sig"), n)):
        path = folder / name
        _write_atomically(path, files[name][1])
        written.append(path)
    return written


async def write_files(
    conn: Conn,
    batch_id: int,
    setup: SettlementSetup,
    progress: Callable[[str], None] | None = None,
) -> list[Path]:
    """Write (or write again) the files of a batch and record them; the paths written."""
    batch = await load_batch(conn, batch_id, setup.debtor)
    if progress:
        progress(f"batch {batch.msg_id}: {len(batch.instructions)} instructions, rendering files")
    files = await asyncio.to_thread(render_files, batch, setup)
    folder = setup.folder(batch.business_date)
    paths = await asyncio.to_thread(_write_all, folder, files)
    async with conn.transaction():
        await conn.executemany(
            "INSERT INTO settlement_files (batch_id, name, kind, sha256, size)"
            " VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (name) DO UPDATE SET sha256 = EXCLUDED.sha256, size = EXCLUDED.size",
            [
                (batch_id, name, kind, hashlib.sha256(data).hexdigest(), len(data))
                for name, (kind, data) in files.items()
            ],
        )
        await conn.execute(
            "UPDATE settlement_batches SET state = 'FILES_WRITTEN'"
            " WHERE id = $1 AND state = 'CREATED'",
            batch_id,
        )
    if progress:
        progress(f"batch {batch.msg_id}: {len(paths)} files written to {folder}")
    return paths
