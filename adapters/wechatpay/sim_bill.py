"""Trade bills in the simulator, written from what it actually processed (protocols-cn.md 1.8).

``GET /v3/bill/tradebill?bill_date=…&bill_type=ALL|SUCCESS|REFUND[&tar_type=GZIP]`` answers
``{hash_type, hash_value, download_url}``; the signed ``GET`` of the download URL returns the file
(gzip when asked), unsigned, like WeChat Pay. A day is a Beijing calendar day: payments count on
their success time, refunds on the time they were accepted (their 退款状态 is today's), reversals
of paid code payments on the reversal time. Unpaid orders never appear.

Layout: a detail header, detail rows whose every value starts with a backtick, a summary header
and one summary row; comma-separated, no quoting, ``\\n`` line ends, UTF-8. Fees use five decimals
of a yuan, computed exactly (half up, in thousandths of a fen) at the rate in force when the money
moved; refund and reversal rows carry the refunded fee as a negative number.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta

from aiohttp import web

from adapters.simkit.bills import fee_millifen, fee_text
from adapters.wechatpay.sim_state import BEIJING, STATE, Order, Refund, SimState
from adapters.wechatpay.sim_wire import WireError
from clearing.domain.money import yuan_str

KEEP_DAYS = 92
_RATE = re.compile(r"([0-9]{1,3})(?:\.([0-9]{1,4}))?%")

_FIRST = [
    "交易时间",
    "公众账号ID",
    "商户号",
    "特约商户号",
    "设备号",
    "微信订单号",
    "商户订单号",
    "用户标识",
    "交易类型",
    "交易状态",
    "付款银行",
    "货币种类",
    "应结订单金额",
    "代金券金额",
]
_REFUND_IDS = ["微信退款单号", "商户退款单号", "退款金额", "充值券退款金额"]
_TAIL = ["商品名称", "商户数据包", "手续费", "费率", "订单金额"]
COLUMNS = {
    "ALL": [*_FIRST, *_REFUND_IDS, "退款类型", "退款状态", *_TAIL, "申请退款金额", "费率备注"],
    "SUCCESS": [*_FIRST, *_TAIL, "费率备注"],
    "REFUND": [
        *_FIRST,
        "退款申请时间",
        "退款成功时间",
        *_REFUND_IDS,
        "退款类型",
        "退款状态",
        *_TAIL,
        "申请退款金额",
        "费率备注",
    ],
}
_REFUND_SUMMARY = (
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
)
SUMMARY = {
    "ALL": _REFUND_SUMMARY,
    "REFUND": _REFUND_SUMMARY,
    "SUCCESS": "总交易单数,应结订单总金额,手续费总金额,订单总金额",
}
# summary column → the detail column it adds up
_SUMS = {
    "应结订单总金额": "应结订单金额",
    "退款总金额": "退款金额",
    "充值券退款总金额": "充值券退款金额",
    "订单总金额": "订单金额",
    "申请退款总金额": "申请退款金额",
}


def parse_fee_rate(text: str) -> int:
    """``"0.60%"`` → 6000 millionths; ``ValueError`` for anything else or above 100%."""
    match = _RATE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"fee rate {text!r} is not like 0.60%")
    ppm = int(match.group(1)) * 10_000 + int((match.group(2) or "").ljust(4, "0"))
    if ppm > 1_000_000:
        raise ValueError("fee rate above 100%")
    return ppm


def rate_text(ppm: int) -> str:
    whole, frac = divmod(ppm, 10_000)
    decimals = f"{frac:04d}".rstrip("0").ljust(2, "0")
    return f"{whole}.{decimals}%"


def _clean(value: str) -> str:
    # the format has no quoting: a comma or line break inside a value would shift the columns
    return re.sub(r"[,\r\n`]", " ", value)


def _bill_time(rfc3339_text: str) -> tuple[datetime, str]:
    moment = datetime.fromisoformat(rfc3339_text).astimezone(BEIJING)
    return moment, moment.strftime("%Y-%m-%d %H:%M:%S")


def _payment_row(state: SimState, order: Order) -> dict[str, str]:
    assert order.success_time is not None and order.paid_fen is not None
    paid = yuan_str(order.paid_fen)
    return {
        "交易时间": _bill_time(order.success_time)[1],
        "公众账号ID": state.keys.appid,
        "商户号": state.keys.mchid,
        "特约商户号": "0",
        "设备号": "",
        "微信订单号": order.transaction_id or "",
        "商户订单号": order.out_trade_no,
        "用户标识": order.openid or "",
        "交易类型": order.trade_type,
        "交易状态": "SUCCESS",
        "付款银行": "OTHERS",
        "货币种类": "CNY",
        "应结订单金额": paid,
        "代金券金额": "0.00",
        "微信退款单号": "0",
        "商户退款单号": "0",
        "退款金额": "0.00",
        "充值券退款金额": "0.00",
        "退款类型": "",
        "退款状态": "",
        "商品名称": _clean(order.description),
        "商户数据包": _clean(order.attach),
        "手续费": fee_text(fee_millifen(order.paid_fen, order.fee_ppm)),
        "费率": rate_text(order.fee_ppm),
        "订单金额": paid,
        "申请退款金额": "0.00",
        "费率备注": "",
    }


def _refund_row(state: SimState, order: Order, refund: Refund, status: str) -> dict[str, str]:
    row = _payment_row(state, order)
    refunded = yuan_str(refund.refund_fen)
    row.update(
        {
            "交易时间": _bill_time(refund.create_time)[1],
            "交易状态": status,
            "应结订单金额": "0.00",
            "微信退款单号": refund.refund_id,
            # a reversal has no merchant refund number: WeChat refunded on its own
            "商户退款单号": refund.out_refund_no or "0",
            "退款金额": refunded,
            "退款类型": "ORIGINAL",
            "退款状态": refund.status,
            "手续费": fee_text(-fee_millifen(refund.refund_fen, order.fee_ppm)),
            "订单金额": "0.00",
            "申请退款金额": refunded,
            "退款申请时间": _bill_time(refund.create_time)[1],
            "退款成功时间": _bill_time(refund.success_time)[1] if refund.success_time else "",
        }
    )
    return row


def _events(state: SimState) -> Iterator[tuple[datetime, str, dict[str, str]]]:
    for order in state.orders.values():
        if order.success_time is not None and order.paid_fen is not None:
            moment = _bill_time(order.success_time)[0]
            yield moment, "SUCCESS", _payment_row(state, order)
        for refund in order.refunds:
            yield (
                _bill_time(refund.create_time)[0],
                "REFUND",
                _refund_row(state, order, refund, "REFUND"),
            )
        if order.reversal is not None:
            yield (
                _bill_time(order.reversal.create_time)[0],
                "REVOKED",
                _refund_row(state, order, order.reversal, "REVOKED"),
            )


def bill_text(state: SimState, day: date, bill_type: str) -> str | None:
    """The bill file, or None when nothing happened that day."""
    wanted = {"ALL": ("SUCCESS", "REFUND", "REVOKED"), "SUCCESS": ("SUCCESS",)}
    kinds = wanted.get(bill_type, ("REFUND",))
    rows = sorted(
        (
            (moment, row)
            for moment, kind, row in _events(state)
            if kind in kinds and moment.date() == day
        ),
        key=lambda pair: pair[0],
    )
    if not rows:
        return None
    columns = COLUMNS[bill_type]
    lines = [",".join(columns)]
    lines += [",".join("`" + row[name] for name in columns) for _, row in rows]
    summary_names = SUMMARY[bill_type].split(",")
    totals = {"总交易单数": str(len(rows))}
    for name, detail in _SUMS.items():
        totals[name] = yuan_str(sum(_fen(row[detail]) for _, row in rows))
    totals["手续费总金额"] = fee_text(sum(_millifen(row["手续费"]) for _, row in rows))
    lines.append(SUMMARY[bill_type])
    lines.append(",".join("`" + totals[name] for name in summary_names))
    return "\n".join(lines) + "\n"


def _fen(yuan: str) -> int:
    whole, _, cents = yuan.partition(".")
    return int(whole) * 100 + int(cents)


def _millifen(fee: str) -> int:
    negative = fee.startswith("-")
    whole, _, frac = fee.lstrip("-").partition(".")
    value = int(whole) * 100_000 + int(frac)
    return -value if negative else value


async def apply_trade_bill(request: web.Request) -> web.Response:
    state = request.app[STATE]
    day = _bill_date(request.query.get("bill_date", ""))
    bill_type = request.query.get("bill_type", "ALL")
    if bill_type not in COLUMNS:
        raise WireError(400, "PARAM_ERROR", "bill_type只能是ALL、SUCCESS或REFUND")
    tar_type = request.query.get("tar_type", "")
    if tar_type not in ("", "GZIP"):
        raise WireError(400, "PARAM_ERROR", "tar_type只能是GZIP")
    if state.faults.bill_creating:
        raise WireError(400, "STATEMENT_CREATING", "账单生成中")
    text = bill_text(state, day, bill_type)
    if text is None:
        raise WireError(400, "NO_STATEMENT_EXIST", "请求的账单文件不存在")
    plain = text.encode()
    if state.faults.truncate_bill:
        plain = plain[: plain.rindex("总交易单数".encode())]
    digest = hashlib.sha1(plain, usedforsecurity=False).hexdigest()
    if state.faults.bad_bill_hash:
        digest = hashlib.sha1(plain + b"x", usedforsecurity=False).hexdigest()
    served = gzip.compress(plain, mtime=0) if tar_type else plain
    token = state.bill_links.issue(served, datetime.now(BEIJING))
    url = f"{state.public_base_url}/v3/billdownload/file?token={token}"
    if tar_type:
        url += "&tartype=gzip"
    return web.json_response({"hash_type": "SHA1", "hash_value": digest, "download_url": url})


async def download(request: web.Request) -> web.Response:
    state = request.app[STATE]
    served = state.bill_links.get(request.query.get("token", ""), datetime.now(BEIJING))
    if served is None:
        raise WireError(400, "INVALID_REQUEST", "下载链接无效或已过期，请重新申请账单")
    return web.Response(body=served, content_type="application/octet-stream")


def _bill_date(text: str) -> date:
    try:
        day = date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        day = None
    if day is None:
        raise WireError(400, "PARAM_ERROR", "bill_date格式应为YYYY-MM-DD")
    today = datetime.now(BEIJING).date()
    # WeChat serves yesterday's bill from about 10:00; the simulator also serves today's so far,
    # which is what lets tests read back what they just did
    if day > today or day < today - timedelta(days=KEEP_DAYS):
        raise WireError(400, "PARAM_ERROR", "bill_date只能是最近三个月内的日期")
    return day


def add_bill_routes(app: web.Application) -> None:
    app.router.add_get("/v3/bill/tradebill", apply_trade_bill)
    app.router.add_get("/v3/billdownload/file", download)
