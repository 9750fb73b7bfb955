"""The one table of display names covers every code the schema allows: a code added to a CHECK
constraint without a name would reach staff as it is. And the names that are data (offices,
banks, fee items, beneficiaries, people, ledger accounts) come from where they live."""

from __future__ import annotations

import re

import asyncpg

from clearing.config import Settings
from clearing.domain.display import TABLES, Names, window_name
from clearing.service import names as names_service
from reconciliation import case_reads

# (table, column) of a CHECK (column IN (...)) → the display table that names its codes;
# columns staff never read are listed with None, so that a new one is a decision, not a miss
KINDS: dict[tuple[str, str], str | None] = {
    ("beneficiaries", "account_kind"): "account_kind",
    ("fee_items", "kind"): "fee_kind",
    ("principals", "kind"): "principal_kind",
    ("principals", "role"): "role",
    ("orders", "state"): "order_state",
    ("payment_attempts", "state"): "attempt_state",
    ("payment_attempts", "method"): "pay_method",
    ("tasks", "state"): None,  # the worker queue: operators read it in logs and metrics
    ("ledger_accounts", "kind"): "ledger_kind",
    ("journal_entries", "kind"): "entry_kind",
    ("payments", "outcome"): "payment_outcome",
    ("payments", "source"): None,  # how we learnt of a payment (notify/query): diagnostics
    ("refunds", "state"): "suspense_refund_state",
    ("refund_requests", "state"): "refund_state",
    ("order_lines", "confirm_state"): "leg_state",
    ("beneficiaries", "settle_mode"): "settle_mode",
    ("settlement_batches", "state"): "batch_state",
    ("settlement_instructions", "state"): "instruction_state",
    ("settlement_files", "kind"): "file_kind",
    ("beneficiary_account_changes", "state"): "account_change_state",
    ("recon_runs", "state"): "run_state",
    ("recon_bill_lines", "kind"): None,  # a bill line's own kind, compared, never listed
    ("recon_matches", "state"): "match_state",
    ("discrepancies", "state"): "discrepancy_state",
    ("discrepancies", "type"): "discrepancy_type",
    ("recon_adjustments", "state"): "adjustment_state",
    ("service_ratings", "grade"): "rating_grade",
    ("shift_items", "kind"): "shift_item_kind",
    ("offices", "kind"): "office_kind",
    ("webhook_deliveries", "state"): "webhook_delivery_state",
    ("payment_notices", "sms_state"): "sms_state",
}
_CHECK = re.compile(r"\(?\(?(\w+)\s*=\s*ANY\s*\(?\(?ARRAY\[(.*?)\]")


async def _checks(conn: asyncpg.Connection) -> dict[tuple[str, str], set[str]]:
    rows = await conn.fetch(
        "SELECT c.conrelid::regclass::text AS tbl, pg_get_constraintdef(c.oid) AS def"
        "  FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace"
        " WHERE c.contype = 'c' AND n.nspname = 'public'"
    )
    found: dict[tuple[str, str], set[str]] = {}
    for r in rows:
        for column, values in _CHECK.findall(r["def"]):
            if "NOT" in r["def"].split(column)[0][-6:]:
                continue  # "role NOT IN (…)": a rule between columns, not a vocabulary
            codes = set(re.findall(r"'([^']*)'", values))
            found.setdefault((r["tbl"], column), set()).update(codes)
    return found


async def test_every_code_the_schema_allows_has_a_name(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        checks = await _checks(conn)
    assert checks, "no CHECK vocabularies found: the parser no longer reads the catalogue"
    unknown = sorted(set(checks) - set(KINDS))
    assert unknown == [], f"name these codes in clearing/domain/display.py: {unknown}"
    for key, codes in checks.items():
        kind = KINDS[key]
        if kind is not None:
            missing = codes - set(TABLES[kind])
            assert not missing, f"{key}: no display name for {sorted(missing)} in {kind}"
    assert set(TABLES["discrepancy_type"]) == set(case_reads.TYPES)


async def test_names_that_are_data_come_from_where_they_live(pool: asyncpg.Pool) -> None:
    settings = Settings(office_names={"HALL1": "第一办事大厅"}, settlement_bank_name="示范银行")
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO principals (kind, username, display_name, role, office, password_hash)"
            " VALUES ('staff', 'clerk-names', '窗口一 张敏', 'clerk', 'HALL1', 'x')"
            " ON CONFLICT DO NOTHING"
        )
        names = await names_service.load(conn, settings)
    assert isinstance(names, Names)
    assert names.of("fee_item", "DEED_TAX") == "契税"
    assert names.of("beneficiary", "FUND_CUSTODY") == "示范市住宅专项维修资金专户"
    assert names.of("ledger_account", "bank:collection") == "银行存款 归集账户"
    assert names.actor("user:clerk-names") == "窗口一 张敏" == names.of("user", "clerk-names")
    assert names.actor("system:nightly") == "夜间自动对账"
    assert names.source("bank:SFBK") == "示范银行" and names.source("pos") == "银行卡"
    # the window by the name 系统管理 gave it (the demo's 窗口一), the hall by the setting
    assert names.window("HALL1", "W01") == "第一办事大厅 窗口一"
    assert names.window("HALL1", "W77") == "第一办事大厅 77号窗口"  # no row: as signed
    assert window_name("W12") == "12号窗口" and window_name("东区综合窗") == "东区综合窗"
    # an unknown code is shown as it is, never hidden
    assert names.of("office", "HALL9") == "HALL9"
