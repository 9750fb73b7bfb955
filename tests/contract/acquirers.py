"""Every acquirer the service pays through, each as its real simulator over HTTP and its real
client, behind one handle the contract suite drives the same way.

What differs between channels (how an attempt is opened, which status acknowledges a
notification, the retry schedule, which fault knobs forge a callback) is data on the handle;
what must hold for all of them is in ``test_acquirer_contract.py``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from adapters.unionpay.status import QUERY_SCHEDULE_S
from adapters.unionpay.txn_times import MemoryTxnTimes
from clearing.ports import PaymentAsk
from tests.integration import alipay_harness, pos_harness, unionpay_harness, wechat_harness
from tests.integration.serving import NotifyReceiver

ACQUIRERS = ("wechatpay", "alipay", "unionpay", "pos")
TERMINAL = "T0000001"
_counter = itertools.count(1)

# simulator knobs that forge a callback, and the code our parser refuses it with
FORGERIES: dict[str, tuple[tuple[str, str], ...]] = {
    "wechatpay": (
        ("bad_signature", "SIGNATURE_INVALID"),
        ("stale_timestamp", "TIMESTAMP_SKEW"),
        ("wrong_serial", "UNKNOWN_KEY"),
    ),
    "alipay": (
        ("bad_signature", "SIGNATURE_INVALID"),
        ("unsigned_callbacks", "SIGNATURE_MISSING"),
        ("wrong_app_id", "WRONG_MERCHANT"),
        ("wrong_seller_id", "WRONG_MERCHANT"),
    ),
    "unionpay": (
        ("bad_signature", "SIGNATURE_INVALID"),
        ("untrusted_cert", "UNKNOWN_KEY"),
        ("wrong_merchant", "WRONG_MERCHANT"),
    ),
    "pos": (
        ("bad_signature", "SIGNATURE_INVALID"),
        ("stale_timestamp", "TIMESTAMP_SKEW"),
        ("unknown_key", "UNKNOWN_KEY"),
    ),
}

AnyReceiver = NotifyReceiver[Any]


def trade_no() -> str:
    # UnionPay's orderId must be 8 to 40 letters and digits; this fits every channel
    return f"TJ{os.getpid()}C{next(_counter):06d}P01"


def in_minutes(n: int) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=n)


@dataclass
class AcquirerUnderTest:
    """One channel: its running simulator, how to build its client, and its protocol's facts."""

    name: str
    sim: Any  # the harness's handle: an OrderDesk, with the keys on both sides
    # (base_url, notify_url, timeout_s) -> the real client
    make_client: Callable[[str, str, float], Any]
    # the first gaps of the channel's published resend schedule, in seconds, and our scale
    retry_gaps_s: tuple[float, ...]
    retry_scale: float
    # the code a channel refuses to close a paid attempt with, and the states a reversed
    # paid attempt may be in (voided in the day, refunded after it)
    paid_close_code: str
    reversed_states: tuple[str, ...]
    # an unsigned answer to opening an attempt, and the reason the client calls it forged
    unsigned: tuple[str, str] | None
    # what a 5xx from the channel's API looks like on AcquirerUnavailable: (status, reason)
    api_5xx: tuple[int, str | None]
    # knobs the simulator's /sim/faults must refuse with 400 (beyond the common ones)
    bad_knobs: tuple[dict[str, Any], ...]
    # the status our endpoint answers a good notification with, and the one the channel
    # treats as "not acknowledged" (UnionPay sends again on anything but 200/302, even 204)
    ack_status: int = 200
    nack_status: int = 500
    # whether close stops the attempt being paid (UnionPay's codes only lapse)
    closes: bool = True
    # our fault-free receiver, for the common cases
    receiver: AnyReceiver | None = None

    def make_receiver(
        self, fail_first: int, fail_status: int
    ) -> AbstractAsyncContextManager[AnyReceiver]:
        """Our endpoint for this channel's notifications, failing the first ``fail_first``."""
        receiver: AbstractAsyncContextManager[AnyReceiver] = self.sim.receiver(
            fail_first=fail_first, fail_status=fail_status
        )
        return receiver

    def impostor(self, base_url: str) -> Any:
        """Our real client, pointed at something that is not the channel."""
        return self.make_client(base_url, "http://127.0.0.1:9/n", 2.0)

    def client(self, notify_url: str | None = None, timeout_s: float = 2.0) -> Any:
        if notify_url is None:
            assert self.receiver is not None
            notify_url = self.receiver.url
        return self.make_client(self.sim.base_url, notify_url, timeout_s)

    async def open(self, client: Any, total_fen: int = 12_345) -> str:
        """Open an unpaid attempt: a QR for the scanning channels, a sale on the card terminal."""
        no = trade_no()
        if self.name == "pos":
            await client.start_sale(
                out_trade_no=no, terminal_id=TERMINAL, total_fen=total_fen, description="契税"
            )
        else:
            await client.create_qr(
                PaymentAsk(
                    out_trade_no=no,
                    description="不动产登记费及契税",
                    total_fen=total_fen,
                    expires_at=in_minutes(15),
                    attach="window=3",
                )
            )
        return no

    async def pay(self, no: str, amount_fen: int | None = None) -> tuple[int, Any]:
        """The citizen pays (scans and confirms, or swipes the card) through the /sim/ desk."""
        result: tuple[int, Any] = await self.sim.pay(no, amount_fen)
        return result

    async def paid(self, client: Any, total_fen: int = 12_345) -> str:
        no = await self.open(client, total_fen)
        status, answer = await self.pay(no)
        assert status == 200, answer
        return no

    async def order(self, no: str) -> dict[str, Any]:
        """The simulator's record of an attempt: its deliveries and notifications."""
        found: dict[str, Any] = await self.sim.order(no)
        return found


