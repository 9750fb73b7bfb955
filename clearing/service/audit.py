"""The audit log: write a row with the change it records; seal the chain; verify it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Protocol

from clearing.db import Conn
from clearing.service import audit_witness


class Actor(Protocol):
    """Who acts: a signed-in principal or an enrolled kiosk, each naming itself for the log."""

    @property
    def actor(self) -> str: ...


async def record(
    conn: Conn,
    actor: str | Actor,
    action: str,
    object_id: object,
    detail: dict[str, Any] | None = None,
    *,
    object_type: str | None = None,
    request_id: str | None = None,
) -> None:
    """Write one audit row inside the caller's transaction. The object is named by its type,
    which is the action's noun ("kiosk" for "kiosk.created") unless given, and its id as text."""
    await conn.execute(
        "INSERT INTO audit_log (actor, action, object_type, object_id, detail, request_id)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        actor if isinstance(actor, str) else actor.actor,
        action,
        object_type or action.partition(".")[0],
        str(object_id),
        detail or {},
        request_id,
    )


def changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The detail of an edit: each field whose value moved, from what to what."""
    return {k: {"from": before[k], "to": v} for k, v in after.items() if before[k] != v}


async def seal(conn: Conn, limit: int = 5000) -> int:
    """Seal committed rows into the hash chain; returns how many were sealed."""
    return int(await conn.fetchval("SELECT tj_audit_seal($1)", limit))


@dataclass
class VerifyReport:
    sealed: int = 0
    unsealed: int = 0
    head_seq: int = 0
    head_hash: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


_VERIFY_SQL = """
SELECT seq, id, prev_hash, hash, tj_audit_canonical(a) AS canonical
  FROM audit_log a WHERE seq IS NOT NULL AND seq > $1 ORDER BY seq LIMIT $2
"""


async def verify(
    conn: Conn, batch: int = 5000, witness: audit_witness.WitnessView | None = None
) -> VerifyReport:
    """Recompute the chain from the first row: an edited row breaks its hash, a deleted row
    leaves a gap in the sequence. With the ``witness`` (what was sealed, as kept outside the
    database), also a chain cut short or rewritten and sealed anew."""
    report = VerifyReport()
    if witness is not None:
        report.problems.extend(witness.problems)
    prev = b""
    expected_seq = 1
    last = 0
    rewritten_named = False
    while True:
        rows = await conn.fetch(_VERIFY_SQL, last, batch)
        if not rows:
            break
        for r in rows:
            seq = int(r["seq"])
            if seq != expected_seq:
                report.problems.append(
                    f"rows {expected_seq}..{seq - 1} of the chain are missing (deleted?)"
                )
                # the row after a gap links to a row we no longer have: judge it on its own
                prev = bytes(r["prev_hash"])
            elif bytes(r["prev_hash"]) != prev:
                report.problems.append(
                    f"row seq {seq} (id {r['id']}) does not link to the row before"
                )
            digest = hashlib.sha256(prev + str(r["canonical"]).encode()).digest()
            if digest != bytes(r["hash"]):
                report.problems.append(f"row seq {seq} (id {r['id']}) was altered after sealing")
            if witness is not None and not rewritten_named:
                seen = witness.hashes.get(seq)
                if seen is not None and seen != bytes(r["hash"]).hex():
                    # every row after a rewritten one differs too; the first is the one to name
                    report.problems.append(
                        f"row seq {seq} (id {r['id']}) is not the row that was sealed and"
                        " witnessed: it was rewritten (this row and the chain after it)"
                    )
                    rewritten_named = True
            prev = bytes(r["hash"])
            expected_seq = seq + 1
            last = seq
            report.sealed += 1
    report.head_seq = last
    report.head_hash = prev.hex()
    if witness is not None and witness.head_seq > last:
        report.problems.append(
            f"rows {last + 1}..{witness.head_seq} were sealed and witnessed but are gone:"
            f" the chain was cut after seq {last}"
        )
    report.unsealed = int(await conn.fetchval("SELECT count(*) FROM audit_log WHERE seq IS NULL"))
    return report
