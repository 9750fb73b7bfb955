"""The printable receipt (缴费凭证): one stored print of an order, rendered from the order view and
the print's facts (which lines were refunded when it was printed); every value goes through
escape().

Rendered on the server rather than by the window screen's script, so that what is printed is
exactly what the database holds; a print shows the same at any later viewing (its own time, its
own QR code), and a new paper is only ever a counted reprint (补打).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

import segno

from clearing.domain.display import STATIC_NAMES, Names, name
from clearing.domain.money import capital_amount, format_yuan
from clearing.domain.times import beijing_time
from clearing.service.receipt_prints import Print

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
<link rel="stylesheet" href="/window/static/paper.css">
<link rel="stylesheet" href="/window/static/{stylesheet}">
<script type="module" src="/window/static/receipt.js"></script>
</head>
"""


def page_head(title: str, stylesheet: str = "receipt.css") -> str:
    """The printed papers' common head (the paper's stylesheet, the print script), with
    ``title`` escaped."""
    return _HEAD.format(title=escape(title), stylesheet=stylesheet)


_RECEIPT = """<body>
<nav class="toolbar no-print" aria-label="操作">
{actions}  <a href="/window">返回窗口</a>
</nav>
{banner}<main class="receipt{main_css}">
  <header>
    <h1>不动产登记税费缴费凭证{reprint_badge}</h1>
    <p class="meta"><span>凭证号：<b id="receipt-no">{receipt_no}</b></span>
      <span>缴费单号：<b>{order_no}</b></span><span>打印时间：{printed_at}</span></p>
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
    <tfoot>
{totals}    </tfoot>
  </table>
  <table class="info">
    <colgroup><col class="k"><col><col class="k"><col></colgroup>
    <tr><th scope="row">支付渠道</th><td>{channels}</td>
        <th scope="row">缴费时间</th><td>{paid_at}</td></tr>
    <tr><th scope="row">交易流水号</th><td colspan="3" class="mono">{transactions}</td></tr>
{card_rows}  </table>
  <footer>
    <p class="stamp">{stamp}</p>
    <div>
      <p>经办人：{created_by}{printed_by}</p>
      <p>本凭证由税费通缴系统生成。扫描右侧二维码可核验凭证真伪与金额，凭证被涂改、系伪造或已退款时核验不通过。</p>
    </div>
    <figure class="verify-qr"><a href="{verify_url}" id="verify-link">{qr}</a>
      <figcaption>扫码核验</figcaption></figure>
  </footer>
</main>
</body>
</html>
"""

_TOTAL = (
    '      <tr><th scope="row" colspan="2">合计（大写）</th>\n'
    '        <td colspan="2" class="capital">人民币{capital}</td>\n'
    '        <td class="num total">{display}</td></tr>\n'
)
_TOTALS_REFUNDED = (
    '      <tr><th scope="row" colspan="4">应缴合计</th><td class="num">{total}</td></tr>\n'
    '      <tr class="refunded-sum"><th scope="row" colspan="4">已退金额</th>'
    '<td class="num" id="refunded-total">{refunded}</td></tr>\n'
    '      <tr><th scope="row" colspan="2">实缴合计（大写）</th>\n'
    '        <td colspan="2" class="capital">人民币{capital}</td>\n'
    '        <td class="num total" id="net-paid">{display}</td></tr>\n'
)

# the reasons a clerk picks from when reprinting (the API takes any text up to 200 characters)
REPRINT_REASONS = ("凭证遗失", "凭证污损", "部分退款后重新出具", "缴款人另需一份")

_REPRINT_FORM = (
    '  <form method="post" action="{action}" class="reprint" id="reprint-form">\n'
    '    <label>补打原因 <select name="reason" id="reprint-reason">{options}</select></label>\n'
    '    <button type="submit" id="reprint">补打</button>\n'
    "  </form>\n"
)

