"""What every contract suite shares."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def keys_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where each implementation's keyset is generated, once per suite, under its own name."""
    return tmp_path_factory.mktemp("contract-keys")
