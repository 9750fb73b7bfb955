"""Keys for the maintenance-fund office's interface, for our service and for the simulator.

The office registers us as a collecting agency (代收机构) and issues two shared secrets; both
parties hold both, because the scheme is HMAC-SM3, but each signs one direction only, so a leak
of our request key cannot forge the office's answers (signing.py)::

    root/merchant/   what tongjiao holds
        fund.json          app id, agency code, the office's name and key id, the custodian bank
        app_secret.txt     signs our requests (0600)
        office_secret.txt  verifies the office's answers (0600)
    root/platform/   what the office (our simulator) holds
        office.json        the same registration, as the office keeps it
        app_secret.txt     the same, to verify our requests (0600)
        office_secret.txt  the same, to sign its answers (0600)
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters import keyset
from adapters.simkit import keyfiles

MERCHANT_DIR, PLATFORM_DIR = keyset.MERCHANT_DIR, keyset.PLATFORM_DIR
_MERCHANT_JSON = "fund.json"
_PLATFORM_JSON = "office.json"
_APP_KEY_FILE = "app_secret.txt"
_OFFICE_KEY_FILE = "office_secret.txt"
_AGENCY_CODE = re.compile(r"[0-9A-Z]{12}")
_ACCOUNT_NO = re.compile(r"[0-9]{12,22}")
_FIELDS = (
    "app_id",
    "agency_code",
    "office_name",
    "office_key_id",
    "custodian_bank",
    "custodial_account_no",
    "custodial_account_name",
)


@dataclass(frozen=True)
class MerchantKeys:
    """What our service needs to call the office and to trust its answers."""

    app_id: str
    agency_code: str
    office_name: str
    office_key_id: str
    custodian_bank: str
    custodial_account_no: str
    custodial_account_name: str
    app_secret: bytes = field(repr=False, compare=False)
    office_secret: bytes = field(repr=False, compare=False)


@dataclass(frozen=True)
class PlatformKeys(MerchantKeys):
    """What the office holds about us, and the account the fund is kept in.

    The same fields: the scheme is HMAC, so both parties hold both keys, each signing one way.
    """


def generate_keyset(root: Path) -> None:
    """Create whatever is missing under ``root/merchant`` and ``root/platform``; keep the rest."""
    keyset.shared_keyset(
        root, (_MERCHANT_JSON, _PLATFORM_JSON), _new_ids, (_APP_KEY_FILE, _OFFICE_KEY_FILE)
    )


def load_merchant_keys(path: Path) -> MerchantKeys:
    """Load ``root/merchant`` (pass that folder)."""
    return MerchantKeys(
        **_checked_ids(path / _MERCHANT_JSON),
        app_secret=keyfiles.load_hex(path / _APP_KEY_FILE),
        office_secret=keyfiles.load_hex(path / _OFFICE_KEY_FILE),
    )


def load_platform_keys(path: Path) -> PlatformKeys:
    """Load ``root/platform`` (pass that folder)."""
    return PlatformKeys(
        **_checked_ids(path / _PLATFORM_JSON),
        app_secret=keyfiles.load_hex(path / _APP_KEY_FILE),
        office_secret=keyfiles.load_hex(path / _OFFICE_KEY_FILE),
    )


def _new_ids() -> dict[str, Any]:
    # DS (代收) + the 6-digit division + a 4-digit sequence: the shape the office assigns
    agency_code = "DS330106" + keyfiles.digits(4)
    return {
        "app_id": "FUND" + secrets.token_hex(8).upper(),
        "agency_code": agency_code,
        "office_name": "市住房专项维修资金管理中心",
        "office_key_id": "K" + keyfiles.digits(6),
        "custodian_bank": "中国工商银行市分行营业部",
        "custodial_account_no": "1202" + keyfiles.digits(15),
        "custodial_account_name": "市住房专项维修资金专户",
    }


def _checked_ids(path: Path) -> dict[str, Any]:
    data = keyfiles.read_json(path)
    ids = keyfiles.text_fields(data, _FIELDS, path)
    if not _AGENCY_CODE.fullmatch(ids["agency_code"]):
        raise ValueError(f"{path}: agency_code must be 12 digits or capital letters")
    if not _ACCOUNT_NO.fullmatch(ids["custodial_account_no"]):
        raise ValueError(f"{path}: custodial_account_no must be 12 to 22 digits")
    return ids
