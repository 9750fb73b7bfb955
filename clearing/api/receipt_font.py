"""The font receipt PDFs embed: a TrueType CJK font found at run time, subset into each file.

A PDF that only names its font (as STSong-Light did) prints boxes wherever the printer or viewer
lacks it, so every glyph a receipt uses is embedded. reportlab embeds (and subsets) TrueType
outlines only — not the CFF outlines of Noto CJK or Source Han — and no well-kept PyPI package
ships a TrueType CJK font, so the font comes from Debian: WenQuanYi Micro Hei
(``fonts-wqy-microhei``, Apache-2.0 or GPL-3+ with the font exception, which allows embedding),
installed by ``ops/_bootstrap.sh``. ``TONGJIAO_RECEIPT_FONT_FILE`` names another TrueType file.
"""

from __future__ import annotations

import threading
from pathlib import Path

from clearing.errors import Unavailable

NAME = "ReceiptCJK"
# TrueType (glyf) CJK fonts in Debian packages, in order of preference
CANDIDATES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),  # fonts-wqy-microhei
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),  # fonts-wqy-zenhei
    Path("/usr/share/fonts/truetype/arphic/uming.ttc"),  # fonts-arphic-uming
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),  # fonts-droid-fallback
)

_lock = threading.Lock()
_registered: Path | None = None


def find(configured: Path | None) -> Path:
    """The font file to use: the configured one, else the first candidate installed."""
    for path in (configured,) if configured else CANDIDATES:
        if path is not None and path.is_file():
            return path
    raise Unavailable(
        "RECEIPT_FONT_MISSING",
        "no TrueType CJK font for receipt PDFs: install fonts-wqy-microhei"
        " or set TONGJIAO_RECEIPT_FONT_FILE",
        "服务器缺少凭证字体，暂不能生成 PDF 凭证，请使用网页“打印”，并联系系统管理员",
    )


def register(configured: Path | None) -> str:
    """Register the font with reportlab once (threads render PDFs) and return its name."""
    global _registered  # noqa: PLW0603 — one registration per process, as reportlab keeps fonts
    path = find(configured)
    with _lock:
        if _registered != path:
            from reportlab.pdfbase import pdfmetrics
            from reportlab.pdfbase.ttfonts import TTFont

            # the first face of a collection (.ttc); a plain .ttf has only that one
            pdfmetrics.registerFont(TTFont(NAME, str(path), subfontIndex=0))
            _registered = path
    return NAME
