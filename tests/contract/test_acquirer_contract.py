"""What the clearing service relies on from every acquirer (``clearing.ports.Acquirer``), run the
same way against each real simulator over HTTP with each real client: WeChat Pay, Alipay,
UnionPay and the card terminal cloud.

Protocol details (signatures, bill layouts, payment codes, refund batches) stay beside each
adapter in ``tests/integration/test_<channel>_adapter.py``.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from adapters.errors import AcquirerRejected, AcquirerUnavailable, ResponseForged
from adapters.unionpay.gateway import OutcomeUnknown
from clearing.ports import ChannelRefused, RefundAsk
from tests.contract.acquirers import (
    ACQUIRERS,
    FORGERIES,
    AcquirerUnderTest,
    running_acquirer,
)
from tests.contract.conftest import each_of
from tests.integration.serving import answering, eventually

acquirer = each_of("acquirer", ACQUIRERS, running_acquirer)


def forgeries() -> list[Any]:
    """(channel, knob, code) for every way each simulator forges a callback."""
    return [
        pytest.param(name, knob, code, id=f"{name}-{knob}")
        for name in ACQUIRERS
        for knob, code in FORGERIES[name]
    ]


# --- pay, query, close, reverse, refund ---------------------------------------------------


async def test_a_paid_attempt_is_notified_and_queried_as_paid(acquirer: AcquirerUnderTest) -> None:
    client = acquirer.client()
    no = await acquirer.open(client)
    before = await client.query(no)
    # an Alipay QR nobody has scanned does not exist yet; the others are open and unpaid
    assert before.state in ("NOTPAY", "NOT_FOUND") and not before.paid
    status, answer = await acquirer.pay(no)
    assert status == 200, answer
    after = await client.query(no)
    assert (after.state, after.paid, after.amount_fen) == ("SUCCESS", True, 12_345)
    assert acquirer.receiver is not None
    [delivery] = await acquirer.receiver.wait_for(1)
    notice = delivery.notice
    assert delivery.verdict == "OK" and notice is not None
    assert (notice.provider, notice.out_trade_no, notice.amount_fen) == (acquirer.name, no, 12_345)
    assert (notice.provider_txn_id, notice.paid_at) == (after.provider_txn_id, after.paid_at)
    state = await acquirer.sim.acknowledged(no)
    assert [d["status"] for d in state["deliveries"]] == [acquirer.ack_status]


async def test_the_amount_the_citizen_paid_is_what_is_reported(
    acquirer: AcquirerUnderTest,
) -> None:
    client = acquirer.client()
    no = await acquirer.open(client, total_fen=10_000)
    status, answer = await acquirer.pay(no, amount_fen=9_999)
    assert status == 200, answer
    assert acquirer.receiver is not None
    [delivery] = await acquirer.receiver.wait_for(1)
    assert delivery.notice is not None and delivery.notice.amount_fen == 9_999
    assert (await client.query(no)).amount_fen == 9_999


async def test_a_closed_attempt_cannot_be_paid_and_closing_twice_is_fine(
    acquirer: AcquirerUnderTest,
) -> None:
    client = acquirer.client()
    no = await acquirer.open(client)
    await client.close(no)
    await client.close(no)
    found = await client.query(no)
    assert not found.paid
    if not acquirer.closes:
        # ACP has no close: an unpaid UnionPay code lapses only at its payTimeout
        assert found.state == "NOT_FOUND"
        return
    assert found.state in ("CLOSED", "NOT_FOUND")
    status, _ = await acquirer.pay(no)
    assert status == 409


async def test_closing_a_paid_attempt_is_refused(acquirer: AcquirerUnderTest) -> None:
    client = acquirer.client()
    no = await acquirer.paid(client)
    with pytest.raises(AcquirerRejected) as caught:
        await client.close(no)
    assert caught.value.code == acquirer.paid_close_code
    assert isinstance(caught.value, ChannelRefused)
    assert (await client.query(no)).paid


async def test_reverse_gives_a_paid_attempt_back_and_is_idempotent(
    acquirer: AcquirerUnderTest,
) -> None:
    client = acquirer.client()
    no = await acquirer.paid(client)
    await client.reverse(no)
    await client.reverse(no)
    found = await client.query(no)
    assert found.state in acquirer.reversed_states, found.state
    # reversing an attempt nobody paid leaves nothing paid
    unpaid = await acquirer.open(client)
    await client.reverse(unpaid)
    assert not (await client.query(unpaid)).paid


async def test_a_refund_is_made_once_per_refund_number(acquirer: AcquirerUnderTest) -> None:
    client = acquirer.client()
    no = await acquirer.paid(client, total_fen=1_000)
    ask = {"out_trade_no": no, "out_refund_no": "R" + no, "refund_fen": 400, "total_fen": 1_000}
    first = await client.refund(RefundAsk(**ask, reason="多缴"))
    again = await client.refund(RefundAsk(**ask, reason="多缴"))
    assert first.state in ("SUCCESS", "PROCESSING") and first.out_refund_no == "R" + no
    # Alipay names a refund by our number only: it has no refund id of its own
    assert (again.state, again.provider_refund_id) == (first.state, first.provider_refund_id)
    found = await client.query_refund(out_trade_no=no, out_refund_no="R" + no)
    assert found.provider_refund_id == first.provider_refund_id
    # the rest may be refunded, but never more than was paid
    with pytest.raises(AcquirerRejected):
        await client.refund(
            RefundAsk(**{**ask, "out_refund_no": "S" + no, "refund_fen": 601}, reason="")
        )


# --- notifications under faults ------------------------------------------------------------


async def test_duplicate_callbacks_share_one_event_id(acquirer: AcquirerUnderTest) -> None:
    await acquirer.sim.set_faults(duplicate_callbacks=2)
    await acquirer.paid(acquirer.client())
    assert acquirer.receiver is not None
    deliveries = await acquirer.receiver.wait_for(3)
    assert [d.verdict for d in deliveries] == ["OK"] * 3
    assert len({d.notice.event_id for d in deliveries if d.notice}) == 1


async def test_an_unacknowledged_callback_is_sent_again_on_schedule_until_acknowledged(
    acquirer: AcquirerUnderTest,
) -> None:
    async with acquirer.make_receiver(3, acquirer.nack_status) as failing:
        no = await acquirer.paid(acquirer.client(failing.url))
        deliveries = await failing.wait_for(4)
        state = await acquirer.sim.acknowledged(no)
    nack, ack = acquirer.nack_status, acquirer.ack_status
    assert [d.answered for d in deliveries] == [nack, nack, nack, ack]
    assert len({d.notice.event_id for d in deliveries if d.notice}) == 1
    scale = acquirer.retry_scale
    gaps = [b.at - a.at for a, b in itertools.pairwise(deliveries)]
    for gap, planned in zip(gaps, acquirer.retry_gaps_s, strict=True):
        assert planned * scale * 0.9 <= gap < planned * scale + 0.5
    assert [(d["status"], d["round"]) for d in state["deliveries"]] == [
        (nack, 0),
        (nack, 1),
        (nack, 2),
        (ack, 3),
    ]


async def test_dropped_callbacks_are_recorded_and_later_delivered(
    acquirer: AcquirerUnderTest,
) -> None:
    await acquirer.sim.set_faults(drop_callbacks=1.0)
    no = await acquirer.paid(acquirer.client())

    async def dropped_twice() -> bool:
        return len((await acquirer.order(no))["deliveries"]) >= 2

    await eventually(dropped_twice)
    assert {d["error"] for d in (await acquirer.order(no))["deliveries"]} == {"dropped"}
    assert acquirer.receiver is not None
    assert acquirer.receiver.deliveries == []
    await acquirer.sim.reset_faults()
    [delivery] = await acquirer.receiver.wait_for(1)
    assert delivery.verdict == "OK"


@pytest.mark.parametrize(("name", "knob", "code"), forgeries())
async def test_forged_callbacks_are_refused_and_the_genuine_one_follows(
    keys_root: Path, name: str, knob: str, code: str
) -> None:
    async with running_acquirer(name, keys_root) as acquirer:
        await acquirer.sim.set_faults(**{knob: True})
        await acquirer.paid(acquirer.client())
        assert acquirer.receiver is not None
        first = (await acquirer.receiver.wait_for(1))[0]
        assert (first.verdict, first.answered) == (code, 401)
        await acquirer.sim.reset_faults()
        # a refused delivery is not acknowledged, so the genuine one follows on a resend; a
        # resend that left before the fault was lifted is refused like the first
        seen = await acquirer.receiver.wait_for(2)
        while seen[-1].verdict != "OK":
            assert seen[-1].verdict == code, [d.verdict for d in seen]
            seen = await acquirer.receiver.wait_for(len(seen) + 1)
        assert [d.verdict for d in seen[:-1]] == [code] * (len(seen) - 1)


# --- API faults seen by the client -----------------------------------------------------------


async def test_an_api_5xx_is_unavailable_then_recovers(acquirer: AcquirerUnderTest) -> None:
    client = acquirer.client()
    await acquirer.sim.set_faults(api_5xx=1)
    with pytest.raises(AcquirerUnavailable) as caught:
        await acquirer.open(client)
    status, reason = acquirer.api_5xx
    assert caught.value.status == status
    if reason is not None:
        assert caught.value.reason == reason
    # UnionPay may have applied what it answered 5xx to: the outcome is unknown, not refused
    assert isinstance(caught.value, OutcomeUnknown) == (acquirer.name == "unionpay")
    await acquirer.open(client)


async def test_a_slow_api_is_unavailable(acquirer: AcquirerUnderTest) -> None:
    no = await acquirer.open(acquirer.client())
    await acquirer.sim.set_faults(api_delay_s=1.0)
    with pytest.raises(AcquirerUnavailable) as caught:
        await acquirer.client(timeout_s=0.2).query(no)
    assert caught.value.status is None


async def test_a_wrongly_signed_answer_is_forged(acquirer: AcquirerUnderTest) -> None:
    client = acquirer.client()
    no = await acquirer.open(client)
    await acquirer.sim.set_faults(bad_response_signature=True)
    for call in (client.query(no), client.close(no), client.reverse(no)):
        with pytest.raises(ResponseForged) as caught:
            await call
        assert caught.value.reason == "signature invalid"


async def test_an_unsigned_answer_is_forged(acquirer: AcquirerUnderTest) -> None:
    if acquirer.unsigned is None:
        pytest.fail("every acquirer names the unsigned answer its protocol would forge")
    body, reason = acquirer.unsigned

    async def impostor(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text=body, content_type="application/json")

    async with answering("/{tail:.*}", impostor) as base_url:
        with pytest.raises(ResponseForged) as caught:
            await acquirer.open(acquirer.impostor(base_url))
    assert caught.value.reason == reason


async def test_connection_refused_is_unavailable(acquirer: AcquirerUnderTest) -> None:
    no = await acquirer.open(acquirer.client())
    closed = acquirer.impostor("http://127.0.0.1:9")
    with pytest.raises(AcquirerUnavailable) as caught:
        await acquirer.open(closed)
    # nothing was sent, so nothing can have been charged: not an unknown outcome
    assert not isinstance(caught.value, OutcomeUnknown)
    with pytest.raises(AcquirerUnavailable):
        await closed.query(no)


async def test_the_fault_desk_refuses_unknown_or_ill_typed_knobs(
    acquirer: AcquirerUnderTest,
) -> None:
    common: tuple[dict[str, Any], ...] = ({"nonsense": 1}, {"drop_callbacks": 2}, {"api_5xx": 1.5})
    for knobs in (*common, *acquirer.bad_knobs):
        status, _ = await acquirer.sim.control("PUT", "/sim/faults", knobs)
        assert status == 400, knobs
