"""Every page file is served as one whole document: the shared head once, then the page's own
title, styles, scripts and body, in the order a browser needs (charset before anything else)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from clearing.api.page_shell import STATIC, render


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)


@pytest.mark.parametrize("page", sorted(p.name for p in STATIC.glob("*.html")))
def test_each_page_is_a_whole_document(page: str) -> None:
    doc = render((STATIC / page).read_text("utf-8"))
    assert doc.startswith('<!doctype html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">')
    assert doc.endswith("</body>\n</html>\n")
    assert doc.count("/window/static/common.css") == 1
    tags = _Tags()
    tags.feed(doc)
    assert tags.tags.count("html") == tags.tags.count("head") == tags.tags.count("body") == 1
    assert tags.tags.count("title") == 1
    # everything of the page's own head sits before its body
    assert doc.index("</head>") < doc.index("<body")
    assert doc.index("<title>") < doc.index("</head>")


def test_a_file_without_its_title_line_or_body_is_refused() -> None:
    with pytest.raises(ValueError):
        render('<link rel="stylesheet" href="/window/static/x.css">\n<body></body>\n')
    with pytest.raises(ValueError):
        render("<title>x</title>\n<main></main>\n")
