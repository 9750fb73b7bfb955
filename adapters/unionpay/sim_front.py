"""手机网页支付 (ACP front consumption, channelType 08) in the simulator: the pages the payer's
phone sees.

The merchant's page posts the signed form from the payer's browser to ``frontTransReq.do``. It is
checked as a back-end request is (certificate, signature, merchant), then as a consumption
(01/01, bizType 000201, amount, orderId, txnTime, payTimeout, frontUrl and backUrl); a refusal is
a page in the browser, as UnionPay shows it. Accepted, the browser goes on to the card page at
``/sim/wap/{token}``; confirming there takes the money, sends the back notification to backUrl
(resent as every notification) and shows the result page, whose "返回商户" form posts the signed
front notification to frontUrl (counter-and-beyond.md 4).
"""

from __future__ import annotations

import html
import logging
import re
import secrets
from datetime import datetime
from typing import Final

from aiohttp import web

from adapters.simkit.cashier import Cashier, facts
from adapters.simkit.pages import ONCE
from adapters.unionpay import crypto, wire
from adapters.unionpay.gateway import FRONT_TRANS
from adapters.unionpay.sim_api import Fields, Refused, authenticate, new_txn, pay_timeout_of
from adapters.unionpay.sim_delivery import notify, txn_fields
from adapters.unionpay.sim_state import RESP_MSG, STATE, SimState, Txn

log = logging.getLogger(__name__)

PAGE_PATH: Final = "/sim/wap/{token}"
CHANNEL_TYPES: Final = ("08", "07")  # mobile, or PC/pad: the same front gateway
CARD = re.compile(r"[0-9]{16,19}")
SMS_CODE = re.compile(r"[0-9]{6}")
TEST_CARD: Final = "6217000010001234567"  # a made-up 62 card number for the demo payer
TEST_SMS: Final = "111111"

CASHIER = Cashier(
    "银联在线支付（模拟）",
    "#d7000f",
    "#e88",
    "label{{display:block;color:#666;font-size:.9rem;margin-top:.6rem}}\n"
    "input{{width:100%;box-sizing:border-box;padding:.6rem;font-size:1rem;margin-top:.2rem}}\n"
    "button{{margin-top:1rem}}.note{{color:#d7000f}}\n",
)

# the result page goes back to the merchant after a short countdown
_COUNTDOWN = (
    "<script>(function(){var n=3,s=document.getElementById('seconds'),"
    "f=document.getElementById('front');var t=setInterval(function(){n-=1;s.textContent=n;"
    "if(n<=0){clearInterval(t);f.submit();}},1000);})();</script>"
)


def error_page(code: str, message: str = "") -> web.Response:
    text = message or RESP_MSG.get(code, RESP_MSG["01"])
    return CASHIER.refused("银联 - 交易失败", "交易失败", text, ("应答码：", "resp-code", code))


def _same_request(txn: Txn, fields: Fields) -> bool:
    """The browser posted the same form again (reload, back button) while nobody paid."""
    return (
        txn.txn_sub_type == "01"
        and txn.state == "ISSUED"
        and txn.txn_time == fields.get("txnTime")
        and str(txn.amount_fen) == fields.get("txnAmt")
        and txn.back_url == fields.get("backUrl")
        and txn.front_url == fields.get("frontUrl")
    )


def open_front(state: SimState, fields: Fields, now: datetime) -> Txn:
    """Check a verified front consumption; the transaction it opens (nothing paid yet)."""
    if (fields.get("txnType"), fields.get("txnSubType")) != ("01", "01"):
        raise Refused("10", "前台交易仅支持消费（txnType=01，txnSubType=01）")
    if fields.get("bizType") != wire.BIZ_TYPE_GATEWAY:
        raise Refused("10", "bizType有误：网关支付、手机网页支付为000201")
    if fields.get("channelType") not in CHANNEL_TYPES:
        raise Refused("10", "channelType有误：手机为08，电脑为07")
    if fields.get("accessType") != wire.ACCESS_MERCHANT:
        raise Refused("10", "accessType有误")
    front_url = fields.get("frontUrl", "")
    if not front_url.startswith(("http://", "https://")):
        raise Refused("10", "frontUrl有误")
    pay_timeout = pay_timeout_of(fields, now, "payTimeout早于当前时间，订单已超时")
    earlier = state.txns.get(fields.get("orderId", ""))
    if earlier is not None and _same_request(earlier, fields) and not earlier.expired(now):
        return earlier
    txn = new_txn(state, fields, now, "ISSUED")
    txn.pay_timeout = pay_timeout
    txn.biz_type = wire.BIZ_TYPE_GATEWAY
    txn.channel_type = fields["channelType"]
    txn.front_url = front_url
    txn.page_token = secrets.token_urlsafe(18)
    state.by_page[txn.page_token] = txn.order_id
    log.info("sim front consume opened orderId=%s amount_fen=%d", txn.order_id, txn.amount_fen)
    return txn


