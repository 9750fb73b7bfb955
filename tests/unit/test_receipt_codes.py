"""Short receipt codes: what a receipt's QR code holds, and when a print is out of date."""

from __future__ import annotations

from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearing.service.receipt_prints import CODE_RE, Print, code_of, facts_now, stale
from clearing.service.receipts import ReceiptSigner

VIEW = {
    "order_no": "TJ20261207A1B2C3D4E5F6",
    "case_no": "2026-BDC-000777",
    "office": "HALL1",
    "total_fen": 1580_00,
    "lines": [
        {"line_no": 1, "amount_fen": 1000_00, "reference": "ET2026001"},
        {"line_no": 2, "amount_fen": 80_00, "reference": None},
        {"line_no": 3, "amount_fen": 500_00, "reference": "WX-9"},
    ],
    "payments": [{"outcome": "CLEARED", "provider_txn_id": "4200001234567890"}],
}
# a long production base URL; the QR code must stay within 80 characters
BASE = "https://tongjiao.example.gov.cn"


def _print(facts: dict[str, object], signer: ReceiptSigner) -> Print:
    return Print(
        receipt_no=str(facts["r"]),
        order_no="TJ20261207A1B2C3D4E5F6",
        print_no=999,
        facts=facts,
        paid_fen=int(str(facts["p"])),
        reason="凭证遗失",
        printed_by="clerk1",
        printed_at=datetime.now(UTC),
        code=code_of(str(facts["r"]), facts, signer.mac),
    )


def test_the_code_is_short_well_formed_and_bound_to_every_fact() -> None:
    signer = ReceiptSigner(Ed25519PrivateKey.generate())
    facts = facts_now(VIEW, {2: 80_00}, "TJ20261207A1B2C3D4E5F6-999")
    code = code_of(facts["r"], facts, signer.mac)
    assert CODE_RE.fullmatch(code)
    assert len(f"{BASE}/v/{code}") <= 80
    assert facts["p"] == 1500_00
    # any fact changed, the MAC differs: a stored print cannot be edited unnoticed
    for change in ({"p": 1580_00}, {"l": [[1, 1000_00, "ET2026001", 0]]}, {"x": []}):
        assert code_of(facts["r"], {**facts, **change}, signer.mac) != code
    # and another key's codes do not pass for ours
    other = ReceiptSigner(Ed25519PrivateKey.generate())
    assert code_of(facts["r"], facts, other.mac) != code


def test_a_print_is_stale_once_the_ledger_refunds_a_line_it_states_as_paid() -> None:
    signer = ReceiptSigner(Ed25519PrivateKey.generate())
    original = _print(facts_now(VIEW, {}, "TJ20261207A1B2C3D4E5F6-1"), signer)
    assert not stale(original, {})
    assert stale(original, {2: 80_00})
    reprint = _print(facts_now(VIEW, {2: 80_00}, "TJ20261207A1B2C3D4E5F6-2"), signer)
    assert not stale(reprint, {2: 80_00})
    assert reprint.refunded_fen() == {1: 0, 2: 80_00, 3: 0}
