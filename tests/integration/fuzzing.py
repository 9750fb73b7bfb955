"""Property-based fuzzing of /api/v1 with schemathesis, as every role, against a running service.

    campaign = fuzz(base_url, document, tokens, per_operation=8, seed=1)
    assert campaign.failures == []

Synchronous (schemathesis calls the service with ``requests``): from a test whose service runs on
the event loop, call it in a thread (``asyncio.to_thread``). For every operation of the document
and every role in ``tokens`` (a role's bearer token, or None for a caller without one), cases are
drawn both from the schema (positive) and against it (negative) and sent over real HTTP; every
response must pass the checks in ``CHECKS``: no 5xx, and status, content type and body as the
document describes them. A failure is kept, not raised, so one run reports all of them at once
and hypothesis spends no time shrinking.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi import checks as oas

from clearing.api.keys import POOL
from tests.integration.case_harness import running_case_service
from tests.integration.factories import enrolled_kiosk, place
from tests.integration.service_harness import Service

# what "the service behaves" means here: never a 5xx, and every answer as the document says it
CHECKS = (
    schemathesis.checks.not_a_server_error,
    oas.status_code_conformance,
    oas.content_type_conformance,
    oas.response_schema_conformance,
)
# operations whose answer never ends (server-sent events) cannot be fuzzed by request/response;
# their only inputs are the query filters the request middleware checks for every route
STREAMING = frozenset({"GET /api/v1/events"})
# the self-service kiosk's caller: its credential is a cookie, never a bearer token
KIOSK = "kiosk"


@dataclass(frozen=True)
class Finding:
    operation: str
    role: str
    status: int | None
    title: str
    request: str

    def __str__(self) -> str:
        return f"{self.operation} as {self.role}: {self.status} {self.title}\n    {self.request}"


@dataclass
class Campaign:
    cases: int = 0
    seconds: float = 0.0
    by_status: dict[int, int] = field(default_factory=dict)
    failures: list[Finding] = field(default_factory=list)

    def distinct(self) -> list[Finding]:
        """One finding per operation, role and kind of failure."""
        seen: dict[tuple[str, str, str], Finding] = {}
        for f in self.failures:
            seen.setdefault((f.operation, f.role, f.title.split("\n")[0]), f)
        return list(seen.values())


@asynccontextmanager
async def deployed_service(dsn: str, tmp: Path) -> AsyncIterator[Service]:
    """The service as deployed, in-process: a channel and every authority a case lookup asks."""
    async with running_case_service(dsn, tmp, workers=0, authority_timeout_s=5.0) as env:
        yield env["svc"]


async def callers(svc: Service) -> dict[str, str | None]:
    """A token of every role, an API client's (a program with the clerk role), an enrolled
    self-service kiosk's (sent as its cookie, see ``KIOSK``), and none."""
    async with svc.app[POOL].acquire() as conn:
        await place(conn, "HALL1")
        kiosk = await enrolled_kiosk(conn, "fuzz-kiosk-admin", "模糊测试自助机")
    return {
        KIOSK: kiosk,
        "clerk": await svc.add_user("clerk", "HALL1"),
        "supervisor": await svc.add_user("supervisor", "HALL1"),
        "finance": await svc.add_user("finance"),
        "admin": await svc.add_user("admin"),
        "auditor": await svc.add_user("auditor"),
        "api-client": await svc.add_user("clerk", "HALL1", client=True),
        "anonymous": None,
    }


def operations(document: Mapping[str, Any]) -> list[str]:
    """Every operation of the document as ``METHOD /path``."""
    return [
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    ]


def fuzz(
    base_url: str,
    document: dict[str, Any],
    tokens: Mapping[str, str | None],
    *,
    per_operation: int,
    seed: int | None = None,
    only: Callable[[str], bool] = lambda _: True,
    progress: Callable[[str], None] | None = None,
) -> Campaign:
    """About ``per_operation`` cases for each operation, negative and positive, each sent as a
    caller hypothesis picks from ``tokens`` (so one long run explores inputs and callers
    together: many short runs would each stay with hypothesis's first, simplest inputs)."""
    # the caller's token is ours to set: schemathesis would otherwise spend negative cases on
    # dropping or garbling the Authorization header, which the anonymous caller covers
    config = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})
    schema = schemathesis.openapi.from_dict(document, config=config)
    campaign = Campaign()
    started = time.monotonic()
    http = requests.Session()
    ops = [
        r.ok() for r in schema.get_all_operations() if isinstance(r, schemathesis.core.result.Ok)
    ]
    assert len(ops) == len(operations(document)), "an operation did not load"
    # signing out ends the caller's session: last, so that every other case runs signed in
    ops.sort(key=lambda op: (op.method.upper(), op.path) == ("DELETE", "/api/v1/sessions"))
    for op in ops:
        label = f"{op.method.upper()} {op.path}"
        if label in STREAMING or not only(label):
            continue
        t0, n0 = time.monotonic(), campaign.cases
        # negative first: when the schema admits no negative case (an operation without
        # inputs), positive cases take its share
        negative = _run(op, GenerationMode.NEGATIVE, per_operation // 2, seed, http, base_url,
                        tokens, campaign)  # fmt: skip
        rest = per_operation - (campaign.cases - n0) if negative else per_operation
        _run(op, GenerationMode.POSITIVE, rest, seed, http, base_url, tokens, campaign)
        if progress is not None:
            took = time.monotonic() - t0
            progress(f"{label}: {campaign.cases - n0} cases in {took:.1f} s")
    campaign.seconds = time.monotonic() - started
    return campaign


def _run(
    op: Any,
    mode: GenerationMode,
    n: int,
    seed: int | None,
    http: requests.Session,
    base_url: str,
    tokens: Mapping[str, str | None],
    campaign: Campaign,
) -> bool:
    """Send up to ``n`` cases of one mode; False when the schema admits no case of that mode."""
    if n <= 0:
        return True
    label = f"{op.method.upper()} {op.path}"

    @hypothesis.settings(
        max_examples=n,
        phases=[Phase.explicit, Phase.generate],
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        verbosity=hypothesis.Verbosity.quiet,
    )
    @given(case=op.as_strategy(generation_mode=mode), role=st.sampled_from(sorted(tokens)))
    def one(case: schemathesis.Case, role: str) -> None:
        token = tokens[role]
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if role == KIOSK and token:
            headers = {"Cookie": f"tj_kiosk={token}"}
        response = case.call(base_url=base_url, session=http, headers=headers, timeout=30)
        campaign.cases += 1
        campaign.by_status[response.status_code] = (
            campaign.by_status.get(response.status_code, 0) + 1
        )
        try:
            case.validate_response(response, checks=list(CHECKS), headers=headers)
        except (Failure, FailureGroup) as exc:
            failures = exc.exceptions if isinstance(exc, FailureGroup) else (exc,)
            for f in failures:
                campaign.failures.append(
                    Finding(label, role, response.status_code, f.title, _request(case, response))
                )

    if seed is not None:
        # one seed per operation and mode, so that operations do not all start alike
        one = hypothesis.seed(seed + zlib.crc32(f"{label} {mode}".encode()))(one)
    try:
        one()
    except hypothesis.errors.Unsatisfiable:
        return False
    return True


def _request(case: schemathesis.Case, response: schemathesis.Response) -> str:
    sent = response.request
    body = sent.body if isinstance(sent.body, bytes | str | None) else repr(sent.body)
    if isinstance(body, bytes):
        body = body[:300].decode("utf-8", "backslashreplace")
    text = response.text[:300] if response.text else ""
    return f"{sent.method} {sent.url} body={body!r} -> {text!r}"
