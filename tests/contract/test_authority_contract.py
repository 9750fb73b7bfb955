"""What the clearing service relies on from every authority (``clearing.ports.Authority``), run
the same way against each real simulator over HTTP with each real client: the tax bureau, the
non-tax (fiscal) system and the maintenance-fund office.

Each authority's own rules (how taxes are priced, e-bill numbering, fund areas, message
formats) stay beside its adapter in ``tests/integration/test_<authority>_adapter.py``.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from adapters.errors import AdapterError
from clearing.ports import AuthorityRefused
from tests.contract.authorities import (
    AUTHORITIES,
    AuthorityUnderTest,
    payment_ref,
    running_authority,
)
from tests.contract.conftest import each_of
from tests.integration.serving import closed_url

authority = each_of("authority", AUTHORITIES, running_authority)


# --- lookup and confirm ----------------------------------------------------------------------


async def test_lookup_names_the_authority_and_what_is_owed(authority: AuthorityUnderTest) -> None:
    _, item = await authority.due()
    assert item.authority == authority.name
    assert isinstance(item.amount_fen, int) and item.amount_fen > 0 and item.reference


async def test_confirm_is_idempotent_and_a_second_payment_is_refused(
    authority: AuthorityUnderTest,
) -> None:
    client = authority.client()
    _, item = await authority.due()
    ref = payment_ref()
    first = await authority.confirm(client, item, ref)
    again = await authority.confirm(client, item, ref)
    assert again == first
    assert (first.reference, first.amount_fen) == (item.reference, item.amount_fen)
    assert first.proof_no and first.confirmed_at.tzinfo is not None
    assert await authority.booked() == [first.proof_no]
    # the same notice paid a second time is not booked twice: somebody has money to give back
    with pytest.raises(AuthorityRefused) as second:
        await authority.confirm(client, item, payment_ref())
    assert second.value.code == "ALREADY_PAID" and isinstance(second.value, AdapterError)
    # the refusal says which payment got there first: by its proof, or by its payment
    cited = first.proof_no if authority.already_paid_cites == "proof" else ref
    assert cited in second.value.reason
    assert await authority.booked() == [first.proof_no]


async def test_an_amount_other_than_the_one_due_is_refused_and_books_nothing(
    authority: AuthorityUnderTest,
) -> None:
    client = authority.client()
    _, item = await authority.due()
    with pytest.raises(AuthorityRefused) as caught:
        await authority.confirm(client, item, payment_ref(), amount_fen=item.amount_fen - 1)
    assert caught.value.code == "AMOUNT_MISMATCH" and caught.value.reason
    assert await authority.booked() == []
    assert (await authority.confirm(client, item, payment_ref())).amount_fen == item.amount_fen


async def test_daily_confirmations_list_the_days_legs(authority: AuthorityUnderTest) -> None:
    client = authority.client()
    _, item = await authority.due()
    leg = await authority.confirm(client, item, payment_ref())
    listed = await client.daily_confirmations(leg.confirmed_at.date())
    assert [c.proof_no for c in listed if c.reference == item.reference] == [leg.proof_no]


# --- faults ----------------------------------------------------------------------------------


async def test_a_5xx_is_unavailable_then_recovers(authority: AuthorityUnderTest) -> None:
    client = authority.client()
    reference, item = await authority.due()
    await authority.sim.set_faults(api_5xx=2)
    status, reason = authority.api_5xx
    for _ in range(2):
        with pytest.raises(authority.unavailable) as caught:
            await client.lookup(reference)
        error: Any = caught.value
        assert error.status == status and (reason is None or error.reason == reason)
        assert not isinstance(error, (authority.forged, AuthorityRefused))
    assert [i.amount_fen for i in await client.lookup(reference)] == [item.amount_fen]


async def test_a_slow_authority_times_out(authority: AuthorityUnderTest) -> None:
    reference = await authority.new_case()
    await authority.sim.set_faults(api_delay_s=2.0)
    started = time.monotonic()
    with pytest.raises(authority.unavailable) as caught:
        await authority.client(timeout_s=0.2).lookup(reference)
    assert getattr(caught.value, "reason", None) == "TimeoutError"
    assert time.monotonic() - started < 1.5


async def test_down_and_connection_refused_are_unavailable_and_book_nothing(
    authority: AuthorityUnderTest,
) -> None:
    client = authority.client()
    reference, item = await authority.due()
    await authority.sim.set_faults(down=True)
    for call in (client.lookup(reference), authority.confirm(client, item, payment_ref())):
        with pytest.raises(authority.unavailable) as down:
            await call
        assert getattr(down.value, "status", None) == 503
    await authority.sim.reset_faults()
    assert await client.lookup(reference)
    with pytest.raises(authority.unavailable) as refused:
        await authority.client(base_url=closed_url(), timeout_s=1.0).lookup(reference)
    assert getattr(refused.value, "status", "") is None
    assert getattr(refused.value, "reason", None) == "ClientConnectorError"
    assert await authority.booked() == []


async def test_a_wrongly_signed_answer_is_not_trusted_and_asking_again_recovers_the_proof(
    authority: AuthorityUnderTest,
) -> None:
    client = authority.client()
    reference, item = await authority.due()
    await authority.sim.set_faults(bad_signature=True)
    with pytest.raises(authority.forged) as looked:
        await client.lookup(reference)
    ref = payment_ref()
    with pytest.raises(authority.forged) as confirmed:
        await authority.confirm(client, item, ref)
    for caught in (looked, confirmed):
        assert getattr(caught.value, "reason", None) == authority.forged_reason
        assert isinstance(caught.value, AdapterError)
        assert not isinstance(caught.value, AuthorityRefused)
    # the authority did book it; the same question once answers are trusted gives its proof
    [booked] = await authority.booked()
    await authority.sim.reset_faults()
    assert (await authority.confirm(client, item, ref)).proof_no == booked


async def test_the_fault_desk_refuses_unknown_or_ill_typed_knobs(
    authority: AuthorityUnderTest,
) -> None:
    common: tuple[dict[str, Any], ...] = ({"nonsense": 1}, {"api_5xx": 1.5}, {"down": "yes"})
    for knobs in (*common, *authority.bad_knobs):
        status, _ = await authority.sim.control("PUT", "/sim/faults", knobs)
        assert status == 400, knobs
