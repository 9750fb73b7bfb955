"""What the bureau simulator remembers: declarations and their vouchers, confirmations, the
request serials it has seen, and the fault knobs."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec

from adapters.simkit.authority import AuthorityBase, AuthorityKnobs
from adapters.tax import signing
from adapters.tax.keys import PlatformKeys
from adapters.tax.rules import PropertyCase, Rate, rate_set_on, taxes_due
from adapters.tax.wire import BEIJING, DECLARATION_NO, TAX_VOU_NO, wire_date
from clearing.domain.money import yuan_str

log = logging.getLogger(__name__)

PAY_WITHIN = timedelta(days=15)  # 缴款期限 printed on each voucher
DEFAULT_REFUSE_REASON = "税票状态异常，暂不能确认缴款"
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


@dataclass(frozen=True)
class Person:
    name: str
    taxpayer_id: str


@dataclass(frozen=True)
class Confirmation:
    cert_no: str
    tax_date: date
    cfm_time: datetime
    amount_fen: int
    payment_ref: str
    order_no: str
    paid_at: datetime
    cert_sign: str


@dataclass
class Voucher:
    """One 电子税票: one tax owed by one party under one declaration."""

    tax_vou_no: str
    declaration_no: str
    item: str
    payer_role: str
    payer: Person
    basis_fen: int
    rate: Rate
    amount_fen: int
    period: date
    due_by: date
    rate_set: str
    adjusted_fen: int = 0  # what a re-assessment (the amount_changed knob) added
    confirmation: Confirmation | None = None


@dataclass
class Declaration:
    declaration_no: str
    declared_on: date
    property_unit: str
    address: str
    case: PropertyCase
    buyer: Person
    seller: Person
    rate_set: str
    vouchers: list[Voucher]

    def unpaid(self) -> list[Voucher]:
        return [v for v in self.vouchers if v.confirmation is None]


@dataclass
class Faults(AuthorityKnobs):
    """Knobs set by ``PUT /sim/faults`` (AuthorityKnobs, and these); all off by default.

    api_5xx answers 500 (94999); down answers 503 (94998); refuse_confirm refuses with 24105.
    """

    refuse_reason: str = DEFAULT_REFUSE_REASON
    # declaration or voucher number → fen added at the next lookup that lists it
    amount_changed: dict[str, int] = field(default_factory=dict)

    def check(self, name: str, value: Any) -> Any:
        current = getattr(self, name)
        if isinstance(current, str):
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name} must be a non-empty text")
            return value
        if isinstance(current, dict):
            return _amount_changes(value)
        return super().check(name, value)


def _amount_changes(value: Any) -> dict[str, int]:
    if not isinstance(value, dict):
        raise ValueError("amount_changed must map a declaration or voucher number to fen")
    for key, delta in value.items():
        if not (DECLARATION_NO.fullmatch(key) or TAX_VOU_NO.fullmatch(key)):
            raise ValueError(f"amount_changed: {key!r} is no declaration or voucher number")
        if isinstance(delta, bool) or not isinstance(delta, int) or delta == 0:
            raise ValueError("amount_changed: the change must be a non-zero int of fen")
    return dict(value)


def id_number(region: str, born: date, serial: int) -> str:
    """An 18-character resident ID number with its ISO 7064 MOD 11-2 check character."""
    body = f"{region}{born:%Y%m%d}{serial % 1000:03d}"
    total = sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True))
    return body + _ID_CHECK[total % 11]


class SimState(AuthorityBase[Faults]):
    def __init__(self, keys: PlatformKeys, *, public_base_url: str) -> None:
        super().__init__(Faults(), signing.MAX_SKEW_S)
        self.keys = keys
        self.public_base_url = public_base_url
        self.declarations: dict[str, Declaration] = {}
        self.vouchers: dict[str, Voucher] = {}
        self.confirmed: list[Voucher] = []  # in the order the bureau confirmed them
        self.requests: list[dict[str, Any]] = []  # the last API requests, for tests
        # random starting points: a restarted simulator must not hand out numbers again
        self._decl_seq = secrets.randbelow(10**8)
        self._vou_seq = secrets.randbelow(5 * 10**6)
        self._cert_seq = secrets.randbelow(10**8)
        self.wrong_key = ec.generate_private_key(ec.SECP256R1())

    def remember_request(self, entry: dict[str, Any]) -> None:
        self.requests.append(entry)
        del self.requests[:-200]

    def new_person(self, name: str) -> Person:
        born = date(1960, 1, 1) + timedelta(days=secrets.randbelow(40 * 365))
        return Person(name, id_number(self.keys.region, born, secrets.randbelow(1000)))

    def new_property_unit(self) -> str:
        parcel, unit = secrets.randbelow(10**5), secrets.randbelow(10**8)
        return f"{self.keys.region}001001GB{parcel:05d}F{unit:08d}"

    def open_declaration(
        self,
        case: PropertyCase,
        *,
        buyer: Person,
        seller: Person,
        property_unit: str,
        address: str,
        on: date,
    ) -> Declaration:
        """Assess ``case`` on ``on`` and issue one voucher per tax and payer."""
        rate_set = rate_set_on(on).name
        self._decl_seq = (self._decl_seq + 1) % 10**9
        decl_no = f"1{wire_date(on)}{self._decl_seq:09d}"
        vouchers = []
        for due in taxes_due(case, on):
            self._vou_seq = (self._vou_seq + 1) % 10**7
            vou_no = f"{self.keys.tax_org_code}{on:%y}{self._vou_seq:07d}"
            payer = buyer if due.payer == "BUYER" else seller
            vouchers.append(
                Voucher(
                    tax_vou_no=vou_no,
                    declaration_no=decl_no,
                    item=due.item,
                    payer_role=due.payer,
                    payer=payer,
                    basis_fen=due.basis_fen,
                    rate=due.rate,
                    amount_fen=due.amount_fen,
                    period=on,
                    due_by=on + PAY_WITHIN,
                    rate_set=rate_set,
                )
            )
        declaration = Declaration(
            decl_no, on, property_unit, address, case, buyer, seller, rate_set, vouchers
        )
        self.declarations[decl_no] = declaration
        self.vouchers.update((v.tax_vou_no, v) for v in vouchers)
        log.info("sim declaration opened no=%s vouchers=%d", decl_no, len(vouchers))
        return declaration

    def find_by_unit(self, taxpayer_id: str, property_unit: str) -> list[Declaration]:
        """Declarations of this unit where this taxpayer buys or sells, newest first."""
        return [
            d
            for d in reversed(self.declarations.values())
            if d.property_unit == property_unit
            and taxpayer_id in (d.buyer.taxpayer_id, d.seller.taxpayer_id)
        ]

    def reassess(self, declaration: Declaration) -> None:
        """Apply a pending ``amount_changed`` knob to this declaration, once."""
        for key in [k for k in self.faults.amount_changed if _names(declaration, k)]:
            delta = self.faults.amount_changed.pop(key)
            unpaid = [v for v in declaration.unpaid() if key in (v.tax_vou_no, v.declaration_no)]
            if not unpaid:
                continue
            voucher = unpaid[0]
            before = voucher.amount_fen
            voucher.amount_fen = max(1, before + delta)
            voucher.adjusted_fen += voucher.amount_fen - before
            log.info("sim reassessed voucher=%s delta_fen=%d", voucher.tax_vou_no, delta)

    def confirm(
        self,
        voucher: Voucher,
        *,
        amount_fen: int,
        payment_ref: str,
        order_no: str,
        paid_at: datetime,
    ) -> Confirmation:
        now = datetime.now(BEIJING)
        self._cert_seq = (self._cert_seq + 1) % 10**9
        tax_date = now.date()
        cert_no = f"3{self.keys.region}{now:%y}{self._cert_seq:09d}"
        line = signing.certificate_line(
            tax_org_code=self.keys.tax_org_code,
            cert_no=cert_no,
            tax_vou_no=voucher.tax_vou_no,
            tra_amt=yuan_str(amount_fen),
            tax_date=wire_date(tax_date),
        )
        confirmation = Confirmation(
            cert_no=cert_no,
            tax_date=tax_date,
            cfm_time=now,
            amount_fen=amount_fen,
            payment_ref=payment_ref,
            order_no=order_no,
            paid_at=paid_at,
            cert_sign=signing.sign_certificate(self.keys.bureau_private_key, line),
        )
        voucher.confirmation = confirmation
        self.confirmed.append(voucher)
        log.info("sim confirmed voucher=%s cert=%s", voucher.tax_vou_no, cert_no)
        return confirmation


def _names(declaration: Declaration, key: str) -> bool:
    return key == declaration.declaration_no or any(
        v.tax_vou_no == key for v in declaration.vouchers
    )


STATE = web.AppKey("tax_sim_state", SimState)
