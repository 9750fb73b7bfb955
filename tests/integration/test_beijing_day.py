"""The window's 今日缴费单 is the hall's day, in Beijing time, whatever zone the server, the
database session or the browser's machine is set to: an order made at 00:30 Beijing time (16:30
UTC the day before) belongs to the Beijing day that just began."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from clearing.api.keys import POOL
from tests.integration.service_harness import Service, order_body, service_fixture

BEIJING = timezone(timedelta(hours=8))


svc = service_fixture("day", workers=0)


async def _made_at(svc: Service, at: datetime) -> str:
    status, order = await svc.create_order(await svc.supervisor(), order_body((80_00,)))
    assert status == 201, order
    await svc.app[POOL].execute(
        "UPDATE orders SET created_at = $2 WHERE order_no = $1", order["order_no"], at
    )
    return str(order["order_no"])


async def test_the_window_list_is_the_beijing_day(svc: Service) -> None:
    just_after_midnight = await _made_at(svc, datetime(2030, 3, 15, 0, 30, tzinfo=BEIJING))
    late_the_day_before = await _made_at(svc, datetime(2030, 3, 14, 23, 50, tzinfo=BEIJING))
    clerk = await svc.add_user("clerk", "HALL1")

    async def listed(day: str) -> set[str]:
        body = await svc.answered(
            "GET", f"/api/v1/orders?office=HALL1&window=W01&date={day}", clerk
        )
        return {o["order_no"] for o in body["orders"]}

    fifteenth, fourteenth = await listed("2030-03-15"), await listed("2030-03-14")
    assert just_after_midnight in fifteenth and just_after_midnight not in fourteenth
    assert late_the_day_before in fourteenth and late_the_day_before not in fifteenth
