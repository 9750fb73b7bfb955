"""An order's history as staff read it: issued, payment attempts, the channels' answers
(callbacks, queries), confirmations to the authorities, refunds, settlement, reprints.

Built from the order's audit trail (who did what, when) and the settlement tables (a payout is
recorded per batch, not per order); each event gets a Chinese title and detail, never a code.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from clearing.db import Conn
from clearing.domain.display import name
from clearing.domain.money import format_yuan
from clearing.service.search import CHANNEL_ZH

SOURCE_ZH = {"notify": "渠道回调通知", "query": "主动查询", "sync": "同步返回"}
METHOD_ZH = {"qr": "扫码支付", "code": "付款码", "card": "银行卡刷卡"}
SUSPENSE_ZH = {
    "AMOUNT_MISMATCH": "金额不符",
    "ORDER_NOT_OPEN": "缴费单已关闭",
    "ORDER_UNKNOWN": "缴费单不存在",
    "ALREADY_PAID": "重复支付",
}
INSTRUCTION_ZH = {
    "PENDING": "待银行处理",
    "BOOKED": "已划付到账",
    "REJECTED": "银行拒绝",
    "RETURNED": "退汇",
}
# action → title; what each detail says is filled in by _detail
TITLES = {
    "order.created": "开具缴费单",
    "order.lines_typed": "主管手工录入金额",
    "attempt.opened": "发起支付",
    "attempt.reversed": "支付撤销（冲正）",
    "attempt.failed": "支付未成功",
    "payment.cleared": "收到支付结果，已入账分账",
    "payment.suspense": "收到款项，转入挂账待退",
    "payment.refunded": "挂账款项已原路退回",
    "leg.confirmed": "主管部门已确认",
    "leg.refused": "主管部门拒绝确认",
    "order.settled": "全部款项已确认并清算",
    "order.cancelled": "撤销缴费单",
    "order.expired": "缴费单过期关闭",
    "refund.requested": "申请退款",
    "refund.approved": "退款审批通过",
    "refund.rejected": "退款审批驳回",
    "refund.succeeded": "退款成功",
    "refund.failed": "退款失败",
    "order.notice_issued": "开具缴费通知书",
    "order.notice_sms": "短信发送缴费通知",
}

_AUDIT = """
SELECT a.at, a.actor, a.action, a.detail, p.display_name
  FROM audit_log a
  LEFT JOIN principals p ON a.actor IN ('user:' || p.username, 'client:' || p.username)
 WHERE a.object_type = 'order' AND a.object_id = $1
 ORDER BY a.at, a.id
"""
_SETTLEMENT = """
SELECT b.cutoff_at, i.answered_at, i.state, i.creditor_name, sum(s.amount_fen)::bigint AS fen,
       string_agg(s.line_no::text, '、' ORDER BY s.line_no) AS lines
  FROM settlement_items s JOIN settlement_instructions i ON i.id = s.instruction_id
  JOIN settlement_batches b ON b.id = i.batch_id
 WHERE s.order_id = $1
 GROUP BY b.id, i.id ORDER BY b.cutoff_at, i.id
"""


def _who(actor: str, name: str | None) -> str:
    if name:
        return name
    kind = actor.split(":", 1)[0]
    if kind == "acquirer":
        return CHANNEL_ZH.get(actor.split(":", 1)[1], "支付渠道")
    return {"system": "系统", "worker": "系统", "authority": "主管部门"}.get(kind, "系统")


def _yuan(v: object) -> str:
    return format_yuan(int(v)) if isinstance(v, int) else ""


def _detail(action: str, d: dict[str, Any]) -> str:
    if action == "order.created":
        return f"业务受理号 {d.get('case_no', '')}，合计 {_yuan(d.get('total_fen'))}"
    if action == "attempt.opened":
        channel = CHANNEL_ZH.get(str(d.get("provider")), "支付渠道")
        return (
            f"{channel} · {METHOD_ZH.get(str(d.get('method')), '')} · {d.get('out_trade_no', '')}"
        )
    if action == "attempt.failed":
        channel = CHANNEL_ZH.get(str(d.get("provider")), "支付渠道")
        return f"{channel} · {d.get('reason_zh', '')} · {d.get('out_trade_no', '')}"
    if action in ("payment.cleared", "payment.suspense"):
        text = f"{_yuan(d.get('amount_fen'))}，{SOURCE_ZH.get(str(d.get('source')), '渠道通知')}"
        if d.get("reason"):
            text += f"，原因：{SUSPENSE_ZH.get(str(d['reason']), '无法入账')}"
        return text
    if action.startswith("refund."):
        parts = [_yuan(d.get("amount_fen"))] if "amount_fen" in d else []
        for key in ("reason", "note"):
            if d.get(key):
                parts.append(str(d[key]))
        return "，".join(p for p in parts if p)
    if action == "order.cancelled":
        return f"原因：{d.get('reason', '')}"
    if action == "order.notice_issued":
        return f"短信发送至 {d['sms_to']}" if d.get("sms_to") else "打印交缴款人"
    if action == "order.notice_sms":
        return name("sms_state", str(d.get("state")))
    if action.startswith("leg."):
        line = d.get("line_no")
        proof = d.get("proof_no")
        text = f"第 {line} 项" if line is not None else ""
        return text + (f"，凭证号 {proof}" if proof else "")
    if action.startswith("receipt."):
        count = d.get("count") or d.get("reprint_count")
        return f"第 {count} 次补打" if count else ""
    return ""


def _title(action: str) -> str:
    if action in TITLES:
        return TITLES[action]
    if action.startswith("receipt."):
        return "补打回执" if "reprint" in action else "回执"
    return "其他操作"


async def for_order(conn: Conn, order_id: int, order_no: str) -> list[dict[str, Any]]:
    """Every event of one order, oldest first."""
    events: list[tuple[datetime, dict[str, Any]]] = []
    for r in await conn.fetch(_AUDIT, order_no):
        detail = r["detail"] if isinstance(r["detail"], dict) else {}
        events.append(
            (
                r["at"],
                {
                    "at": r["at"].isoformat(),
                    "kind": r["action"],
                    "title": _title(r["action"]),
                    "detail": _detail(r["action"], detail),
                    "who": _who(r["actor"], r["display_name"]),
                },
            )
        )
    for s in await conn.fetch(_SETTLEMENT, order_id):
        events.append(
            (
                s["cutoff_at"],
                {
                    "at": s["cutoff_at"].isoformat(),
                    "kind": "settlement.instructed",
                    "title": "清分划付指令",
                    "detail": (
                        f"第 {s['lines']} 项 {format_yuan(s['fen'])} 划付 {s['creditor_name']}"
                    ),
                    "who": "系统",
                },
            )
        )
        if s["answered_at"] is not None:
            events.append(
                (
                    s["answered_at"],
                    {
                        "at": s["answered_at"].isoformat(),
                        "kind": "settlement.answered",
                        "title": "银行回执：" + INSTRUCTION_ZH.get(s["state"], "已处理"),
                        "detail": f"{format_yuan(s['fen'])} {s['creditor_name']}",
                        "who": "合作银行",
                    },
                )
            )
    events.sort(key=lambda e: e[0])
    return [e for _, e in events]
