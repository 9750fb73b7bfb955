"""The registration fee schedule: versioned, future-only, admin-only, audited."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from clearing.api.keys import POOL
from tests.integration.service_harness import Service, service_fixture

svc = service_fixture("fees", workers=0)


def _body(days: int) -> dict[str, object]:
    return {
        "effective_from": (date.today() + timedelta(days=days)).isoformat(),
        "residential_fen": 6000,
        "non_residential_fen": 40000,
        "extra_certificate_fen": 1000,
        "exemptions": ["small_micro_enterprise"],
        "basis": "示范市发改委 2026 年第 9 号公告",
    }


async def test_the_published_schedule_is_there(svc: Service) -> None:
    clerk = await svc.add_user("clerk", "HALL1")
    status, body = await svc.request("GET", "/api/v1/fee-schedules", clerk)
    assert status == 200
    v1 = body["schedules"][0]
    assert (v1["residential_fen"], v1["non_residential_fen"], v1["extra_certificate_fen"]) == (
        80_00,
        550_00,
        10_00,
    )


async def test_an_admin_publishes_a_future_version_and_it_is_audited(svc: Service) -> None:
    admin = await svc.add_user("admin", None)
    status, v = await svc.request("POST", "/api/v1/fee-schedules", admin, json=_body(30))
    assert (status, v["version"], v["residential_fen"]) == (201, 2, 6000)
    async with svc.app[POOL].acquire() as conn:
        row = await conn.fetchrow(
            "SELECT actor, detail FROM audit_log WHERE action = 'fee_schedule.published'"
        )
        assert row is not None and row["detail"]["residential_fen"] == 6000
        with pytest.raises(Exception, match="append-only"):
            await conn.execute("UPDATE registration_fee_schedules SET residential_fen = 1")


async def test_past_dates_and_other_roles_are_refused(svc: Service) -> None:
    admin = await svc.add_user("admin", None)
    status, problem = await svc.request("POST", "/api/v1/fee-schedules", admin, json=_body(0))
    assert (status, problem["code"]) == (422, "SCHEDULE_NOT_IN_FUTURE")
    supervisor = await svc.add_user("supervisor", "HALL1")
    status, problem = await svc.request("POST", "/api/v1/fee-schedules", supervisor, json=_body(40))
    assert (status, problem["code"]) == (403, "ROLE_FORBIDDEN")
    status, problem = await svc.request(
        "POST", "/api/v1/fee-schedules", admin, json={**_body(50), "residential_fen": 80.5}
    )
    assert (status, problem["code"]) == (422, "VALIDATION_FAILED")
