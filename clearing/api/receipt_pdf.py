"""The receipt (缴费凭证) as a PDF, with the same facts and verification QR as the printable page.

Every character is set in one TrueType CJK font embedded as a subset (``receipt_font``), so the
file prints the same on any printer; the font's Latin glyphs serve for figures too, so no font is
merely named. The QR code is drawn from segno's module matrix, the same encoder as the page's QR,
30 mm wide: a short verification URL (≤ 80 characters, QR version ≤ 5) gives modules of at least
0.7 mm, about 8 dots each at 300 dpi.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import segno
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from clearing.api import receipt_font
from clearing.api.receipt import (
    Sheet,
    channel_name,
    clerk_name,
    paid_at_of,
    proof_text,
    reprint_mark,
)
from clearing.domain.display import STATIC_NAMES, Names
from clearing.domain.money import capital_amount, format_yuan
from clearing.domain.times import beijing_time

CJK = receipt_font.NAME
QR_SIZE_MM = 30.0

_TEXT = ParagraphStyle("text", fontName=CJK, fontSize=9.5, leading=13, wordWrap="CJK")
_TITLE = ParagraphStyle("title", parent=_TEXT, fontSize=16, leading=22, alignment=1)
_MARK = ParagraphStyle(
    "mark", parent=_TEXT, fontSize=12, leading=16, alignment=1, textColor=colors.HexColor("#c0392b")
)
_SMALL = ParagraphStyle("small", parent=_TEXT, fontSize=8, leading=11)
# the ruled, vertically centred grid every table of the receipt and the notice is drawn in
GRID: tuple[tuple[Any, ...], ...] = (
    ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
    ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ("FONTNAME", (0, 0), (-1, -1), CJK),
    ("FONTSIZE", (0, 0), (-1, -1), 9.5),
)


def _p(text: str, style: ParagraphStyle = _TEXT) -> Paragraph:
    # Paragraph reads a little markup: escape what the data might contain
    safe = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return Paragraph(safe, style)


class _QR(Flowable):  # type: ignore[misc]  # reportlab is untyped
    """The QR code as filled squares straight on the canvas (a graphics Drawing would name
    Helvetica in its default state, a font nothing embeds)."""

    def __init__(self, url: str, size_mm: float = QR_SIZE_MM) -> None:
        super().__init__()
        self.matrix = [list(row) for row in segno.make(url, error="m").matrix_iter(border=2)]
        self.width = self.height = size_mm * mm

    def draw(self) -> None:
        n = len(self.matrix)
        cell = self.width / n
        self.canv.setFillColor(colors.black)
        for y, row in enumerate(self.matrix):
            for x, dark in enumerate(row):
                if dark:
                    self.canv.rect(x * cell, (n - 1 - y) * cell, cell, cell, stroke=0, fill=1)


def lines_table(ref_head: str, rows: list[list[Any]], *spans: tuple[Any, ...]) -> Table:
    """The lines under a shaded head (序号, 收费项目, 收款单位, ``ref_head``, 金额), amounts to
    the right, the last row the total (``total_row``); ``spans``: more rows drawn across."""
    head = [_p(h) for h in ("序号", "收费项目", "收款单位", ref_head, "金额（元）")]
    return Table(
        [head, *rows],
        colWidths=[12 * mm, 34 * mm, 48 * mm, 48 * mm, 32 * mm],
        style=TableStyle(
            [
                *GRID,
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef1f5")),
                ("SPAN", (0, -1), (1, -1)),
                ("SPAN", (2, -1), (3, -1)),
                *spans,
                ("ALIGN", (4, 1), (4, -1), "RIGHT"),
            ]
        ),
    )


def total_row(label: str, fen: int) -> list[Any]:
    """The last row of ``lines_table``: the label, the sum in 大写, then in figures."""
    return [_p(label), "", _p(f"人民币{capital_amount(fen)}"), "", _p(format_yuan(fen))]


def beside_qr(qr_cell: Any, gap_mm: float, text: list[Any]) -> Table:
    """A cell holding the QR code, ``gap_mm`` wider than it, with ``text`` to its right."""
    return Table(
        [[qr_cell, text]],
        colWidths=[(QR_SIZE_MM + gap_mm) * mm, (174 - QR_SIZE_MM - gap_mm) * mm],
        style=TableStyle(
            [("VALIGN", (0, 0), (-1, -1), "TOP"), ("FONTNAME", (0, 0), (-1, -1), CJK)]
        ),
    )


def a4_document(out: io.BytesIO, title: str) -> SimpleDocTemplate:
    """An A4 page with the margins of the receipt and the notice, in the embedded CJK font."""
    return SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=title,
        author="税费通缴",
        invariant=True,  # the same print gives the same bytes (no creation-time noise)
        initialFontName=CJK,  # else the canvas names Helvetica, a font nothing embeds
    )


def build(doc: SimpleDocTemplate, head: list[Any], info: Table, lines: Table, *rest: Any) -> None:
    """The page: ``head`` (title, marks), the facts, the lines, then each of ``rest`` in turn,
    spaced alike on the receipt and the notice."""
    flow = [*head, Spacer(1, 6 * mm), info, Spacer(1, 4 * mm), lines, Spacer(1, 4 * mm)]
    for i, part in enumerate(rest):
        flow += [Spacer(1, 6 * mm), part] if i else [part]
    doc.build(flow)


def render_pdf(
    view: dict[str, Any],
    sheet: Sheet,
    *,
    font_file: Path | None = None,
    names: Names = STATIC_NAMES,
) -> bytes:
    """One print of a paid order's receipt as PDF (``view`` as ``clearing.service.orders.get``
    returns it); refunded lines marked 已退, the net paid, 补打 on a reprint; the office and
    window by their ``names``."""
    receipt_font.register(font_file)
    printed = sheet.printed
    office = view["office"]
    out = io.BytesIO()
    doc = a4_document(out, f"缴费凭证 {printed.receipt_no}")
    paid = [p for p in view["payments"] if p["outcome"] == "CLEARED"]
    info = Table(
        [
            [
                _p("凭证号"),
                _p(printed.receipt_no),
                _p("打印时间"),
                _p(beijing_time(printed.printed_at)),
            ],
            [_p("缴费单号"), _p(view["order_no"]), _p("业务受理号"), _p(view["case_no"])],
            [
                _p("缴款人"),
                _p(str(view["payer_name"] or "")),
                _p("证件号码"),
                _p(view["payer_id_masked"]),
            ],
            [
                _p("大厅／窗口"),
                _p(f"{names.office(office)}／{names.window_of(office, view['window'])}"),
                "",
                "",
            ],
        ],
        colWidths=[24 * mm, 60 * mm, 24 * mm, 66 * mm],
        style=TableStyle([*GRID, ("SPAN", (1, 3), (3, 3))]),
    )
    back = printed.refunded_fen()
    rows: list[list[Any]] = []
    for line in view["lines"]:
        ref = str(line["reference"] or "—")
        proof = proof_text(line)
        amount = format_yuan(int(line["amount_fen"]))
        rows.append(
            [
                _p(str(line["line_no"])),
                _p(str(line["item_name"])),
                _p(str(line["beneficiary_name"])),
                _p(f"{ref}\n{proof}".strip() if proof else ref),
                _p(f"{amount}（已退）" if back.get(int(line["line_no"])) else amount),
            ]
        )
    total = int(view["total_fen"])
    if printed.paid_fen != total:
        rows.append([_p("应缴合计"), "", "", "", _p(format_yuan(total))])
        rows.append([_p("已退金额"), "", "", "", _p(format_yuan(total - printed.paid_fen))])
    label = "合计（大写）" if printed.paid_fen == total else "实缴合计（大写）"
    rows.append(total_row(label, printed.paid_fen))
    spans: list[tuple[Any, ...]] = []
    if printed.paid_fen != total:
        spans += [("SPAN", (0, -3), (3, -3)), ("SPAN", (0, -2), (3, -2))]
    lines = lines_table("凭证号", rows, *spans)
    txns = "；".join(p["provider_txn_id"] for p in paid) or "—"
    channels = "、".join(sorted({channel_name(p) for p in paid})) or "—"
    pay = Table(
        [
            [_p("支付渠道"), _p(channels), _p("缴费时间"), _p(paid_at_of(view))],
            [_p("交易流水号"), _p(txns), "", ""],
        ],
        colWidths=[24 * mm, 60 * mm, 24 * mm, 66 * mm],
        style=TableStyle([*GRID, ("SPAN", (1, 1), (3, 1))]),
    )
    staff = f"经办人：{clerk_name(view)}"
    if printed.reprint_no:
        staff += f"　补打人：{names.actor(printed.printed_by)}"
    verify = beside_qr(
        _QR(sheet.verify_url),
        6,
        [
            _p(staff),
            _p(
                "扫描左侧二维码可向税费通缴系统核验本凭证的真伪与金额；"
                "凭证被涂改、系伪造或已退款时核验不通过。",
                _SMALL,
            ),
            _p(sheet.verify_url, _SMALL),
        ],
    )
    head: list[Any] = [_p("不动产登记税费缴费凭证", _TITLE)]
    if printed.reprint_no:
        head.append(_p(reprint_mark(printed.reprint_no), _MARK))
    build(doc, head, info, lines, pay, verify)
    return out.getvalue()
