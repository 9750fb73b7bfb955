"""What staff read, checked for English and raw codes: one scanner for pages, reports, exports
and (in tests/e2e) what the browser shows.

``leaks(text, codes)`` returns the words a staff member should never have to read: a word of
Latin letters (English, or a code such as ``SFBK``) that is not a product name staff know, and
any token that is one of the system's own codes (``HALL1``, ``clerk1``, ``wechatpay``). References
from outside (transaction numbers, bank references) mix letters and digits and are not codes of
ours, so they pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from html.parser import HTMLParser

from clearing.domain.display import TABLES

# the sheets of the daily reconciliation workbook (对账日报), in the order finance reads them
REPORT_SHEETS = [
    "汇总",
    "按收费项目",
    "按收款单位",
    "按渠道",
    "按大厅窗口",
    "对账差异",
    "运行记录",
    "服务评价",
]
# names staff know as they are (file formats they download)
ALLOWED = frozenset({"Excel", "CSV", "PDF", "XLSX"})
_TOKEN = re.compile(r"[A-Za-z0-9_:.\-]+")
_WORD = re.compile(r"^[A-Za-z_:.\-]*[A-Za-z]{2,}[A-Za-z_:.\-]*$")


def known_codes(extra: Iterable[str] = ()) -> set[str]:
    """Every code of the static table, and ``extra`` (offices, users, banks … of the test)."""
    # a bank's reason code is the bank's, quoted beside its name as the bank's letter has it
    codes = {code for kind, table in TABLES.items() if kind != "bank_reason" for code in table}
    return codes | set(extra)


def leaks(text: str, codes: Iterable[str] = ()) -> list[str]:
    """The words of ``text`` that are English or a raw code, in order, each once."""
    found: list[str] = []
    known = known_codes(codes)
    for token in _TOKEN.findall(text):
        token = token.strip(".:-_")
        if not token or token in ALLOWED or token in found:
            continue
        if _WORD.match(token) or token in known:
            found.append(token)
    return found


class _Visible(HTMLParser):
    """The text a person sees on a page: no scripts, styles or attribute values."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head"):
            self._hidden += 1
        if tag == "input":
            # a filled-in field shows its value
            value = dict(attrs).get("value")
            if value and dict(attrs).get("type") not in ("hidden", "date"):
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head"):
            self._hidden = max(0, self._hidden - 1)

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    return " ".join(parser.parts)
