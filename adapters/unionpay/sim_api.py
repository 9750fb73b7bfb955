"""The simulator's ACP endpoints: signed forms in, signed ``k=v&…`` answers out.

``/gateway/api/backTransReq.do`` takes consumptions (01/07 apply for a code, 01/06 charge a
payment code), voids (31) and refunds (04); ``/gateway/api/queryTrans.do`` answers queries (00);
``POST /`` is the file host (76/01 clearing-file download).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.unionpay import crypto, wire
from adapters.unionpay.gateway import FRONT_TRANS
from adapters.unionpay.sim_bill import download
from adapters.unionpay.sim_delivery import notify, txn_fields
from adapters.unionpay.sim_state import RESP_MSG, STATE, SimState, Txn, masked_card

log = logging.getLogger(__name__)

MAX_SKEW = timedelta(minutes=10)
ORDER_ID = re.compile(r"[0-9A-Za-z]{8,40}")
PAYMENT_CODE = re.compile(r"62[0-9]{17}")
Fields = dict[str, str]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQUEST = web.RequestKey("unionpay_request", dict)


class Refused(Exception):
    """A business answer other than success: ``respCode`` and an optional message."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.message = message or RESP_MSG.get(code, RESP_MSG["01"])


def answer(state: SimState, request: Fields, code: str, message: str = "", **extra: str) -> Fields:
    """The echo of the request plus ``respCode``; signing happens in the middleware."""
    echo = (
        "version",
        "encoding",
        "signMethod",
        "txnType",
        "txnSubType",
        "bizType",
        "accessType",
        "merId",
        "orderId",
        "txnTime",
    )
    # an echo never carries "&": the answer format could not hold it outside braces
    fields = {k: request[k] for k in echo if request.get(k) and "&" not in request[k]}
    fields["respCode"] = code
    fields["respMsg"] = message or RESP_MSG.get(code, RESP_MSG["01"])
    fields.update(extra)
    return fields


