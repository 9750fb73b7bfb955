"""The printable receipt (缴费凭证), rendered from an order view; every value goes through escape().

Rendered on the server rather than by the window screen's script, so that what is printed is
exactly what the database holds, and a receipt can be reprinted from its URL alone.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

import segno

from clearing.domain.display import STATIC_NAMES, Names, name, window_name
from clearing.domain.money import format_yuan
from clearing.domain.times import beijing_time

# orders whose money has been received and split: the only ones a receipt may be printed for
PAID_STATES = frozenset({"CLEARED", "SETTLED"})
# orders whose money went back to the payer: no receipt, and the page says why
REFUND_STATES = frozenset({"REFUNDING", "REFUNDED"})

_HEAD = """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/window/static/receipt.css">
<script type="module" src="/window/static/receipt.js"></script>
</head>
"""

_RECEIPT = """<body>
<nav class="toolbar no-print" aria-label="操作">
  <button type="button" id="print-receipt" class="primary">打印</button>
  <a href="{pdf_url}" download>下载 PDF</a>
  <a href="/window">返回窗口</a>
</nav>
<main class="receipt">
  <header>
    <h1>不动产登记税费缴费凭证</h1>
    <p class="meta"><span>缴费单号：<b>{order_no}</b></span><span>打印时间：{printed_at}</span></p>
  </header>
  <table class="info">
    <colgroup><col class="k"><col><col class="k"><col></colgroup>
    <tr><th scope="row">业务受理号</th><td>{case_no}</td>
        <th scope="row">大厅／窗口</th><td>{office}／{window}</td></tr>
    <tr><th scope="row">缴款人</th><td>{payer_name}</td>
        <th scope="row">证件号码</th><td class="mono nowrap">{payer_id_masked}</td></tr>
  </table>
  <table class="lines">
    <colgroup><col class="c-no"><col class="c-item"><col class="c-payee"><col class="c-ref">
      <col class="c-amount"></colgroup>
    <thead><tr><th scope="col">序号</th><th scope="col">收费项目</th><th scope="col">收款单位</th>
      <th scope="col">票号／缴款码／凭证号</th><th scope="col">金额</th></tr></thead>
    <tbody>
{rows}
    </tbody>
    <tfoot><tr><th scope="row" colspan="2">合计（大写）</th>
      <td colspan="2" class="capital">人民币{total_capital}</td>
      <td class="num total">{total_display}</td></tr></tfoot>
  </table>
  <table class="info">
    <colgroup><col class="k"><col><col class="k"><col></colgroup>
    <tr><th scope="row">支付渠道</th><td>{channels}</td>
        <th scope="row">缴费时间</th><td>{paid_at}</td></tr>
    <tr><th scope="row">交易流水号</th><td colspan="3" class="mono">{transactions}</td></tr>
{card_rows}  </table>
  <footer>
    <p class="stamp">已缴费</p>
    <div>
      <p>经办人：{created_by}</p>
      <p>本凭证由税费通缴系统生成。扫描右侧二维码可核验凭证真伪与金额，凭证被涂改或系伪造时核验不通过。</p>
    </div>
    <figure class="verify-qr"><a href="{verify_url}" id="verify-link">{qr}</a>
      <figcaption>扫码核验</figcaption></figure>
  </footer>
</main>
</body>
</html>
"""

_ROW = (
    '      <tr><td class="center">{line_no}</td><td>{item_name}</td><td>{beneficiary_name}</td>'
    '<td class="mono">{reference}{proof}</td><td class="num">{amount}</td></tr>'
)


_PROOF_CLASS = {"PENDING": "proof pending", "REFUSED": "proof refused"}


def proof_text(line: dict[str, Any]) -> str:
    """The authority's proof for the leg, or a word that it is still to come ("" when none)."""
    if line.get("proof_no"):
        return f"凭证 {line['proof_no']}"
    if line.get("confirm_state") == "PENDING":
        return "凭证待主管部门确认"
    if line.get("confirm_state") == "REFUSED":
        return "主管部门未确认，请联系窗口"
    return ""


def _proof(line: dict[str, Any]) -> str:
    text = proof_text(line)
    if not text:
        return ""
    # a proof in hand is plain; a pending or refused one is marked
    state = "" if line.get("proof_no") else str(line.get("confirm_state"))
    css = _PROOF_CLASS.get(state, "proof")
    return f'<br><span class="{css}">{escape(text)}</span>'


_MESSAGE = """<body>
<main class="message" role="alert">
  <h1>{title}</h1>
  <p>{text}</p>
  <p class="no-print"><a href="/window">返回窗口</a></p>
</main>
</body>
</html>
"""


def _time(iso: str | None) -> str:
    return beijing_time(iso, empty="—")


def _row(line: dict[str, Any]) -> str:
    return _ROW.format(
        line_no=int(line["line_no"]),
        item_name=escape(str(line["item_name"])),
        beneficiary_name=escape(str(line["beneficiary_name"])),
        reference=escape(str(line["reference"] or "—")),
        proof=_proof(line),
        amount=escape(format_yuan(int(line["amount_fen"]))),
    )


_CARD_ROW = (
    '    <tr><th scope="row">银行卡号</th><td class="mono nowrap">{card_no}</td>'
    '<th scope="row">检索参考号</th><td class="mono">{rrn}</td></tr>\n'
)


def _details(payment: dict[str, Any]) -> dict[str, Any]:
    # the channel's own facts (card mask, RRN, ...), when the order view carries them
    details = payment.get("details")
    return details if isinstance(details, dict) else {}


