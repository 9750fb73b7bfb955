"""Booking a readable pain.001: the control totals first, then every transaction on its own.

Reason codes (ISO 20022 ExternalStatusReason1Code):

    group NbOfTxs differs from the transactions       AM18  whole file
    group CtrlSum differs from the sum of amounts     AM10  whole file
    PmtInf NbOfTxs / CtrlSum differ                   AM20 / AM17  that PmtInf
    debtor account not one of our collection accounts AC02  that PmtInf
    currency other than CNY                           AM03
    amount not in whole fen / zero                    CH20 / AM01
    EndToEndId already paid (ever, returned or not)   AM05  never pay twice
    creditor account unknown                          AC01
    creditor account is the debtor account            AC03
    credit refused by the reject_accounts fault       its reject_reason (default AC06)
    creditor name is not the account holder's         BE01  (户名 compared after NFKC)
    creditor 联行号 given and not the account's        RC10
    not enough money on the collection account        AM04
"""

from __future__ import annotations

from decimal import Decimal

from adapters.bank.sim_ledger import COLLECTION, TRANSFER, same_name
from adapters.bank.sim_pain001 import CreditTransfer, Pain001, PaymentInfo
from adapters.bank.sim_pain002 import (
    BOOKED,
    REJECTED,
    PmtInfStatus,
    StatusReport,
    TxStatus,
)
from adapters.bank.sim_state import SimState
from adapters.bank.sim_xml import CURRENCY

_HUNDRED = Decimal(100)


def book_pain001(state: SimState, document: Pain001) -> StatusReport:
    report = StatusReport(
        orgnl_msg_id=document.msg_id,
        orgnl_msg_name=document.message_name,
        orgnl_created_at=document.created_at,
        nb_of_txs=document.nb_of_txs,
        ctrl_sum=document.ctrl_sum,
    )
    transfers = document.transfers
    if int(document.nb_of_txs) != len(transfers):
        report.code = "AM18"
        report.text = f"GrpHdr/NbOfTxs is {document.nb_of_txs}, the file has {len(transfers)}"
        return report
    total = sum((t.amount for t in transfers), Decimal(0))
    if document.ctrl_sum and Decimal(document.ctrl_sum) != total:
        report.code = "AM10"
        report.text = f"GrpHdr/CtrlSum is {document.ctrl_sum}, the amounts add up to {total}"
        return report
    for payment in document.payments:
        report.payments.append(_book_payment(state, document, payment))
    return report


def _book_payment(state: SimState, document: Pain001, payment: PaymentInfo) -> PmtInfStatus:
    status = PmtInfStatus(payment.pmt_inf_id, payment.nb_of_txs, payment.ctrl_sum)
    debtor = state.ledger.accounts.get(payment.debtor_account)
    total = sum((t.amount for t in payment.transfers), Decimal(0))
    if payment.nb_of_txs and int(payment.nb_of_txs) != len(payment.transfers):
        status.code, status.text = "AM20", f"PmtInf/NbOfTxs is {payment.nb_of_txs}"
    elif payment.ctrl_sum and Decimal(payment.ctrl_sum) != total:
        status.code, status.text = "AM17", f"PmtInf/CtrlSum is {payment.ctrl_sum}, not {total}"
    elif debtor is None or debtor.role != COLLECTION:
        status.code = "AC02"
        status.text = f"debtor account {payment.debtor_account[:40]} is not yours to debit"
    for transfer in payment.transfers:
        if status.code:
            status.transactions.append(_refused(transfer, status.code, status.text))
        else:
            status.transactions.append(_book_transfer(state, document, payment, transfer))
    return status


def _refused(transfer: CreditTransfer, code: str, text: str) -> TxStatus:
    return TxStatus(
        transfer.end_to_end_id, transfer.instr_id, _fen(transfer.amount), REJECTED, code, text
    )


def _book_transfer(
    state: SimState, document: Pain001, payment: PaymentInfo, transfer: CreditTransfer
) -> TxStatus:
    ledger, faults = state.ledger, state.faults
    fen = _fen(transfer.amount)
    account = ledger.accounts.get(transfer.creditor_account)
    paid = ledger.paid_end_to_end.get(transfer.end_to_end_id)
    problem: tuple[str, str] | None = None
    if transfer.currency != CURRENCY:
        problem = "AM03", f"currency {transfer.currency[:3]!r} is not {CURRENCY}"
    elif fen is None:
        problem = "CH20", "amount is not a whole number of fen"
    elif fen == 0:
        problem = "AM01", "amount is zero"
    elif paid is not None:
        problem = "AM05", f"EndToEndId already paid, booking {paid.ref}"
    elif account is None:
        problem = "AC01", f"no account {transfer.creditor_account[:40]} at this bank"
    elif account.number == payment.debtor_account:
        problem = "AC03", "creditor account is the debtor account"
    elif account.number in faults.reject_accounts:
        problem = faults.reject_reason, "the beneficiary's account refuses credits"
    elif not same_name(transfer.creditor_name, account.name):
        problem = "BE01", "creditor name is not the account holder's name"
    elif transfer.creditor_bank_code and transfer.creditor_bank_code != account.bank_code:
        problem = "RC10", f"account is not kept at bank {transfer.creditor_bank_code[:12]}"
    elif ledger.balance(payment.debtor_account) < fen:
        problem = "AM04", "insufficient funds on the debtor account"
    if problem is not None:
        return _refused(transfer, *problem)
    assert fen is not None and account is not None
    booking = ledger.book(
        kind=TRANSFER,
        booked_at=state.now(),
        booked_on=state.business_date(),
        debit=payment.debtor_account,
        credit=account.number,
        amount_fen=fen,
        end_to_end_id=transfer.end_to_end_id,
        msg_id=document.msg_id,
        pmt_inf_id=payment.pmt_inf_id,
        instr_id=transfer.instr_id,
        remittance=transfer.remittance,
    )
    return TxStatus(
        transfer.end_to_end_id,
        transfer.instr_id,
        fen,
        BOOKED,
        booking_ref=booking.ref,
    )


def _fen(amount: Decimal) -> int | None:
    """The amount in fen when it is a whole number of fen."""
    fen = amount * _HUNDRED
    return int(fen) if fen == fen.to_integral_value() else None
