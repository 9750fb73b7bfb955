"""Webhooks to the case system: events written with the state change, signed delivery, order per
order, retries through an outage, dead letters and re-sends, two workers, rotation. (The
simulator's own refusals of forged and replayed events: test_casesys_sim.py.)"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter

import asyncpg
import pytest

from clearing.metrics import Metrics
from clearing.service import orders, webhooks
from clearing.service.principals import Principal
from clearing.workers.runner import refresh_gauges
from tests.integration import factories as f
from tests.integration.casesys_harness import (
    ADMIN,
    delivery_states,
    running_casesys,
    sending,
    subscribe,
    subscribed,
    wait_deliveries,
)


async def _staff(pool: asyncpg.Pool) -> Principal:
    async with pool.acquire() as conn:
        return await f.staff(conn)


async def _paid_order(pool: asyncpg.Pool, who: Principal, amounts: list[int]) -> str:
    async with pool.acquire() as conn:
        o = await f.order(conn, who, amounts)
        otn = await f.attempt(conn, str(o["order_no"]))
    result = await f.capture(pool, f.notice(otn, sum(amounts)))
    assert result.order_state == "CLEARED"
    return str(o["order_no"])


async def _refund_whole(pool: asyncpg.Pool, order_no: str) -> None:
    """The states a whole-order refund takes (refunds.decide, then refunds.record_success)."""
    async with pool.acquire() as conn:
        for state in ("REFUNDING", "REFUNDED"):
            await conn.execute("UPDATE orders SET state = $2 WHERE order_no = $1", order_no, state)


async def _events(pool: asyncpg.Pool, order_no: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT e.type, e.event_id, e.body FROM webhook_events e JOIN orders o"
        " ON o.id = e.order_id WHERE o.order_no = $1 ORDER BY e.id",
        order_no,
    )


async def _gauge(pool: asyncpg.Pool, state: str) -> float:
    metrics = Metrics()
    async with pool.acquire() as conn:
        await refresh_gauges(conn, metrics)
    value = metrics.registry.get_sample_value("tongjiao_webhook_deliveries", {"state": state})
    assert value is not None
    return value


async def _no_subscriptions(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        for sub in await webhooks.subscriptions(conn, ADMIN):
            if sub.active:
                await webhooks.disable(conn, ADMIN, sub.id)


async def test_without_a_subscription_a_payment_writes_no_event(pool: asyncpg.Pool) -> None:
    await _no_subscriptions(pool)
    who = await _staff(pool)
    order_no = await _paid_order(pool, who, [100_00])
    assert await _events(pool, order_no) == []


async def test_a_payment_writes_exactly_one_event_in_its_own_transaction(
    pool: asyncpg.Pool,
) -> None:
    async with running_casesys() as sim:
        sub_id, _ = await subscribe(pool, sim)
        who = await _staff(pool)
        order_no = await _paid_order(pool, who, [350_000_00, 80_00])
        [event] = await _events(pool, order_no)
        assert event["type"] == "order.paid"
        body = event["body"]
        assert body["id"] == event["event_id"] and re.fullmatch(r"evt_[0-9a-f]{32}", body["id"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+08:00", body["occurred_at"])
        data = body["data"]
        assert (data["order_no"], data["case_no"]) == (order_no, "2026-BDC-000123")
        assert (data["total_fen"], data["paid_fen"], data["refunded_fen"]) == (350_080_00,) * 2 + (
            0,
        )
        assert [(x["amount_fen"], x["reference"]) for x in data["lines"]] == [
            (350_000_00, "REF0"),
            (80_00, "REF1"),
        ]
        # the payer is not the case system's business here: neither name nor ID number
        assert "张三" not in json.dumps(body, ensure_ascii=False)
        assert f.PAYER_ID not in json.dumps(body) and f.PAYER_ID[-4:] not in json.dumps(body)
        [row] = await delivery_states(pool, sub_id)
        assert row["state"] == "PENDING"


async def test_a_payment_reported_twice_or_a_failed_refund_is_not_paid_again(
    pool: asyncpg.Pool,
) -> None:
    async with running_casesys() as sim:
        await subscribe(pool, sim)
        async with pool.acquire() as conn:
            who = await f.staff(conn)
            o = await f.order(conn, who, [4_200])
            otn = await f.attempt(conn, str(o["order_no"]))
        notice = f.notice(otn, 4_200)
        await f.capture(pool, notice)
        await f.capture(pool, notice, source="query")  # the poller finds it after the notice
        order_no = str(o["order_no"])
        async with pool.acquire() as conn:
            # a whole-order refund the channel then closed: REFUNDING, and back to CLEARED
            for state in ("REFUNDING", "CLEARED"):
                await conn.execute(
                    "UPDATE orders SET state = $2 WHERE order_no = $1", order_no, state
                )
        assert [e["type"] for e in await _events(pool, order_no)] == ["order.paid"]


async def test_a_rolled_back_state_change_leaves_no_event(pool: asyncpg.Pool) -> None:
    async with running_casesys() as sim:
        await subscribe(pool, sim)
        async with pool.acquire() as conn:
            who = await f.staff(conn)
            o = await f.order(conn, who, [100])
            order_no = str(o["order_no"])

            class Boom(Exception):
                pass

            with pytest.raises(Boom):
                async with conn.transaction():
                    await orders.mark_cancelled(conn, who, order_no, "测试")
                    assert len(await conn.fetch("SELECT 1 FROM webhook_events")) >= 1
                    raise Boom
            assert await _events(pool, order_no) == []
            await orders.mark_cancelled(conn, who, order_no, "测试")
        assert [e["type"] for e in await _events(pool, order_no)] == ["order.cancelled"]


async def test_only_the_subscribed_event_types_are_written(pool: asyncpg.Pool) -> None:
    async with running_casesys() as sim:
        await subscribe(pool, sim, types=("order.paid",))
        async with pool.acquire() as conn:
            who = await f.staff(conn)
            o = await f.order(conn, who, [100])
            await orders.mark_cancelled(conn, who, str(o["order_no"]), "测试")
        assert await _events(pool, str(o["order_no"])) == []


async def test_the_case_system_receives_a_signed_event_it_can_verify(pool: asyncpg.Pool) -> None:
    async with subscribed(pool) as (sim, sub_id, _):
        who = await _staff(pool)
        order_no = await _paid_order(pool, who, [12_345])
        seen = await sim.wait_events(1)
        [got] = seen["events"]
        assert (got["order_no"], got["type"], got["paid_fen"]) == (order_no, "order.paid", 12_345)
        assert seen["refused"] == [] and seen["duplicates"] == 0
        [row] = await wait_deliveries(pool, sub_id, lambda rows: rows[0]["state"] == "DELIVERED")
        assert row["attempts"] == 1 and row["event_id"] == got["id"]


async def test_a_subscriber_down_for_an_hour_gets_every_event_in_order_when_back(
    pool: asyncpg.Pool,
) -> None:
    """The schedule compressed a thousandfold: an hour of outage takes 3.6 s."""
    async with subscribed(pool, scale=0.001) as (sim, sub_id, _):
        await sim.set_faults(down=True)
        down_at = time.monotonic()
        who = await _staff(pool)
        paid = [await _paid_order(pool, who, [100 * (i + 1)]) for i in range(4)]
        for order_no in paid[:3]:
            await _refund_whole(pool, order_no)
        async with pool.acquire() as conn:
            cancelled = [str((await f.order(conn, who, [77]))["order_no"]) for _ in range(2)]
            for order_no in cancelled:
                await orders.mark_cancelled(conn, who, order_no, "测试")

        def failing_an_hour(rows: list[asyncpg.Record]) -> bool:
            # the head of each order's queue has been retried through ~an hour (7 attempts is
            # 10+30+60+300+900+1800 s of waiting); what follows it waits its turn
            heads = [r for r in rows if r["type"] != "order.refunded"]
            return all(r["attempts"] >= 7 for r in heads)

        rows = await wait_deliveries(pool, sub_id, failing_an_hour, within_s=60)
        assert time.monotonic() - down_at >= 3.0  # a compressed hour at least
        assert {r["state"] for r in rows if r["type"] == "order.refunded"} == {"WAITING"}
        assert (await sim.events())["events"] == []
        await sim.set_faults(down=False)
        seen = await sim.wait_events(9, within_s=30)
        expected = {o: ["order.paid", "order.refunded"] for o in paid[:3]}
        expected[paid[3]] = ["order.paid"]
        expected.update({o: ["order.cancelled"] for o in cancelled})
        assert seen["by_order"] == expected
        assert set(seen["requests"].values()) == {1} and seen["duplicates"] == 0
        rows = await wait_deliveries(
            pool, sub_id, lambda rows: {r["state"] for r in rows} == {"DELIVERED"}
        )
        assert len(rows) == 9


async def test_a_later_event_never_overtakes_an_earlier_one_of_its_order(
    pool: asyncpg.Pool,
) -> None:
    async with subscribed(pool, scale=0.001) as (sim, sub_id, _):
        await sim.set_faults(fail_next=3)
        who = await _staff(pool)
        first = await _paid_order(pool, who, [500])
        await _refund_whole(pool, first)
        other = await _paid_order(pool, who, [600])
        seen = await sim.wait_events(3)
        assert seen["by_order"] == {first: ["order.paid", "order.refunded"], other: ["order.paid"]}
        await wait_deliveries(
            pool, sub_id, lambda rows: [r["state"] for r in rows] == ["DELIVERED"] * 3
        )


async def test_dead_letter_after_the_schedule_then_resend_delivers_in_order(
    pool: asyncpg.Pool,
) -> None:
    async with subscribed(pool, scale=0.00002) as (sim, sub_id, _):
        await sim.set_faults(down=True)
        who = await _staff(pool)
        order_no = await _paid_order(pool, who, [900])
        await _refund_whole(pool, order_no)
        rows = await wait_deliveries(
            pool, sub_id, lambda rows: [r["state"] for r in rows] == ["DEAD", "WAITING"]
        )
        assert rows[0]["attempts"] == 12  # the whole schedule: the first try and 11 retries
        async with pool.acquire() as conn:
            dead = await webhooks.deliveries(conn, ADMIN, state="DEAD", order_no=order_no)
            assert [(d["type"], d["state_zh"]) for d in dead] == [
                ("order.paid", "投递失败（死信）")
            ]
            assert "503" in str(dead[0]["last_error"])
        dead_before = await _gauge(pool, "DEAD")  # what TongjiaoWebhookDeadLetters reads
        assert dead_before >= 1
        await sim.set_faults(down=False)
        async with pool.acquire() as conn:
            again = await webhooks.resend(conn, ADMIN, int(rows[0]["id"]), request_id="rq-1")
            assert again["state"] == "PENDING"
            audit = await conn.fetchrow(
                "SELECT actor, detail FROM audit_log WHERE action = 'webhook.resent'"
                " AND object_id = $1",
                str(rows[0]["id"]),
            )
        assert audit is not None and audit["actor"] == "user:webhook-admin"
        seen = await sim.wait_events(2)
        assert seen["by_order"] == {order_no: ["order.paid", "order.refunded"]}
        await wait_deliveries(
            pool, sub_id, lambda rows: [r["state"] for r in rows] == ["DELIVERED"] * 2
        )
        assert await _gauge(pool, "DEAD") == dead_before - 1
        # a delivered one can be re-sent too (the receiver dedupes)
        async with pool.acquire() as conn:
            again = await webhooks.resend(conn, ADMIN, int(rows[0]["id"]))
        await wait_deliveries(
            pool, sub_id, lambda rows: [r["state"] for r in rows] == ["DELIVERED"] * 2
        )
        later = await sim.events()
        assert later["duplicates"] >= 1 and len(later["events"]) == 2


async def test_two_workers_never_deliver_one_event_at_the_same_time(pool: asyncpg.Pool) -> None:
    async with subscribed(pool, workers=3, scale=0.001) as (sim, sub_id, _):
        await sim.set_faults(delay_s=0.2)  # slow answers: every worker is busy at once
        who = await _staff(pool)
        paid = [await _paid_order(pool, who, [100 + i]) for i in range(8)]
        seen = await sim.wait_events(8, within_s=30)
        assert sorted(seen["by_order"]) == sorted(paid)
        assert seen["max_in_flight"] == 1
        assert set(seen["requests"].values()) == {1} and seen["duplicates"] == 0
        rows = await delivery_states(pool, sub_id)
        assert Counter(r["attempts"] for r in rows) == Counter({1: 8})


async def test_a_slow_case_system_is_timed_out_and_retried(pool: asyncpg.Pool) -> None:
    async with subscribed(pool, scale=0.001, timeout_s=0.3) as (sim, sub_id, _):
        await sim.set_faults(delay_s=1.0)
        who = await _staff(pool)
        await _paid_order(pool, who, [321])
        rows = await wait_deliveries(pool, sub_id, lambda rows: rows[0]["attempts"] >= 2)
        error = await pool.fetchval(
            "SELECT last_error FROM webhook_deliveries WHERE id = $1", rows[0]["id"]
        )
        assert "no answer within 0.3 s" in error
        await sim.set_faults(delay_s=0)
        await wait_deliveries(pool, sub_id, lambda rows: rows[0]["state"] == "DELIVERED")


async def test_during_a_rotation_both_secrets_sign(pool: asyncpg.Pool) -> None:
    async with subscribed(pool) as (sim, sub_id, old):
        async with pool.acquire() as conn:
            from datetime import timedelta

            sub, new = await webhooks.rotate(
                conn, ADMIN, f.CIPHER, sub_id, overlap=timedelta(hours=1)
            )
            assert sub.secrets_active == 2 and new != old
            assert await webhooks.signing_secrets(conn, f.CIPHER, sub_id) == [new, old]
            who = await f.staff(conn)
        # the case system has switched to the new secret already
        await sim.set_secrets(new)
        await _paid_order(pool, who, [111])
        await sim.wait_events(1)
        # or has not switched yet
        await sim.set_secrets(old)
        await _paid_order(pool, who, [222])
        seen = await sim.wait_events(2)
        assert seen["refused"] == []
        # once the overlap is over only the new one signs
        async with pool.acquire() as conn:
            sub, newest = await webhooks.rotate(conn, ADMIN, f.CIPHER, sub_id, overlap=timedelta(0))
            assert await webhooks.signing_secrets(conn, f.CIPHER, sub_id) == [newest]


async def test_disabling_a_subscription_dead_letters_what_it_had_queued(
    pool: asyncpg.Pool,
) -> None:
    async with running_casesys() as sim:
        sub_id, _ = await subscribe(pool, sim)
        who = await _staff(pool)
        order_no = await _paid_order(pool, who, [700])
        await _refund_whole(pool, order_no)
        async with pool.acquire() as conn:
            sub = await webhooks.disable(conn, ADMIN, sub_id)
        assert sub.active is False and sub.pending == 0 and sub.dead == 2
        # and a state change after it writes nothing for it
        later = await _paid_order(pool, who, [800])
        assert await _events(pool, later) == []
        rows = await delivery_states(pool, sub_id)
        keys = [f"webhook.deliver:{r['id']}" for r in rows]
        async with sending(pool):
            # the queued tasks run, and find nothing to send
            deadline = time.monotonic() + 20
            while True:
                left = await pool.fetchval(
                    "SELECT count(*) FROM tasks WHERE dedupe_key = ANY($1::text[])"
                    " AND state <> 'DONE'",
                    keys,
                )
                if left == 0:
                    break
                assert time.monotonic() < deadline, left
                await asyncio.sleep(0.05)
        assert [r["state"] for r in await delivery_states(pool, sub_id)] == ["DEAD", "DEAD"]
        assert (await sim.events())["events"] == []
