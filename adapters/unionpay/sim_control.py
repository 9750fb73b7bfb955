"""The simulator's unsigned ``/sim/`` endpoints: the citizen's phone and the test harness."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from adapters.simkit import desk
from adapters.simkit.notify import notices_json
from adapters.simkit.orders import Brand, Counter, Paid
from adapters.unionpay import wire
from adapters.unionpay.sim_delivery import notify
from adapters.unionpay.sim_state import STATE, SimState, Txn, masked_card

log = logging.getLogger(__name__)

PAYABLE_SUB_TYPES = ("07", "01")


def _payable(txn: Txn, now: datetime) -> bool:
    # a code to scan (01/07) or a payment page (01/01) nobody paid yet
    return txn.txn_sub_type in PAYABLE_SUB_TYPES and txn.state == "ISSUED" and not txn.expired(now)


def _state_word(txn: Txn, now: datetime) -> str:
    if txn.state == "ISSUED" and txn.expired(now):
        return "EXPIRED"
    return txn.state


class UnionPayDesk(Counter[SimState, Txn]):
    BRAND = Brand(
        "云闪付（模拟）",
        "银联云闪付（模拟）",
        "#d7000f",
        "确认付款",
        "商户",
        "订单号",
        "该二维码当前不可支付",
    )

    def find(self, no: str) -> Txn | None:
        return self.state.txns.get(no)

    def payable(self, no: str) -> Txn | None:
        txn = self.find(no)
        return None if txn is None or txn.txn_sub_type not in PAYABLE_SUB_TYPES else txn

    def number(self, order: Txn) -> str:
        return order.order_id

    def by_code(self, code: str) -> Txn | None:
        order_id = self.state.by_token.get(code)
        return None if order_id is None else self.state.txns[order_id]

    def expire(self, order: Txn, now: datetime) -> None:
        order.pay_timeout = now

    def scan_facts(self, order: Txn, now: datetime) -> tuple[str, str, int, str, bool]:
        merchant = f"税费通缴（商户号 {self.state.keys.mer_ids[0]}）"
        return (
            merchant,
            order.order_id,
            order.amount_fen,
            _state_word(order, now),
            _payable(order, now),
        )

    def refusal(self, order: Txn, now: datetime) -> tuple[str, str, str] | None:
        if _payable(order, now):
            return None
        paid = order.state != "ISSUED"
        code = "ORDER_PAID" if paid else "ORDER_CLOSED"
        return code, _state_word(order, now), "订单已支付" if paid else "二维码已过期"

    def pay(self, order: Txn, amount_fen: int | None, now: datetime) -> Paid:
        """The citizen confirms in the wallet app."""
        order.amount_fen = amount_fen or order.amount_fen
        order.acc_no = masked_card()
        self.state.complete(order, now)
        notify(self.state, order)
        log.info("sim paid orderId=%s amount_fen=%d", order.order_id, order.amount_fen)
        return self.view(order), "付款成功"

    async def age(self, request: web.Request) -> web.Response:
        """Move a transaction ``days`` clearing days back (a void is then refused, and the
        clearing file of that earlier day shows it); its orderId and txnTime stay as they were."""
        txn = self.find(request.match_info["no"])
        if txn is None:
            return self.missing()
        try:
            knobs = await desk.json_object(request)
        except ValueError as exc:
            return self.bad(str(exc))
        days = knobs.get("days", 1)
        if not isinstance(days, int) or isinstance(days, bool) or days < 0:
            return self.bad("days must be a non-negative integer")
        if txn.completed_at is not None and txn.settle_date is not None:
            txn.completed_at -= timedelta(days=days)
            txn.settle_date -= timedelta(days=days)
        return web.json_response(self.view(txn))

    def view(self, txn: Txn) -> dict[str, Any]:
        now, base, qr = datetime.now(wire.BEIJING), self.state.public_base_url, txn.qr_token
        return {
            "order_id": txn.order_id,
            "txn_time": txn.txn_time,
            "txn_type": txn.txn_type,
            "txn_sub_type": txn.txn_sub_type,
            "state": _state_word(txn, now),
            "result_code": txn.result_code,
            "amount_fen": txn.amount_fen,
            "fee_fen": txn.fee_fen,
            "query_id": txn.query_id,
            "orig_query_id": txn.orig_query_id,
            "settle_date": txn.settle_date.isoformat() if txn.settle_date else None,
            "voided": txn.voided,
            "refunded_fen": txn.refunded_fen,
            "back_url": txn.back_url,
            "req_reserved": txn.req_reserved,
            "qr_code": f"https://qr.95516.com/00010000/{qr}" if qr is not None else None,
            "scan_url": f"{base}/sim/scan/{qr}" if qr is not None else None,
            # 手机网页支付: the card page the payer's browser was sent to, and its way back
            "page_url": f"{base}/sim/wap/{txn.page_token}" if txn.page_token else None,
            "front_url": txn.front_url or None,
            **notices_json(txn.notifications, "key", "resp_code"),
            "queries": list(txn.queries),
        }


def add_control_routes(app: web.Application) -> None:
    counter = UnionPayDesk(app[STATE])
    app.router.add_post("/sim/orders/{no}/age", counter.age)
    counter.add_routes(app)
