"""The two folders every party's ``generate_keyset(root)`` fills in, and how a half-made keyset
is finished rather than replaced.

``root/merchant`` holds what tongjiao holds, ``root/platform`` what the party (or its simulator)
holds. A registration file or a shared secret that exists on either side is reused for the other,
so that running ``generate_keyset`` again never leaves the two sides with different ids or keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from adapters.simkit.keyfiles import (
    json_bytes,
    kept_or_new,
    read_json,
    shared_hex,
    write_if_missing,
)

MERCHANT_DIR = "merchant"
PLATFORM_DIR = "platform"


def folders(root: Path) -> tuple[Path, Path]:
    """``root/merchant`` and ``root/platform``, created when missing."""
    merchant, platform = root / MERCHANT_DIR, root / PLATFORM_DIR
    for folder in (merchant, platform):
        folder.mkdir(parents=True, exist_ok=True)
    return merchant, platform


def known_registration(*paths: Path) -> dict[str, Any] | None:
    """The first of ``paths`` that exists, read; None for a keyset made from nothing."""
    return kept_or_new(paths, read_json, lambda: None)


def share_secrets(
    merchant: Path, platform: Path, names: Iterable[str], *, what: str = "key"
) -> None:
    """Hex secrets both sides hold: the copy either side has, else a fresh one; 0600 on both."""
    for name in names:
        secret = shared_hex(merchant / name, platform / name, what=what)
        for folder in (merchant, platform):
            write_if_missing(folder / name, secret + b"\n", secret=True)


def write_registration(data: Mapping[str, Any], *paths: Path) -> None:
    """The same registration document at each of ``paths`` that does not exist yet."""
    document = json_bytes(data)
    for path in paths:
        write_if_missing(path, document)


def shared_keyset(
    root: Path,
    registration: tuple[str, str],
    new_ids: Callable[[], Mapping[str, Any]],
    secrets: Iterable[str],
    *,
    what: str = "key",
) -> tuple[Path, Path]:
    """The keyset of a party both sides share secrets with (HMAC, MAC tokens): ``registration``
    names the merchant's and the platform's copy of the ids, ``new_ids`` makes them when neither
    exists. Returns ``root/merchant`` and ``root/platform``."""
    merchant, platform = folders(root)
    paths = (merchant / registration[0], platform / registration[1])
    share_secrets(merchant, platform, secrets, what=what)
    write_registration(known_registration(*paths) or new_ids(), *paths)
    return merchant, platform
