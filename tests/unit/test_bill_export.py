from datetime import datetime, timedelta, timezone

from clearing.ports import BillRecord
from reconciliation.bills import fee_yuan, to_csv, totals

BJ = timezone(timedelta(hours=8))


def _rec(kind: str, amount: int, fee: int) -> BillRecord:
    return BillRecord(
        provider="wechatpay",
        kind=kind,
        occurred_at=datetime(2026, 11, 25, 10, 0, tzinfo=BJ),
        out_trade_no="TJ20261125ABCDEF123456P01",
        provider_txn_id="4200001234567890123456789012",
        amount_fen=amount,
        fee_millifen=fee,
    )


def test_fee_has_five_decimals_without_floats() -> None:
    assert fee_yuan(0) == "0.00000"
    assert fee_yuan(600) == "0.00600"
    assert fee_yuan(123_456_789) == "1234.56789"
    assert fee_yuan(-5) == "-0.00005"


def test_csv_opens_in_excel_with_chinese_headers() -> None:
    text = to_csv([_rec("PAYMENT", 350_080_00, 2_100_480)])
    assert text.startswith("\ufeff渠道,类型")
    row = text.splitlines()[1].split(",")
    assert row[4] == "\t4200001234567890123456789012"
    assert row[7:] == ["350080.00", "21.00480"]


def test_totals_by_kind() -> None:
    t = totals([_rec("PAYMENT", 100, 1), _rec("PAYMENT", 200, 2), _rec("REFUND", 50, -1)])
    assert t == {
        "payment_count": 2,
        "payment_fen": 300,
        "refund_count": 1,
        "refund_fen": 50,
        "fee_millifen": 2,
    }
