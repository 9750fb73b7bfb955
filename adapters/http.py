"""The part of an HTTP round trip to an outside party that is the same for every party.

Each adapter keeps its own protocol (how a request is signed, how an answer is verified and what
its codes mean); what it shares is the plumbing below: one session, one total timeout, a network
failure turned into the adapter's own "try again later" error, a timing line in the log, bodies
read with a size limit, and JSON answers that must be an object.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, ClassVar, Generic, Required, TypedDict, TypeVar, Unpack

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from adapters.errors import AcquirerRejected, AcquirerUnavailable, AdapterError

log = logging.getLogger(__name__)

K = TypeVar("K")
T = TypeVar("T", bound="Exchange[Any]")

CHUNK_BYTES = 64 * 1024


class TooLarge(Exception):
    """A body longer than the caller allows: nobody's answer, or a file we will not hold."""


@dataclass(frozen=True)
class Reply:
    """What came back, unread beyond the bytes: the adapter decides what any of it means."""

    status: int
    body: bytes
    # a copy that stays case-insensitive: proxies may change header case
    headers: CIMultiDict[str]
    ms: float


@dataclass(frozen=True)
class JsonAnswer:
    """A JSON answer whose envelope names its result code and message in ``code_field`` and
    ``message_field``; either reads "" when absent or not a string."""

    status: int
    data: Mapping[str, Any]

    code_field: ClassVar[str] = "code"
    message_field: ClassVar[str] = "message"

    @property
    def code(self) -> str:
        return text(self.data.get(self.code_field))

    @property
    def message(self) -> str:
        return text(self.data.get(self.message_field))

    def refusal(self, provider: str, operation: str) -> AcquirerRejected:
        """The acquirer's no: its own code, or ``HTTP_<status>`` where the answer carried none."""
        return AcquirerRejected(
            provider=provider,
            operation=operation,
            status=self.status,
            code=self.code or f"HTTP_{self.status}",
            message=self.message,
        )


class Exchange(Generic[K]):
    """One party's base URL, keys, timeout and clock; subclasses add the party's protocol.

    ``party`` names the party in log lines and in its errors; ``unavailable`` builds the error for
    "no answer" (an acquirer's by default, an authority overrides it); ``unanswered`` the one for
    a request that left but got no answer, overridden where that leaves the outcome unknown
    rather than merely absent (UnionPay).
    """

    party = ""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        keys: K,
        timeout_s: float,
        clock: Callable[[], float],
        max_skew_s: int = 0,
    ) -> None:
        self._session = session
        self.base_url = base_url.rstrip("/")
        self._keys = keys
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._max_skew_s = max_skew_s
        self._clock = clock

    def unavailable(self, operation: str, reason: str, status: int | None = None) -> AdapterError:
        """No usable answer: an acquirer's ``AcquirerUnavailable`` unless the party has its own."""
        return AcquirerUnavailable(
            provider=self.party, operation=operation, reason=reason, status=status
        )

    def unanswered(self, operation: str, reason: str) -> AdapterError:
        """A request that may have reached the party but whose answer never came."""
        return self.unavailable(operation, reason, None)

    def _now_in(self, zone: tzinfo) -> datetime:
        return datetime.fromtimestamp(self._clock(), zone)

    async def send(
        self,
        operation: str,
        method: str,
        url: str | URL,
        *,
        data: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
    ) -> Reply:
        """One request; the party's ``unavailable`` error when no answer came back at all."""
        started = time.monotonic()
        try:
            async with self._session.request(
                method, url, data=data, headers=headers, timeout=self._timeout
            ) as resp:
                body = await read_body(resp, max_bytes)
                status = resp.status
                answer_headers = resp.headers.copy()
        except aiohttp.ClientConnectorError as exc:
            # the connection never opened: nothing was sent, so nothing can have happened
            log.warning("%s call failed op=%s error=%s", self.party, operation, type(exc).__name__)
            raise self.unavailable(operation, type(exc).__name__) from exc
        except (aiohttp.ClientError, TimeoutError, TooLarge) as exc:
            log.warning("%s call failed op=%s error=%s", self.party, operation, type(exc).__name__)
            raise self.unanswered(operation, type(exc).__name__) from exc
        ms = (time.monotonic() - started) * 1000
        log.info("%s call op=%s status=%d ms=%d", self.party, operation, status, ms)
        return Reply(status=status, body=body, headers=answer_headers, ms=ms)

    async def post_json(
        self, operation: str, path: str, body: bytes, signed: Mapping[str, str]
    ) -> Reply:
        """POST the JSON ``body`` (the exact bytes the ``signed`` headers sign) to ``path``."""
        headers = {
            **signed,
            "Content-Type": "application/json; charset=utf-8",
            "Accept": "application/json",
        }
        return await self.send(operation, "POST", self.base_url + path, data=body, headers=headers)

    async def fetch_file(self, operation: str, url: str | URL, max_bytes: int) -> bytes:
        """GET a file a signed answer pointed to; the caller checks it against a signed digest.

        A status other than 200, or a file beyond ``max_bytes``, is the party's ``unavailable``.
        """
        try:
            async with self._session.get(url, timeout=self._timeout) as resp:
                if resp.status != 200:
                    raise self.unavailable(operation, "file download failed", resp.status)
                if (resp.content_length or 0) > max_bytes:
                    raise self.unavailable(operation, "file too large")
                try:
                    return await read_body(resp, max_bytes)
                except TooLarge:  # no Content-Length (chunked), or a wrong one
                    raise self.unavailable(operation, "file too large") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("%s download failed op=%s error=%s", self.party, operation, exc)
            raise self.unavailable(operation, type(exc).__name__) from exc


