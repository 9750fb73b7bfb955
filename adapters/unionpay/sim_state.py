"""What the UnionPay simulator remembers: transactions, deliveries, queries and fault knobs; and how
it signs what it sends (``simkit.notify`` runs the notification rounds)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Unpack

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from adapters.simkit.acquirer import Acquirer, Reach
from adapters.simkit.keyfiles import digits
from adapters.simkit.notify import Notice, Signed
from adapters.unionpay import crypto, wire
from adapters.unionpay.crypto import UNIONPAY_OWNER
from adapters.unionpay.keys import PlatformKeys, issue_leaf
from adapters.unionpay.sim_faults import Faults

# after a failed delivery UnionPay resends 1, 2, 4 and 5 minutes apart, five sends in all; one
# public SDK reads the same sentence as 0, 1, 2 and 4 minutes (protocols-cn.md 3.1 [multi])
RETRY_SCHEDULE_S: tuple[float, ...] = (60, 120, 240, 300)
NOTIFY_TIMEOUT_S = 10.0
ACKNOWLEDGED = (200, 302)

RESP_MSG = {
    "00": "成功[0000000]",
    "01": "交易失败[1000001]",
    "05": "交易已受理，请稍后查询交易结果[2000005]",
    "10": "报文格式错误[1000010]",
    "11": "验证签名失败[1000011]",
    "12": "重复交易[1000012]",
    "31": "商户状态不正确[1000031]",
    "33": "交易金额超限[1000033]",
    "34": "查无此交易[1000034]",
    "35": "原交易不存在或状态不正确[1000035]",
    "36": "与原交易信息不符[1000036]",
    "98": "文件不存在[1000098]",
}


@dataclass
class Txn:
    """A consumption (01), void (31) or refund (04), keyed by the merchant's orderId."""

    order_id: str
    txn_time: str
    txn_type: str
    txn_sub_type: str
    amount_fen: int
    back_url: str
    req_reserved: str
    created_at: datetime
    # ISSUED (a code or a payment page nobody paid), PROCESSING, SUCCESS or FAILED
    state: str
    pay_timeout: datetime | None = None
    qr_token: str | None = None
    # 手机网页支付 (front consumption 01/01): bizType 000201, the browser's way back, the page
    biz_type: str = wire.BIZ_TYPE
    channel_type: str = ""
    front_url: str = ""
    page_token: str | None = None
    query_id: str | None = None
    trace_no: str | None = None
    completed_at: datetime | None = None
    settle_date: date | None = None
    result_code: str = "05"
    orig_query_id: str | None = None
    acc_no: str = ""
    fee_fen: int = 0
    voided: bool = False
    refunded_fen: int = 0
    notifications: list[Notice] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)

    def expired(self, now: datetime) -> bool:
        return self.pay_timeout is not None and now >= self.pay_timeout


def fee_for(amount_fen: int, rate: Fraction) -> int:
    """The merchant fee in whole fen, rounded half up, as acquirers charge it per transaction."""
    scaled = amount_fen * rate.numerator * 2 + rate.denominator
    return scaled // (2 * rate.denominator)


def masked_card() -> str:
    # never a real number: a 62 BIN, the middle masked as UnionPay masks accNo
    return "621700" + "*" * 9 + digits(4)


class SimState(Acquirer[PlatformKeys]):
    """All mutable simulator state; one per application, never module-level."""

    SCHEDULE = RETRY_SCHEDULE_S
    # a 302 is an answer of its own: UnionPay never follows it
    FOLLOW_REDIRECTS = False
    faults: Faults

    def __init__(self, keys: PlatformKeys, *, fee_rate: str = "0", **reach: Unpack[Reach]) -> None:
        reach.setdefault("notify_timeout_s", NOTIFY_TIMEOUT_S)
        super().__init__(keys, **reach)
        # the configured rate survives DELETE /sim/faults; the knob can change it for a while
        self.fee_rate = fee_rate
        self.faults = Faults.starting(fee_rate=fee_rate)
        self.txns: dict[str, Txn] = {}
        self.by_query_id: dict[str, str] = {}
        self.by_token: dict[str, str] = {}
        self.by_page: dict[str, str] = {}  # card-entry page token → orderId (手机网页支付)
        self._trace = itertools.count(1)
        self._stranger: tuple[RSAPrivateKey, x509.Certificate] | None = None

    def signed(
        self, fields: dict[str, str], *, bad: bool = False, untrusted: bool = False
    ) -> dict[str, str]:
        """``fields`` with ``signPubKeyCert`` and ``signature`` as UnionPay adds them."""
        out = dict(fields)
        out.pop("signature", None)
        if untrusted:
            key, cert = self.stranger
            out["signPubKeyCert"] = crypto.pem_text(cert)
        else:
            key = self.wrong_key if bad else self.keys.private_key
            out["signPubKeyCert"] = self.keys.sign_cert_pem
        out["signature"] = crypto.sign(out, key)
        return out

    def sign(self, notice: Notice, kind: str) -> Signed:
        """A signed form POST to backUrl."""
        fields = dict(notice.payload)
        if self.faults.wrong_merchant:
            fields["merId"] = "898" + "0" * 12
        faults = self.faults
        form = self.signed(fields, bad=faults.bad_signature, untrusted=faults.untrusted_cert)
        content_type = "application/x-www-form-urlencoded;charset=UTF-8"
        return wire.encode_form(form), {"Content-Type": content_type}

    def acknowledged(self, status: int, answer: bytes) -> bool:
        # UnionPay reads only the status: 200 or 302 is a receipt, whatever the body says
        return status in ACKNOWLEDGED

    @property
    def stranger(self) -> tuple[RSAPrivateKey, x509.Certificate]:
        """A key with a look-alike certificate that no trusted CA issued (untrusted_cert)."""
        if self._stranger is None:
            key = self.wrong_key
            ca = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            issuer = self.keys.sign_cert.issuer
            # the same issuer name as the real one: only the signature can tell them apart
            fake_ca = (
                x509.CertificateBuilder()
                .subject_name(issuer)
                .issuer_name(issuer)
                .public_key(ca.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(datetime.now(UTC) - timedelta(days=1))
                .not_valid_after(datetime.now(UTC) + timedelta(days=30))
                .sign(ca, hashes.SHA256())
            )
            cert = issue_leaf(ca, fake_ca, key.public_key(), UNIONPAY_OWNER, datetime.now(UTC))
            self._stranger = (key, cert)
        return self._stranger

    def complete(self, txn: Txn, now: datetime, code: str = "00") -> None:
        """Give a transaction its final result, its trace and its clearing day."""
        txn.state = "SUCCESS" if code == "00" else "FAILED"
        txn.result_code = code
        self.stamp(txn, now)
        if code == "00":
            rate = Fraction(self.faults.fee_rate)
            txn.fee_fen = fee_for(txn.amount_fen, rate)

    def stamp(self, txn: Txn, now: datetime) -> None:
        """queryId and trace as soon as UnionPay has the transaction (also while in process)."""
        if txn.query_id is None:
            # 21 digits: the Beijing time to the second, then seven more
            txn.query_id = wire.txn_time(now) + digits(7)
            self.by_query_id[txn.query_id] = txn.order_id
        txn.trace_no = f"{next(self._trace) % 1_000_000:06d}"
        txn.completed_at = now
        txn.settle_date = wire.settle_day(now)

    def new_token(self) -> str:
        token = "01" + digits(20)
        while token in self.by_token:
            token = "01" + digits(20)
        return token


STATE = web.AppKey("unionpay_sim_state", SimState)
