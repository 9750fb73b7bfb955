"""The operators' alert rules: valid for Prometheus, unit-tested, each with a runbook that exists,
and reading only metrics the service exposes.

``promtool`` comes with Debian's ``prometheus`` package; ``./ops/test`` installs it when missing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ops.exposed import exposed_metric_names

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "ops" / "prometheus"
RULE_FILES = sorted(RULES.glob("*.rules.yml"))
TEST_FILES = sorted(RULES.glob("*.rules.test.yml"))
# metrics Prometheus makes itself, not the service
PROMETHEUS_OWN = {"up"}


def _promtool() -> str:
    tool = shutil.which("promtool")
    if tool is None:
        pytest.fail("promtool is missing: as root, apt-get install prometheus (./ops/test does)")
    return tool


def _alerts() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for f in RULE_FILES:
        for group in yaml.safe_load(f.read_text(encoding="utf-8"))["groups"]:
            out.extend(r for r in group["rules"] if "alert" in r)
    return out


def test_there_are_rule_files_and_unit_tests_for_them() -> None:
    assert RULE_FILES and TEST_FILES


def test_promtool_accepts_the_rule_files() -> None:
    done = subprocess.run(
        [_promtool(), "check", "rules", *map(str, RULE_FILES)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_the_rules_pass_their_unit_tests() -> None:
    # rule_files in a test file are relative to it
    done = subprocess.run(
        [_promtool(), "test", "rules", *(f.name for f in TEST_FILES)],
        cwd=RULES,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_is_unit_tested() -> None:
    tested: set[str] = set()
    for f in TEST_FILES:
        for case in yaml.safe_load(f.read_text(encoding="utf-8"))["tests"]:
            for check in case.get("alert_rule_test", []):
                if check.get("exp_alerts"):  # seen firing, not only seen quiet
                    tested.add(check["alertname"])
    assert {a["alert"] for a in _alerts()} - tested == set()


def test_every_alert_links_a_runbook_that_exists_and_speaks_chinese_too() -> None:
    alerts = _alerts()
    assert len(alerts) >= 12
    for a in alerts:
        notes = a.get("annotations", {})
        link = notes.get("runbook_url")
        assert link, f"{a['alert']} has no runbook_url"
        assert (ROOT / link).is_file(), f"{a['alert']}: {link} does not exist"
        text = (ROOT / link).read_text(encoding="utf-8")
        # the runbook names the alert it is for, so a reader who lands there knows
        assert a["alert"] in text, f"{link} does not mention {a['alert']}"
        assert notes.get("summary") and re.search(r"[\u4e00-\u9fff]", notes.get("summary_zh", ""))
        assert a.get("labels", {}).get("severity") in ("critical", "warning")


def test_every_rule_reads_metrics_the_service_exposes() -> None:
    exposed = exposed_metric_names() | PROMETHEUS_OWN
    for a in _alerts():
        names = _metric_names(a["expr"])
        assert names, a["alert"]
        assert names <= exposed, f"{a['alert']} reads unknown {names - exposed}"


# PromQL functions, keywords and label names are also identifiers; metric names are the ones
# that start with our prefix, or are Prometheus's own
def _metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\btongjiao_[a-z0-9_]+\b", expr)) | (
        set(re.findall(r"\b[a-z_]+\b(?=\{)", expr)) & PROMETHEUS_OWN
    )


def test_the_example_prometheus_configuration_is_valid_and_loads_the_rules() -> None:
    done = subprocess.run(
        [_promtool(), "check", "config", "prometheus.yml"],
        cwd=RULES,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "tongjiao.rules.yml" in done.stdout + done.stderr
