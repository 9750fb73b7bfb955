"""The operators' documents the alerts and the on-call rely on are there and cover what they must."""

from __future__ import annotations

import re
from pathlib import Path

from clearing.config import Settings
from clearing.keywatch import own_key_files

ROOT = Path(__file__).resolve().parents[2]
OPS = ROOT / "docs" / "ops"


def test_failover_restore_and_key_rotation_are_written_down() -> None:
    for name in ("failover.md", "restore.md", "key-rotation.md", "README.md"):
        assert (OPS / name).is_file(), name


def test_key_rotation_covers_every_key_the_service_dates(tmp_path: Path) -> None:
    # every key that tongjiao_key_created_timestamp_seconds can name has its own section
    keys = tmp_path / "keys"
    (keys / "settlement").mkdir(parents=True)
    for f in ("receipt-ed25519.pem", "audit-checkpoint-ed25519.pem", "pii.key", "pii-search.key"):
        (keys / f).write_text("x")
    (keys / "settlement" / "tj-settle-1.key").write_text("x")
    labels = set(own_key_files(Settings(var_dir=tmp_path)))
    assert labels == {"receipt", "audit_checkpoint", "settlement", "pii", "pii_search"}
    text = (OPS / "key-rotation.md").read_text(encoding="utf-8")
    for label in labels:
        assert f"| `{label}` |" in text, label


def test_relative_links_in_the_operators_docs_point_at_files_that_exist() -> None:
    for doc in [*OPS.glob("*.md"), *(OPS / "runbooks").glob("*.md")]:
        for target in re.findall(r"\]\(([^)#:]+\.md)\)", doc.read_text(encoding="utf-8")):
            assert (doc.parent / target).is_file(), f"{doc.name} links {target}"