_ROW = (
    '      <tr{css}><td class="center">{line_no}</td><td>{item_name}</td>'
    '<td>{beneficiary_name}</td><td class="mono">{reference}{proof}</td>'
    '<td class="num">{amount}</td></tr>'
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


def _row(line: dict[str, Any], refunded_fen: int) -> str:
    amount = escape(format_yuan(int(line["amount_fen"])))
    if refunded_fen:
        # struck through and said in words: the line stays on the paper, its money went back
        amount = f'<s>{amount}</s><br><span class="refunded-tag">已退</span>'
    return _ROW.format(
        css=' class="refunded"' if refunded_fen else "",
        line_no=int(line["line_no"]),
        item_name=escape(str(line["item_name"])),
        beneficiary_name=escape(str(line["beneficiary_name"])),
        reference=escape(str(line["reference"] or "—")),
        proof=_proof(line),
        amount=amount,
    )


def _totals(total_fen: int, paid_fen: int) -> str:
    if paid_fen == total_fen:
        return _TOTAL.format(
            capital=escape(capital_amount(total_fen)), display=format_yuan(total_fen)
        )
    return _TOTALS_REFUNDED.format(
        total=format_yuan(total_fen),
        refunded=format_yuan(total_fen - paid_fen),
        capital=escape(capital_amount(paid_fen)),
        display=format_yuan(paid_fen),
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


def reprint_mark(reprint_no: int) -> str:
    """补打（第 n 次）: how a reprint says so, on the page, the PDF and the verification page."""
    return f"补打（第 {reprint_no} 次）"


@dataclass(frozen=True)
class Sheet:
    """Which print to show and what may be done with it.

    ``stale``: money went back since it was printed, so its paper no longer verifies;
    ``latest``: no later print exists; ``may_reprint``: the viewer's role may 补打."""

    printed: Print
    verify_url: str
    latest: bool
    stale: bool
    may_reprint: bool


def _actions(view: dict[str, Any], sheet: Sheet) -> str:
    out = []
    if sheet.latest and not sheet.stale:
        out.append('  <button type="button" id="print-receipt" class="primary">打印</button>\n')
        pdf = f"/orders/{view['order_no']}/receipt.pdf"
        out.append(f'  <a href="{escape(pdf)}" download>下载 PDF</a>\n')
    if sheet.may_reprint:
        options = "".join(f"<option>{escape(r)}</option>" for r in REPRINT_REASONS)
        action = f"/orders/{view['order_no']}/receipt/reprints"
        out.append(_REPRINT_FORM.format(action=escape(action), options=options))
    return "".join(out)


def _banner(sheet: Sheet) -> str:
    if not sheet.latest:
        text = "这是历史打印记录，已有更新的凭证，不能再次打印。"
        if sheet.stale:
            text = "这是历史打印记录：打印后已有退款，该凭证已失效；已有更新的凭证。"
    elif sheet.stale:
        text = (
            "该凭证打印后已有退款，凭证已失效，不能再交给缴款人。"
            "请点击“补打”出具反映当前缴费情况的新凭证。"
        )
    else:
        return ""
    return f'<p class="banner no-print" role="alert" id="receipt-banner">{escape(text)}</p>\n'


def _badge(reprint_no: int) -> str:
    if not reprint_no:
        return ""
    mark = escape(reprint_mark(reprint_no))
    return f' <span class="reprint-badge" id="reprint-badge">{mark}</span>'


def clerk_name(view: dict[str, Any]) -> str:
    """Who served the citizen: the clerk's name, never a login."""
    return str(view.get("created_by_name") or view["created_by"])


def render(view: dict[str, Any], sheet: Sheet, names: Names = STATIC_NAMES) -> str:
    """One print of a paid order's receipt (``view`` as ``clearing.service.orders.get`` returns
    it): each line as it stood when printed — a refunded line marked 已退, the net paid — with the
    QR code that verifies this very print; the office and window by their ``names``."""
    printed = sheet.printed
    paid = [p for p in view["payments"] if p["outcome"] == "CLEARED"]
    channels = sorted({channel_name(p) for p in paid})
    back = printed.refunded_fen()
    reprint = printed.reprint_no
    return page_head(f"缴费凭证 {printed.receipt_no}") + _RECEIPT.format(
        actions=_actions(view, sheet),
        banner=_banner(sheet),
        # a void or superseded print is for reading only: on paper it says so (receipt.css)
        main_css=" void" if sheet.stale or not sheet.latest else "",
        reprint_badge=_badge(reprint),
        receipt_no=escape(printed.receipt_no),
        order_no=escape(view["order_no"]),
        printed_at=escape(beijing_time(printed.printed_at)),
        case_no=escape(view["case_no"]),
        office=escape(names.office(view["office"])),
        window=escape(names.window_of(view["office"], view["window"])),
        payer_name=escape(view["payer_name"]),
        payer_id_masked=escape(view["payer_id_masked"]),
        rows="\n".join(_row(line, back.get(int(line["line_no"]), 0)) for line in view["lines"]),
        totals=_totals(int(view["total_fen"]), printed.paid_fen),
        channels=escape("、".join(channels) or "—"),
        transactions=escape("；".join(p["provider_txn_id"] for p in paid) or "—"),
        paid_at=escape(paid_at_of(view)),
        card_rows=_card_rows(paid),
        stamp="已缴费",
        created_by=escape(clerk_name(view)),
        printed_by=escape(f"　补打人：{names.actor(printed.printed_by)}" if reprint else ""),
        qr=qr_svg(sheet.verify_url),
        verify_url=escape(sheet.verify_url),
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
    return page_head(title) + _MESSAGE.format(title=escape(title), text=escape(text))
