"""Every page and answer carries the browser protections, whatever route made it: a CSP that
allows no inline script or style and no framing, nosniff, no referrer; API answers and pages with
personal data are never cached; the session cookie is HttpOnly, SameSite=Strict, and Secure when
the service is reached over HTTPS (by setting, or as a trusted proxy says)."""

from __future__ import annotations

import inspect
import re
from html.parser import HTMLParser

import aiohttp
import pytest

from clearing.api import receipt
from clearing.api.keys import POOL
from clearing.api.routes_pages import STATIC
from reconciliation import report_page
from tests.integration.service_harness import Service, running_wechat_service, service_fixture

PASSWORD = "pass-word-123"  # what service_harness.add_user gives


class _Inline(HTMLParser):
    """Collects what a CSP without 'unsafe-inline' would block."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {k for k, _v in attrs}
        if tag == "script" and "src" not in names:
            self._script = True
            self.found.append("<script> without src")
        if tag == "style":
            self.found.append("<style> element")
        self.found += [f"{tag} {k}=" for k in names if k.startswith("on") or k == "style"]
        self.found += [
            f"{tag} {k}=javascript:" for k, v in attrs if (v or "").startswith("javascript:")
        ]


def inline_code(html: str) -> list[str]:
    p = _Inline()
    p.feed(html)
    return p.found


def test_no_page_file_has_inline_script_style_or_handlers() -> None:
    pages = sorted(STATIC.glob("*.html"))
    assert {p.name for p in pages} >= {"login.html", "window.html", "finance.html", "password.html"}
    for page in pages:
        assert inline_code(page.read_text("utf-8")) == [], page.name


def test_server_rendered_pages_have_no_inline_script_style_or_handlers() -> None:
    # the templates of the receipt, verification, message and report pages
    for module in (receipt, report_page):
        source = inspect.getsource(module)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", source), module.__name__
        assert not re.search(r"<style\b|\son[a-z]+=|\sstyle=", source), module.__name__
    assert inline_code(receipt.message_page("标题", "<script>x()</script>")) == []


svc = service_fixture("pagesec", workers=0, trusted_proxies=["127.0.0.2"])


async def _get(svc: Service, path: str, token: str | None = None) -> aiohttp.ClientResponse:
    headers = {"Cookie": f"tj_session={token}"} if token else {}
    async with svc.session.get(svc.base_url + path, headers=headers, allow_redirects=False) as r:
        await r.read()
        return r


async def test_every_answer_carries_the_browser_protections(svc: Service) -> None:
    clerk = await svc.add_user("clerk", "HALL1")
    answers = {
        "sign-in page": await _get(svc, "/login"),
        "password page": await _get(svc, "/password"),
        "window page": await _get(svc, "/window", clerk),
        "redirect to sign-in": await _get(svc, "/window"),
        "finance page refused": await _get(svc, "/finance", clerk),
        "verification page": await _get(svc, "/verify/not-a-token"),
        "unknown page": await _get(svc, "/no/such/page"),
        "api answer": await _get(svc, "/api/v1/me", clerk),
        "api refusal": await _get(svc, "/api/v1/me"),
        "health": await _get(svc, "/healthz"),
    }
    for what, r in answers.items():
        assert r.headers.get("X-Content-Type-Options") == "nosniff", what
        assert r.headers.get("Referrer-Policy") == "no-referrer", what
        assert r.headers.get("X-Frame-Options") == "DENY", what
        if r.content_type == "text/html":
            csp = r.headers["Content-Security-Policy"]
            assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, what
            assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, what
    for what in ("api answer", "api refusal", "finance page refused"):
        assert answers[what].headers["Cache-Control"] == "no-store", what
    assert "Strict-Transport-Security" not in answers["health"].headers  # plain HTTP here


async def _login_cookie(svc: Service, username: str, **headers: str) -> str:
    body = {"username": username, "password": PASSWORD}
    async with svc.session.post(svc.base_url + "/api/v1/sessions", json=body, headers=headers) as r:
        assert r.status == 201, await r.text()
        return r.headers["Set-Cookie"]


async def _name(svc: Service) -> str:
    token = await svc.add_user("clerk", "HALL1")
    status, me = await svc.request("GET", "/api/v1/me", token)
    assert status == 200
    return str(me["username"])


async def test_the_cookie_is_httponly_strict_and_not_secure_on_plain_http(svc: Service) -> None:
    cookie = await _login_cookie(svc, await _name(svc))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # the browser would drop it: this service is on plain HTTP
    # an untrusted client's claim of HTTPS changes nothing
    cookie = await _login_cookie(svc, await _name(svc), **{"X-Forwarded-Proto": "https"})
    assert "Secure" not in cookie


async def test_behind_tls_the_cookie_is_secure(
    db_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp("tls")
    async with running_wechat_service(db_dsn, tmp, workers=0, behind_tls=True) as s:
        cookie = await _login_cookie(s, await _name(s))
        assert "Secure" in cookie and "HttpOnly" in cookie
        async with s.session.get(s.base_url + "/healthz") as r:
            assert r.headers["Strict-Transport-Security"].startswith("max-age=")


async def test_a_trusted_proxy_names_the_scheme_and_the_client(
    db_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp("proxy")
    async with running_wechat_service(db_dsn, tmp, workers=0, trusted_proxies=["127.0.0.1"]) as s:
        name = await _name(s)
        cookie = await _login_cookie(
            s, name, **{"X-Forwarded-Proto": "https", "X-Forwarded-For": "6.6.6.6, 10.1.2.3"}
        )
        assert "Secure" in cookie
        address = await s.app[POOL].fetchval(
            "SELECT detail->>'address' FROM audit_log WHERE object_id = $1"
            " AND action = 'session.login' ORDER BY id DESC LIMIT 1",
            name,
        )
        # the rightmost address the proxy saw, not what the client wrote in front of it
        assert address == "10.1.2.3"