@web.middleware
async def acp_gateway(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Faults, request verification and answer signing for the gateway and file endpoints."""
    # the browser's front transactions get pages, not signed answers (sim_front)
    if request.path.startswith("/sim/") or request.method != "POST" or request.path == FRONT_TRANS:
        return await handler(request)
    state = request.app[STATE]
    await state.pause(state.faults.api_delay_s)
    if state.fail_5xx():
        return web.Response(status=500, text="")
    try:
        fields = wire.decode_form(await request.read())
    except ValueError:
        return _signed_answer(state, answer(state, {}, "10"))
    problem = authenticate(state, fields)
    if problem:
        log.info("sim rejected request path=%s why=%s", request.path, problem)
        return _signed_answer(state, answer(state, fields, *problem))
    request[REQUEST] = fields
    return await handler(request)


def authenticate(state: SimState, fields: Fields) -> tuple[str, str] | None:
    if fields.get("version") != wire.VERSION or fields.get("signMethod") != wire.SIGN_METHOD_RSA:
        return "10", "仅支持5.1.0版本、signMethod=01"
    cert = state.keys.merchant_certs.get(fields.get("certId", ""))
    if cert is None:
        return "11", "certId对应的证书不存在"
    public_key = cert.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey) or not crypto.verify(fields, public_key):
        return "11", ""
    if fields.get("merId") not in state.keys.mer_ids:
        return "31", ""
    return None


def _signed_answer(state: SimState, fields: Fields) -> web.Response:
    faults = state.faults
    body = wire.encode_answer(
        state.signed(
            fields,
            bad=faults.bad_response_signature,
            untrusted=faults.untrusted_response_cert,
        )
    )
    return web.Response(body=body, content_type="text/plain", charset="utf-8")


def _fresh(fields: Fields, now: datetime) -> None:
    try:
        sent = wire.parse_txn_time(fields.get("txnTime", ""))
    except ValueError:
        raise Refused("10", "txnTime格式错误") from None
    if abs(sent - now) > MAX_SKEW:
        raise Refused("10", "txnTime与当前时间相差过大")


def _amount(fields: Fields) -> int:
    try:
        fen = wire.parse_fen(fields.get("txnAmt", ""))
    except ValueError:
        raise Refused("10", "txnAmt格式错误") from None
    if fen <= 0 or fields.get("currencyCode") != wire.CURRENCY_CNY:
        raise Refused("10", "txnAmt或currencyCode有误")
    return fen


def pay_timeout_of(fields: Fields, now: datetime, passed: str) -> datetime | None:
    """When the payer's time runs out (``payTimeout``), if the merchant set one; ``passed``
    is the refusal when that time is already over."""
    if not fields.get("payTimeout"):
        return None
    try:
        pay_timeout = wire.parse_txn_time(fields["payTimeout"])
    except ValueError:
        raise Refused("10", "payTimeout格式错误") from None
    if pay_timeout <= now:
        raise Refused("10", passed)
    return pay_timeout


def new_txn(state: SimState, fields: Fields, now: datetime, state_word: str) -> Txn:
    order_id = fields.get("orderId", "")
    if not ORDER_ID.fullmatch(order_id):
        raise Refused("10", "orderId须为8-40位字母或数字")
    _fresh(fields, now)
    back_url = fields.get("backUrl", "")
    if not back_url.startswith(("http://", "https://")):
        raise Refused("10", "backUrl有误")
    amount = _amount(fields)
    if "&" in fields.get("reqReserved", ""):
        raise Refused("10", "reqReserved含有特殊字符")
    if order_id in state.txns:
        raise Refused("12")
    txn = Txn(
        order_id=order_id,
        txn_time=fields["txnTime"],
        txn_type=fields.get("txnType", ""),
        txn_sub_type=fields.get("txnSubType", ""),
        amount_fen=amount,
        back_url=back_url,
        req_reserved=fields.get("reqReserved", ""),
        created_at=now,
        state=state_word,
    )
    state.txns[order_id] = txn
    return txn


async def back_trans(request: web.Request) -> web.Response:
    state = request.app[STATE]
    fields = request[REQUEST]
    now = datetime.now(wire.BEIJING)
    kind = (fields.get("txnType"), fields.get("txnSubType"))
    try:
        if kind == ("01", "07"):
            extra = apply_qr(state, fields, now)
        elif kind == ("01", "06"):
            extra = consume_by_code(state, fields, now)
        elif kind in (("31", "00"), ("04", "00")):
            extra = void_or_refund(state, fields, now)
        else:
            raise Refused("10", "不支持的交易类型")
    except Refused as exc:
        return _signed_answer(state, answer(state, fields, exc.code, exc.message))
    if kind[0] == "01":
        # pay_after_timeout: the payment exists now, but the merchant's client gives up before
        # it hears so
        await state.late_answer()
    code = extra.pop("respCode", wire.OK)
    return _signed_answer(state, answer(state, fields, code, **extra))


def apply_qr(state: SimState, fields: Fields, now: datetime) -> Fields:
    """01/07: a dynamic code the citizen scans; paid later through /sim/."""
    pay_timeout = pay_timeout_of(fields, now, "payTimeout早于当前时间")
    txn = new_txn(state, fields, now, "ISSUED")
    txn.pay_timeout = pay_timeout
    txn.qr_token = state.new_token()
    state.by_token[txn.qr_token] = txn.order_id
    log.info("sim qr issued orderId=%s amount_fen=%d", txn.order_id, txn.amount_fen)
    return {"qrCode": f"https://qr.95516.com/00010000/{txn.qr_token}"}


def consume_by_code(state: SimState, fields: Fields, now: datetime) -> Fields:
    """01/06: charge the citizen's payment code; the result may take a while (outcome_unknown)."""
    if not PAYMENT_CODE.fullmatch(fields.get("qrNo", "")):
        raise Refused("10", "qrNo格式错误")
    txn = new_txn(state, fields, now, "PROCESSING")
    txn.acc_no = masked_card()
    state.stamp(txn, now)
    faults = state.faults
    if faults.spend("outcome_unknown"):
        code = "00" if faults.outcome_unknown_result == "success" else "01"
        state.spawn(_complete_later(state, txn, faults.outcome_unknown_s, code))
        log.info("sim pay-by-code in process orderId=%s", txn.order_id)
        return {"respCode": "05", "queryId": txn.query_id or ""}
    state.complete(txn, now)
    notify(state, txn)
    log.info("sim pay-by-code orderId=%s amount_fen=%d", txn.order_id, txn.amount_fen)
    return {"queryId": txn.query_id or ""}


async def _complete_later(state: SimState, txn: Txn, delay_s: float, code: str) -> None:
    await state.pause(delay_s)
    if state.stopping.is_set():
        return
    state.complete(txn, datetime.now(wire.BEIJING), code)
    notify(state, txn)


def void_or_refund(state: SimState, fields: Fields, now: datetime) -> Fields:
    """31/00 void (same clearing day, full amount) or 04/00 refund (up to what is left)."""
    original = state.txns.get(state.by_query_id.get(fields.get("origQryId", ""), ""))
    if original is None or original.txn_type != "01" or original.state != "SUCCESS":
        raise Refused("35")
    if original.voided:
        raise Refused("35", "原交易已撤销")
    amount = _amount(fields)
    voiding = fields.get("txnType") == "31"
    if voiding:
        if original.settle_date != wire.settle_day(now):
            raise Refused("35", "原交易不在当前清算日，请使用退货")
        if original.refunded_fen or amount != original.amount_fen:
            raise Refused("36", "撤销金额须与原交易金额一致")
    elif original.refunded_fen + amount > original.amount_fen:
        raise Refused("33", "退货金额超过原交易可退金额")
    txn = new_txn(state, fields, now, "PROCESSING")
    txn.orig_query_id = original.query_id
    state.stamp(txn, now)
    if voiding:
        original.voided = True
    else:
        original.refunded_fen += amount
    result = state.faults.refund_result
    if voiding or result == "success":
        state.complete(txn, now)
        txn.fee_fen = original.fee_fen if voiding else txn.fee_fen
        notify(state, txn)
    elif result == "fail":
        state.complete(txn, now, "01")
        original.refunded_fen -= amount
        notify(state, txn)
    log.info(
        "sim %s orderId=%s amount_fen=%d", "void" if voiding else "refund", txn.order_id, amount
    )
    return {"queryId": txn.query_id or "", "origQryId": original.query_id or ""}


async def query_trans(request: web.Request) -> web.Response:
    state = request.app[STATE]
    fields = request[REQUEST]
    if (fields.get("txnType"), fields.get("txnSubType")) != ("00", "00"):
        return _signed_answer(state, answer(state, fields, "10", "不支持的交易类型"))
    order_id, txn_time, query_id = (fields.get(k, "") for k in ("orderId", "txnTime", "queryId"))
    if not query_id and not (order_id and txn_time):
        return _signed_answer(
            state, answer(state, fields, "10", "须上送queryId，或orderId与txnTime")
        )
    # by queryId, or by orderId with txnTime; what else is sent must name the same transaction
    txn = state.txns.get(state.by_query_id.get(query_id, "") if query_id else order_id)
    if txn is not None:
        txn.queries.append(datetime.now(wire.BEIJING).isoformat(timespec="milliseconds"))
    if (
        txn is None
        or (order_id and txn.order_id != order_id)
        or (txn_time and txn.txn_time != txn_time)
        or txn.state == "ISSUED"
    ):
        # a code nobody paid is no transaction yet
        return _signed_answer(state, answer(state, fields, wire.NOT_FOUND))
    found = txn_fields(state, txn)
    found["origRespCode"] = txn.result_code
    found["origRespMsg"] = RESP_MSG.get(txn.result_code, RESP_MSG["01"])
    found["respCode"] = wire.OK
    found["respMsg"] = RESP_MSG[wire.OK]
    return _signed_answer(state, found)


async def file_transfer(request: web.Request) -> web.Response:
    state = request.app[STATE]
    fields = request[REQUEST]
    now = datetime.now(wire.BEIJING)
    try:
        if (fields.get("txnType"), fields.get("txnSubType"), fields.get("fileType")) != (
            "76",
            "01",
            "00",
        ):
            raise Refused("10", "不支持的文件类型")
        _fresh(fields, now)
        today = wire.settle_day(now)
        day = wire.resolve_mmdd(fields.get("settleDate", ""), today)
    except ValueError:
        return _signed_answer(state, answer(state, fields, "10", "settleDate格式错误"))
    except Refused as exc:
        return _signed_answer(state, answer(state, fields, exc.code, exc.message))
    if day > today:
        return _signed_answer(state, answer(state, fields, wire.NO_FILE))
    fields_out = download(state, day)
    return _signed_answer(state, answer(state, fields, wire.OK, **fields_out))


def add_api_routes(app: web.Application) -> None:
    app.router.add_post("/gateway/api/backTransReq.do", back_trans)
    app.router.add_post("/gateway/api/queryTrans.do", query_trans)
    app.router.add_post("/", file_transfer)
