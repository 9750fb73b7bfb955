"""Prometheus metrics: one registry per process, built in ``create_app`` and passed down."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.payments = Counter(
            "tongjiao_payments_total",
            "Payments recorded, by channel, outcome (CLEARED/SUSPENSE) and source (notify/query)",
            ["channel", "outcome", "source"],
            registry=r,
        )
        self.payment_amount = Counter(
            "tongjiao_payment_amount_fen_total",
            "Money recorded, in fen, by channel and outcome",
            ["channel", "outcome"],
            registry=r,
        )
        self.capture_seconds = Histogram(
            "tongjiao_capture_seconds",
            "Time to record and split one payment (database round trip)",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.capture_batch_size = Histogram(
            "tongjiao_capture_batch_size",
            "Payments per capture transaction (a larger batch costs the database less per payment)",
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=r,
        )
        self.notify_rejected = Counter(
            "tongjiao_notify_rejected_total",
            "Inbound notifications refused, by channel and reason code",
            ["channel", "code"],
            registry=r,
        )
        self.adapter_seconds = Histogram(
            "tongjiao_adapter_call_seconds",
            "Calls to outside parties, by adapter and operation",
            ["adapter", "operation"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.adapter_errors = Counter(
            "tongjiao_adapter_errors_total",
            "Failed calls to outside parties, by adapter, operation and error kind",
            ["adapter", "operation", "error"],
            registry=r,
        )
        self.tasks_run = Counter(
            "tongjiao_tasks_total",
            "Task executions by kind and result (done, retry, rescheduled, dead)",
            ["kind", "result"],
            registry=r,
        )
        self.task_backlog = Gauge(
            "tongjiao_task_backlog",
            "Tasks due or leased, by kind and state",
            ["kind", "state"],
            registry=r,
        )
        self.task_oldest_seconds = Gauge(
            "tongjiao_task_oldest_due_seconds",
            "Age of the oldest task that is due and not done, by kind",
            ["kind"],
            registry=r,
        )
        self.suspense_fen = Gauge(
            "tongjiao_suspense_balance_fen",
            "Money parked in suspense (paid but not attributable), in fen",
            registry=r,
        )
        self.discrepancies_open = Gauge(
            "tongjiao_discrepancies_open",
            "Reconciliation discrepancies not yet resolved, by type",
            ["type"],
            registry=r,
        )
        self.discrepancy_oldest_seconds = Gauge(
            "tongjiao_discrepancy_oldest_open_seconds",
            "Age of the oldest unresolved discrepancy, by type",
            ["type"],
            registry=r,
        )
        self.last_recon_run_age_seconds = Gauge(
            "tongjiao_recon_last_run_age_seconds",
            "Seconds since the last finished reconciliation run (alert when above a day)",
            registry=r,
        )
        self.settlement_instructions = Gauge(
            "tongjiao_settlement_instructions",
            "Settlement instructions by state (PENDING/ACCEPTED waiting for the bank)",
            ["state"],
            registry=r,
        )
        self.payouts_held = Gauge(
            "tongjiao_beneficiaries_payout_held",
            "Beneficiary accounts whose payouts wait for a corrected account",
            registry=r,
        )
        self.webhook_deliveries = Gauge(
            "tongjiao_webhook_deliveries",
            "Webhook deliveries to the case system not yet delivered, by state (DEAD: to re-send)",
            ["state"],
            registry=r,
        )
        self.capture_errors = Counter(
            "tongjiao_capture_errors_total",
            "Payments that reached us but could not be recorded (database refused or unreachable);"
            " the acquirer retries, so each is counted once per delivery",
            ["channel", "source"],
            registry=r,
        )
        # the database as this node sees it (through HAProxy or a multi-host DSN): from
        # PostgreSQL itself, so it holds with or without Patroni (docs/ops/monitoring.md)
        self.db_writable = Gauge(
            "tongjiao_db_writable",
            "1 when this node's database connection reaches a primary that accepts writes",
            registry=r,
        )
        self.db_replicas_streaming = Gauge(
            "tongjiao_db_replicas_streaming",
            "Standbys streaming from the primary (pg_stat_replication), 0 on a standby",
            registry=r,
        )
        self.db_replicas_sync = Gauge(
            "tongjiao_db_replicas_sync",
            "Standbys that acknowledge commits synchronously (sync_state sync or quorum)",
            registry=r,
        )
        self.db_replication_lag_bytes = Gauge(
            "tongjiao_db_replication_lag_bytes",
            "WAL the primary has written that a standby has not replayed yet, by standby",
            ["standby"],
            registry=r,
        )
        self.db_replication_lag_seconds = Gauge(
            "tongjiao_db_replication_lag_seconds",
            "Time a standby's replay trails the primary (replay_lag; 0 when idle), by standby",
            ["standby"],
            registry=r,
        )
        self.settlement_undelivered = Gauge(
            "tongjiao_settlement_batches_undelivered",
            "Settlement batches with files written that the bank has not fetched (or got pushed)",
            registry=r,
        )
        self.settlement_undelivered_oldest_seconds = Gauge(
            "tongjiao_settlement_undelivered_oldest_seconds",
            "Age of the oldest settlement batch whose files the bank has not fetched, 0 when none",
            registry=r,
        )
        self.cert_not_after = Gauge(
            "tongjiao_certificate_not_after_timestamp_seconds",
            "When a certificate the service holds expires (Unix time), by file and subject",
            ["file", "subject"],
            registry=r,
        )
        self.key_created = Gauge(
            "tongjiao_key_created_timestamp_seconds",
            "When one of our own signing or encryption keys was made (its file's mtime, Unix time)",
            ["key"],
            registry=r,
        )
        self.http_requests = Counter(
            "tongjiao_http_requests_total",
            "HTTP requests by route and status class",
            ["route", "status"],
            registry=r,
        )
