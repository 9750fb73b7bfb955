"""File names of what we send to a bank, and of their checksum and signature sidecars.

One stem per settlement file: ``TJ_{bank}_{YYYYMMDD}_{seq:03d}`` (business date, the day's
sequence to that bank). A resend of the same file reuses the same name and the same bytes::

    TJ_ICBC_20261125_001.pain001.xml
    TJ_ICBC_20261125_001_p01.payout.txt          one per chunk of at most 1000 lines
    TJ_ICBC_20261125_001_FUND01.detail.csv       one per beneficiary
    TJ_ICBC_20261125_001.pain001.xml.sha256      sha256sum format
    TJ_ICBC_20261125_001.pain001.xml.sig         detached signature (JSON)

Every part is checked to be safe ASCII, so a name can never climb out of its folder.
"""

from __future__ import annotations

import re
from typing import Final

from clearing.settlement.model import SettlementBatch

_BENEFICIARY: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
_FILE_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}")


def stem(batch: SettlementBatch) -> str:
    return f"TJ_{batch.bank_code}_{batch.business_date:%Y%m%d}_{batch.sequence:03d}"


def pain001_name(batch: SettlementBatch) -> str:
    return f"{stem(batch)}.pain001.xml"


def payout_name(batch: SettlementBatch, chunk: int) -> str:
    if not 1 <= chunk <= 99:
        raise ValueError(f"chunk must be 1..99, not {chunk}")
    return f"{stem(batch)}_p{chunk:02d}.payout.txt"


def detail_name(batch: SettlementBatch, beneficiary_code: str) -> str:
    if not _BENEFICIARY.fullmatch(beneficiary_code):
        raise ValueError(f"beneficiary code {beneficiary_code!r} cannot be part of a file name")
    return f"{stem(batch)}_{beneficiary_code}.detail.csv"


def _checked(name: str) -> str:
    if not _FILE_NAME.fullmatch(name) or ".." in name:
        raise ValueError(f"{name!r} is not a plain file name")
    return name


def checksum_name(name: str) -> str:
    return f"{_checked(name)}.sha256"


def signature_name(name: str) -> str:
    return f"{_checked(name)}.sig"
