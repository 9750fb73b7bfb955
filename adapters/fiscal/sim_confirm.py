"""How the simulated non-tax system decides a 5996 payment confirmation, voucher by voucher.

A payment code is confirmed once: asking again with the same payment (TraNoBus) and amount gets
the same answer and the same e-bill; another payment of a settled notice is refused, so a notice
paid twice is noticed by the system rather than silently billed twice.
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

from adapters.fiscal import frame as fr
from adapters.fiscal import messages as m
from adapters.fiscal.sim_state import Confirmation, SimState
from adapters.simkit.authority import Refusal, asked_again
from clearing.domain.money import MoneyError, parse_yuan, yuan_str

log = logging.getLogger(__name__)

_TRA_NO = re.compile(r"[!-~]{1,64}")  # printable ASCII: wallets and banks differ


class ConfirmError(Refusal):
    """One voucher refused, with the system's error code and words."""

    def __init__(self, pay_code: str, err_code: str, add_word: str) -> None:
        super().__init__(err_code, add_word)
        self.pay_code = pay_code


def confirm_voucher(state: SimState, body: ET.Element, now: datetime) -> Confirmation:
    """Accept one ``VoucherBody`` or raise ConfirmError; no await, so no other frame interleaves."""
    try:
        voucher = m.decode_voucher(body.findtext("Voucher") or "")
    except fr.FrameError as exc:
        raise ConfirmError("", m.ERR_FORMAT, f"凭证格式错误：{exc}") from None
    code = voucher["PayCode"]
    amount_fen, problem = _checked(state, body, voucher)
    if problem:
        raise ConfirmError(code, m.ERR_FORMAT, problem)
    notice = state.notices.get(code)
    if notice is None:
        raise ConfirmError(code, m.ERR_NO_NOTICE, "缴款码不存在")
    known = state.confirmations.get(code)
    if known is not None:
        other = ConfirmError(
            code, m.ERR_OTHER_PAYMENT, f"该缴款码已由交易{known.tra_no_bus}缴款并确认"
        )
        asked_again(
            (known.tra_no_bus, known.amount_fen), (voucher["TraNoBus"], amount_fen), other, other
        )
        return known
    if notice.status == "VOID":
        raise ConfirmError(code, m.ERR_VOID, "该缴款书已作废")
    if state.faults.take("refuse_confirm"):
        raise ConfirmError(code, m.ERR_REFUSED, state.faults.refuse_reason)
    if voucher["RecAcct"] != state.keys.registration.collect_acct:
        raise ConfirmError(code, m.ERR_ACCOUNT, "收款账户不是本地区非税收入汇缴专户")
    if amount_fen != notice.amount_fen:
        raise ConfirmError(
            code,
            m.ERR_AMOUNT,
            f"缴款金额{yuan_str(amount_fen)}元与应缴金额{yuan_str(notice.amount_fen)}元不符",
        )
    conf = Confirmation(
        payment_code=code,
        voucher_no=body.get("VoucherNo", ""),
        amount_fen=amount_fen,
        tra_no_bus=voucher["TraNoBus"],
        cfm_date=voucher["CfmDate"],
        cfm_time=voucher["CfmTime"],
        order_no=voucher["Hold1"],
        accepted_at=now,
        bill_ready_at=now + timedelta(seconds=state.faults.bill_delay_s),
    )
    state.confirmations[code] = conf
    notice.status = "PAID"
    log.info("sim confirmed code=%s amount_fen=%d", code, amount_fen)
    return conf


def _checked(state: SimState, body: ET.Element, voucher: dict[str, str]) -> tuple[int, str]:
    """The voucher's amount in fen and, when it is malformed, what is wrong (else '')."""
    if body.get("VtCode") != m.MSG_CONFIRM or body.get("AdmDivCode") != state.division:
        return 0, "凭证类型或区划错误"
    if not voucher["PayCode"] or body.get("VoucherNo") != voucher["PayCode"]:
        return 0, "凭证号与缴款码不符"
    try:
        amount_fen = parse_yuan(voucher["Amt"])
    except MoneyError:
        return 0, "金额格式错误"
    if amount_fen <= 0:
        return 0, "金额必须大于零"
    try:
        moment = voucher["CfmDate"] + voucher["CfmTime"]
        datetime.strptime(moment, "%Y%m%d%H%M%S").replace(tzinfo=fr.BEIJING)
    except ValueError:
        return 0, "缴款日期或时间格式错误"
    if not _TRA_NO.fullmatch(voucher["TraNoBus"]):
        return 0, "交易流水号格式错误"
    if voucher["RecAcctType"] != m.REC_ACCT_TYPE_COLLECT:
        return 0, "收款账户类型错误"
    return amount_fen, ""


def confirmation_fields(state: SimState, conf: Confirmation, now: datetime) -> dict[str, str]:
    """A confirmation as the 8001 return and the 5998 line carry it (the bill once issued)."""
    bill = state.ready_bill(conf, now)
    fields = {
        "VoucherNo": conf.voucher_no,
        "PayCode": conf.payment_code,
        "Result": m.RESULT_OK,
        "AddWord": "成功" if bill else "已确认，票据待开具",
        "Amt": yuan_str(conf.amount_fen),
        "TraNoBus": conf.tra_no_bus,
        "CfmDate": conf.cfm_date,
        "CfmTime": conf.cfm_time,
        "AcceptTime": conf.accepted_at.astimezone(fr.BEIJING).strftime("%Y%m%d%H%M%S"),
        "BillStatus": m.BILL_ISSUED if bill else m.BILL_PENDING,
    }
    if bill is not None:
        fields.update(
            BillCode=bill.bill_code,
            BillNo=bill.bill_no,
            CheckCode=bill.check_code,
            IssueDate=bill.issued_at.astimezone(fr.BEIJING).strftime("%Y%m%d"),
        )
    return fields
