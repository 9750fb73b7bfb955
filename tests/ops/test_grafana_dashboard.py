"""The Grafana dashboard is valid JSON, shows what it promises, and every query reads metrics
the service exposes (a renamed metric breaks this test, not a panel nobody looks at)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.ops.exposed import exposed_metric_names

DASHBOARD = Path(__file__).resolve().parents[2] / "ops" / "grafana" / "tongjiao.json"


def _panels(node: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p in node.get("panels", []):
        out.append(p)
        out.extend(_panels(p))  # rows may nest their panels
    return out


def test_the_dashboard_is_json_grafana_can_import() -> None:
    doc = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert doc["uid"] == "tongjiao" and doc["title"]
    assert doc["timezone"] == "Asia/Shanghai"
    panels = _panels(doc)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for p in panels:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24, p["title"]


def test_every_query_names_a_metric_the_service_exposes() -> None:
    doc = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exposed = exposed_metric_names() | {"up"}
    queries = [t["expr"] for p in _panels(doc) for t in p.get("targets", [])]
    assert len(queries) >= 20
    for q in queries:
        names = set(re.findall(r"\btongjiao_[a-z0-9_]+\b", q)) | (
            {"up"} if re.search(r"\bup\{", q) else set()
        )
        assert names, f"query reads no metric: {q}"
        assert names <= exposed, f"unknown metric in {q}: {names - exposed}"


def test_the_dashboard_covers_payments_latency_errors_backlog_and_the_cluster() -> None:
    doc = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    text = " ".join(t["expr"] for p in _panels(doc) for t in p.get("targets", []))
    for metric in (
        "tongjiao_payments_total",
        "tongjiao_capture_seconds_bucket",
        "tongjiao_adapter_errors_total",
        "tongjiao_task_backlog",
        "tongjiao_db_writable",
        "tongjiao_db_replication_lag_bytes",
    ):
        assert metric in text, metric
