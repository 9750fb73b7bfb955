from datetime import UTC, datetime, timedelta, timezone

from clearing.ports import BillRecord, LegConfirmation
from reconciliation.bills import fee_yuan, to_csv, totals
from reconciliation.confirmations import to_csv as confirmations_csv

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
    # names, not codes; Beijing time, not an ISO instant with its offset
    assert row[:3] == ["微信支付", "支付", "2026-11-25 10:00:00"]
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


def test_times_are_beijing_whatever_zone_the_record_carries() -> None:
    utc = _rec("REFUND", 100, 0)
    utc = BillRecord(**{**vars(utc), "occurred_at": datetime(2026, 11, 25, 16, 30, tzinfo=UTC)})
    row = to_csv([utc]).splitlines()[1].split(",")
    assert row[:3] == ["微信支付", "退款", "2026-11-26 00:30:00"]


def test_confirmations_name_the_authority_and_the_proof() -> None:
    c = LegConfirmation(
        reference="3301002026000123",
        proof_no="WSZM2026000001",
        confirmed_at=datetime(2026, 11, 25, 2, 0, tzinfo=UTC),
        proof={"cert_no": "WSZM2026000001", "tax_date": "2026-11-25"},
        amount_fen=350_000_00,
    )
    row = confirmations_csv("tax", [c]).splitlines()[1].split(",")
    assert row[0] == "税务部门" and row[3] == "2026-11-25 10:00:00"
    assert row[5] == "完税证明号：WSZM2026000001；完税日期：2026-11-25"
