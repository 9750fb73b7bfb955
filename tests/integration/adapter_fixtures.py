"""The fixtures an adapter's test module takes, made by factories so that each module names
only what differs: its keys, generated once a session; a fresh simulator per test; our real
client of it (and, for an acquirer, our notification endpoint). Also the keyset check every
adapter with generated keys shares.

    keys_root = keyset_fixture(keyset, "fund-keys")
    sim, client = authority_fixtures(running_fund_sim, {"timeout_s": 2.0})
"""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


def regenerated_keyset(
    keyset: ModuleType, root: Path, secret: Callable[[Path], bool], secrets: int
) -> tuple[Any, Any]:
    """Generating ``keyset`` again under ``root`` rewrites no file, and the ``secrets`` files
    that ``secret`` picks out only their owner may read; returns both sides, loaded."""
    files = sorted(p for p in root.rglob("*") if p.is_file())
    before = {p: p.read_bytes() for p in files}
    keyset.generate_keyset(root)
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before
    hidden = [p for p in files if secret(p)]
    assert len(hidden) == secrets
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in hidden)
    return (
        keyset.load_merchant_keys(root / keyset.MERCHANT_DIR),
        keyset.load_platform_keys(root / keyset.PLATFORM_DIR),
    )


def keyset_fixture(keyset: ModuleType, name: str) -> Any:
    """A session fixture ``keys_root``: a folder holding ``keyset``'s keys, generated once."""

    @pytest.fixture(scope="session")
    def keys_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
        root = tmp_path_factory.mktemp(name)
        keyset.generate_keyset(root)
        return root

    return keys_root


def acquirer_fixtures(
    start: Callable[..., AbstractAsyncContextManager[Any]],
    client_options: Mapping[str, Any] | None = None,
    **sim_options: Any,
) -> Any:
    """The three fixtures an acquirer's adapter tests share, for ``sim, receiver, client = ...``:
    a fresh simulator per test (``start(keys_root, **sim_options)``), our fault-free notification
    endpoint for it, and our real client sending notifications there."""

    @pytest.fixture
    async def receiver(sim: Any) -> AsyncIterator[Any]:
        async with sim.receiver() as running:
            yield running

    @pytest.fixture
    def client(sim: Any, receiver: Any) -> Any:
        return sim.client(receiver.url, **(client_options or {}))

    return sim_fixture(start, **sim_options), receiver, client


def authority_fixtures(
    start: Callable[..., AbstractAsyncContextManager[Any]],
    client_options: Mapping[str, Any] | None = None,
    **sim_options: Any,
) -> Any:
    """The two fixtures an authority's adapter tests share, for ``sim, client = ...``: a fresh
    simulator per test (``start(keys_root, **sim_options)``) and our real client of it."""

    @pytest.fixture
    def client(sim: Any) -> Any:
        return sim.client(**(client_options or {}))

    return sim_fixture(start, **sim_options), client


def sim_fixture(start: Callable[..., AbstractAsyncContextManager[Any]], **options: Any) -> Any:
    """A fixture ``sim``: a fresh simulator per test, ``start(keys_root, **options)``."""

    @pytest.fixture
    async def sim(keys_root: Path) -> AsyncIterator[Any]:
        async with start(keys_root, **options) as running:
            yield running

    return sim
