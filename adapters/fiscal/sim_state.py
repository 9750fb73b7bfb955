"""What the non-tax simulator remembers: notices (缴款书), confirmations, e-bills, the frames it
received, and its fault knobs (PUT /sim/faults)."""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from aiohttp import web

from adapters.fiscal import codes
from adapters.fiscal.frame import BEIJING, MAX_SKEW_S
from adapters.fiscal.keys import PlatformKeys
from adapters.simkit.authority import AuthorityBase, AuthorityKnobs
from clearing.domain.money import MoneyError, parse_yuan, yuan_str

ITEM_NAMES = {"LAND_TRANSFER": "土地出让金", "REG_FEE": "不动产登记费"}
# 执收单位 of each fee in the simulated region: (code, name)
AGENCIES = {
    "LAND_TRANSFER": ("001", "自然资源和规划局"),
    "REG_FEE": ("002", "不动产登记中心"),
}
# the bill a confirmation earns: the 一般缴款书 itself for land fees, a 通用票据 for the others
BILL_KINDS = {"LAND_TRANSFER": "0301", "REG_FEE": "0101"}


@dataclass
class Notice:
    """One 非税收入一般缴款书 and its payment code."""

    payment_code: str
    notice_no: str
    payer_name: str
    item_code: str  # ours: LAND_TRANSFER or REG_FEE
    wire_item_code: str  # the region's 执收项目编码
    agency_code: str
    agency_name: str
    amount_fen: int
    issued_on: date
    due_on: date
    status: str = "UNPAID"  # UNPAID, PAID, VOID
    amount_history: list[int] = field(default_factory=list)


@dataclass
class EBill:
    bill_code: str
    bill_no: str
    check_code: str
    issued_at: datetime


@dataclass
class Confirmation:
    """A 5996 voucher the system accepted; the e-bill follows at ``bill_ready_at``."""

    payment_code: str
    voucher_no: str
    amount_fen: int
    tra_no_bus: str
    cfm_date: str
    cfm_time: str
    order_no: str
    accepted_at: datetime
    bill_ready_at: datetime
    bill: EBill | None = None


@dataclass
class Faults(AuthorityKnobs):
    """Knobs set by ``PUT /sim/faults`` (AuthorityKnobs, and these); all off by default.

    api_5xx: that many frames answered 500; down: every frame answered 503; refuse_confirm:
    that many new confirmations refused with refuse_reason; amount_changed: the payment code
    whose next lookup finds its amount changed (to changed_amount, yuan; empty: plus one day's
    1‰ late fee); bill_delay_s: e-bills issued this long after confirmation.
    """

    refuse_reason: str = "执收单位尚未审核该缴款书"
    amount_changed: str = ""
    changed_amount: str = ""
    bill_delay_s: float = 0.0

    def check(self, name: str, value: Any) -> Any:
        if not isinstance(getattr(self, name), str):
            return super().check(name, value)
        if not isinstance(value, str) or len(value) > 100:
            raise ValueError(f"{name} must be text of at most 100 characters")
        if name == "amount_changed" and value and not value.isdigit():
            raise ValueError("amount_changed must be a payment code")
        if name == "changed_amount" and value:
            try:
                if parse_yuan(value) <= 0:
                    raise ValueError("changed_amount must be positive")
            except MoneyError as exc:
                raise ValueError(f"changed_amount: {exc}") from None
        if name == "refuse_reason" and not value:
            raise ValueError("refuse_reason must not be empty")
        return value


class SimState(AuthorityBase[Faults]):
    """All mutable simulator state; one per application, never module-level."""

    def __init__(
        self, keys: PlatformKeys, *, public_base_url: str, page_size: int, seed: int | None
    ) -> None:
        super().__init__(Faults(), MAX_SKEW_S)
        self.keys = keys
        self.public_base_url = public_base_url.rstrip("/")
        self.page_size = page_size
        # seedable so that tests get the same codes; nothing secret comes from it
        self.rng = random.Random(seed)  # noqa: S311
        self.notices: dict[str, Notice] = {}
        self.confirmations: dict[str, Confirmation] = {}
        self.bill_seq: dict[str, int] = {}
        self.messages: list[dict[str, str]] = []
        # a random start, so that a restarted simulator does not hand out yesterday's codes
        self._code_seq = self.rng.randrange(10**11, 9 * 10**11)
        self._check_key = secrets.token_bytes(32)

    @property
    def division(self) -> str:
        return self.keys.registration.division

    def new_payment_code(self, today: date) -> str:
        self._code_seq += 1
        return f"{self.division}{today.year % 100:02d}{self._code_seq:012d}"

    def wire_item_code(self, item_code: str) -> str:
        for wire, ours in self.keys.registration.item_codes.items():
            if ours == item_code:
                return wire
        raise ValueError(f"the region has no 执收项目 for {item_code}")

    def ready_bill(self, conf: Confirmation, now: datetime) -> EBill | None:
        """The confirmation's e-bill, issued now (next number of its code) if it is due."""
        if conf.bill is None and now >= conf.bill_ready_at:
            notice = self.notices[conf.payment_code]
            code = codes.bill_code(self.division, BILL_KINDS[notice.item_code], now.date())
            self.bill_seq[code] = self.bill_seq.get(code, 0) + 1
            number = f"{self.bill_seq[code]:010d}"
            text = f"{code}|{number}|{yuan_str(conf.amount_fen)}|{now:%Y%m%d}".encode()
            check = hmac.new(self._check_key, text, hashlib.sha256).hexdigest()[:6]
            conf.bill = EBill(code, number, check, now)
        return conf.bill


def notice_json(notice: Notice, public_base_url: str) -> dict[str, Any]:
    """A notice for /sim/ views; ``notice_url`` is what the printed notice's QR code holds."""
    return {
        "payment_code": notice.payment_code,
        "notice_no": notice.notice_no,
        "payer_name": notice.payer_name,
        "item_code": notice.item_code,
        "item_name": ITEM_NAMES[notice.item_code],
        "nontax_item_code": notice.wire_item_code,
        "agency_code": notice.agency_code,
        "agency_name": notice.agency_name,
        "amount_fen": notice.amount_fen,
        "amount": yuan_str(notice.amount_fen),
        "issued_on": notice.issued_on.isoformat(),
        "due_on": notice.due_on.isoformat(),
        "status": notice.status,
        "amount_history": list(notice.amount_history),
        "notice_url": f"{public_base_url}/sim/notices/{notice.payment_code}",
    }


def confirmation_json(conf: Confirmation) -> dict[str, Any]:
    bill = conf.bill
    return {
        "payment_code": conf.payment_code,
        "amount_fen": conf.amount_fen,
        "payment_ref": conf.tra_no_bus,
        "order_no": conf.order_no,
        "paid_at": f"{conf.cfm_date}{conf.cfm_time}",
        "accepted_at": conf.accepted_at.astimezone(BEIJING).isoformat(),
        "bill": None
        if bill is None
        else {
            "bill_code": bill.bill_code,
            "bill_no": bill.bill_no,
            "check_code": bill.check_code,
            "issued_on": bill.issued_at.date().isoformat(),
        },
    }


STATE = web.AppKey("fiscal_sim_state", SimState)
