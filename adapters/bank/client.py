"""Our side of the bank's file exchange: push signed files to its inbox, read its outbox.

Every call goes over HTTPS with our client certificate (``pki.client_ssl_context``) and an
explicit timeout. Errors, below the adapters' root (adapters/errors.py)::

    AdapterError
    ├── AcquirerUnavailable
    │   └── BankUnavailable   no usable answer: 5xx, 429, timeout, refused connection, a TLS
    │                         handshake that failed (our certificate refused), an unreadable
    │                         listing: the same call may succeed later
    └── AcquirerRejected
        └── BankRefused       the bank answered 4xx: ``code`` its word (BAD_NAME, NOT_FOUND,
                              UNKNOWN_NAME, CLIENT_NOT_ALLOWED ...), do not retry as is

A pushed file is only *delivered*; what the bank made of it comes later as a pain.002 in the
outbox (PROTOCOL.md).
"""

from __future__ import annotations

import json
import logging
import ssl
import time
from urllib.parse import quote

import aiohttp

from adapters.errors import AcquirerRejected, AcquirerUnavailable
from adapters.http import TooLarge, read_body
from clearing import bounds

log = logging.getLogger(__name__)

PROVIDER = "bank"


class BankUnavailable(AcquirerUnavailable):
    """The bank gave no usable answer now; the same call may succeed later."""

    def __init__(self, *, operation: str, reason: str, status: int | None = None) -> None:
        super().__init__(provider=PROVIDER, operation=operation, reason=reason, status=status)


class BankRefused(AcquirerRejected):
    """The bank refused the request (4xx) and said why in ``code`` and ``message``."""

    def __init__(self, *, operation: str, status: int, code: str, message: str) -> None:
        super().__init__(
            provider=PROVIDER, operation=operation, status=status, code=code, message=message
        )


class BankClient:
    """The bank's inbox and outbox, for one base URL (``https://bank.example/exchange``)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        ssl_context: ssl.SSLContext,
        timeout: float,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._session = session
        self.base_url = base_url.rstrip("/")
        self._ssl = ssl_context
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def push(
        self, name: str, data: bytes, sig: bytes, *, checksum: bytes | None = None
    ) -> None:
        """Deliver ``name`` with its ``.sha256`` (when given) and then its ``.sig``: the bank
        processes the file once the signature is in. Pushing the same bytes again is a resend
        (the bank answers with the same pain.002 and books nothing twice)."""
        parts = [(name, data)]
        if checksum is not None:
            parts.append((f"{name}.sha256", checksum))
        parts.append((f"{name}.sig", sig))
        for part, body in parts:
            await self._call("PUT", f"/inbox/{quote(part, safe='')}", "push", body)

    async def list_outbox(self, after: str | None = None) -> list[str]:
        """Names the bank published after ``after`` (everything when None), oldest first."""
        query = f"?after={quote(after, safe='')}" if after else ""
        raw = await self._call("GET", f"/outbox/{query}", "list_outbox")
        try:
            names = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            names = None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise BankUnavailable(operation="list_outbox", reason="listing is not a list of names")
        return names

    async def fetch(self, name: str) -> bytes:
        """One published file's bytes (pain.002, camt.053)."""
        return await self._call("GET", f"/outbox/{quote(name, safe='')}", "fetch")

    async def _call(self, method: str, path: str, operation: str, body: bytes = b"") -> bytes:
        started = time.monotonic()
        try:
            async with self._session.request(
                method,
                self.base_url + path,
                data=body if method == "PUT" else None,
                ssl=self._ssl,
                timeout=self._timeout,
                headers={"Content-Type": "application/octet-stream"} if method == "PUT" else {},
            ) as resp:
                raw = await _bounded(resp, operation)
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, ssl.SSLError, ConnectionError) as exc:
            log.warning("bank call failed op=%s error=%s", operation, type(exc).__name__)
            raise BankUnavailable(operation=operation, reason=type(exc).__name__) from exc
        log.info(
            "bank call op=%s status=%d ms=%d",
            operation,
            status,
            (time.monotonic() - started) * 1000,
        )
        if status >= 500 or status == 429:
            raise BankUnavailable(operation=operation, reason=f"HTTP {status}", status=status)
        if 400 <= status < 500:
            code, message = _problem(raw)
            raise BankRefused(operation=operation, status=status, code=code, message=message)
        if status not in (200, 201, 204):
            raise BankUnavailable(operation=operation, reason=f"HTTP {status}", status=status)
        return raw


def _problem(raw: bytes) -> tuple[str, str]:
    """The bank's ``{"code", "message"}``, or a stand-in when it sent something else."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        data = None
    if isinstance(data, dict) and isinstance(data.get("code"), str):
        message = data.get("message")
        return data["code"], message if isinstance(message, str) else ""
    return "HTTP_ERROR", raw[:200].decode("utf-8", "replace")


async def _bounded(resp: aiohttp.ClientResponse, operation: str) -> bytes:
    """The body, refused past the largest file a bank may send us (a statement)."""
    limit = bounds.MAX_STATEMENT_BYTES
    if (resp.content_length or 0) > limit:
        raise BankUnavailable(operation=operation, reason=f"answer larger than {limit} bytes")
    try:
        return await read_body(resp, limit)
    except TooLarge:
        raise BankUnavailable(
            operation=operation, reason=f"answer larger than {limit} bytes"
        ) from None
