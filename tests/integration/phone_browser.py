"""A phone's browser, as far as the acquirers' payment pages need one: it submits a ``PayPage``
(the merchant's auto-submitted form, or a GET), follows redirects, reads the forms on the page it
lands on and submits them as a browser would (hidden and filled-in fields, the form's action
resolved against the page's URL). Plain aiohttp, so the tests see every status and redirect.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import aiohttp
from yarl import URL

from clearing.ports import PayPage


@dataclass
class Form:
    action: str
    method: str
    id: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class Page:
    url: URL
    status: int
    text: str
    forms: list[Form]

    def form(self, form_id: str = "") -> Form:
        """The form with this id (the only or first one when no id is given)."""
        for f in self.forms:
            if not form_id or f.id == form_id:
                return f
        raise AssertionError(f"no form {form_id!r} on {self.url}: {self.text[:500]}")

    def by_id(self, element_id: str) -> str | None:
        """The text inside the element with this id (for the few ids the pages carry)."""
        finder = _TextOf(element_id)
        finder.feed(self.text)
        return finder.found


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._open: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._open = Form(a.get("action", ""), a.get("method", "get").upper(), a.get("id", ""))
            self.forms.append(self._open)
        elif tag == "input" and self._open is not None and a.get("name"):
            self._open.fields[a["name"]] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None


class _TextOf(HTMLParser):
    def __init__(self, element_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self._id = element_id
        self._depth = 0
        self.found: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._depth:
            self._depth += 1
        elif dict(attrs).get("id") == self._id:
            self._depth = 1
            self.found = ""

    def handle_endtag(self, tag: str) -> None:
        if self._depth:
            self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._depth and self.found is not None:
            self.found += data


class PhoneBrowser:
    """One browser: its own session, cookies and all."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def _page(self, resp: aiohttp.ClientResponse) -> Page:
        text = await resp.text()
        parser = _Forms()
        parser.feed(text)
        return Page(resp.url, resp.status, text, parser.forms)

    async def open(self, page: PayPage, *, follow: bool = True) -> Page:
        """What the merchant's page does with a ``PayPage``: navigate, or post the form."""
        url = URL(page.url, encoded=True)
        if page.method == "GET":
            async with self.session.get(url, allow_redirects=follow) as resp:
                return await self._page(resp)
        async with self.session.post(url, data=dict(page.fields), allow_redirects=follow) as resp:
            return await self._page(resp)

    async def submit(
        self, on: Page, form: Form, *, follow: bool = True, **filled: str
    ) -> tuple[Page, str | None]:
        """Submit ``form`` (its fields, then ``filled``); also returns the redirect target when
        ``follow`` is off."""
        target = on.url.join(URL(form.action, encoded=True)) if form.action else on.url
        data = {**form.fields, **filled}
        if form.method == "GET":
            request = self.session.get(target.with_query(data), allow_redirects=follow)
        else:
            request = self.session.post(target, data=data, allow_redirects=follow)
        async with request as resp:
            return await self._page(resp), resp.headers.get("Location")

    async def get(self, url: str, *, follow: bool = True) -> Page:
        async with self.session.get(URL(url, encoded=True), allow_redirects=follow) as resp:
            return await self._page(resp)


async def acknowledged(
    read_order: Callable[[str], Awaitable[dict[str, Any]]], otn: str, within_s: float = 10
) -> dict[str, Any]:
    """The acquirer simulator's record of ``otn`` once it has read our answer to its first
    notification: the capture commits before we answer, so the order can be CLEARED a moment
    before the simulator records the acknowledgement."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        sent = await read_order(otn)
        notifications = sent["notifications"]
        if (notifications and notifications[0]["acknowledged"]) or loop.time() > deadline:
            return sent
        await asyncio.sleep(0.02)
