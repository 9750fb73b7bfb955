"""The phone cashier an acquirer simulator shows the payer's browser (Alipay's 手机网站支付,
UnionPay's 手机网页支付): one page layout in the party's colour, a card with the amount and the
order's facts, and the page that says why the party refused the request."""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence

from aiohttp import web

from adapters.simkit.pages import page
from clearing.domain.money import yuan_str

log = logging.getLogger(__name__)

Code = tuple[str, str, str]
"""A refusal's code as the page shows it: its label, the element id tests find it by, the code."""

_LAYOUT = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{title}</title>
<style>
body{{font-family:sans-serif;max-width:24rem;margin:0 auto;padding:1rem;background:#f5f5f5}}
header{{background:COLOR;color:#fff;margin:-1rem -1rem 1rem;padding:1rem;font-size:1.1rem}}
.card{{background:#fff;border-radius:.5rem;padding:1rem;margin-bottom:1rem}}
.amount{{font-size:2.2rem;text-align:center;margin:.5rem 0}}
dt{{color:#666;font-size:.9rem}}dd{{margin:0 0 .6rem}}
button{{width:100%;padding:.9rem;font-size:1.1rem;background:COLOR;color:#fff;border:0;
border-radius:.4rem}}button:disabled{{background:DISABLED}}
.code{{color:#999;font-size:.8rem}}
EXTRA</style></head><body>
<header>HEADER</header>
{content}
</body></html>
"""


class Cashier:
    """One party's cashier pages."""

    def __init__(self, header: str, color: str, disabled: str, extra_css: str = "") -> None:
        # the party's look goes in once; ``{title}`` and ``{content}`` are filled per page
        self.template = (
            _LAYOUT.replace("COLOR", color)
            .replace("DISABLED", disabled)
            .replace("HEADER", html.escape(header))
            .replace("EXTRA", extra_css)
        )

    def page(self, title: str, content: str) -> web.Response:
        return page(self.template, title, content)

    def refused(
        self, title: str, heading: str, message: str, code: tuple[str, str, str]
    ) -> web.Response:
        """Why the party will not take this payment, and its code (label, element id, code)."""
        label, element, value = code
        log.info("sim cashier refused code=%s", value)
        content = (
            f'<div class="card" id="refused"><h1>{html.escape(heading)}</h1>'
            f"<p>{html.escape(message)}</p>"
            f'<p class="code">{label}<span id="{element}">{html.escape(value)}</span></p></div>'
        )
        return self.page(title, content)


def facts(fen: int, rows: Sequence[tuple[str, str]]) -> str:
    """The card at the top of a cashier page: the amount, then what is paid for and to whom."""
    listed = "".join(f"<dt>{name}</dt><dd>{html.escape(value)}</dd>" for name, value in rows)
    amount = f'<div class="amount" id="amount">¥{yuan_str(fen)}</div>'
    return f'<div class="card">{amount}<dl>{listed}</dl></div>'
