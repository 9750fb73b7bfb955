"""Beneficiaries and fee items: who is owed what. Data, not code."""

from __future__ import annotations

from dataclasses import dataclass

from clearing.db import Conn


@dataclass(frozen=True)
class FeeItem:
    code: str
    name_zh: str
    kind: str
    beneficiary_code: str
    beneficiary_name: str


async def fee_items(conn: Conn, *, active_only: bool = True) -> dict[str, FeeItem]:
    rows = await conn.fetch(
        "SELECT f.code, f.name_zh, f.kind, f.beneficiary_code, b.name AS beneficiary_name"
        "  FROM fee_items f JOIN beneficiaries b ON b.code = f.beneficiary_code"
        " WHERE ($1 = false OR (f.active AND b.active)) ORDER BY f.code",
        active_only,
    )
    return {r["code"]: FeeItem(**dict(r)) for r in rows}


# The demo city's beneficiaries (code, name, bank, account, holder, kind, CNAPS 联行号) and the
# items a real-estate case owes them.
DEMO_BENEFICIARIES = [
    (
        "TREASURY",
        "国家金库示范市中心支库",
        "中国人民银行示范市中心支行",
        "270000000001",
        "国家金库示范市中心支库",
        "treasury",
        "001100000009",
    ),
    (
        "FISCAL_NONTAX",
        "示范市财政局非税收入汇缴专户",
        "示范银行市分行营业部",
        "6217000010000000001",
        "示范市财政局",
        "nontax_fiscal",
        "313100000013",
    ),
    (
        "FUND_CUSTODY",
        "示范市住宅专项维修资金专户",
        "示范银行市分行营业部",
        "6217000010000000002",
        "示范市住房保障和房产管理局",
        "fund_custodial",
        "313100000013",
    ),
]

DEMO_FEE_ITEMS = [
    ("LAND_TRANSFER", "土地出让金", "nontax", "FISCAL_NONTAX"),
    ("MAINT_FUND", "住宅专项维修资金", "fund", "FUND_CUSTODY"),
    ("REG_FEE", "不动产登记费", "nontax", "FISCAL_NONTAX"),
    ("DEED_TAX", "契税", "tax", "TREASURY"),
    ("VAT", "增值税", "tax", "TREASURY"),
    ("IIT", "个人所得税", "tax", "TREASURY"),
    ("STAMP_DUTY", "印花税", "tax", "TREASURY"),
]


# the demo hall, its windows and the card terminal at each (the POS simulator's terminals)
# code, name, kind, partner bank, branch: the hall, and an outlet of 同城通办 in a bank branch
DEMO_OFFICES = [
    ("HALL1", "示范市不动产登记中心", "hall", None, None),
    ("CCB01", "建设银行城东支行同城通办网点", "branch", "中国建设银行", "示范市分行城东支行"),
]
DEMO_WINDOWS = [
    ("HALL1", "W01", "窗口一", "T0000001"),
    ("HALL1", "W02", "窗口二", "T0000002"),
    ("HALL1", "W03", "窗口三", None),
    ("CCB01", "W01", "网点窗口一", "T0000003"),
]


async def seed_demo(conn: Conn) -> None:
    """Insert the demo catalogue; running it again changes nothing."""
    async with conn.transaction():
        await conn.executemany(
            "INSERT INTO beneficiaries (code, name, bank_name, account_no, account_name,"
            " account_kind, bank_code) VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT (code) DO NOTHING",
            DEMO_BENEFICIARIES,
        )
        await conn.executemany(
            "INSERT INTO fee_items (code, name_zh, kind, beneficiary_code)"
            " VALUES ($1,$2,$3,$4) ON CONFLICT (code) DO NOTHING",
            DEMO_FEE_ITEMS,
        )
        await conn.executemany(
            "INSERT INTO offices (code, name, kind, partner_bank, branch_name)"
            " VALUES ($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING",
            DEMO_OFFICES,
        )
        await conn.executemany(
            "INSERT INTO windows (office_code, code, name, terminal_id) VALUES ($1,$2,$3,$4)"
            " ON CONFLICT DO NOTHING",
            DEMO_WINDOWS,
        )
