"""The simulated front-end's API: MAC'd requests in, answers signed by the bureau out.

Each endpoint is a plain function of the state, the request's Head and Body that returns the
answer Body or raises ``Refusal``; ``_endpoint`` does the faults, the checks and the envelope.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from adapters.simkit.authority import Refusal, asked_again, front_door
from adapters.tax import signing
from adapters.tax.sim_state import STATE, Declaration, SimState, Voucher
from adapters.tax.wire import (
    APP,
    BEIJING,
    CONFIRM,
    LOOKUP,
    OK,
    ORDER_NO,
    PAYMENT_REF,
    RECONCILE,
    TAX_TYPES,
    TRA_NO,
    VERSION,
    WireFormatError,
    parse_date,
    parse_time,
    wire_date,
    wire_time,
)
from clearing.domain.money import MoneyError, parse_yuan, yuan_str

log = logging.getLogger(__name__)

Work = Callable[[SimState, dict[str, Any]], dict[str, Any]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise Refusal("92004", f"缺少字段{name}", 400)
    return value


def _voucher_json(v: Voucher) -> dict[str, Any]:
    code, name = TAX_TYPES[v.item]
    return {
        "TaxVouNo": v.tax_vou_no,
        "TaxTypeCode": code,
        "TaxTypeName": name,
        "TaxPayCode": v.payer.taxpayer_id,
        "TaxPayName": v.payer.name,
        "PayerRole": v.payer_role,
        "TaxBasis": yuan_str(v.basis_fen),
        "TaxRate": v.rate.text,
        "TraAmt": yuan_str(v.amount_fen),
        "TaxStartDate": wire_date(v.period),
        "TaxEndDate": wire_date(v.period),
        "LimitDate": wire_date(v.due_by),
        "RateSet": v.rate_set,
    }


def confirmation_json(state: SimState, v: Voucher) -> dict[str, Any]:
    c = v.confirmation
    assert c is not None
    return {
        "TaxOrgCode": state.keys.tax_org_code,
        "TaxVouNo": v.tax_vou_no,
        "TraAmt": yuan_str(c.amount_fen),
        "CertNo": c.cert_no,
        "TaxDate": wire_date(c.tax_date),
        "CfmTime": wire_time(c.cfm_time),
        "TraNoBus": c.payment_ref,
        "OrderNo": c.order_no,
        "CertSign": c.cert_sign,
    }


def _declaration_of(state: SimState, body: dict[str, Any]) -> Declaration:
    decl_no = body.get("DeclNo")
    taxpayer_id, unit = body.get("TaxPayCode"), body.get("PropertyUnit")
    if isinstance(decl_no, str) and decl_no:
        declaration = state.declarations.get(decl_no)
        if declaration is None:
            raise Refusal("24101", "申报信息不存在")
        parties = (declaration.buyer.taxpayer_id, declaration.seller.taxpayer_id)
        if (taxpayer_id and taxpayer_id not in parties) or (
            unit and unit != declaration.property_unit
        ):
            raise Refusal("24104", "纳税人或不动产单元与申报信息不符")
        return declaration
    if not (isinstance(taxpayer_id, str) and isinstance(unit, str) and taxpayer_id and unit):
        raise Refusal("92004", "须提供申报号，或纳税人识别号及不动产单元号", 400)
    found = state.find_by_unit(taxpayer_id, unit)
    if not found:
        raise Refusal("24101", "未找到该纳税人该不动产单元的申报信息")
    # the newest declaration with something left to pay, else the newest (ALREADY_PAID follows)
    return next((d for d in found if d.unpaid()), found[0])


def lookup(state: SimState, body: dict[str, Any]) -> dict[str, Any]:
    declaration = _declaration_of(state, body)
    state.reassess(declaration)
    unpaid = declaration.unpaid()
    if not unpaid:
        raise Refusal("24102", "该申报税款已全部缴纳")
    return {
        "DeclNo": declaration.declaration_no,
        "TaxOrgCode": state.keys.tax_org_code,
        "TaxOrgName": state.keys.tax_org_name,
        "PropertyUnit": declaration.property_unit,
        "DeclDate": wire_date(declaration.declared_on),
        "TaxVouNum": len(unpaid),
        "TotalAmt": yuan_str(sum(v.amount_fen for v in unpaid)),
        "TaxVouList": [_voucher_json(v) for v in unpaid],
    }


def confirm(state: SimState, body: dict[str, Any]) -> dict[str, Any]:
    voucher = state.vouchers.get(_field(body, "TaxVouNo"))
    try:
        amount = parse_yuan(_field(body, "TraAmt"))
        paid_at = parse_time(_field(body, "PayTime"))
    except (MoneyError, WireFormatError):
        raise Refusal("92004", "TraAmt或PayTime格式错误", 400) from None
    payment_ref, order_no = _field(body, "TraNoBus"), _field(body, "OrderNo")
    if not PAYMENT_REF.fullmatch(payment_ref) or not ORDER_NO.fullmatch(order_no):
        raise Refusal("92004", "TraNoBus或OrderNo格式错误", 400)
    if voucher is None:
        raise Refusal("24101", "税票号码不存在")
    done = voucher.confirmation
    if done is not None:
        asked_again(
            (done.payment_ref, done.amount_fen),
            (payment_ref, amount),
            Refusal("24102", f"该税票已于{wire_date(done.tax_date)}缴款，完税证明号{done.cert_no}"),
            Refusal(
                "24103", f"缴款金额{yuan_str(amount)}与已缴金额{yuan_str(done.amount_fen)}不符"
            ),
        )
        return confirmation_json(state, voucher)  # the same question gets the same proof
    if state.faults.take("refuse_confirm"):
        raise Refusal("24105", state.faults.refuse_reason)
    if amount != voucher.amount_fen:
        raise Refusal(
            "24103", f"缴款金额{yuan_str(amount)}与应征金额{yuan_str(voucher.amount_fen)}不符"
        )
    state.confirm(
        voucher, amount_fen=amount, payment_ref=payment_ref, order_no=order_no, paid_at=paid_at
    )
    return confirmation_json(state, voucher)


def reconcile(state: SimState, body: dict[str, Any]) -> dict[str, Any]:
    chk_date = _field(body, "ChkDate")
    try:
        day = parse_date(chk_date)
    except WireFormatError:
        raise Refusal("92004", "ChkDate格式错误", 400) from None
    lines = [v for v in state.confirmed if v.confirmation and v.confirmation.tax_date == day]
    return {
        "ChkDate": chk_date,
        "TaxOrgCode": state.keys.tax_org_code,
        "AllNum": len(lines),
        "AllAmt": yuan_str(sum(v.confirmation.amount_fen for v in lines if v.confirmation)),
        "Vouchers": [confirmation_json(state, v) for v in lines],
    }


def _echo(head: Any) -> str:
    tra_no = head.get("TraNo") if isinstance(head, dict) else None
    return tra_no if isinstance(tra_no, str) and TRA_NO.fullmatch(tra_no) else ""


def _check_head(state: SimState, head: Any, msg_no: str, src: str, now: datetime) -> None:
    """``Refusal`` unless the Head is in order, timely and not seen before."""
    if not isinstance(head, dict):
        raise Refusal("92004", "缺少Head", 400)
    expected = (VERSION, APP, msg_no, src, state.keys.tax_org_code)
    names = ("Ver", "App", "MsgNo", "SrcOrgCode", "TaxOrgCode")
    if tuple(head.get(name) for name in names) != expected:
        raise Refusal("92004", "报文头与接口不符", 400)
    tra_no = head.get("TraNo")
    if not isinstance(tra_no, str) or not TRA_NO.fullmatch(tra_no):
        raise Refusal("92004", "TraNo格式错误", 400)
    try:
        sent = parse_time(str(head.get("SendTime", "")))
    except WireFormatError:
        raise Refusal("92004", "SendTime格式错误", 400) from None
    if abs((sent - now).total_seconds()) > signing.MAX_SKEW_S:
        raise Refusal("91006", "请求时间超出允许范围", 401)
    if not state.replays.fresh(tra_no, now):
        raise Refusal("91006", "重复的交易流水号", 401)


def _answer(
    state: SimState, answer_no: str, ori_tra_no: str, body: dict[str, Any], refusal: Refusal | None
) -> web.Response:
    result, add_word, status = (
        (OK, "成功", 200) if refusal is None else (refusal.code, refusal.words, refusal.status)
    )
    head = {
        "Ver": VERSION,
        "App": APP,
        "MsgNo": answer_no,
        "TaxOrgCode": state.keys.tax_org_code,
        "OriTraNo": ori_tra_no,
        "SendTime": wire_time(datetime.now(BEIJING)),
        "Result": result,
        "AddWord": add_word,
    }
    raw = json.dumps({"Head": head, "Body": body}, ensure_ascii=False, separators=(",", ":"))
    response = web.Response(status=status, body=raw.encode(), content_type="application/json")
    key = state.wrong_key if state.faults.bad_signature else state.keys.bureau_private_key
    response.headers[signing.SIGNATURE_HEADER] = signing.signature_header(
        key, key_id=state.keys.bureau_key_id, body=raw.encode()
    )
    return response


def _endpoint(message: tuple[str, str, str], work: Work) -> Handler:
    msg_no, answer_no, path = message

    async def handle(request: web.Request) -> web.StreamResponse:
        state = request.app[STATE]
        closed = web.json_response({"Result": "94998", "AddWord": "系统维护"}, status=503)
        if (shut := await front_door(state, closed)) is not None:
            return shut
        raw = await request.read()
        src = request.headers.get(signing.SRC_HEADER, "")
        mac = request.headers.get(signing.MAC_HEADER, "")
        tra_no, body, refusal = "", {}, None
        try:
            try:
                data = json.loads(raw)
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise Refusal("92004", "报文格式错误", 400) from None
            if not isinstance(data, dict) or not isinstance(data.get("Body"), dict):
                raise Refusal("92004", "缺少Body", 400)
            head = data.get("Head")
            # echoed even on a refusal, so that the sender can tell which request was refused
            tra_no = _echo(head)
            if src != state.keys.src_org_code or not signing.check_mac(
                state.keys.access_token, raw, mac
            ):
                raise Refusal("91005", "报文校验码错误", 401)
            _check_head(state, head, msg_no, src, datetime.now(BEIJING))
            if state.faults.take("api_5xx"):
                raise Refusal("94999", "系统错误", 500)
            body = work(state, data["Body"])
        except Refusal as exc:
            refusal = exc
        verdict = refusal.code if refusal else OK
        log.info("sim api path=%s result=%s", path, verdict)
        state.remember_request(
            {"path": path, "body": raw.decode("utf-8", "replace"), "result": verdict}
        )
        return _answer(state, answer_no, tra_no, body, refusal)

    return handle


def add_api_routes(app: web.Application) -> None:
    for message, work in ((LOOKUP, lookup), (CONFIRM, confirm), (RECONCILE, reconcile)):
        app.router.add_post(message[2], _endpoint(message, work))
