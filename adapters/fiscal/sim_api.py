"""The simulated non-tax system's bank interface: frames in, MAC'd frames out (PROTOCOL.md).

One endpoint, ``POST /nontax/gateway``; the message number inside the frame says what is asked:
5995 (what does this payment code owe), 5996 (payment confirmation, answered by 8001 with the
e-bill), 5998 (a day's confirmations, paged).
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from datetime import datetime

from aiohttp import web

from adapters.fiscal import frame as fr
from adapters.fiscal import messages as m
from adapters.fiscal.fees import late_fee_fen
from adapters.fiscal.sim_confirm import ConfirmError, confirm_voucher, confirmation_fields
from adapters.fiscal.sim_state import ITEM_NAMES, STATE, SimState
from adapters.simkit.authority import Refusal, front_door
from clearing.domain.money import parse_yuan, yuan_str

log = logging.getLogger(__name__)

GATEWAY_PATH = "/nontax/gateway"


def _reply(ori_msg_no: str, err_code: str = "", add_word: str = "成功") -> ET.Element:
    msg = ET.Element("MSG")
    batch = {
        "OriMsgNo": ori_msg_no,
        "Result": m.RESULT_FAIL if err_code else m.RESULT_OK,
        "ErrCode": err_code,
        "AddWord": add_word,
    }
    msg.append(m.fields_element("BatchReturn8001", batch, batch))
    return msg


def _answer(state: SimState, request_id: str, msg_no: str, msg: ET.Element) -> web.Response:
    reg = state.keys.registration
    now = datetime.now(fr.BEIJING)
    head = fr.Head(
        src=reg.fiscal_node,
        des=reg.bank_node,
        msg_no=msg_no,
        msg_id=fr.new_msg_id(now),
        msg_ref=request_id,
        work_date=now.strftime("%Y%m%d"),
    )
    token = state.signing_secret(state.keys.token)
    body = fr.encode_frame(msg_no, fr.build_message(head, msg), token)
    return web.Response(body=body, content_type=fr.CONTENT_TYPE)


async def gateway(request: web.Request) -> web.Response:
    state = request.app[STATE]
    closed = web.Response(status=503, text="非税收入系统维护中")
    if (shut := await front_door(state, closed)) is not None:
        return shut
    raw = await request.read()  # the app's client_max_size bounds it
    if state.faults.take("api_5xx"):
        return web.Response(status=500, text="系统繁忙")
    try:
        frame = fr.decode_frame(raw)
    except fr.FrameError as exc:
        # without a frame there is nobody to address an answer to
        log.info("sim refused bytes why=%s", exc)
        return web.Response(status=400, text=f"报文格式错误：{exc}")
    request_id, msg_no = "", frame.msg_no
    try:
        head, msg = _verified(state, frame)
        request_id = head.msg_id
        answer_no, answer = _dispatch(state, frame.msg_no, msg)
    except Refusal as exc:
        # echoed even when unverified: the sender can then match the refusal to its question
        request_id = request_id or _msg_id_of(frame)
        log.info("sim refused frame msg_no=%s err=%s why=%s", msg_no, exc.code, exc.words)
        state.messages.append({"msg_no": msg_no, "msg_id": request_id, "err_code": exc.code})
        return _answer(state, request_id, m.MSG_REPLY, _reply(msg_no, exc.code, exc.words))
    state.messages.append({"msg_no": msg_no, "msg_id": request_id, "err_code": ""})
    return _answer(state, request_id, answer_no, answer)


def _msg_id_of(frame: fr.Frame) -> str:
    try:
        return fr.parse_message(frame.xml)[0].msg_id
    except fr.FrameError:
        return ""


def _verified(state: SimState, frame: fr.Frame) -> tuple[fr.Head, ET.Element]:
    reg = state.keys.registration
    if not fr.mac_ok(state.keys.token, frame):
        raise Refusal(m.ERR_MAC, "报文MAC校验失败")
    try:
        head, msg = fr.parse_message(frame.xml)
    except fr.FrameError as exc:
        raise Refusal(m.ERR_FORMAT, f"报文格式错误：{exc}") from None
    if head.app != fr.APP or head.ver != fr.VERSION or head.msg_no != frame.msg_no:
        raise Refusal(m.ERR_FORMAT, "报文头与报文不符")
    if head.src != reg.bank_node or head.des != reg.fiscal_node:
        raise Refusal(m.ERR_FORMAT, "发起节点或接收节点错误")
    now = datetime.now(fr.BEIJING)
    skew = fr.msg_id_skew_s(head.msg_id, now)
    if skew is None or skew > fr.MAX_SKEW_S:
        raise Refusal(m.ERR_REPLAY, "报文时间超出允许范围")
    if not state.replays.fresh(head.msg_id, now):
        raise Refusal(m.ERR_REPLAY, "报文标识号重复")
    return head, msg


def _dispatch(state: SimState, msg_no: str, msg: ET.Element) -> tuple[str, ET.Element]:
    try:
        if msg_no == m.MSG_QUERY:
            return m.MSG_QUERY, _query(state, msg)
        if msg_no == m.MSG_CONFIRM:
            return m.MSG_REPLY, _confirm(state, msg)
        if msg_no == m.MSG_LIST:
            return m.MSG_LIST, _list(state, msg)
    except fr.FrameError as exc:
        raise Refusal(m.ERR_FORMAT, f"报文格式错误：{exc}") from None
    raise Refusal(m.ERR_FORMAT, f"不支持的报文编号{msg_no}")


def _query(state: SimState, msg: ET.Element) -> ET.Element:
    query = m.read_fields(msg.find("Query5995"), m.QUERY_FIELDS)
    code = query["PayCode"]
    notice = state.notices.get(code)
    out = ET.Element("MSG")
    fields: dict[str, str] = {"PayCode": code, "AdmDivCode": query["AdmDivCode"]}
    if notice is None or query["AdmDivCode"] != state.division:
        fields.update(Result=m.RESULT_FAIL, ErrCode=m.ERR_NO_NOTICE, AddWord="缴款码不存在")
    elif notice.status == "VOID":
        fields.update(Result=m.RESULT_FAIL, ErrCode=m.ERR_VOID, AddWord="该缴款书已作废")
    elif notice.status == "PAID":
        fields.update(Result=m.RESULT_FAIL, ErrCode=m.ERR_PAID, AddWord="该缴款书已缴款")
    else:
        if state.faults.amount_changed == code:
            _change_amount(state, code)
        reg = state.keys.registration
        fields.update(
            Result=m.RESULT_OK,
            AddWord="成功",
            NoticeNo=notice.notice_no,
            PayerName=notice.payer_name,
            AgencyCode=notice.agency_code,
            AgencyName=notice.agency_name,
            ItemCode=notice.wire_item_code,
            ItemName=ITEM_NAMES[notice.item_code],
            Amt=yuan_str(notice.amount_fen),
            NoticeDate=notice.issued_on.strftime("%Y%m%d"),
            DueDate=notice.due_on.strftime("%Y%m%d"),
            RecAcctName=reg.collect_acct_name,
            RecAcct=reg.collect_acct,
            RecBank=reg.collect_bank,
        )
    out.append(m.fields_element("Return5995", fields, m.NOTICE_FIELDS))
    return out


def _change_amount(state: SimState, code: str) -> None:
    notice = state.notices[code]
    faults = state.faults
    new = parse_yuan(faults.changed_amount) if faults.changed_amount else 0
    if not new:
        new = notice.amount_fen + max(late_fee_fen(notice.amount_fen, 1), 1)
    notice.amount_history.append(notice.amount_fen)
    notice.amount_fen = new
    faults.amount_changed = ""
    log.info("sim notice amount changed code=%s amount_fen=%d", code, new)


def _confirm(state: SimState, msg: ET.Element) -> ET.Element:
    mof = msg.find("MOF")
    if mof is None:
        raise fr.FrameError("MOF missing")
    bodies = mof.findall("VoucherBody")
    count = (mof.findtext("VoucherCount") or "").strip()
    if not count.isdigit() or int(count) != len(bodies) or not bodies:
        raise fr.FrameError("VoucherCount does not match the vouchers")
    now = datetime.now(fr.BEIJING)
    out = _reply(m.MSG_CONFIRM)
    returns = ET.SubElement(out, "VoucherReturn")
    failed = 0
    for body in bodies:
        try:
            conf = confirm_voucher(state, body, now)
            fields = confirmation_fields(state, conf, now)
        except ConfirmError as exc:
            failed += 1
            fields = {
                "VoucherNo": body.get("VoucherNo", ""),
                "PayCode": exc.pay_code,
                "Result": m.RESULT_FAIL,
                "ErrCode": exc.code,
                "AddWord": exc.words,
            }
        returns.append(m.fields_element("Return8001", fields, m.CONFIRMATION_FIELDS))
    if failed:
        batch = out.find("BatchReturn8001")
        assert batch is not None
        for name, text in (("Result", m.RESULT_FAIL), ("AddWord", f"{failed}笔确认失败")):
            element = batch.find(name)
            assert element is not None
            element.text = text
    return out


def _list(state: SimState, msg: ET.Element) -> ET.Element:
    query = m.read_fields(msg.find("Query5998"), m.LIST_QUERY_FIELDS)
    try:
        day = datetime.strptime(query["CheckDate"], "%Y%m%d").replace(tzinfo=fr.BEIJING).date()
    except ValueError:
        raise fr.FrameError("CheckDate must be yyyyMMdd") from None
    now = datetime.now(fr.BEIJING)
    if day > now.date():
        raise Refusal(m.ERR_FORMAT, "对账日期不能晚于当前日期")
    page = int(query["PageNo"]) if query["PageNo"].isdigit() else 0
    confs = sorted(
        (c for c in state.confirmations.values() if c.accepted_at.date() == day),
        key=lambda c: (c.accepted_at, c.payment_code),
    )
    size = state.page_size
    pages = -(-len(confs) // size)
    if page < 1 or page > max(pages, 1):
        raise Refusal(m.ERR_FORMAT, "页码超出范围")
    out = ET.Element("MSG")
    head = {
        "Result": m.RESULT_OK,
        "AddWord": "成功",
        "CheckDate": query["CheckDate"],
        "TotalCount": str(len(confs)),
        "PageNo": str(page),
        "PageCount": str(pages),
    }
    ret = m.fields_element("Return5998", head, m.LIST_HEAD_FIELDS)
    detail = ET.SubElement(ret, "Detail5998")
    for conf in confs[(page - 1) * size : page * size]:
        fields = confirmation_fields(state, conf, now)
        detail.append(m.fields_element("Cfm", fields, m.CONFIRMATION_FIELDS))
    out.append(ret)
    return out


def add_api_routes(app: web.Application) -> None:
    app.router.add_post(GATEWAY_PATH, gateway)
