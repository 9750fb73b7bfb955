"""Prometheus metrics: one registry per process, built in ``create_app`` and passed down."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

M = TypeVar("M", Counter, Gauge, Histogram)


def _bound(kind: type[M], registry: CollectorRegistry) -> Callable[..., M]:
    """Make `kind` metrics in `registry`, label names given as one spaced string."""

    def make(name: str, documentation: str, labels: str = "", **options: Any) -> M:
        return kind(name, documentation, labels.split(), registry=registry, **options)

    return make


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # below, each metric is its name, help and label names only: ops alert rules and
        # dashboards refer to all three, so they read as a table and change only with those
        counter = _bound(Counter, self.registry)
        gauge = _bound(Gauge, self.registry)
        histogram = _bound(Histogram, self.registry)
        self.payments = counter(
            "tongjiao_payments_total",
            "Payments recorded, by channel, outcome (CLEARED/SUSPENSE) and source (notify/query)",
            "channel outcome source",
        )
        self.payment_amount = counter(
            "tongjiao_payment_amount_fen_total",
            "Money recorded, in fen, by channel and outcome",
            "channel outcome",
        )
        self.capture_seconds = histogram(
            "tongjiao_capture_seconds",
            "Time to record and split one payment (database round trip)",
            buckets=_LATENCY_BUCKETS,
        )
        self.capture_batch_size = histogram(
            "tongjiao_capture_batch_size",
            "Payments per capture transaction (a larger batch costs the database less per payment)",
            buckets=(1, 2, 4, 8, 16, 32, 64),
        )
        self.notify_rejected = counter(
            "tongjiao_notify_rejected_total",
            "Inbound notifications refused, by channel and reason code",
            "channel code",
        )
        self.adapter_seconds = histogram(
            "tongjiao_adapter_call_seconds",
            "Calls to outside parties, by adapter and operation",
            "adapter operation",
            buckets=_LATENCY_BUCKETS,
        )
        self.adapter_errors = counter(
            "tongjiao_adapter_errors_total",
            "Failed calls to outside parties, by adapter, operation and error kind",
            "adapter operation error",
        )
        self.tasks_run = counter(
            "tongjiao_tasks_total",
            "Task executions by kind and result (done, retry, rescheduled, dead)",
            "kind result",
        )
        self.task_backlog = gauge(
            "tongjiao_task_backlog",
            "Tasks due or leased, by kind and state",
            "kind state",
        )
        self.task_oldest_seconds = gauge(
            "tongjiao_task_oldest_due_seconds",
            "Age of the oldest task that is due and not done, by kind",
            "kind",
        )
        self.suspense_fen = gauge(
            "tongjiao_suspense_balance_fen",
            "Money parked in suspense (paid but not attributable), in fen",
        )
        self.discrepancies_open = gauge(
            "tongjiao_discrepancies_open",
            "Reconciliation discrepancies not yet resolved, by type",
            "type",
        )
        self.discrepancy_oldest_seconds = gauge(
            "tongjiao_discrepancy_oldest_open_seconds",
            "Age of the oldest unresolved discrepancy, by type",
            "type",
        )
        self.last_recon_run_age_seconds = gauge(
            "tongjiao_recon_last_run_age_seconds",
            "Seconds since the last finished reconciliation run (alert when above a day)",
        )
        self.settlement_instructions = gauge(
            "tongjiao_settlement_instructions",
            "Settlement instructions by state (PENDING/ACCEPTED waiting for the bank)",
            "state",
        )
        self.payouts_held = gauge(
            "tongjiao_beneficiaries_payout_held",
            "Beneficiary accounts whose payouts wait for a corrected account",
        )
        self.webhook_deliveries = gauge(
            "tongjiao_webhook_deliveries",
            "Webhook deliveries to the case system not yet delivered, by state (DEAD: to re-send)",
            "state",
        )
        self.capture_errors = counter(
            "tongjiao_capture_errors_total",
            "Payments that reached us but could not be recorded (database refused or unreachable);"
            " the acquirer retries, so each is counted once per delivery",
            "channel source",
        )
        # the database as this node sees it (through HAProxy or a multi-host DSN): from
        # PostgreSQL itself, so it holds with or without Patroni (docs/ops/monitoring.md)
        self.db_writable = gauge(
            "tongjiao_db_writable",
            "1 when this node's database connection reaches a primary that accepts writes",
        )
        self.db_replicas_streaming = gauge(
            "tongjiao_db_replicas_streaming",
            "Standbys streaming from the primary (pg_stat_replication), 0 on a standby",
        )
        self.db_replicas_sync = gauge(
            "tongjiao_db_replicas_sync",
            "Standbys that acknowledge commits synchronously (sync_state sync or quorum)",
        )
        self.db_replication_lag_bytes = gauge(
            "tongjiao_db_replication_lag_bytes",
            "WAL the primary has written that a standby has not replayed yet, by standby",
            "standby",
        )
        self.db_replication_lag_seconds = gauge(
            "tongjiao_db_replication_lag_seconds",
            "Time a standby's replay trails the primary (replay_lag; 0 when idle), by standby",
            "standby",
        )
        self.settlement_undelivered = gauge(
            "tongjiao_settlement_batches_undelivered",
            "Settlement batches with files written that the bank has not fetched (or got pushed)",
        )
        self.settlement_undelivered_oldest_seconds = gauge(
            "tongjiao_settlement_undelivered_oldest_seconds",
            "Age of the oldest settlement batch whose files the bank has not fetched, 0 when none",
        )
        self.cert_not_after = gauge(
            "tongjiao_certificate_not_after_timestamp_seconds",
            "When a certificate the service holds expires (Unix time), by file and subject",
            "file subject",
        )
        self.key_created = gauge(
            "tongjiao_key_created_timestamp_seconds",
            "When one of our own signing or encryption keys was made (its file's mtime, Unix time)",
            "key",
        )
        self.http_requests = counter(
            "tongjiao_http_requests_total",
            "HTTP requests by route and status class",
            "route status",
        )
