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

# about 2,300 cases over 41 operations and 7 callers, in about a minute on the 2-core machine
# (hypothesis stops short of the number where an operation has few distinct inputs)
PER_OPERATION = 64
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
    campaign = await asyncio.to_thread(
        fuzz, svc.base_url, document, tokens, per_operation=PER_OPERATION, seed=SEED
    )
    report = "\n".join(str(f) for f in campaign.distinct())
    assert not campaign.failures, f"{len(campaign.failures)} failures:\n{report}"
    assert campaign.cases >= 2_000, campaign
    assert len(operations(document)) >= 41
