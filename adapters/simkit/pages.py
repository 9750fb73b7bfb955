"""What the simulators' phone pages share: each party draws its own cashier (its ``template``,
with ``{title}`` and ``{content}``), the rest is the same."""

from __future__ import annotations

import html

from aiohttp import web

# the button is disabled once pressed, so a double tap sends one confirmation
ONCE = (
    "<script>document.querySelectorAll('form.pay').forEach(function(f){"
    "f.addEventListener('submit',function(){f.querySelector('button').disabled=true;});});"
    "</script>"
)


def page(template: str, title: str, content: str) -> web.Response:
    """The party's page; 200 even for refusals, as the real cashiers answer: the browser shows
    it, nothing else reads it."""
    return web.Response(
        text=template.format(title=html.escape(title), content=content),
        content_type="text/html",
        charset="utf-8",
    )
