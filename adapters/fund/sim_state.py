"""What the office simulator remembers: homes with their deposit notices, booked deposits, the
nonces it has seen, and the fault knobs. One ``SimState`` per application, under ``STATE``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from aiohttp import web

from adapters.fund import rules, signing
from adapters.fund.keys import PlatformKeys
from adapters.fund.sim_faults import Faults
from adapters.fund.wire import BEIJING, format_date, format_time
from adapters.simkit.authority import AuthorityBase
from clearing.domain.money import yuan_str


@dataclass
class SimDeposit:
    certificate_no: str
    notice_no: str
    unit_no: str
    amount_fen: int
    pay_time: datetime
    pay_serial: str
    order_no: str
    confirmed_at: datetime
    account_no: str


@dataclass
class SimNotice:
    """A home as the office registered it, and the one deposit notice issued for it."""

    notice_no: str
    unit_no: str
    owner_name: str
    area_centi: int
    building_type: str
    assessed_on: date
    issued_at: datetime
    sub_account_no: str
    status: str = "UNPAID"  # UNPAID, PAID, CANCELLED
    case_no: str = ""
    cancel_reason: str = ""
    # the pre-sale area, once a survey replaced it (the amount_changed knob)
    first_area_centi: int | None = None
    deposit: SimDeposit | None = None

    def assessment(self) -> rules.Assessment:
        return rules.assess(self.area_centi, self.building_type, self.assessed_on)

    @property
    def amount_fen(self) -> int:
        return self.assessment().amount_fen


class SimState(AuthorityBase[Faults]):
    """All mutable simulator state; never module-level."""

    def __init__(self, keys: PlatformKeys, *, public_base_url: str) -> None:
        super().__init__(Faults(), signing.MAX_SKEW_S)
        self.keys = keys
        self.public_base_url = public_base_url.rstrip("/")
        self.notices: dict[str, SimNotice] = {}
        self.by_unit: dict[str, str] = {}
        self.deposits: list[SimDeposit] = []
        self._notice_seq = 0
        self._certificate_seq = 0

    def new_notice_no(self, unit_no: str, now: datetime) -> str:
        # WX + the unit's division + issue date + sequence: 20 characters
        self._notice_seq += 1
        return f"WX{unit_no[:6]}{format_date(now.astimezone(BEIJING))}{self._notice_seq:04d}"

    def new_sub_account_no(self, unit_no: str) -> str:
        # 分户账号: one per home, opened with its first notice
        return f"FH{unit_no[:6]}{self._notice_seq:010d}"

    def new_certificate_no(self, now: datetime) -> str:
        self._certificate_seq += 1
        return f"JC{format_date(now.astimezone(BEIJING))}{self._certificate_seq:08d}"


def notice_json(state: SimState, notice: SimNotice) -> dict[str, Any]:
    """A notice as the office's answers show it."""
    assessment = notice.assessment()
    keys = state.keys
    return {
        "noticeNo": notice.notice_no,
        "bdcdyh": notice.unit_no,
        "status": notice.status,
        "ownerName": notice.owner_name,
        "area": rules.format_area(notice.area_centi),
        "buildingType": notice.building_type,
        "buildingTypeName": rules.BUILDING_TYPES[notice.building_type],
        "rate": yuan_str(assessment.rate.fen_per_m2),
        "rateVersion": assessment.rate.version,
        "assessDate": format_date(notice.assessed_on),
        "amount": yuan_str(assessment.amount_fen),
        "issueTime": format_time(notice.issued_at),
        "account": {
            "bankName": keys.custodian_bank,
            "accountNo": notice.sub_account_no,
            "accountName": f"{notice.owner_name}（维修资金分户账）",
            "custodialAccountNo": keys.custodial_account_no,
            "custodialAccountName": keys.custodial_account_name,
        },
    }


def deposit_json(deposit: SimDeposit) -> dict[str, Any]:
    return {
        "certificateNo": deposit.certificate_no,
        "noticeNo": deposit.notice_no,
        "bdcdyh": deposit.unit_no,
        "amount": yuan_str(deposit.amount_fen),
        "payTime": format_time(deposit.pay_time),
        "paySerial": deposit.pay_serial,
        "orderNo": deposit.order_no,
        "confirmTime": format_time(deposit.confirmed_at),
        "accountNo": deposit.account_no,
    }


def control_json(state: SimState, notice: SimNotice) -> dict[str, Any]:
    """The ``/sim/`` view: the wire form plus what only the office's desk sees."""
    return {
        **notice_json(state, notice),
        "caseNo": notice.case_no,
        "cancelReason": notice.cancel_reason,
        "firstArea": (
            rules.format_area(notice.first_area_centi) if notice.first_area_centi else None
        ),
        "deposit": deposit_json(notice.deposit) if notice.deposit else None,
    }


STATE = web.AppKey("fund_sim_state", SimState)
