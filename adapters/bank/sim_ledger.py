"""The simulated bank's books: accounts and an append-only journal of bookings, in fen.

Every booking moves ``amount_fen`` from ``debit`` to ``credit`` on one business date; an incoming
credit from outside the bank has no debit account. Balances and statements are computed from the
opening balances and the journal, so a statement always adds up: opening + entries = closing.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from adapters.simkit.control import BadRequest, view

COLLECTION = "collection"
BENEFICIARY = "beneficiary"
ROLES = (COLLECTION, BENEFICIARY)

TRANSFER = "TRANSFER"  # our pain.001 paid a beneficiary
RETURN = "RETURN"  # 退汇: the beneficiary's bank sent a transfer back
CREDIT = "CREDIT"  # money from outside the bank (an acquirer's settlement)

ACCOUNT_NO = re.compile(r"[0-9]{6,34}")
BANK_CODE = re.compile(r"[0-9]{12}")  # 联行号: bank class 3 + region 4 + branch 4 + check 1


class LedgerError(BadRequest):
    """A booking the bank cannot make; ``status`` is the HTTP status for the control desk."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message, status, "REFUSED")


@dataclass
class Account:
    number: str
    name: str
    bank_code: str
    role: str
    opening_fen: int  # the balance when the account was opened in the simulator

    def as_json(self, balance_fen: int) -> dict[str, Any]:
        return view(self, balance_fen=balance_fen)


@dataclass(frozen=True)
class Booking:
    """One booking; ``ref`` is the bank's reference (AcctSvcrRef)."""

    ref: str
    kind: str
    booked_on: date
    booked_at: datetime
    debit: str | None
    credit: str
    amount_fen: int
    end_to_end_id: str = ""
    msg_id: str = ""
    pmt_inf_id: str = ""
    instr_id: str = ""
    remittance: str = ""
    counterparty: str = ""  # the payer's name for a CREDIT from outside
    return_reason: str = ""
    returned_ref: str = ""  # for a RETURN: the TRANSFER it sends back

    def as_json(self) -> dict[str, Any]:
        return view(self)


def same_name(a: str, b: str) -> bool:
    """户名 comparison: after NFKC (full-width brackets are brackets) and without white space."""

    def norm(text: str) -> str:
        return "".join(unicodedata.normalize("NFKC", text).split())

    return norm(a) == norm(b)


@dataclass
class Ledger:
    accounts: dict[str, Account] = field(default_factory=dict)
    journal: list[Booking] = field(default_factory=list)
    balances: dict[str, int] = field(default_factory=dict)
    paid_end_to_end: dict[str, Booking] = field(default_factory=dict)
    returned: dict[str, Booking] = field(default_factory=dict)  # TRANSFER ref -> its RETURN
    _seq: int = 0

    def open_or_update(self, data: dict[str, Any]) -> Account:
        """Open an account, or rename an open one; its balance changes only by bookings."""
        number, name = data.get("number"), data.get("name")
        bank_code, role = data.get("bank_code"), data.get("role", BENEFICIARY)
        balance = data.get("balance_fen", 0)
        if not isinstance(number, str) or not ACCOUNT_NO.fullmatch(number):
            raise LedgerError("number must be 6 to 34 digits")
        if not isinstance(name, str) or not 0 < len(name.strip()) <= 140:
            raise LedgerError("name must be text of 1 to 140 characters")
        if not isinstance(bank_code, str) or not BANK_CODE.fullmatch(bank_code):
            raise LedgerError("bank_code must be the 12-digit 联行号")
        if role not in ROLES:
            raise LedgerError(f"role must be one of {', '.join(ROLES)}")
        if isinstance(balance, bool) or not isinstance(balance, int):
            raise LedgerError("balance_fen must be an integer number of fen")
        known = self.accounts.get(number)
        if known is None:
            account = Account(number, name.strip(), bank_code, role, balance)
            self.accounts[number] = account
            self.balances[number] = balance
            return account
        if "balance_fen" in data and balance != self.balances[number]:
            raise LedgerError(
                f"account {number} is open: its balance changes only by bookings", 409
            )
        known.name, known.bank_code, known.role = name.strip(), bank_code, role
        return known

    def balance(self, number: str) -> int:
        return self.balances[number]

    def book(self, *, kind: str, booked_at: datetime, booked_on: date, **fields: Any) -> Booking:
        """Append one booking and move the balances; the caller checked accounts and funds."""
        self._seq += 1
        ref = f"BK{booked_on:%Y%m%d}{self._seq:08d}"
        booking = Booking(ref=ref, kind=kind, booked_on=booked_on, booked_at=booked_at, **fields)
        if booking.amount_fen <= 0:
            raise LedgerError("a booking moves a positive amount")
        if booking.debit is not None:
            self.balances[booking.debit] -= booking.amount_fen
        self.balances[booking.credit] += booking.amount_fen
        self.journal.append(booking)
        if kind == TRANSFER:
            self.paid_end_to_end[booking.end_to_end_id] = booking
        if kind == RETURN:
            self.returned[booking.returned_ref] = booking
        return booking

    def send_back(
        self, end_to_end_id: str, reason: str, *, booked_at: datetime, booked_on: date
    ) -> Booking:
        """退汇: the transfer paid under ``end_to_end_id`` comes back to the account it left."""
        paid = self.paid_end_to_end.get(end_to_end_id)
        if paid is None:
            raise LedgerError(f"no transfer was booked under EndToEndId {end_to_end_id}", 404)
        if paid.ref in self.returned:
            raise LedgerError(f"the transfer {paid.ref} was already returned", 409)
        if paid.debit is None:
            raise LedgerError("only transfers between accounts can be returned", 409)
        return self.book(
            kind=RETURN,
            booked_at=booked_at,
            booked_on=booked_on,
            debit=paid.credit,
            credit=paid.debit,
            amount_fen=paid.amount_fen,
            end_to_end_id=paid.end_to_end_id,
            msg_id=paid.msg_id,
            pmt_inf_id=paid.pmt_inf_id,
            instr_id=paid.instr_id,
            remittance=paid.remittance,
            return_reason=reason,
            returned_ref=paid.ref,
        )

    def entries(self, number: str, day: date) -> list[Booking]:
        """The bookings that touch ``number`` on ``day``, in booking order."""
        return [b for b in self.journal if b.booked_on == day and number in (b.debit, b.credit)]

    def balance_before(self, number: str, day: date) -> int:
        """The booked balance at the start of ``day``."""
        balance = self.accounts[number].opening_fen
        for b in self.journal:
            if b.booked_on < day:
                balance += signed(b, number)
        return balance


def signed(booking: Booking, number: str) -> int:
    """The booking's effect on ``number``: positive for a credit, negative for a debit."""
    if booking.credit == number:
        return booking.amount_fen
    if booking.debit == number:
        return -booking.amount_fen
    return 0
