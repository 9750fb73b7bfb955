"""The page a phone opens from a receipt's QR code: genuine or not, and what stands now.

Public and without sign-in, so it shows only what the paper itself shows (items, payees,
references, amounts; never the payer's name or ID number), and nothing at all for a code that is
not ours.
"""

from __future__ import annotations

from html import escape
from typing import Any

from clearing.api.receipt import page_head, reprint_mark
from clearing.domain.money import format_yuan
from clearing.service.receipts import Verdict

_PAGE = """<body>
<main class="message verdict {css}" role="status">
  <h1 id="verdict-title">{title}</h1>
  <p id="verdict-text">{text}</p>
{facts}</main>
</body>
</html>
"""

_TITLES = {
    "RECEIPT_VALID": "凭证真实有效",
    "RECEIPT_PARTLY_REFUNDED": "已部分退款，凭证已失效",
    "RECEIPT_NO_LONGER_VALID": "凭证已失效",
}


def _about(v: Verdict) -> str:
    c = v.claims or {}
    rows = [("缴费单号", str(c.get("o") or "")), ("业务受理号", str(c.get("c") or ""))]
    if v.receipt_no:
        which = reprint_mark(v.reprint_no) if v.reprint_no else "原始凭证"
        rows.insert(0, ("凭证号", f"{v.receipt_no}（{which}）"))
    if v.reprints:
        rows.append(("补打次数", f"该缴费单的凭证已补打 {v.reprints} 次，请以最新凭证为准"))
    body = "".join(
        f'    <tr><th scope="row">{escape(k)}</th><td>{escape(val)}</td></tr>\n' for k, val in rows
    )
    return f'  <table class="info">\n{body}  </table>\n'


def _items(v: Verdict) -> str:
    rows = []
    for x in v.lines or []:
        state = "已退" if x["refunded"] else "已缴"
        css = ' class="refunded"' if x["refunded"] else ""
        # the reference under the item's name: five columns fit a phone held upright
        ref = str(x["reference"])
        ref_html = f'<br><span class="mono">{escape(ref)}</span>' if ref else ""
        rows.append(
            f'<tr{css}><td class="center">{int(x["line_no"])}</td>'
            f"<td>{escape(str(x['item_name']))}{ref_html}</td>"
            f"<td>{escape(str(x['beneficiary_name']))}</td>"
            f'<td class="num">{escape(format_yuan(int(x["amount_fen"])))}</td>'
            f'<td class="center state">{state}</td></tr>'
        )
    heading = "当前缴费情况" if not v.valid else "缴费明细"
    return (
        f'  <h2 id="verdict-items">{heading}</h2>\n'
        '  <table class="lines"><thead><tr><th>序号</th><th>收费项目／凭证号</th><th>收款单位</th>'
        "<th>金额</th><th>状态</th></tr></thead>\n"
        f"  <tbody>{''.join(rows)}</tbody>\n"
        '  <tfoot><tr><th scope="row" colspan="3">实缴合计</th>'
        f'<td class="num total" id="verdict-paid">{escape(format_yuan(int(v.paid_fen or 0)))}'
        "</td><td></td></tr></tfoot></table>\n"
        "  <p>请核对纸质凭证上的项目与金额与上表一致；标为“已退”的项目款项已退回缴款人。</p>\n"
    )


def verdict_page(v: Verdict) -> str:
    """The answer to a scanned receipt, with the order's items as they stand now (when the code
    is ours), for the reader to compare with the paper."""
    facts = ""
    if v.lines is not None:
        facts = _about(v) + _items(v)
    elif v.claims is not None:
        facts = _about(v)
    title = _TITLES.get(v.code, "凭证核验未通过")
    page: dict[str, Any] = {
        "css": "ok" if v.valid else "bad",
        "title": escape(title),
        "text": escape(v.message_zh),
        "facts": facts,
    }
    return page_head(title) + _PAGE.format(**page)
