"""Key material for the bank's smart-POS terminal cloud, for our service and for the simulator.

``generate_keyset(root)`` lays out two folders; both parties hold both keys, because the scheme is
HMAC, but each key signs one direction only::

    root/merchant/   what tongjiao holds
        pos.json        merchant id (15), name, AppId, the cloud's key id, our terminals
        app_key.txt     AppKey: signs our requests (0600)
        cloud_key.txt   通讯密钥: verifies the cloud's answers and notifications (0600)
    root/platform/   what the terminal cloud (our simulator) holds
        cloud.json      the same ids, as the bank registered them
        app_key.txt     the same AppKey, to verify our requests (0600)
        cloud_key.txt   the same 通讯密钥, to sign (0600)
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters import keyset
from adapters.simkit import keyfiles

MERCHANT_DIR, PLATFORM_DIR = keyset.MERCHANT_DIR, keyset.PLATFORM_DIR
DEFAULT_TERMINALS = ("T0000001", "T0000002")
_MERCHANT_JSON = "pos.json"
_PLATFORM_JSON = "cloud.json"
_APP_KEY = "app_key.txt"
_CLOUD_KEY = "cloud_key.txt"
_TERMINAL_ID = re.compile(r"[0-9A-Za-z]{8}")
_MERCHANT_ID = re.compile(r"[0-9]{15}")


@dataclass(frozen=True)
class MerchantKeys:
    """What our service needs to call the terminal cloud and to trust its answers."""

    merchant_id: str
    merchant_name: str
    app_id: str
    cloud_key_id: str
    terminals: tuple[str, ...]
    app_key: bytes = field(repr=False, compare=False)
    cloud_key: bytes = field(repr=False, compare=False)


@dataclass(frozen=True)
class PlatformKeys(MerchantKeys):
    """What the terminal cloud holds about this merchant.

    The same fields: the scheme is HMAC, so both parties hold both keys, each signing one way.
    """


def generate_keyset(root: Path, terminals: Sequence[str] = DEFAULT_TERMINALS) -> None:
    """Create whatever is missing under ``root/merchant`` and ``root/platform``; keep the rest."""
    for terminal in terminals:
        if not _TERMINAL_ID.fullmatch(terminal):
            raise ValueError(f"terminal id {terminal!r} must be 8 letters or digits")
    keyset.shared_keyset(
        root, (_MERCHANT_JSON, _PLATFORM_JSON), lambda: _new_ids(terminals), (_APP_KEY, _CLOUD_KEY)
    )


def load_merchant_keys(path: Path) -> MerchantKeys:
    """Load ``root/merchant`` (pass that folder)."""
    ids = _checked_ids(path / _MERCHANT_JSON)
    return MerchantKeys(
        **ids,
        app_key=keyfiles.load_hex(path / _APP_KEY),
        cloud_key=keyfiles.load_hex(path / _CLOUD_KEY),
    )


def load_platform_keys(path: Path) -> PlatformKeys:
    """Load ``root/platform`` (pass that folder)."""
    ids = _checked_ids(path / _PLATFORM_JSON)
    return PlatformKeys(
        **ids,
        app_key=keyfiles.load_hex(path / _APP_KEY),
        cloud_key=keyfiles.load_hex(path / _CLOUD_KEY),
    )


def _new_ids(terminals: Sequence[str]) -> dict[str, Any]:
    # 898 + area + MCC 9399 (government services) + sequence: the shape of a UnionPay merchant id
    merchant_id = "8983100" + "9399" + keyfiles.digits(4)
    return {
        "merchant_id": merchant_id,
        "merchant_name": "不动产登记中心税费通缴",
        "app_id": secrets.token_hex(16),
        "cloud_key_id": "CK" + keyfiles.digits(6),
        "terminals": list(terminals),
    }


def _checked_ids(path: Path) -> dict[str, Any]:
    data = keyfiles.read_json(path)
    merchant_id = keyfiles.text_field(data, "merchant_id")
    if not _MERCHANT_ID.fullmatch(merchant_id):
        raise ValueError(f"{path}: merchant_id must be 15 digits")
    terminals = data.get("terminals")
    if (
        not isinstance(terminals, list)
        or not terminals
        or not all(isinstance(t, str) and _TERMINAL_ID.fullmatch(t) for t in terminals)
    ):
        raise ValueError(f"{path}: terminals must be a list of 8-character terminal ids")
    return {
        "merchant_id": merchant_id,
        "merchant_name": keyfiles.text_field(data, "merchant_name"),
        "app_id": keyfiles.text_field(data, "app_id"),
        "cloud_key_id": keyfiles.text_field(data, "cloud_key_id"),
        "terminals": tuple(terminals),
    }