def _wechat(sim: wechat_harness.WeChatSim) -> AcquirerUnderTest:
    return AcquirerUnderTest(
        name="wechatpay",
        sim=sim,
        make_client=lambda base, url, timeout_s: sim.client(
            url, timeout_s=timeout_s, base_url=base
        ),
        ack_status=204,
        retry_gaps_s=(15, 15, 30),
        retry_scale=0.01,
        api_5xx=(500, "SYSTEM_ERROR"),
        paid_close_code="ORDERPAID",
        reversed_states=("REFUND",),
        unsigned=('{"code_url": "weixin://wxpay/bizpayurl?pr=fake"}', "signature headers missing"),
        bad_knobs=(
            {"probe": "yes"},
            {"refund_status": "DONE"},
            {"codepay_error": "BROKE"},
            {"user_paying_s": -1},
        ),
    )


def _alipay(sim: alipay_harness.AlipaySim) -> AcquirerUnderTest:
    return AcquirerUnderTest(
        name="alipay",
        sim=sim,
        make_client=lambda base, url, timeout_s: sim.client(
            url, timeout_s=timeout_s, gateway_url=base + sim.gateway_url.removeprefix(sim.base_url)
        ),
        retry_gaps_s=(240, 600, 600),
        retry_scale=0.001,
        api_5xx=(502, None),
        paid_close_code="ACQ.TRADE_STATUS_ERROR",
        reversed_states=("REFUND",),
        unsigned=(
            '{"alipay_trade_precreate_response":{"code":"10000","qr_code":"https://qr.alipay.com/baxfake"}}',
            "sign missing",
        ),
        bad_knobs=(
            {"user_paying": "yes"},
            {"refund_error": "ACQ.MADE_UP"},
            {"fee_rate_ppm": 2_000_000},
        ),
    )


def _unionpay(sim: unionpay_harness.UnionPaySim) -> AcquirerUnderTest:
    fast_queries = tuple(s * 0.02 for s in QUERY_SCHEDULE_S)
    # every client of one channel shares what it sent when: UnionPay queries need it
    times = MemoryTxnTimes()
    return AcquirerUnderTest(
        name="unionpay",
        sim=sim,
        make_client=lambda base, url, timeout_s: sim.client(
            url, timeout_s=timeout_s, base_url=base, query_schedule_s=fast_queries, txn_times=times
        ),
        # 204 is a success to most of the web, but not to UnionPay: it sends again
        nack_status=204,
        retry_gaps_s=(60, 120, 240),
        retry_scale=0.001,
        api_5xx=(500, None),
        closes=False,
        paid_close_code="ORDER_PAID",
        reversed_states=("REVOKED", "REFUND"),
        unsigned=(
            "respCode=00&qrCode=https://qr.95516.com/00010000/01fake",
            "signature or signPubKeyCert missing",
        ),
        bad_knobs=(
            {"bad_signature": "yes"},
            {"fee_rate": "0.1%"},
            {"refund_result": "maybe"},
        ),
    )


def _pos(sim: pos_harness.PosSim) -> AcquirerUnderTest:
    return AcquirerUnderTest(
        name="pos",
        sim=sim,
        make_client=lambda base, url, timeout_s: sim.client(
            url, timeout_s=timeout_s, base_url=base
        ),
        # the terminal cloud's offsets 10 s, 30 s, 60 s after the first attempt
        retry_gaps_s=(10, 20, 30),
        retry_scale=0.01,
        api_5xx=(500, "96"),
        paid_close_code="12",
        reversed_states=("REVOKED",),
        unsigned=(
            '{"resp_code": "00", "resp_msg": "成功"}',
            "signature header missing or malformed",
        ),
        bad_knobs=({"lose_result": "yes"}, {"refund_status": "X"}),
    )


@asynccontextmanager
async def running_acquirer(name: str, keys_root: Path) -> AsyncIterator[AcquirerUnderTest]:
    """The named channel's simulator on 127.0.0.1, with a fault-free receiver for its
    notifications; keys are generated once per channel under ``keys_root``."""
    keys = keys_root / name
    sims: dict[str, Callable[[], AbstractAsyncContextManager[Any]]] = {
        "wechatpay": lambda: wechat_harness.running_wechat_sim(keys, retry_scale=0.01, seed=7),
        "alipay": lambda: alipay_harness.running_alipay_sim(keys, retry_scale=0.001, seed=7),
        "unionpay": lambda: unionpay_harness.running_unionpay_sim(keys, retry_scale=0.001, seed=7),
        "pos": lambda: pos_harness.running_pos_sim(keys, retry_scale=0.01, seed=7),
    }
    build: dict[str, Callable[[Any], AcquirerUnderTest]] = {
        "wechatpay": _wechat,
        "alipay": _alipay,
        "unionpay": _unionpay,
        "pos": _pos,
    }
    async with sims[name]() as sim:
        acquirer = build[name](sim)
        async with acquirer.make_receiver(0, 500) as receiver:
            acquirer.receiver = receiver
            yield acquirer
