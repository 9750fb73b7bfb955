"""The office's vocabulary: paths, answer codes, times, and our reading of notices and deposits.

Answers are ``{"code": "0000", "msg": "成功", "data": {...}}``; refusals use other codes in the
same signed envelope (PROTOCOL.md). Amounts are yuan text with two decimals, areas m² text with
two decimals: both are read exactly (``parse_yuan``, ``rules.parse_area``), never as floats.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from adapters import wiretime
from adapters.fund import rules

# the shared Beijing formats (wiretime) under the names the client and the simulator import
BEIJING = wiretime.BEIJING
WireFormatError = wiretime.WireFormatError
format_date, format_time = wiretime.format_date, wiretime.format_time
parse_date, parse_time = wiretime.parse_date, wiretime.parse_time

QUERY_PATH: Final = "/api/fund/v1/notice/query"
CONFIRM_PATH: Final = "/api/fund/v1/deposit/confirm"
LIST_PATH: Final = "/api/fund/v1/deposit/list"
API_PREFIX: Final = "/api/fund/"

OK: Final = "0000"
# the office's codes and the stable words we give them (FundRefused.code)
REFUSALS: Final[Mapping[str, str]] = {
    "1001": "UNAUTHORIZED",  # signature missing or wrong
    "1002": "UNAUTHORIZED",  # timestamp outside the window
    "1003": "UNAUTHORIZED",  # nonce seen before: a replay
    "1004": "UNAUTHORIZED",  # agency not registered with the office
    "2001": "NOT_FOUND",  # no such notice, or no open notice for the unit
    "2002": "ALREADY_PAID",  # the notice was deposited (by another payment)
    "2003": "AMOUNT_MISMATCH",  # the amount is not what the notice says is due
    "2004": "CONFIRM_REFUSED",  # the office will not book this deposit now (reason given)
    "2005": "NOTICE_CANCELLED",
    "2006": "UNIT_MISMATCH",  # the notice is for another property unit
    "2007": "OWNER_MISMATCH",  # the named owner is not the owner of record
    "3001": "INVALID_REQUEST",
    "3002": "DATE_INVALID",  # a daily list for a day that has not begun
}
# the 9xxx family means "not now": busy, maintenance, a back end down
RETRY_LATER_PREFIX: Final = "9"

NOTICE_NO: Final = re.compile(r"[0-9A-Z]{8,32}")


@dataclass(frozen=True)
class Notice:
    """A deposit notice (维修资金缴存通知书) as the office reports it."""

    notice_no: str
    unit_no: str
    status: str  # UNPAID, PAID, CANCELLED
    owner_name: str
    area_centi: int
    building_type: str
    rate_fen_per_m2: int
    rate_version: str
    assessed_on: date
    amount_fen: int
    bank_name: str
    account_no: str  # the home's custodial sub-account (分户账号)
    account_name: str
    # the fund's account at the custodian bank, which the sub-accounts are kept under (专户)
    custodial_account_no: str
    custodial_account_name: str


@dataclass(frozen=True)
class Deposit:
    """One booked deposit, as the confirm answer and the daily list report it."""

    certificate_no: str
    notice_no: str
    unit_no: str
    amount_fen: int
    pay_serial: str
    order_no: str
    confirmed_at: datetime
    account_no: str


def parse_notice(data: Mapping[str, Any]) -> Notice:
    account = data.get("account")
    if not isinstance(account, dict):
        raise WireFormatError("account missing")
    try:
        area = rules.parse_area(wiretime.text(data, "area"))
    except rules.FundRuleError as exc:
        raise WireFormatError(f"area: {exc}") from None
    rate, amount = wiretime.fen(data, "rate"), wiretime.fen(data, "amount")
    if rate <= 0 or amount <= 0:
        raise WireFormatError("rate and amount must be positive")
    status = wiretime.text(data, "status")
    if status not in ("UNPAID", "PAID", "CANCELLED"):
        raise WireFormatError(f"unknown notice status {status!r}")
    return Notice(
        notice_no=wiretime.text(data, "noticeNo"),
        unit_no=wiretime.text(data, "bdcdyh"),
        status=status,
        owner_name=wiretime.text(data, "ownerName"),
        area_centi=area,
        building_type=wiretime.text(data, "buildingType"),
        rate_fen_per_m2=rate,
        rate_version=wiretime.text(data, "rateVersion"),
        assessed_on=parse_date(wiretime.text(data, "assessDate")),
        amount_fen=amount,
        bank_name=wiretime.text(account, "bankName"),
        account_no=wiretime.text(account, "accountNo"),
        account_name=wiretime.text(account, "accountName"),
        custodial_account_no=wiretime.text(account, "custodialAccountNo"),
        custodial_account_name=wiretime.text(account, "custodialAccountName"),
    )


def parse_deposit(data: Mapping[str, Any]) -> Deposit:
    return Deposit(
        certificate_no=wiretime.text(data, "certificateNo"),
        notice_no=wiretime.text(data, "noticeNo"),
        unit_no=wiretime.text(data, "bdcdyh"),
        amount_fen=wiretime.fen(data, "amount"),
        pay_serial=wiretime.text(data, "paySerial"),
        order_no=wiretime.text(data, "orderNo"),
        confirmed_at=parse_time(wiretime.text(data, "confirmTime")),
        account_no=wiretime.text(data, "accountNo"),
    )
