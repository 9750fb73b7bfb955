"""Real-browser tests: Debian's Chromium, driven by playwright, against the demo stack.

One stack per test session, started the way a new user starts it (``tongjiao demo``): the
service, every simulator and the partner bank, on a fresh database of the test cluster cloned
from the migrated template, with the demo's staff accounts. Tests reach it as people do: a
browser per role (``page_as("clerk1")``), the simulators' own desks for the citizen's side
(``stack.sim("wechatpay")``), the API with a role's token (``await stack.token("super1")``), and
the database for facts a screen does not show (``async with stack.connected() as conn``).

Every page records console errors and uncaught exceptions; a test fails if any were seen that it
did not declare with ``page.allow_console(pattern)`` (a refusal test expects its 403, say).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from clearing.demo import DEMO_USERS
from tests.conftest import fresh_database

CHROMIUM = os.environ.get("TONGJIAO_CHROMIUM", "/usr/bin/chromium")
HALL = {"width": 1366, "height": 768}  # the halls' monitors
PASSWORDS = {u[0]: u[4] for u in DEMO_USERS}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # the first test of a session also waits for the whole stack to start
    for item in items:
        if "tests/e2e/" in str(item.path):
            item.add_marker(pytest.mark.timeout(300))


@dataclass
class Stack:
    """The running demo: its URLs, database and a way to sign in."""

    base_url: str
    sims: dict[str, str]
    dsn: str
    var_dir: Path
    _tokens: dict[str, str] = field(default_factory=dict)

    def sim(self, name: str) -> str:
        return self.sims[name]

    @asynccontextmanager
    async def connected(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection of the test's own to the database, for the block."""
        conn = await asyncpg.connect(self.dsn)
        try:
            yield conn
        finally:
            await conn.close()

    async def token(self, username: str) -> str:
        """A bearer token for a demo user, signed in through the API once per session."""
        if username not in self._tokens:
            async with (
                aiohttp.ClientSession() as s,
                s.post(
                    f"{self.base_url}/api/v1/sessions",
                    json={"username": username, "password": PASSWORDS[username]},
                ) as r,
            ):
                body = await r.json()
                assert r.status == 201, body
                self._tokens[username] = body["token"]
        return self._tokens[username]

    async def api(
        self, method: str, path: str, username: str | None = None, **kw: Any
    ) -> tuple[int, Any]:
        headers = dict(kw.pop("headers", {}))
        if username:
            headers["Authorization"] = f"Bearer {await self.token(username)}"
        url = path if path.startswith("http") else self.base_url + path
        async with aiohttp.ClientSession() as s, s.request(method, url, headers=headers, **kw) as r:
            text = await r.text()
            try:
                return r.status, json.loads(text)
            except ValueError:
                return r.status, text


def _wait_for_banner(proc: subprocess.Popen[bytes], log: Path, within_s: float) -> str:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        if "tongjiao is running." in text:
            return text
        if proc.poll() is not None:
            raise RuntimeError(f"the demo exited with {proc.returncode}:\n{text[-4000:]}")
        time.sleep(0.2)
    raise RuntimeError(f"the demo did not come up in {within_s:.0f}s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="session")
async def stack(pg_admin_dsn: str, template_dsn: str) -> AsyncIterator[Stack]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: ./ops/test installs Debian's chromium package")
    dsn = await fresh_database(pg_admin_dsn, template_dsn)
    var = Path(tempfile.mkdtemp(prefix="tj-e2e-"))
    log = var / "demo.out"
    env = {
        **os.environ,
        "TONGJIAO_DATABASE_URL": dsn,
        "TONGJIAO_VAR_DIR": str(var),
        "PYTHONUNBUFFERED": "1",
        # the webhooks' 24-hour retry schedule in about 9 seconds (tests/e2e/test_webhooks_admin)
        "TONGJIAO_WEBHOOK_SCHEDULE_SCALE": "0.0001",
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "clearing", "demo", "--port", "0", "--sim-port", "0"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_for_banner(proc, log, within_s=180)
        urls = json.loads((var / "demo-urls.json").read_text())
        yield Stack(base_url=urls["base"], sims=urls["sims"], dsn=dsn, var_dir=var)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        shutil.rmtree(var, ignore_errors=True)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        await b.close()


class Watched:
    """A page and what its console said; ``allow_console`` declares expected errors."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        self._allowed: list[re.Pattern[str]] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))

    def _console(self, msg: Any) -> None:
        if msg.type == "error":
            self.errors.append(f"console: {msg.text} @ {msg.location.get('url', '')}")

    def allow_console(self, pattern: str) -> None:
        self._allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self._allowed)]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.page, name)


PageFactory = Callable[..., Awaitable[Watched]]


@pytest.fixture
async def page_as(stack: Stack, browser: Any) -> AsyncIterator[PageFactory]:
    """``await page_as("clerk1")``: a fresh browser (own cookies and storage) signed in through
    the login page; ``page_as(None)`` is a visitor nobody signed in. Keyword arguments go to
    ``browser.new_context`` (viewport, timezone_id …)."""
    contexts: list[Any] = []
    pages: list[Watched] = []

    async def make(username: str | None, **context: Any) -> Watched:
        ctx = await browser.new_context(
            **{"viewport": HALL, "locale": "zh-CN", "base_url": stack.base_url, **context}
        )
        contexts.append(ctx)
        page = Watched(await ctx.new_page())
        pages.append(page)
        if username is not None:
            await sign_in(page, username)
        return page

    yield make
    try:
        for p in pages:
            assert not p.unexpected(), f"console errors on {p.page.url}: {p.unexpected()}"
    finally:
        for ctx in contexts:
            await ctx.close()


async def sign_in(page: Watched, username: str, password: str | None = None) -> None:
    """Through the login page, as a person types it; waits until the login page is left."""
    await page.goto("/login")
    await page.fill("#username", username)
    await page.fill("#password", password or PASSWORDS[username])
    await page.click("#login-submit")
    await page.wait_for_url(lambda url: "/login" not in url)
