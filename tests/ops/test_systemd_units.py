"""The systemd units verify, and the example environment file names only real settings with
values the service accepts (pydantic-settings ignores unknown variables: a typo would be lost)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from clearing.config import Settings

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "ops" / "systemd"
ENV_EXAMPLE = UNITS / "tongjiao.env.example"


def _env_lines() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            out[name] = value
    return out


def test_the_env_example_names_only_settings_that_exist() -> None:
    names = _env_lines()
    assert len(names) >= 20
    known = {"TONGJIAO_" + f.upper() for f in Settings.model_fields}
    assert set(names) - known == set()


def test_the_env_example_is_accepted_as_it_stands(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("TONGJIAO_"):
            monkeypatch.delenv(name)
    s = Settings(_env_file=ENV_EXAMPLE)  # type: ignore[call-arg]
    assert s.ops_port == 9180
    assert s.pos_terminals == ["T0000001", "T0000002"]
    assert s.settlement_account_name == "示范市不动产登记中心"


@pytest.mark.parametrize(
    "unit", ["tongjiao.service", "tongjiao-reconcile.service", "tongjiao-reconcile.timer"]
)
def test_the_units_pass_systemd_analyze_verify(unit: str, tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    assert tool is not None, "systemd-analyze is missing: ./ops/test installs Debian's systemd"
    # the units name the installed layout (/opt/tongjiao); verify checks that ExecStart exists,
    # so point it at this checkout's own entry point
    here = Path(sys.executable).parent / "tongjiao"
    for f in UNITS.glob("tongjiao*.service"):
        text = f.read_text(encoding="utf-8").replace("/opt/tongjiao/.venv/bin/tongjiao", str(here))
        (tmp_path / f.name).write_text(text, encoding="utf-8")
    for f in UNITS.glob("*.timer"):
        shutil.copy(f, tmp_path / f.name)
    done = subprocess.run(
        [tool, "verify", str(tmp_path / unit)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # verify reports some problems without failing: none may concern our units
    assert "tongjiao" not in done.stderr, done.stderr
