"""Base backups, the WAL archive, and a restore drill that proves they restore.

Every member archives each finished WAL segment into ``wal-archive/`` (``archive_command`` in the
Patroni configuration; only the primary archives). ``backup`` takes a base backup from the leader
with ``pg_basebackup`` into ``backups/<UTC time>/``. ``drill`` restores the newest base backup
taken before a target time into a fresh data directory, replays the archive up to the target,
promotes, starts ``tongjiao serve`` on it until ``/readyz`` is 200, and checks that the audit
chain verifies and every journal entry balances. Why not pgBackRest:
docs/decisions/0021-backups-basebackup-and-wal-archive.md.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from clearing.cluster import members as mb
from clearing.cluster.layout import PG_BIN, Layout, free_port


def _backups(lay: Layout) -> Path:
    return lay.root / "backups"


def _pg_user() -> str | None:
    """PostgreSQL's programs refuse root: they run as ``postgres`` when we are root."""
    return mb.PG_USER if os.geteuid() == 0 else None


def backup(lay: Layout) -> Path:
    """A base backup of the leader (its WAL included, so it restores on its own)."""
    leader = mb.leader(lay)
    if leader is None:
        raise RuntimeError("no leader to take a base backup from")
    dest = _backups(lay) / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    _backups(lay).mkdir(parents=True, exist_ok=True)
    mb.chown_postgres(_backups(lay))
    env = dict(os.environ, PGPASSWORD=lay.secrets.replication)
    proc = subprocess.run(  # noqa: S603 - fixed binary
        [
            str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(lay.ports.pg[leader]),
            "-U", "replicator", "-D", str(dest), "-X", "stream", "-c", "fast", "--no-password",
        ],
        env=env, capture_output=True, text=True, timeout=600, user=_pg_user(), check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"pg_basebackup failed: {proc.stderr.strip()}")
    return dest


def switch_wal(lay: Layout) -> None:
    """Close the current WAL segment so that everything committed so far reaches the archive."""

    async def go() -> None:
        conn = await asyncpg.connect(lay.dsn(admin=True))
        try:
            await conn.execute("SELECT pg_switch_wal()")
        finally:
            await conn.close()

    asyncio.run(go())


@dataclass
class DrillResult:
    backup: Path
    target: datetime
    payments: int
    last_payment_at: datetime | None
    audit_output: str
    seconds: float


def drill(lay: Layout, target: datetime, *, keep: bool = False) -> DrillResult:
    started = time.monotonic()
    label = target.astimezone(UTC)
    candidates = sorted(p for p in _backups(lay).glob("*Z") if p.is_dir())
    usable = [
        p
        for p in candidates
        if datetime.strptime(p.name, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC) < label
    ]
    if not usable:
        raise RuntimeError(f"no base backup taken before {label:%Y-%m-%d %H:%M:%S} UTC")
    base = usable[-1]
    work = lay.root / "restore-drill"
    data = work / "data"
    if work.exists():
        _stop(data)
        shutil.rmtree(work)
    work.mkdir(parents=True)
    shutil.copytree(base, data, symlinks=True)
    port = free_port()
    archive = lay.root / "wal-archive"
    with (data / "postgresql.auto.conf").open("a") as f:
        # the restored copy must never archive into, or replicate from, the live cluster
        f.write(
            "\n# restore drill\n"
            f"port = {port}\nlisten_addresses = ''\nunix_socket_directories = '{work}'\n"
            "archive_mode = off\nprimary_conninfo = ''\nprimary_slot_name = ''\n"
            "synchronous_standby_names = ''\nhot_standby = on\n"
            # Patroni points these at the member's own folder
            f"hba_file = '{data}/pg_hba.conf'\nident_file = '{data}/pg_ident.conf'\n"
            f"restore_command = 'cp {archive}/%f %p'\n"
            f"recovery_target_time = '{label.isoformat()}'\n"
            "recovery_target_action = 'promote'\n"
        )
    (data / "standby.signal").unlink(missing_ok=True)
    (data / "recovery.signal").touch()
    mb.chown_postgres(work)
    data.chmod(0o700)
    try:
        proc = subprocess.run(  # noqa: S603 - fixed binary
            [str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(work / "postgres.log"), "-w",
             "-t", "300", "start"],
            capture_output=True, text=True, timeout=330, user=_pg_user(), check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            log = (work / "postgres.log").read_text()[-3000:]
            raise RuntimeError(f"the restored server did not start: {proc.stderr}\n{log}")
        dsn = f"postgresql://postgres@/tongjiao?host={work}&port={port}"
        payments, last = asyncio.run(_check(dsn))
        audit = _audit_verify(dsn, lay)
        _serve_once(dsn, lay, work)
    finally:
        _stop(data)
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    return DrillResult(base, label, payments, last, audit, time.monotonic() - started)


async def _check(dsn: str) -> tuple[int, datetime | None]:
    """Promoted, and the books balance; how many payments the restored database holds, and
    when the newest was recorded."""
    deadline = time.monotonic() + 300
    while True:
        try:
            conn = await asyncpg.connect(dsn, timeout=5)
            if not await conn.fetchval("SELECT pg_is_in_recovery()"):
                break
            await conn.close()
        except (OSError, asyncpg.PostgresError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the restored server was not promoted within 300 s")
        await asyncio.sleep(0.5)
    try:
        bad = await conn.fetchval(
            "SELECT count(*) FROM (SELECT entry_id FROM postings GROUP BY entry_id"
            " HAVING sum(amount_fen) <> 0) x"
        )
        if bad:
            raise RuntimeError(f"{bad} journal entries do not balance in the restored database")
        row = await conn.fetchrow("SELECT count(*) AS n, max(recorded_at) AS last FROM payments")
        assert row is not None
        return int(row["n"]), row["last"]
    finally:
        await conn.close()


def _env(dsn: str, lay: Layout, var: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        TONGJIAO_DATABASE_URL=dsn,
        TONGJIAO_VAR_DIR=str(var),
        TONGJIAO_PII_KEY_FILE=str(lay.app_dir / "keys" / "pii.key"),
        TONGJIAO_RECEIPT_KEY_FILE=str(lay.app_dir / "keys" / "receipt-ed25519.pem"),
    )
    return env


def _audit_verify(dsn: str, lay: Layout) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "clearing", "audit", "verify", "--no-witness"],
        env=_env(dsn, lay, lay.root / "restore-drill"),
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"audit verify failed on the restored database:\n{proc.stdout}")
    return proc.stdout


def _serve_once(dsn: str, lay: Layout, work: Path) -> None:
    """The service starts on the restored database and says it is ready; no workers, so that
    nothing is sent to the outside from a copy."""
    port = free_port()
    env = _env(dsn, lay, work)
    env.update(TONGJIAO_PORT=str(port), TONGJIAO_WORKERS="0", TONGJIAO_HOST="127.0.0.1")
    with (work / "serve.log").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "clearing", "serve"], env=env, stdout=log, stderr=log
        )
    try:
        url = f"http://127.0.0.1:{port}/readyz"
        if not mb.wait_for(lambda: mb.http_json(url)[0] == 200 or proc.poll() is not None, 120):
            raise RuntimeError("tongjiao did not become ready on the restored database")
        if proc.poll() is not None:
            raise RuntimeError(f"tongjiao exited on the restored database; see {work}/serve.log")
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def _stop(data: Path) -> None:
    if (data / "postmaster.pid").exists():
        subprocess.run(  # noqa: S603 - fixed binary
            [str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            capture_output=True, timeout=120, user=_pg_user(), check=False,
        )  # fmt: skip