class Options(TypedDict, Generic[K], total=False):
    """What every party's client is built from, besides the session and its own extras."""

    base_url: Required[str]
    keys: Required[K]
    timeout_s: float
    max_skew_s: int
    clock: Callable[[], float]


class Client(Generic[K, T]):
    """A party's client over its ``Exchange`` (``self._t``), on a session the caller owns.

    ``transport`` is the party's ``Exchange``; ``max_skew_s`` how far its signed timestamps may
    stray unless the caller says otherwise; ``shows`` the key field ``repr`` names, as
    (label, attribute), so that a log line tells which registration a client speaks for.
    """

    transport: Callable[..., T]
    max_skew_s: ClassVar[int] = 0
    shows: ClassVar[tuple[str, str]]

    def __init__(self, session: aiohttp.ClientSession, **options: Unpack[Options[K]]) -> None:
        self._keys: K = options["keys"]
        self._t = self.transport(
            session,
            base_url=options["base_url"],
            keys=self._keys,
            timeout_s=options.get("timeout_s", 5.0),
            max_skew_s=options.get("max_skew_s", self.max_skew_s),
            clock=options.get("clock", time.time),
        )

    def __repr__(self) -> str:
        label, field = self.shows
        shown = getattr(self._keys, field)
        return f"{type(self).__name__}(base_url={self._t.base_url!r}, {label}={shown!r})"


async def read_body(resp: aiohttp.ClientResponse, max_bytes: int | None) -> bytes:
    """The whole body, or ``TooLarge`` as soon as it passes ``max_bytes``."""
    if max_bytes is None:
        return await resp.read()
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(f"body larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def json_object(raw: bytes, *, empty: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """``raw`` as a JSON object; ``empty`` for no bytes at all, None for anything else."""
    if not raw:
        return empty
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def compact_json(payload: Mapping[str, Any]) -> bytes:
    """The bytes both signed and sent: serialized once, UTF-8, no spaces."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def text(value: Any) -> str:
    """A JSON field that should be a string, or "" when it is not."""
    return value if isinstance(value, str) else ""
