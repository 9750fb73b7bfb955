"""The one head every page shares, and the pages served inside it.

Each file in ``static/*.html`` holds only what is its own: its ``<title>`` (first line), its own
stylesheets and scripts, then its ``<body>``. Everything else every screen needs (doctype,
language, charset, viewport, the empty icon that spares a 404, the common stylesheet) is written
once here. A page is put together the first time it is asked for and kept: serving it stays a
static answer, revalidated by its ETag like the assets (decision: pagedups-page-shell).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).parent / "static"

_HEAD = (
    "<!doctype html>\n"
    '<html lang="zh-CN">\n'
    "<head>\n"
    '<meta charset="utf-8">\n'
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
)
# after the title: the charset must come first, within the first 1024 bytes
_COMMON = (
    '<link rel="icon" href="data:,">\n'  # spares the browser a request that would 404
    '<link rel="stylesheet" href="/window/static/common.css">\n'
)


def render(page: str) -> str:
    """The whole document of a page file: the shared head around what the file holds."""
    title, _, rest = page.partition("\n")
    own_head, body_mark, body = rest.partition("<body")
    if not (title.startswith("<title>") and title.endswith("</title>") and body_mark):
        raise ValueError("a page file opens with its <title> line and holds one <body>")
    return f"{_HEAD}{title}\n{_COMMON}{own_head}</head>\n{body_mark}{body}</html>\n"


@functools.cache
def _page(name: str) -> tuple[bytes, str]:
    body = render((STATIC / name).read_text("utf-8")).encode("utf-8")
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def page_response(request: web.Request, name: str, headers: Mapping[str, str]) -> web.Response:
    """The page ``name`` with ``headers``; 304 to a browser that already holds this version."""
    body, etag = _page(name)
    all_headers = {**headers, "Content-Type": "text/html; charset=utf-8", "ETag": etag}
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=all_headers)
    return web.Response(body=body, headers=all_headers)
