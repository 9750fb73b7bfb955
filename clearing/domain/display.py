"""What staff read instead of codes: the one table of display names, used by the pages, the
reports, the exports, the receipt and (through ``/window/names.js``) the browser's scripts.

One name per concept, everywhere: a discrepancy type reads the same on /finance, in the daily
report and in the XLSX. Add a code here when you add it to a CHECK constraint or an enum; the unit
tests compare this table with the schema and fail on a code without a name.

Names that are data (offices, banks, beneficiaries, fee items, people, ledger accounts) are not
here: ``clearing.service.names.load`` reads them from where they live and returns them merged
with these tables as one ``Names``. Pure: no I/O.

Usage::

    from clearing.domain.display import name
    name("order_state", "CLEARED")        # '已缴费'
    name("channel", "pos")                # '银行卡'
    name("discrepancy_type", "NEW_KIND")  # 'NEW_KIND': an unknown code is shown as it is
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from clearing.domain.ratings import GRADES

# who acts when the citizen pays on their own phone (/m/{token}): attempts, the first receipt
PAYER_ACTOR: Final = "payer:mobile"

# fmt: off
_TABLES: dict[str, dict[str, str]] = {
    # payment channels (payments.provider, payment_attempts.provider)
    "channel": {
        "wechatpay": "微信支付", "alipay": "支付宝", "unionpay": "云闪付（银联）",
        "pos": "银行卡",
    },
    # how a channel was used (payment_attempts.method)
    "pay_method": {"qr": "扫码支付", "code": "付款码", "card": "刷卡", "h5": "手机网页支付",
                   "jsapi": "微信内支付"},
    "card_type": {"D": "借记卡", "C": "贷记卡"},
    "order_state": {
        "OPEN": "待缴费", "PAYING": "缴费中", "CLEARED": "已缴费", "SETTLED": "已清算",
        "EXPIRED": "已过期", "CANCELLED": "已撤销", "EXCEPTION": "异常待处理",
        "REFUNDING": "退款中", "REFUNDED": "已退款",
    },
    "attempt_state": {
        "CREATING": "创建中", "OPEN": "待支付", "SUCCEEDED": "支付成功", "CLOSED": "已关闭",
        "FAILED": "支付失败", "REVERSED": "已撤销（冲正）",
    },
    "payment_outcome": {"CLEARED": "已清分", "SUSPENSE": "挂账待退回"},
    # a line of a channel's daily bill (recon_bill_lines.kind, BillRecord.kind)
    "bill_kind": {"PAYMENT": "支付", "REFUND": "退款", "REVERSAL": "撤销（冲正）"},
    # the elements of an authority's proof (LegConfirmation.proof), by key
    "proof_key": {
        "certificate_no": "证明号", "notice_no": "通知书号", "property_unit": "不动产单元号",
        "account_no": "账号", "pay_serial": "缴存流水号", "order_no": "缴费单号",
        "tax_org_code": "税务机关代码", "tax_vou_no": "税票号", "cert_no": "完税证明号",
        "tax_date": "完税日期", "cert_sign": "证明签章", "bill_code": "票据代码",
        "bill_no": "票据号码", "check_code": "校验码", "issued_on": "开票日期",
    },
    # refund requests staff make (refund_requests.state)
    "refund_state": {
        "REQUESTED": "待审批", "REJECTED": "已驳回", "APPROVED": "已批准", "PROCESSING": "退款中",
        "ABNORMAL": "退款异常", "SUCCEEDED": "已退款", "FAILED": "退款失败",
    },
    # automatic refunds of suspense money (refunds.state)
    "suspense_refund_state": {
        "REQUESTED": "待退回", "PROCESSING": "退回中", "SUCCESS": "已退回", "CLOSED": "已关闭",
        "ABNORMAL": "退回异常",
    },
    # a leg's confirmation by its authority (order_lines.confirm_state)
    "leg_state": {"PENDING": "待主管部门确认", "CONFIRMED": "主管部门已确认",
                  "REFUSED": "主管部门未确认"},
    "authority": {"tax": "税务部门", "fiscal": "财政非税系统", "fund": "维修资金管理中心",
                  "fees": "登记收费标准"},
    "fee_kind": {"tax": "税款", "nontax": "非税收入", "fund": "维修资金"},
    "account_kind": {"treasury": "国库账户", "nontax_fiscal": "非税财政专户",
                     "fund_custodial": "维修资金专户"},
    "settle_mode": {"daily": "每日定时", "realtime": "实时"},
    "batch_state": {
        "CREATED": "已生成", "FILES_WRITTEN": "文件已生成", "DELIVERED": "已送达银行",
        "ANSWERED": "银行已回执", "CLOSED": "已完成",
    },
    "instruction_state": {
        "PENDING": "待银行处理", "ACCEPTED": "银行已受理", "BOOKED": "已入账",
        "REJECTED": "被拒绝", "RETURNED": "已退汇",
    },
    "file_kind": {
        "pain001": "支付指令文件", "payout": "批量代付文件", "detail": "收款单位明细",
        "sha256": "校验值", "sig": "签名",
    },
    "account_change_state": {"REQUESTED": "待审批", "APPROVED": "已批准", "REJECTED": "已驳回"},
    "run_state": {"RUNNING": "运行中", "DONE": "已完成", "FAILED": "失败"},
    "discrepancy_type": {
        "LONG": "长款", "SHORT": "短款", "TIMING": "跨日在途", "AMOUNT_MISMATCH": "金额不符",
        "DUPLICATE": "重复缴款", "FEE_MISMATCH": "手续费不符", "REFUND_MISMATCH": "退款不符",
        "UNCONFIRMED_LEG": "主管部门未确认", "UNKNOWN_CONFIRMATION": "确认无对应缴费",
        "SETTLEMENT_REJECTED": "付款被拒或退汇", "STATEMENT_CREDIT_UNMATCHED": "银行来账未匹配",
        "STATEMENT_DEBIT_UNMATCHED": "银行付款未匹配",
        "ACQUIRER_CREDIT_MISMATCH": "收单结算款不符", "BALANCE_DRIFT": "余额不符",
    },
    "discrepancy_state": {"OPEN": "待处理", "ASSIGNED": "处理中", "RESOLVED": "已解决",
                          "VOID": "已作废"},
    # where a discrepancy was seen, besides the channels and authorities (and "bank:<code>")
    "source": {"ledger": "本系统账务"},
    "adjustment_state": {"REQUESTED": "待审批", "POSTED": "已过账", "REJECTED": "已驳回"},
    "match_state": {"AUTO": "自动匹配", "PROPOSED": "待确认", "CONFIRMED": "已确认",
                    "REJECTED": "已驳回"},
    "match_rule": {"amount_time_reference": "金额、时间与单号相近", "acquirer_net": "收单净额结算",
                   "amount_within_tolerance": "金额在容差内"},
    # the facts a discrepancy carries (discrepancies.detail), by key
    "detail_key": {
        "why": "说明", "unit": "计量单位", "proof_no": "主管部门凭证号", "match_id": "匹配建议编号",
        "confidence": "置信度", "candidate": "候选交易", "state": "银行处理结果",
        "reason_code": "银行退回原因", "batch_date": "批次业务日期",
        "their_out_trade_no": "对方记录的商户单号", "our_out_trade_no": "我方商户单号",
        "fees_fen": "手续费（分）", "bill_lines": "账单笔数", "refund": "重复款项退回",
        "confirm_state": "主管部门确认状态", "listed": "在主管部门确认清单中",
        "counterparty": "对方户名", "provider": "支付渠道",
    },
    "detail_unit": {"millifen": "厘（千分之一元）"},
    "detail_refund": {"pending": "尚未退回缴款人"},
    # what a reconciliation run counted (recon_runs.stats), by key
    "run_stat": {
        "bill_payment_lines": "账单支付笔数", "our_payments": "我方支付笔数",
        "payments_matched": "已匹配支付笔数", "matched_across_days": "跨日匹配笔数",
        "refunds_matched": "已匹配退款笔数", "duplicates_returned": "重复缴款已退回笔数",
        "legs_matched": "主管部门已确认笔数", "statement_lines": "银行流水笔数",
        "statement_lines_explained": "已核对银行流水笔数", "rule_matched": "规则自动匹配笔数",
        "rule_proposed": "规则建议匹配笔数", "findings": "发现差异笔数",
        "discrepancies_new": "新增差异笔数", "discrepancies_closed": "关闭差异笔数",
        "recovered": "补录支付笔数", "auto_match_ratio": "自动匹配率",
        "findings_by_type": "差异按类型", "fetch_errors": "未能获取",
        # the words of older runs' statistics, per source
        "matched": "已匹配", "total": "合计", "auto_matched": "自动匹配", "compared": "已比对",
    },
    # ISO 20022 status reasons a bank gives (pain.002, camt.053 returns)
    "bank_reason": {
        "AC01": "账号错误", "AC02": "付款账号无效", "AC03": "收款账号无效",
        "AC04": "账户已销户", "AC06": "账户已冻结", "AC13": "账户类型不符",
        "AM01": "金额为零", "AM03": "币种不符", "AM04": "余额不足", "AM05": "重复付款",
        "BE01": "户名与账号不符", "CH20": "金额小数位数不符", "MD07": "收款人已身故",
        "MS03": "未说明原因", "RC10": "收款行行号无效", "NARR": "见附言",
    },
    # what a shift hands over (shift_items.kind)
    "shift_item_kind": {"order": "开具缴费单", "payment": "收款", "cancel": "撤销缴费单",
                        "refund": "退款"},
    # the citizen's rating of the service (service_ratings.grade), as clearing.domain.ratings
    "rating_grade": dict(GRADES),
    "role": {"clerk": "窗口收费员", "supervisor": "值班主任", "finance": "财务人员",
             "admin": "系统管理员", "auditor": "审计人员"},
    "principal_kind": {"staff": "工作人员", "client": "接口客户端"},
    # what kind of place an office is (offices.kind)
    "office_kind": {"hall": "登记大厅", "centre": "便民服务中心", "branch": "银行网点"},
    # who did something when no person did (audit_log.actor, recon_runs.started_by, created_by)
    "actor": {
        "cli": "命令行", "system:cli": "命令行", "system:nightly": "夜间自动对账",
        "system:recon": "自动对账", "system:expiry": "系统（超时关闭）",
        "system:refund": "系统（自动退回）", "system:legs": "系统（主管部门确认）",
        "system:cutoff": "系统（定时清分）", "authority:tax": "税务部门",
        "authority:fiscal": "财政非税系统", "authority:fund": "维修资金管理中心",
        PAYER_ACTOR: "缴款人（手机缴费）",
    },
    # webhooks to the case system (webhook_deliveries.state, webhook_events.type)
    "webhook_delivery_state": {"PENDING": "待投递", "WAITING": "等待前序事件送达",
                               "DELIVERED": "已送达", "DEAD": "投递失败（死信）"},
    "webhook_event": {"order.paid": "缴费成功", "order.settled": "清算完成",
                      "order.refunded": "已退款", "order.cancelled": "缴费单已撤销",
                      "order.expired": "缴费单已过期"},
    "ledger_kind": {"asset": "资产", "liability": "负债", "suspense": "挂账", "expense": "费用"},
    "entry_kind": {"CAPTURE": "收款清分", "SUSPENSE": "挂账", "REFUND": "退款",
                   "ADJUSTMENT": "调整", "SETTLEMENT": "清分付款", "SETTLEMENT_RETURN": "付款退汇",
                   "BANK_CREDIT": "银行来账"},
    "audit_action": {
        "session.login": "登录", "principal.created": "新增用户", "order.created": "开具缴费单",
        "order.lines_typed": "手工录入收费明细", "order.cancelled": "撤销缴费单",
        "order.expired": "缴费单过期", "order.settled": "缴费单清算完成",
        "attempt.opened": "发起支付", "attempt.reversed": "撤销支付（冲正）",
        "payment.refunded": "款项退回", "refund.requested": "申请退款",
        "refund.approved": "批准退款", "refund.rejected": "驳回退款",
        "refund.succeeded": "退款成功", "refund.failed": "退款失败",
        "leg.confirmed": "主管部门确认", "leg.refused": "主管部门拒绝确认",
        "notify.refused": "拒收支付通知", "fee_schedule.published": "发布收费标准",
        "beneficiary.account_change_requested": "申请变更收款账户",
        "beneficiary.account_change_approved": "批准变更收款账户",
        "beneficiary.account_change_rejected": "驳回变更收款账户",
        "settlement.cutoff": "清分截止", "settlement.file_downloaded": "银行下载清分文件",
        "settlement.file_fetched": "获取银行回执文件",
        "settlement.file_rejected": "拒收银行文件",
        "settlement.instruction_rejected": "付款被拒",
        "settlement.instruction_returned": "付款退汇",
        "discrepancy.exported": "导出对账差异", "discrepancy.assigned": "指派对账差异",
        "discrepancy.commented": "添加备注", "discrepancy.resolved": "解决对账差异",
        "discrepancy.voided": "作废对账差异",
        "recon_adjustment.requested": "提议调整分录",
        "recon_adjustment.posted": "批准调整分录并过账",
        "recon_adjustment.rejected": "驳回调整分录", "recon_match.confirmed": "确认匹配建议",
        "recon_match.rejected": "驳回匹配建议",
        "webhook.subscribed": "新增事件订阅", "webhook.secret_rotated": "更换订阅签名密钥",
        "webhook.disabled": "停用事件订阅", "webhook.resent": "重新投递事件",
        "kiosk.created": "登记自助终端", "kiosk.revoked": "停用自助终端",
        "kiosk.enrolled": "启用自助终端", "kiosk.order_opened": "自助终端查到缴费单",
        "kiosk.lookup_refused": "自助终端查询未通过", "kiosk.cleared": "自助终端清屏",
        "kiosk.code_payment": "自助终端付款码支付",
        "order.notice_issued": "开具缴费通知书", "order.notice_sms": "短信发送缴费通知",
    },
    # a payment notice's SMS (payment_notices.sms_state)
    "sms_state": {
        "SENDING": "发送中", "SENT": "已发送", "FAILED": "发送失败", "UNKNOWN": "发送结果未知",
    },
}
# fmt: on

TABLES: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {kind: MappingProxyType(names) for kind, names in _TABLES.items()}
)
# kinds whose names are data, read by clearing.service.names.load
DATA_KINDS: Final = (
    "office",
    "window",
    "bank",
    "beneficiary",
    "fee_item",
    "user",
    "ledger_account",
    "kiosk",
)


def name(kind: str, code: str | None) -> str:
    """The display name of ``code``; "" for no code; an unknown code as it is (never hidden)."""
    if code is None or code == "":
        return ""
    return TABLES.get(kind, {}).get(code, code)


_WINDOW_NO = re.compile(r"^[A-Za-z]{0,3}0*([0-9]{1,4})$")


def window_name(window_no: str | None) -> str:
    """A window as the hall signs it: ``W01`` → ``1号窗口``; a name already in words stays."""
    if not window_no:
        return ""
    m = _WINDOW_NO.match(window_no)
    return f"{m.group(1)}号窗口" if m else window_no


@dataclass(frozen=True)
class Names:
    """The static tables together with the names that are data (``DATA_KINDS``)."""

    data: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def of(self, kind: str, code: str | None) -> str:
        if code is None or code == "":
            return ""
        found = self.data.get(kind, {}).get(code)
        return found if found is not None else name(kind, code)

    def source(self, source: str | None) -> str:
        """Where a discrepancy was seen: a channel, an authority, the ledger or ``bank:<code>``."""
        if not source:
            return ""
        if source.startswith("bank:"):
            return self.of("bank", source[5:])
        for kind in ("channel", "authority", "source"):
            if source in TABLES[kind]:
                return TABLES[kind][source]
        return source

    def actor(self, actor: str | None) -> str:
        """Who did something: a person by name (``user:clerk1`` or ``clerk1``), else a system."""
        if not actor:
            return ""
        if actor in TABLES["actor"]:
            return TABLES["actor"][actor]
        if actor.startswith("kiosk:"):  # a self-service kiosk, by the name 系统管理 gave it
            return self.data.get("kiosk", {}).get(actor[6:]) or f"自助终端{actor[6:]}"
        user = actor.split(":", 1)[1] if actor.startswith(("user:", "client:")) else actor
        return self.of("user", user)

    def office(self, code: str | None) -> str:
        return self.of("office", code)

    def window_of(self, office: str | None, window_no: str | None) -> str:
        """The window alone, by the name the hall gave it (``窗口一``), else as signed
        (``1号窗口``)."""
        if not window_no:
            return ""
        found = self.data.get("window", {}).get(f"{office or ''}/{window_no}")
        return found if found else window_name(window_no)

    def window(self, office: str | None, window_no: str | None) -> str:
        """``第一办事大厅 窗口一``, or the window alone without an office."""
        parts = [self.office(office), self.window_of(office, window_no)]
        return " ".join(p for p in parts if p)

    def as_json(self) -> dict[str, dict[str, str]]:
        """Every table, static and data, as the browser's names.js serves it."""
        out = {kind: dict(names) for kind, names in TABLES.items()}
        for kind, names in self.data.items():
            out.setdefault(kind, {}).update(names)
        return out


STATIC_NAMES: Final = Names()
