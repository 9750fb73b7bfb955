"""The payment notice (缴费通知书) as an A4 PDF: what is owed, until when, and how to pay by phone.

Built from the receipt PDF's parts (receipt_pdf: the embedded CJK font subset, paragraphs, the
QR code drawn on the canvas): the case, each line with its beneficiary and the authority's
reference, the total in figures and 大写, the order's expiry in Beijing time, the payer's name
masked and only the masked ID number, the QR code of the mobile link with the link printed under
it, and what to do, in Chinese.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from reportlab.lib.units import mm
from reportlab.platypus import Table, TableStyle

from clearing.api import receipt_font
from clearing.api.receipt_pdf import (
    _QR,
    _SMALL,
    _TEXT,
    _TITLE,
    GRID,
    _p,
    a4_document,
    beside_qr,
    build,
    lines_table,
    total_row,
)
from clearing.domain.display import STATIC_NAMES, Names
from clearing.domain.money import format_yuan
from clearing.domain.times import beijing_time
from clearing.service.notices import Notice, mask_name

STEPS = (
    "1. 用手机扫描左侧二维码，或在手机浏览器中输入二维码下方的网址，打开缴费页面。",
    "2. 核对业务受理号、收费项目和金额，选择微信、支付宝或银联云闪付缴费。",
    "3. 缴费成功后，缴费页面显示缴费结果；缴费凭证可到窗口领取。",
    "4. 请在缴费期限前缴纳；逾期本通知书失效，请到窗口重新开具。",
    "5. 工作人员不会向您索要验证码或要求转账到个人账户，请谨防诈骗。",
)


def render_pdf(
    view: dict[str, Any],
    notice: Notice,
    link: str,
    *,
    font_file: Path | None = None,
    names: Names = STATIC_NAMES,
) -> bytes:
    """The notice of ``notice`` for the order ``view`` (clearing.service.orders.get)."""
    receipt_font.register(font_file)
    out = io.BytesIO()
    doc = a4_document(out, f"缴费通知书 {view['order_no']}")
    office = view["office"]
    info = Table(
        [
            [_p("业务受理号"), _p(view["case_no"]), _p("缴费单号"), _p(view["order_no"])],
            [
                _p("缴款人"),
                _p(mask_name(str(view["payer_name"] or ""))),
                _p("证件号码"),
                _p(view["payer_id_masked"]),
            ],
            [
                _p("大厅／窗口"),
                _p(f"{names.office(office)}／{names.window_of(office, view['window'])}"),
                _p("开具时间"),
                _p(beijing_time(notice.issued_at)),
            ],
        ],
        colWidths=[24 * mm, 60 * mm, 24 * mm, 66 * mm],
        style=TableStyle(GRID),
    )
    rows: list[list[Any]] = []
    for line in view["lines"]:
        rows.append(
            [
                _p(str(line["line_no"])),
                _p(str(line["item_name"])),
                _p(str(line["beneficiary_name"])),
                _p(str(line["reference"] or "—")),
                _p(format_yuan(int(line["amount_fen"]))),
            ]
        )
    rows.append(total_row("合计（大写）", int(view["total_fen"])))
    lines = lines_table("主管部门凭证号", rows)
    deadline = _p(
        f"缴费期限：请于 {beijing_time(notice.link_expires_at)}（北京时间）前缴纳", _TITLE_SMALL
    )
    pay = beside_qr(
        [_QR(link), _p(link, _SMALL)],
        34,
        [_p("手机缴费办法"), *(_p(s, _SMALL) for s in STEPS)],
    )
    build(
        doc,
        [_p("不动产登记税费缴费通知书", _TITLE)],
        info,
        lines,
        deadline,
        pay,
        _p(f"经办人：{notice.issued_by_name or notice.issued_by}", _TEXT),
    )
    return out.getvalue()


_TITLE_SMALL = _TEXT.clone("deadline", fontSize=11, leading=16)