def channel_name(payment: dict[str, Any]) -> str:
    """The channel as the citizen knows it, with the card type for card payments."""
    channel = name("channel", payment["provider"])
    card_type = name("card_type", str(_details(payment).get("card_type") or ""))
    return f"{channel}（{card_type}）" if card_type else channel


def _card_rows(paid: list[dict[str, Any]]) -> str:
    """银行卡号 and 检索参考号 of card payments; a row only when the payment holds either."""
    rows = []
    for p in paid:
        d = _details(p)
        card_no, rrn = str(d.get("card_no_masked") or ""), str(d.get("rrn") or "")
        if card_no or rrn:
            rows.append(_CARD_ROW.format(card_no=escape(card_no or "—"), rrn=escape(rrn or "—")))
    return "".join(rows)


def paid_at_of(view: dict[str, Any]) -> str:
    """When the order was paid, in Beijing time."""
    paid = [p for p in view["payments"] if p["outcome"] == "CLEARED"]
    return _time(paid[-1]["paid_at"] if paid else view["cleared_at"])


def qr_svg(url: str) -> str:
    """An inline SVG QR code of ``url`` (segno; scalable, prints sharp)."""
    return str(segno.make(url, error="m").svg_inline(scale=3, border=2, omitsize=False))


def clerk_name(view: dict[str, Any]) -> str:
    """Who served the citizen: the clerk's name, never a login."""
    return str(view.get("created_by_name") or view["created_by"])


def render(
    view: dict[str, Any], *, printed_at: datetime, verify_url: str, names: Names = STATIC_NAMES
) -> str:
    """The receipt of a paid order (``view`` as returned by ``clearing.service.orders.get``),
    with the QR code that verifies it; the office and window by their ``names``."""
    paid = [p for p in view["payments"] if p["outcome"] == "CLEARED"]
    channels = sorted({channel_name(p) for p in paid})
    return _HEAD.format(title=escape(f"缴费凭证 {view['order_no']}")) + _RECEIPT.format(
        order_no=escape(view["order_no"]),
        printed_at=escape(beijing_time(printed_at)),
        case_no=escape(view["case_no"]),
        office=escape(names.office(view["office"])),
        window=escape(window_name(view["window"])),
        payer_name=escape(view["payer_name"]),
        payer_id_masked=escape(view["payer_id_masked"]),
        rows="\n".join(_row(line) for line in view["lines"]),
        total_capital=escape(view["total_capital"]),
        total_display=escape(view["total_display"]),
        channels=escape("、".join(channels) or "—"),
        transactions=escape("；".join(p["provider_txn_id"] for p in paid) or "—"),
        paid_at=escape(paid_at_of(view)),
        card_rows=_card_rows(paid),
        created_by=escape(clerk_name(view)),
        qr=qr_svg(verify_url),
        verify_url=escape(verify_url),
        pdf_url=escape(f"/orders/{view['order_no']}/receipt.pdf"),
    )


def unpaid_page(view: dict[str, Any]) -> str:
    """Why an order that has not been paid has no receipt (yet, or ever)."""
    state = view["state_zh"]
    if view["state"] in ("OPEN", "PAYING"):
        text = f"该缴费单尚未缴费（当前状态：{state}），缴费完成后方可打印缴费凭证。"
        return message_page("尚未缴费", text)
    if view["state"] in REFUND_STATES:
        text = f"该缴费单已办理退款（当前状态：{state}），不能打印缴费凭证。"
        return message_page("无缴费凭证", text)
    text = f"该缴费单未完成缴费（当前状态：{state}），不能打印缴费凭证。"
    return message_page("无缴费凭证", text)


def message_page(title: str, text: str) -> str:
    """A page that explains why there is no receipt."""
    return _HEAD.format(title=escape(title)) + _MESSAGE.format(
        title=escape(title), text=escape(text)
    )


_VERDICT = """<body>
<main class="message verdict {css}" role="status">
  <h1>{title}</h1>
  <p>{text}</p>
{facts}</main>
</body>
</html>
"""


def verdict_page(verdict: Any) -> str:
    """The answer to a scanned receipt (a ``clearing.service.receipts.Verdict``): genuine or not,
    and the facts the service signed, for the reader to compare with the paper."""
    facts = ""
    if verdict.claims is not None:
        c = verdict.claims
        rows = "".join(
            f'<tr><td>{i}</td><td class="mono">{escape(str(ref) or "—")}</td>'
            f'<td class="num">{escape(format_yuan(int(amount)))}</td></tr>'
            for i, (amount, ref) in enumerate(c.get("l", []), start=1)
        )
        facts = (
            '  <table class="info">\n'
            f"    <tr><th>缴费单号</th><td>{escape(str(c.get('o')))}</td></tr>\n"
            f"    <tr><th>业务受理号</th><td>{escape(str(c.get('c')))}</td></tr>\n"
            f'    <tr><th>合计金额</th><td class="num">{escape(format_yuan(int(c.get("t", 0))))}'
            "</td></tr>\n  </table>\n"
            '  <table class="lines"><thead><tr><th>序号</th><th>凭证号</th><th>金额</th></tr>'
            f"</thead><tbody>{rows}</tbody></table>\n"
            "  <p>请核对纸质凭证上的金额与上表一致。</p>\n"
        )
    title = "凭证真实有效" if verdict.valid else "凭证核验未通过"
    return _HEAD.format(title=escape(title)) + _VERDICT.format(
        css="ok" if verdict.valid else "bad",
        title=escape(title),
        text=escape(verdict.message_zh),
        facts=facts,
    )