async def front_trans(request: web.Request) -> web.StreamResponse:
    """``frontTransReq.do``: the payer's browser posts the merchant's signed form here."""
    state = request.app[STATE]
    try:
        fields = wire.decode_form(await request.read())
    except ValueError:
        return error_page("10")
    problem = authenticate(state, fields)
    if problem is not None:
        return error_page(*problem)
    try:
        txn = open_front(state, fields, datetime.now(wire.BEIJING))
    except Refused as exc:
        return error_page(exc.code, exc.message)
    # on to the card page, so that a reload does not post the form again
    raise web.HTTPSeeOther(PAGE_PATH.format(token=txn.page_token))


def front_notification(state: SimState, txn: Txn) -> Fields:
    """The signed result the browser carries to frontUrl. Browsers send line breaks in form
    values as CR LF, so the certificate is signed in that form and arrives as signed."""
    fields = txn_fields(state, txn)
    fields["respCode"] = txn.result_code
    fields["respMsg"] = RESP_MSG.get(txn.result_code, RESP_MSG["01"])
    fields["signPubKeyCert"] = state.keys.sign_cert_pem.replace("\r\n", "\n").replace("\n", "\r\n")
    fields["signature"] = crypto.sign(fields, state.keys.private_key)
    return fields


def _facts(state: SimState, txn: Txn) -> str:
    merchant = f"税费通缴（商户号 {state.keys.mer_ids[0]}）"
    return facts(txn.amount_fen, [("商户", merchant), ("订单号", txn.order_id)])


def _card_form(token: str, note: str = "") -> str:
    action = html.escape(PAGE_PATH.format(token=token) + "/pay")
    warn = f'<p class="note" id="note">{html.escape(note)}</p>' if note else ""
    return (
        f'<form class="pay card" method="post" action="{action}">{warn}'
        '<label for="accNo">银联卡号</label>'
        '<input id="accNo" name="accNo" inputmode="numeric" autocomplete="off"'
        f' value="{TEST_CARD}">'
        '<label for="smsCode">短信验证码（模拟：111111）</label>'
        f'<input id="smsCode" name="smsCode" inputmode="numeric" value="{TEST_SMS}">'
        f'<button id="confirm">确认付款</button></form>{ONCE}'
    )


def _result(state: SimState, txn: Txn) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in front_notification(state, txn).items()
    )
    return (
        '<div class="card"><p id="status">支付成功</p>'
        f'<form id="front" method="post" action="{html.escape(txn.front_url)}">{hidden}'
        '<button id="back">返回商户</button></form>'
        '<p class="code"><span id="seconds">3</span> 秒后自动返回商户</p></div>' + _COUNTDOWN
    )


def _page(state: SimState, txn: Txn, token: str, now: datetime, note: str = "") -> web.Response:
    if txn.state == "ISSUED" and not txn.expired(now):
        body = _card_form(token, note)
    elif txn.state == "SUCCESS":
        body = _result(state, txn)
    else:
        body = '<p class="card" id="status">订单已超时，不能付款</p>'
    return CASHIER.page("银联 - 确认付款", _facts(state, txn) + body)


def _find(request: web.Request) -> tuple[SimState, Txn] | None:
    state = request.app[STATE]
    order_id = state.by_page.get(request.match_info["token"])
    return None if order_id is None else (state, state.txns[order_id])


async def card_page(request: web.Request) -> web.Response:
    found = _find(request)
    if found is None:
        return error_page("34")
    state, txn = found
    return _page(state, txn, request.match_info["token"], datetime.now(wire.BEIJING))


def _masked(card: str) -> str:
    # UnionPay masks accNo in what it sends merchants; the full number is never kept
    return card[:6] + "*" * (len(card) - 10) + card[-4:]


async def confirm(request: web.Request) -> web.StreamResponse:
    """The payer enters the card and the SMS code: money taken, back notification queued."""
    found = _find(request)
    if found is None:
        return error_page("34")
    state, txn = found
    token = request.match_info["token"]
    now = datetime.now(wire.BEIJING)
    if txn.state != "ISSUED" or txn.expired(now):
        return _page(state, txn, token, now)
    form = await request.post()
    card = str(form.get("accNo", "")).replace(" ", "")
    if not CARD.fullmatch(card):
        return _page(state, txn, token, now, "卡号应为16至19位数字")
    if not SMS_CODE.fullmatch(str(form.get("smsCode", ""))):
        return _page(state, txn, token, now, "短信验证码应为6位数字")
    txn.acc_no = _masked(card)
    state.complete(txn, now)
    notify(state, txn)
    log.info("sim front consume paid orderId=%s amount_fen=%d", txn.order_id, txn.amount_fen)
    # the result is a page of its own, so a reload does not post the card again
    raise web.HTTPSeeOther(PAGE_PATH.format(token=token))


def add_front_routes(app: web.Application) -> None:
    app.router.add_post(FRONT_TRANS, front_trans)
    app.router.add_get(PAGE_PATH, card_page)
    app.router.add_post(PAGE_PATH + "/pay", confirm)
