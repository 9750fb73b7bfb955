"""The bridge a test browser loads as WeChat's own (``window.WeixinJSBridge``), and the
simulator's side of ``getBrandWCPayRequest``: paySign verified with the merchant's public key,
then the payer's confirmation (counter-and-beyond.md 1.3)."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from aiohttp import web

from adapters.wechatpay import crypto
from adapters.wechatpay.sim_mobile import MOBILE, PREPAY_LIFE, _settle
from adapters.wechatpay.sim_state import BEIJING, STATE, Order
from adapters.wechatpay.sim_wire import WireError

log = logging.getLogger(__name__)


def _bridge_order(request: web.Request, params: Any) -> tuple[Order, str]:
    """The JSAPI order the parameters name, once paySign verifies; ``WireError`` otherwise."""
    state = request.app[STATE]
    if not isinstance(params, dict) or not all(
        isinstance(params.get(k), str)
        for k in ("appId", "timeStamp", "nonceStr", "package", "signType", "paySign")
    ):
        raise WireError(400, "PARAM_ERROR", "支付参数缺失（均须为字符串）")
    if params["appId"] != state.keys.appid:
        raise WireError(400, "PARAM_ERROR", "appId错误")
    if params["signType"] != "RSA" or not params["timeStamp"].isdigit():
        raise WireError(400, "PARAM_ERROR", "signType或timeStamp错误")
    message = crypto.bridge_message(
        params["appId"], params["timeStamp"], params["nonceStr"], params["package"]
    )
    if not any(
        crypto.verify(key, message, params["paySign"])
        for key in state.keys.merchant_public_keys.values()
    ):
        raise WireError(400, "SIGN_ERROR", "支付验证签名失败")
    prepay_id = params["package"].removeprefix("prepay_id=")
    found = request.app[MOBILE].prepays.get(prepay_id)
    if not params["package"].startswith("prepay_id=") or found is None:
        raise WireError(400, "PARAM_ERROR", "prepay_id无效")
    if datetime.now(BEIJING) - found[1] > PREPAY_LIFE:
        raise WireError(400, "PARAM_ERROR", "prepay_id已过期")
    order = state.orders[found[0]]
    payer = order.request.get("payer") or {}
    return order, str(payer.get("openid", ""))


def _cors(response: web.Response) -> web.Response:
    # the bridge is called from the merchant's page, another origin
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


async def _bridge_params(request: web.Request) -> Any:
    # sent as text/plain: a simple cross-origin request, no preflight
    try:
        return json.loads(await request.read())
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None


async def bridge_check(request: web.Request) -> web.Response:
    state = request.app[STATE]
    try:
        order, _ = _bridge_order(request, await _bridge_params(request))
    except WireError as exc:
        log.info("sim bridge refused: %s", exc.message)
        return _cors(web.json_response({"code": exc.code, "message": exc.message}, status=400))
    return _cors(
        web.json_response(
            {
                "merchant": f"税费通缴（商户号 {state.keys.mchid}）",
                "description": order.description,
                "total_fen": order.total_fen,
                "state": order.effective_state(datetime.now(BEIJING)),
            }
        )
    )


async def bridge_pay(request: web.Request) -> web.Response:
    state = request.app[STATE]
    try:
        order, openid = _bridge_order(request, await _bridge_params(request))
    except WireError as exc:
        return _cors(web.json_response({"code": exc.code, "message": exc.message}, status=400))
    if order.effective_state(datetime.now(BEIJING)) != "NOTPAY":
        return _cors(
            web.json_response({"code": "ORDER_CLOSED", "message": "订单不可支付"}, status=409)
        )
    _settle(state, order, openid)
    return _cors(web.json_response({"err_msg": "get_brand_wcpay_request:ok"}))


async def jsbridge_js(request: web.Request) -> web.Response:
    base = json.dumps(request.app[STATE].public_base_url)
    return web.Response(
        text=JSBRIDGE.replace("__SIM__", base),
        content_type="text/javascript",
        charset="utf-8",
        headers={"Access-Control-Allow-Origin": "*"},
    )


# What WeChat's browser provides natively: getBrandWCPayRequest shows WeChat's own pay sheet over
# the page. Here the sheet is drawn into the page, and the simulator checks paySign.
JSBRIDGE = r"""(function () {
  var SIM = __SIM__;
  function post(path, params) {
    return fetch(SIM + path, {method: "POST", headers: {"Content-Type": "text/plain"},
      body: JSON.stringify(params)}).then(function (r) {
      return r.json().then(function (b) { return {ok: r.ok, body: b}; });
    });
  }
  function sheet(info, onPay, onCancel) {
    var box = document.createElement("div");
    box.id = "wx-pay-sheet";
    box.setAttribute("style", "position:fixed;left:0;right:0;bottom:0;background:#fff;" +
      "padding:1rem;border-top:1px solid #ccc;z-index:9999;font-family:sans-serif");
    var t = document.createElement("p"); t.textContent = "微信支付 " + info.merchant;
    var a = document.createElement("p");
    a.textContent = "¥" + Math.floor(info.total_fen / 100) + "." +
      String(info.total_fen % 100).padStart(2, "0");
    var pay = document.createElement("button");
    pay.id = "wx-pay-confirm"; pay.textContent = "确认支付";
    var no = document.createElement("button"); no.id = "wx-pay-cancel"; no.textContent = "取消";
    pay.onclick = function () { box.remove(); onPay(); };
    no.onclick = function () { box.remove(); onCancel(); };
    box.append(t, a, pay, no);
    document.body.appendChild(box);
  }
  window.WeixinJSBridge = {
    invoke: function (name, params, cb) {
      if (name !== "getBrandWCPayRequest") { cb({err_msg: name + ":fail"}); return; }
      post("/sim/wechatpay/bridge/check", params).then(function (r) {
        if (!r.ok) {
          cb({err_msg: "get_brand_wcpay_request:fail", err_desc: r.body.message});
          return;
        }
        sheet(r.body, function () {
          post("/sim/wechatpay/bridge/pay", params).then(function (p) {
            cb(p.ok ? p.body : {err_msg: "get_brand_wcpay_request:fail", err_desc: p.body.message});
          });
        }, function () { cb({err_msg: "get_brand_wcpay_request:cancel"}); });
      }, function () { cb({err_msg: "get_brand_wcpay_request:fail"}); });
    }
  };
  document.dispatchEvent(new Event("WeixinJSBridgeReady"));
})();
"""


def add_bridge_routes(app: web.Application) -> None:
    app.router.add_get("/sim/wechatpay/jsbridge.js", jsbridge_js)
    app.router.add_post("/sim/wechatpay/bridge/check", bridge_check)
    app.router.add_post("/sim/wechatpay/bridge/pay", bridge_pay)
