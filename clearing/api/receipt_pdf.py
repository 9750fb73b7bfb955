"""The receipt (缴费凭证) as a PDF, with the same facts and verification QR as the printable page.

Chinese text uses STSong-Light, one of the CID fonts every PDF reader provides, so no font file is
shipped or embedded and the file stays small; ASCII figures (order numbers, amounts) are set in
Helvetica. The QR code is drawn from segno's module matrix, the same encoder as the page's QR.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import segno
from reportlab.graphics.shapes import Drawing, Rect
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from clearing.api.receipt import channel_name, clerk_name, paid_at_of, proof_text
from clearing.domain.display import STATIC_NAMES, Names, window_name
from clearing.domain.money import format_yuan
from clearing.domain.times import beijing_time

CJK = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(CJK))

_TEXT = ParagraphStyle("text", fontName=CJK, fontSize=9.5, leading=13, wordWrap="CJK")
_TITLE = ParagraphStyle("title", parent=_TEXT, fontSize=16, leading=22, alignment=1)
_SMALL = ParagraphStyle("small", parent=_TEXT, fontSize=8, leading=11)


def _p(text: str, style: ParagraphStyle = _TEXT) -> Paragraph:
    # Paragraph reads a little markup: escape what the data might contain
    safe = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return Paragraph(safe, style)


def _qr(url: str, size_mm: float = 32) -> Drawing:
    qr = segno.make(url, error="m")
    matrix = [list(row) for row in qr.matrix_iter(scale=1, border=2)]
    n = len(matrix)
    cell = size_mm * mm / n
    d = Drawing(size_mm * mm, size_mm * mm)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                d.add(
                    Rect(
                        x * cell,
                        (n - 1 - y) * cell,
                        cell,
                        cell,
                        fillColor=colors.black,
                        strokeColor=None,
                    )
                )
    return d


def render_pdf(
    view: dict[str, Any], *, printed_at: datetime, verify_url: str, names: Names = STATIC_NAMES
) -> bytes:
    """The PDF receipt of a paid order (``view`` as ``clearing.service.orders.get`` returns it)."""
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=f"缴费凭证 {view['order_no']}",
        author="税费通缴",
        invariant=True,  # the same order gives the same bytes (no creation-time noise)
    )
    paid = [p for p in view["payments"] if p["outcome"] == "CLEARED"]
    grid = TableStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("FONTNAME", (0, 0), (-1, -1), CJK),
            ("FONTSIZE", (0, 0), (-1, -1), 9.5),
        ]
    )
    info = Table(
        [
            [
                _p("缴费单号"),
                _p(view["order_no"]),
                _p("打印时间"),
                _p(beijing_time(printed_at)),
            ],
            [
                _p("业务受理号"),
                _p(view["case_no"]),
                _p("大厅／窗口"),
                _p(f"{names.office(view['office'])}／{window_name(view['window'])}"),
            ],
            [
                _p("缴款人"),
                _p(str(view["payer_name"] or "")),
                _p("证件号码"),
                _p(view["payer_id_masked"]),
            ],
        ],
        colWidths=[24 * mm, 60 * mm, 24 * mm, 66 * mm],
        style=grid,
    )
    rows: list[list[Any]] = [
        [_p(h) for h in ("序号", "收费项目", "收款单位", "凭证号", "金额（元）")]
    ]
    for line in view["lines"]:
        ref = str(line["reference"] or "—")
        proof = proof_text(line)
        rows.append(
            [
                _p(str(line["line_no"])),
                _p(str(line["item_name"])),
                _p(str(line["beneficiary_name"])),
                _p(f"{ref}\n{proof}".strip() if proof else ref),
                _p(format_yuan(int(line["amount_fen"]))),
            ]
        )
    rows.append(
        [
            _p("合计（大写）"),
            "",
            _p(f"人民币{view['total_capital']}"),
            "",
            _p(view["total_display"]),
        ]
    )
    lines = Table(
        rows,
        colWidths=[12 * mm, 34 * mm, 48 * mm, 48 * mm, 32 * mm],
        style=TableStyle(
            [
                *grid.getCommands(),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef1f5")),
                ("SPAN", (0, -1), (1, -1)),
                ("SPAN", (2, -1), (3, -1)),
                ("ALIGN", (4, 1), (4, -1), "RIGHT"),
            ]
        ),
    )
    txns = "；".join(p["provider_txn_id"] for p in paid) or "—"
    channels = "、".join(sorted({channel_name(p) for p in paid})) or "—"
    pay = Table(
        [
            [_p("支付渠道"), _p(channels), _p("缴费时间"), _p(paid_at_of(view))],
            [_p("交易流水号"), _p(txns), "", ""],
        ],
        colWidths=[24 * mm, 60 * mm, 24 * mm, 66 * mm],
        style=TableStyle([*grid.getCommands(), ("SPAN", (1, 1), (3, 1))]),
    )
    verify = Table(
        [
            [
                _qr(verify_url),
                [
                    _p(f"经办人：{clerk_name(view)}"),
                    _p(
                        "扫描左侧二维码可向税费通缴系统核验本凭证的真伪与金额；"
                        "凭证被涂改或系伪造时核验不通过。",
                        _SMALL,
                    ),
                    _p(verify_url, _SMALL),
                ],
            ]
        ],
        colWidths=[38 * mm, 136 * mm],
        style=TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]),
    )
    doc.build(
        [
            _p("不动产登记税费缴费凭证", _TITLE),
            Spacer(1, 6 * mm),
            info,
            Spacer(1, 4 * mm),
            lines,
            Spacer(1, 4 * mm),
            pay,
            Spacer(1, 6 * mm),
            verify,
        ]
    )
    return out.getvalue()
