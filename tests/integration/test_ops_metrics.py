"""What the alert rules in ops/prometheus/ read, as the operators' listener serves it.

Each metric is checked with a value that means something: the database this node reaches is a
writable primary (and is seen not to be when the session is read-only), a capture the database
refuses is counted while the acquirer delivers again, a dead task is reported by kind, a
settlement batch the bank has not fetched is aged, and certificates and our own keys are dated.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from prometheus_client.parser import text_string_to_metric_families

from adapters.bank import pki
from clearing.api.keys import POOL, SETTINGS
from clearing.metrics import Metrics
from clearing.workers.runner import database_gauges
from tests.integration.service_harness import Service, order_body, running_wechat_service

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(scope="module")
async def svc(db_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
    tmp = tmp_path_factory.mktemp("opsmetrics")
    tls = tmp / "bank-tls"
    tls.mkdir()
    pki.generate_ca(tls, "示范银行 CA")
    async with running_wechat_service(
        db_dsn,
        tmp,
        sim_retry_scale=0.01,
        workers=2,
        poll_first_s=0.3,
        poll_later_s=0.5,
        bank_tls_dir=tls,
    ) as s:
        yield s


async def _scrape(svc: Service) -> Samples:
    async with svc.session.get(svc.ops_url + "/metrics") as r:
        assert r.status == 200
        text = await r.text()
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _one(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


async def test_the_database_is_reported_as_a_writable_primary_without_standbys(
    svc: Service,
) -> None:
    samples = await _scrape(svc)
    assert _one(samples, "tongjiao_db_writable") == 1
    assert _one(samples, "tongjiao_db_replicas_streaming") == 0
    assert _one(samples, "tongjiao_db_replicas_sync") == 0
    # no standby, no lag series: the alert on lag has nothing to say about a single server
    assert not [k for k in samples if k[0] == "tongjiao_db_replication_lag_bytes"]


async def test_a_read_only_database_is_not_a_writable_primary(svc: Service) -> None:
    # what a node sees when its connection lands on a standby or a primary turned read-only
    metrics = Metrics()
    async with svc.app[POOL].acquire() as conn:
        await conn.execute("SET default_transaction_read_only = on")
        try:
            await database_gauges(conn, metrics)
        finally:
            await conn.execute("RESET default_transaction_read_only")
    assert metrics.db_writable._value.get() == 0
    async with svc.app[POOL].acquire() as conn:
        await database_gauges(conn, metrics)
    assert metrics.db_writable._value.get() == 1


async def test_a_capture_the_database_refuses_is_counted_and_cleared_on_redelivery(
    svc: Service,
) -> None:
    staff = await svc.supervisor()
    status, order = await svc.create_order(staff, order_body((13_13,)))
    assert status == 201, order
    qr = await svc.open_qr(staff, order["order_no"])
    before = (await _scrape(svc)).get(
        ("tongjiao_capture_errors_total", (("channel", "wechatpay"), ("source", "notify"))), 0.0
    )
    async with svc.app[POOL].acquire() as conn:
        # the database refuses this one payment (as a full disk or a lost primary would)
        await conn.execute(
            "CREATE FUNCTION t_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " IF NEW.amount_fen = 1313 THEN RAISE EXCEPTION 'disk full'; END IF;"
            " RETURN NEW; END $$"
        )
        await conn.execute(
            "CREATE TRIGGER t_refuse BEFORE INSERT ON payments"
            " FOR EACH ROW EXECUTE FUNCTION t_refuse()"
        )
    try:
        assert (await svc.sim.pay(qr["out_trade_no"]))[0] == 200
        deadline = time.monotonic() + 10
        while True:
            errors = (await _scrape(svc)).get(
                ("tongjiao_capture_errors_total", (("channel", "wechatpay"), ("source", "notify"))),
                0.0,
            )
            if errors > before or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        assert errors > before
    finally:
        async with svc.app[POOL].acquire() as conn:
            await conn.execute("DROP TRIGGER t_refuse ON payments")
            await conn.execute("DROP FUNCTION t_refuse()")
    # the acquirer's next delivery (or our query) records it
    await svc.wait_state(staff, order["order_no"], "CLEARED", within_s=15)


async def test_dead_tasks_are_reported_by_kind(svc: Service) -> None:
    await svc.app[POOL].execute(
        "INSERT INTO tasks (kind, state, attempts, last_error)"
        " VALUES ('fiscal.confirm', 'DEAD', 8, 'gave up after 8 attempts')"
    )
    samples = await _scrape(svc)
    assert _one(samples, "tongjiao_task_backlog", kind="fiscal.confirm", state="DEAD") >= 1


async def test_a_settlement_batch_the_bank_has_not_fetched_is_aged(svc: Service) -> None:
    samples = await _scrape(svc)
    assert _one(samples, "tongjiao_settlement_batches_undelivered") == 0
    assert _one(samples, "tongjiao_settlement_undelivered_oldest_seconds") == 0
    async with svc.app[POOL].acquire() as conn:
        # files written three hours ago, and the bank has not come for them
        await conn.execute(
            "INSERT INTO settlement_batches (bank, business_date, seq, msg_id, cutoff_at,"
            " execution_date, state, instruction_count, total_fen, line_count, created_by,"
            " created_at) VALUES ('SFBK', current_date, 1, 'SFBK-TEST-1', now(), current_date,"
            " 'FILES_WRITTEN', 1, 100, 1, 'test', now() - interval '3 hours')"
        )
    samples = await _scrape(svc)
    assert _one(samples, "tongjiao_settlement_batches_undelivered") == 1
    assert 3 * 3600 <= _one(samples, "tongjiao_settlement_undelivered_oldest_seconds") < 4 * 3600


async def test_certificates_and_our_keys_are_dated(svc: Service) -> None:
    samples = await _scrape(svc)
    certs = {
        dict(k[1])["file"]: v for k, v in samples.items() if k[0].startswith("tongjiao_certificate")
    }
    # the bank CA made above lives for years; the exact date is the certificate's own
    tls = svc.app[SETTINGS].bank_tls_dir
    assert tls is not None
    ca = x509.load_pem_x509_certificate(pki.ca_files(tls).cert.read_bytes())
    assert certs["bank_tls_dir/ca.pem"] == ca.not_valid_after_utc.timestamp()
    assert certs["bank_tls_dir/ca.pem"] > (datetime.now(UTC) + timedelta(days=300)).timestamp()
    keys = {
        dict(k[1])["key"]: v
        for k, v in samples.items()
        if k[0] == "tongjiao_key_created_timestamp_seconds"
    }
    # the receipt, PII and settlement keys are made on first start, within this module's life
    assert {"receipt", "pii", "settlement"} <= set(keys)
    for name in ("receipt", "pii", "settlement"):
        assert time.time() - 3600 < keys[name] <= time.time() + 1, name
