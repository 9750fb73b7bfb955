"""The simulator's unsigned ``/sim/`` endpoints: the citizen's phone and the test harness."""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import datetime
from typing import Any

from aiohttp import web

from adapters.alipay.crypto import BEIJING, beijing_text
from adapters.alipay.sim_events import mark_paid, open_trade
from adapters.alipay.sim_state import STATE, Order, SimState
from adapters.simkit.notify import notices_json
from adapters.simkit.orders import Brand, Counter

log = logging.getLogger(__name__)


def _status(order: Order, now: datetime) -> str:
    if order.trade_no is None:
        return "TRADE_CLOSED" if order.voided or order.expired(now) else "NOT_SCANNED"
    return order.effective_status(now)


class AlipayDesk(Counter[SimState, Order]):
    MISSING = ("TRADE_NOT_EXIST", "交易不存在")
    BAD_CODE = "INVALID_PARAMETER"
    BRAND = Brand("支付宝（模拟）", "支付宝（模拟）", "#1677ff", "确认付款", "收款方", "商品")

    def find(self, no: str) -> Order | None:
        return self.state.orders.get(no)

    def payable(self, no: str) -> Order | None:
        order = self.find(no)
        return None if order is None or order.scene == "cancelled" else order

    def number(self, order: Order) -> str:
        return order.out_trade_no

    def by_code(self, code: str) -> Order | None:
        out_trade_no = self.state.by_token.get(code)
        return None if out_trade_no is None else self.state.orders[out_trade_no]

    def scanned(self, order: Order) -> web.Response:
        """The citizen scans the QR: the trade comes to exist (WAIT_BUYER_PAY)."""
        now = datetime.now(BEIJING)
        if not order.payable(now):
            return self.page(order, "二维码已失效")
        open_trade(self.state, order, now)
        return self.page(order)

    async def scan_json(self, request: web.Request) -> web.Response:
        order = self.find(request.match_info["no"])
        if order is None or not order.token:
            return self.missing()
        now = datetime.now(BEIJING)
        if not order.payable(now):
            return web.json_response(
                {"code": "TRADE_CLOSED", "message": "二维码已失效"}, status=409
            )
        open_trade(self.state, order, now)
        return web.json_response(self.view(order))

    def expire(self, order: Order, now: datetime) -> None:
        order.time_expire = now

    def scan_facts(self, order: Order, now: datetime) -> tuple[str, str, int, str, bool]:
        fen = order.paid_fen if order.paid_fen is not None else order.total_fen
        merchant = f"税费通缴（{self.state.keys.seller_id}）"
        return merchant, order.subject, fen, _status(order, now), order.payable(now)

    def refusal(self, order: Order, now: datetime) -> tuple[str, str, str] | None:
        if order.payable(now):
            return None
        if order.paid_fen is not None:
            return "TRADE_HAS_SUCCESS", _status(order, now), "订单已支付"
        return "TRADE_HAS_CLOSE", _status(order, now), "订单已关闭"

    def pay(
        self, order: Order, amount_fen: int | None, now: datetime
    ) -> tuple[dict[str, Any], str]:
        mark_paid(self.state, order, now, amount_fen)
        answer = {
            "out_trade_no": order.out_trade_no,
            "trade_no": order.trade_no,
            "trade_status": order.status,
            "amount_fen": order.paid_fen,
            "notify_id": order.notifications[-1].id if order.notifications else None,
        }
        return answer, "付款成功"

    def view(self, order: Order) -> dict[str, Any]:
        now, base = datetime.now(BEIJING), self.state.public_base_url
        return {
            "out_trade_no": order.out_trade_no,
            "scene": order.scene,
            "state": _status(order, now),
            "subject": order.subject,
            "total_fen": order.total_fen,
            "paid_fen": order.paid_fen,
            "fee_fen": order.fee_fen,
            "trade_no": order.trade_no,
            "gmt_payment": beijing_text(order.gmt_payment) if order.gmt_payment else None,
            "time_expire": beijing_text(order.time_expire) if order.time_expire else None,
            "notify_url": order.notify_url,
            "qr_code": f"https://qr.alipay.com/{order.token}" if order.token else None,
            "scan_url": f"{base}/sim/scan/{order.token}" if order.token else None,
            # 手机网站支付: the cashier the payer's browser was sent to
            "cashier_url": f"{base}/sim/wap/{order.page_token}" if order.page_token else None,
            "return_url": order.return_url or None,
            "cancel_action": order.cancel_action,
            "refunds": [{**asdict(r), "at": beijing_text(r.at)} for r in order.refunds],
            **notices_json(order.notifications, "notify_id", "event"),
        }


def add_control_routes(app: web.Application) -> None:
    counter = AlipayDesk(app[STATE])
    app.router.add_post("/sim/orders/{no}/scan", counter.scan_json)
    counter.add_routes(app)
