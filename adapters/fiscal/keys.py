"""Key material and registration data for the non-tax interface, for us and for the simulator.

The interface authenticates both directions with one shared token (the CNNONTAX scheme), issued
by the fiscal department to the collecting bank. ``generate_keyset(root)`` lays out::

    root/merchant/   what tongjiao (as the collecting bank's front end) holds
        fiscal.json     our node code (SRC), the fiscal node (DES), the region, our outlet and
                        operator, the region's 非税收入汇缴专户, payment code patterns per division
        token.txt       the shared MAC token (0600)
    root/platform/   what the non-tax system (our simulator) holds
        nontax.json     the same registration, as the fiscal department recorded it
        token.txt       the same token (0600)

Which side sent a frame is bound inside the MAC'd XML (``SRC``/``DES``), not by the key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters import keyset
from adapters.fiscal.codes import PaymentCodeRules
from adapters.simkit import keyfiles

MERCHANT_DIR, PLATFORM_DIR = keyset.MERCHANT_DIR, keyset.PLATFORM_DIR
DEFAULT_DIVISION = "320682"  # 江苏省如皋市, whose codes protocols-cn 4.1 shows
_MERCHANT_JSON = "fiscal.json"
_PLATFORM_JSON = "nontax.json"
_TOKEN = "token.txt"  # noqa: S105  (a file name, not a secret)
ITEMS = ("LAND_TRANSFER", "REG_FEE")  # the fee items this authority decides
_NODE = re.compile(r"[0-9]{12}")
_ACCOUNT = re.compile(r"[0-9]{10,32}")


@dataclass(frozen=True)
class Registration:
    """What both sides agree on; the fiscal department assigns it when the bank joins."""

    division: str
    division_name: str
    bank_node: str  # SRC of our requests: the collecting bank's 12-digit CNAPS code
    fiscal_node: str  # SRC of the answers
    bank_outlet: str
    operator: str
    collect_acct: str  # 非税收入汇缴专户 of the region
    collect_acct_name: str
    collect_bank: str
    code_patterns: Mapping[str, str]
    # the region's 执收项目编码 → our fee item code
    item_codes: Mapping[str, str]

    @property
    def code_rules(self) -> PaymentCodeRules:
        return PaymentCodeRules.for_divisions(self.code_patterns)


@dataclass(frozen=True)
class MerchantKeys:
    registration: Registration
    token: bytes = field(repr=False, compare=False)


@dataclass(frozen=True)
class PlatformKeys:
    registration: Registration
    token: bytes = field(repr=False, compare=False)


def generate_keyset(root: Path, division: str = DEFAULT_DIVISION) -> None:
    """Create whatever is missing under ``root/merchant`` and ``root/platform``; keep the rest."""
    if not re.fullmatch(r"[1-9][0-9]{5}", division):
        raise ValueError("division must be a 6-digit administrative code")
    keyset.shared_keyset(
        root,
        (_MERCHANT_JSON, _PLATFORM_JSON),
        lambda: _new_registration(division),
        (_TOKEN,),
        what="token",
    )


def load_merchant_keys(path: Path) -> MerchantKeys:
    """Load ``root/merchant`` (pass that folder); ``ValueError`` names what is wrong."""
    return MerchantKeys(
        _registration(path / _MERCHANT_JSON), keyfiles.load_hex(path / _TOKEN, "token")
    )


def load_platform_keys(path: Path) -> PlatformKeys:
    """Load ``root/platform`` (pass that folder)."""
    return PlatformKeys(
        _registration(path / _PLATFORM_JSON), keyfiles.load_hex(path / _TOKEN, "token")
    )


def _new_registration(division: str) -> dict[str, Any]:
    return {
        "division": division,
        "division_name": "如皋市" if division == DEFAULT_DIVISION else division,
        # 313: city commercial banks in the CNAPS code space
        "bank_node": "313" + division[:4] + keyfiles.digits(5),
        "fiscal_node": division + "000000",
        "bank_outlet": "313" + division[:4] + keyfiles.digits(5),
        "operator": "TJ0001",
        "collect_acct": "3206" + keyfiles.digits(16),
        "collect_acct_name": "如皋市财政局非税收入汇缴专户",
        "collect_bank": "江苏如皋农村商业银行营业部",
        # empty: the default pattern (20 digits: division, year, sequence)
        "code_patterns": {division: ""},
        # 执收项目编码 as the region assigns them (pinyin initials, as local systems often do)
        "item_codes": {"TDCRJ": "LAND_TRANSFER", "BDCDJF": "REG_FEE"},
    }


def _registration(path: Path) -> Registration:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a JSON object")
    text = {name: keyfiles.text_field(data, name, path) for name in _TEXT_FIELDS}
    if not re.fullmatch(r"[1-9][0-9]{5}", text["division"]):
        raise ValueError(f"{path}: division must be a 6-digit administrative code")
    for name in ("bank_node", "fiscal_node"):
        if not _NODE.fullmatch(text[name]):
            raise ValueError(f"{path}: {name} must be 12 digits")
    if not _ACCOUNT.fullmatch(text["collect_acct"]):
        raise ValueError(f"{path}: collect_acct must be 10 to 32 digits")
    patterns = data.get("code_patterns")
    if not isinstance(patterns, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in patterns.items()
    ):
        raise ValueError(f"{path}: code_patterns must map divisions to regular expressions")
    try:
        PaymentCodeRules.for_divisions(patterns)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    items = data.get("item_codes")
    if (
        not isinstance(items, dict)
        or not items
        or not all(isinstance(k, str) and k and v in ITEMS for k, v in items.items())
    ):
        raise ValueError(f"{path}: item_codes must map the region's codes to {', '.join(ITEMS)}")
    return Registration(**text, code_patterns=dict(patterns), item_codes=dict(items))


_TEXT_FIELDS = (
    "division",
    "division_name",
    "bank_node",
    "fiscal_node",
    "bank_outlet",
    "operator",
    "collect_acct",
    "collect_acct_name",
    "collect_bank",
)
