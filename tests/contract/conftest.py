"""What every contract suite shares."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="module")
def keys_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where each implementation's keyset is generated, once per suite, under its own name."""
    return tmp_path_factory.mktemp("contract-keys")


def each_of(
    name: str,
    implementations: Sequence[str],
    running: Callable[[str, Path], AbstractAsyncContextManager[Any]],
) -> Any:
    """A fixture ``name`` that is each of ``implementations`` in turn, started by
    ``running(implementation, keys_root)``: every test of a suite runs against each of them."""

    @pytest.fixture(params=implementations, name=name)
    async def implementation(request: pytest.FixtureRequest, keys_root: Path) -> AsyncIterator[Any]:
        async with running(request.param, keys_root) as running_one:
            yield running_one

    return implementation
