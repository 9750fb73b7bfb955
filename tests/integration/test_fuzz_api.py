"""Every operation of /api/v1, fuzzed as every role: no bad input is a server error, and every
answer is what the OpenAPI document says it is.

schemathesis draws requests from the service's own document (and, in negative mode, against it):
wrong types, missing fields, odd characters, huge numbers, in the path, the query, the headers
and the body. A longer campaign runs on demand: ``tests/bench/fuzz_api.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.integration.fuzzing import callers, deployed_service, fuzz, operations
from tests.integration.service_harness import Service

# some 2,400 cases sent in all (hypothesis stops short of its share where an operation has few
# distinct inputs), shared by the operations, however many the document grows to, and the seven
# callers: about a minute on the 2-core machine
CASES = 2_800
SEED = 20261120


@pytest.fixture(scope="module")
async def svc(db_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
    async with deployed_service(db_dsn, tmp_path_factory.mktemp("fuzz")) as s:
        yield s


@pytest.mark.timeout(600)
async def test_no_input_makes_a_server_error_or_breaks_the_document(svc: Service) -> None:
    status, document = await svc.request("GET", "/api/v1/openapi.json")
    assert status == 200
    tokens = await callers(svc)
    per_operation = max(32, CASES // len(operations(document)))
    campaign = await asyncio.to_thread(
        fuzz, svc.base_url, document, tokens, per_operation=per_operation, seed=SEED
    )
    print(f"{campaign.cases} cases in {campaign.seconds:.0f} s: {campaign.by_status}")  # -s
    report = "\n".join(str(f) for f in campaign.distinct())
    assert not campaign.failures, f"{len(campaign.failures)} failures:\n{report}"
    assert campaign.cases >= 2_000, campaign
    assert len(operations(document)) >= 41
