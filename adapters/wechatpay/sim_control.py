"""The simulator's unsigned ``/sim/`` endpoints: the citizen's phone and the test harness.

GET  /sim/scan/{pr}                    the page a scanned QR code opens
POST /sim/orders/{no}/pay              the citizen pays (JSON ``amount_fen`` to pay another
                                       amount); for a code payment waiting in USERPAYING:
                                       the citizen confirms on the phone
POST /sim/orders/{no}/expire           let time_expire pass now
GET  /sim/orders/{no}                  state, refunds, every notification and delivery attempt
POST /sim/refunds/{no}/complete        a PROCESSING/ABNORMAL refund ends (``sim_refund``)
GET|PUT|DELETE /sim/faults             the knobs (``sim_faults``)
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import datetime
from typing import Any

from aiohttp import web

from adapters.simkit.notify import notices_json
from adapters.simkit.orders import Brand, Counter
from adapters.wechatpay import sim_codepay
from adapters.wechatpay.sim_delivery import payment_notification, send
from adapters.wechatpay.sim_state import BEIJING, STATE, Order, SimState, rfc3339

log = logging.getLogger(__name__)


class WeChatDesk(Counter[SimState, Order]):
    BRAND = Brand("微信支付（模拟）", "微信支付（模拟）", "#07c160", "确认支付", "商户", "商品")

    def find(self, no: str) -> Order | None:
        return self.state.orders.get(no)

    def number(self, order: Order) -> str:
        return order.out_trade_no

    def by_code(self, code: str) -> Order | None:
        out_trade_no = self.state.by_pr.get(code)
        return None if out_trade_no is None else self.state.orders[out_trade_no]

    def expire(self, order: Order, now: datetime) -> None:
        order.time_expire = now

    def scan_facts(self, order: Order, now: datetime) -> tuple[str, str, int, str, bool]:
        current = order.effective_state(now)
        fen = order.paid_fen if order.paid_fen is not None else order.total_fen
        merchant = f"税费通缴（商户号 {self.state.keys.mchid}）"
        return merchant, order.description, fen, current, current == "NOTPAY"

    def refusal(self, order: Order, now: datetime) -> tuple[str, str, str] | None:
        current = order.effective_state(now)
        if order.trade_type == "MICROPAY" and current == "USERPAYING":
            return None  # the citizen confirms a code payment on the phone
        if current != "NOTPAY" or order.trade_type not in ("NATIVE", "MWEB", "JSAPI"):
            paid = order.transaction_id is not None
            note = "订单已支付" if paid else "订单已关闭"
            return ("ORDERPAID" if paid else "ORDER_CLOSED"), current, note
        return None

    def pay(
        self, order: Order, amount_fen: int | None, now: datetime
    ) -> tuple[dict[str, Any], str]:
        state, fen = self.state, amount_fen or order.total_fen
        answer: dict[str, Any] = {"out_trade_no": order.out_trade_no}
        if order.trade_type == "MICROPAY":
            sim_codepay.complete(state, order, "SUCCESS", fen, now)
            log.info("sim code payment confirmed out_trade_no=%s", order.out_trade_no)
        else:
            state.settle(order, fen, now)
            notification = payment_notification(state, order, now)
            send(state, order, notification)
            answer["event_id"] = notification.id
            log.info("sim paid out_trade_no=%s paid_fen=%d", order.out_trade_no, fen)
        answer.update(transaction_id=order.transaction_id, trade_state=order.state, amount_fen=fen)
        return answer, "支付成功"

    def view(self, order: Order) -> dict[str, Any]:
        now = datetime.now(BEIJING)
        return {
            "out_trade_no": order.out_trade_no,
            "trade_type": order.trade_type,
            "state": order.effective_state(now),
            "description": order.description,
            "total_fen": order.total_fen,
            "paid_fen": order.paid_fen,
            "transaction_id": order.transaction_id,
            "success_time": order.success_time,
            "time_expire": rfc3339(order.time_expire) if order.time_expire else None,
            "notify_url": order.notify_url,
            "attach": order.attach,
            "code_url": f"weixin://wxpay/bizpayurl?pr={order.pr}",
            "scan_url": f"{self.state.public_base_url}/sim/scan/{order.pr}",
            "refunds": [asdict(r) for r in order.refunds],
            "reversal": asdict(order.reversal) if order.reversal else None,
            **notices_json(order.notifications, "event_id", "event_type"),
        }


def add_control_routes(app: web.Application) -> None:
    WeChatDesk(app[STATE]).add_routes(app)
