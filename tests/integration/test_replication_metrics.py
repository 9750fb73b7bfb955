"""Replication as the operators' listener reports it, against a real streaming standby.

A primary and a standby made with pg_basebackup, both embedded PostgreSQL: the service on the
primary reports one standby streaming, its lag in bytes growing while the standby's replay is
paused and back to zero once it resumes, and the standby counted as synchronous once the primary
asks for one. Asked on the standby itself, the database is no writable primary.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from clearing.db.embedded import EmbeddedPostgres, _run_as
from clearing.db.migrate import migrate
from clearing.db.pool import ensure_database
from clearing.metrics import Metrics
from clearing.workers.runner import database_gauges
from tests.integration.service_harness import Service, running_service
from tests.integration.wechat_harness import running_wechat_sim


@pytest.fixture(scope="module")
async def cluster() -> AsyncIterator[tuple[EmbeddedPostgres, EmbeddedPostgres]]:
    # a folder of its own, as tests/conftest.py makes for the session's cluster: the server
    # user walks down to it, and no pytest temporary-directory housekeeping touches it
    root = Path(tempfile.mkdtemp(prefix="tj-test-repl-"))
    primary = EmbeddedPostgres(root / "primary")
    primary.start()
    standby_dir = (root / "standby").resolve()
    standby_dir.mkdir(mode=0o700)
    user = _run_as()
    if user is not None:
        pw = pwd.getpwnam(user)
        os.chown(standby_dir, pw.pw_uid, pw.pw_gid)
    standby = EmbeddedPostgres(standby_dir)
    try:
        # -R writes standby.signal and primary_conninfo: the copy starts as a streaming standby
        made = await asyncio.to_thread(
            standby._cmd,
            "pg_basebackup",
            "-D",
            str(standby_dir),
            "-h",
            str(primary.socket_dir),
            "-p",
            str(primary.port),
            "-U",
            "postgres",
            "-X",
            "stream",
            "-R",
            "--no-sync",
            check=False,
        )
        assert made.returncode == 0, made.stderr
        await asyncio.to_thread(standby.start)
        yield primary, standby
    finally:
        standby.destroy()
        primary.destroy()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
async def svc(
    cluster: tuple[EmbeddedPostgres, EmbeddedPostgres], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Service]:
    primary, _ = cluster
    await ensure_database(primary.dsn("postgres"), "tongjiao")
    conn = await asyncpg.connect(primary.dsn("tongjiao"))
    try:
        await migrate(conn)
    finally:
        await conn.close()
    tmp = tmp_path_factory.mktemp("replsvc")
    async with (
        running_wechat_sim(tmp / "wechat") as sim,
        running_service(primary.dsn("tongjiao"), tmp, sim, workers=0) as s,
    ):
        yield s


async def _scrape(svc: Service) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with svc.session.get(svc.ops_url + "/metrics") as r:
        text = await r.text()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


async def _until(
    svc: Service, ok: Callable[[dict[tuple[str, tuple[tuple[str, str], ...]], float]], bool]
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    deadline = time.monotonic() + 30
    while True:
        samples = await _scrape(svc)
        if ok(samples) or time.monotonic() > deadline:
            return samples
        await asyncio.sleep(0.1)


def _lag(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> list[float]:
    return [v for k, v in samples.items() if k[0] == "tongjiao_db_replication_lag_bytes"]


async def test_a_streaming_standby_is_counted_and_its_lag_measured(
    svc: Service, cluster: tuple[EmbeddedPostgres, EmbeddedPostgres]
) -> None:
    primary, standby = cluster
    samples = await _until(svc, lambda s: s.get(("tongjiao_db_replicas_streaming", ())) == 1)
    assert samples[("tongjiao_db_replicas_streaming", ())] == 1
    assert samples[("tongjiao_db_writable", ())] == 1
    assert samples[("tongjiao_db_replicas_sync", ())] == 0  # asynchronous so far
    assert len(_lag(samples)) == 1

    std = await asyncpg.connect(standby.dsn("postgres"))
    prim = await asyncpg.connect(primary.dsn("tongjiao"))
    try:
        # the standby stops replaying while the primary writes a few MiB of WAL
        await std.execute("SELECT pg_wal_replay_pause()")
        await prim.execute(
            "CREATE TABLE ballast AS SELECT g, repeat('x', 200) AS pad"
            " FROM generate_series(1, 20000) g"
        )
        behind = await _until(svc, lambda s: bool(_lag(s)) and _lag(s)[0] > 1_000_000)
        assert _lag(behind)[0] > 1_000_000
        await std.execute("SELECT pg_wal_replay_resume()")
        caught_up = await _until(svc, lambda s: bool(_lag(s)) and _lag(s)[0] == 0)
        assert _lag(caught_up) == [0]

        # the primary now waits for this standby's flush: it is the synchronous one
        await prim.execute("ALTER SYSTEM SET synchronous_standby_names = '*'")
        await prim.execute("SELECT pg_reload_conf()")
        synced = await _until(svc, lambda s: s.get(("tongjiao_db_replicas_sync", ())) == 1)
        assert synced[("tongjiao_db_replicas_sync", ())] == 1
    finally:
        await prim.execute("ALTER SYSTEM RESET synchronous_standby_names")
        await prim.execute("SELECT pg_reload_conf()")
        await std.close()
        await prim.close()


async def test_on_the_standby_the_database_is_no_writable_primary(
    cluster: tuple[EmbeddedPostgres, EmbeddedPostgres],
) -> None:
    _, standby = cluster
    metrics = Metrics()
    conn = await asyncpg.connect(standby.dsn("postgres"))
    try:
        await database_gauges(conn, metrics)
    finally:
        await conn.close()
    assert metrics.db_writable._value.get() == 0
    assert metrics.db_replicas_streaming._value.get() == 0
