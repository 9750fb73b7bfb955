"""The display names that are data, read from where they live, merged with the static table
(``clearing.domain.display``) into one ``Names``.

- beneficiaries and fee items: their catalogue rows (``beneficiaries.name``, ``fee_items.name_zh``);
- people: ``principals.display_name`` by username (a login such as ``clerk1`` is not a person);
- ledger accounts: ``ledger_accounts.name``;
- self-service kiosks: ``kiosks.name`` by id (their actions are audited as ``kiosk:<id>``);
- offices and windows: the ``offices`` and ``windows`` tables (系统管理), except a row still named
  by its code; ``TONGJIAO_OFFICE_NAMES``, when set, wins over the table;
- the settlement bank is configuration (``TONGJIAO_SETTLEMENT_BANK``), and so is its name
  (``TONGJIAO_SETTLEMENT_BANK_NAME``).

One round trip; a few hundred rows in a real city. Call it per page or per report, inside the
report's snapshot when there is one.
"""

from __future__ import annotations

from collections.abc import Mapping

from clearing.config import Settings
from clearing.db import Conn
from clearing.domain.display import Names

_DATA = """
SELECT 'beneficiary' AS kind, code, name FROM beneficiaries
UNION ALL SELECT 'fee_item', code, name_zh FROM fee_items
UNION ALL SELECT 'user', username, display_name FROM principals
UNION ALL SELECT 'ledger_account', code, name FROM ledger_accounts
UNION ALL SELECT 'office', code, name FROM offices
UNION ALL SELECT 'window', office_code || '/' || code, name FROM windows
UNION ALL SELECT 'kiosk', id::text, name FROM kiosks
"""


def configured(settings: Settings | None) -> dict[str, dict[str, str]]:
    """The names the settings give (offices, the settlement bank)."""
    if settings is None:
        return {}
    offices = dict(getattr(settings, "office_names", {}) or {})
    bank_name = getattr(settings, "settlement_bank_name", "") or ""
    banks = {settings.settlement_bank: bank_name} if bank_name else {}
    return {"office": offices, "bank": banks}


async def load(conn: Conn, settings: Settings | None = None) -> Names:
    """Every display name: the static tables, the catalogue, people, accounts and settings."""
    data: dict[str, dict[str, str]] = {}
    for r in await conn.fetch(_DATA):
        if r["kind"] in ("office", "window") and r["name"] == r["code"].rsplit("/", 1)[-1]:
            continue  # a row still named by its code (made from data in use) names nothing
        data.setdefault(r["kind"], {})[r["code"]] = r["name"]
    # what the deployment's settings name wins over the table
    for kind, names in configured(settings).items():
        data.setdefault(kind, {}).update(names)
    frozen: Mapping[str, Mapping[str, str]] = data
    return Names(frozen)
