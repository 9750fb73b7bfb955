"""Steps the per-channel acquirer tests share beyond what the contract suite checks for every
acquirer (tests/contract): an answer that comes only after our client gave up, and a refund
asked twice. What each channel then asserts stays in its own test module."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from adapters.errors import AcquirerUnavailable
from clearing.ports import RefundAsk, RefundOutcome
from tests.integration.serving import in_minutes


async def answered_too_late(
    sim: Any, call: Callable[[Any], Awaitable[object]], notify_url: str | None = None
) -> None:
    """The acquirer does what ``call`` asks of an impatient client (0.2 s; notifications to
    ``notify_url``, if given) only after that client gave up: to us the call was unavailable,
    whatever the acquirer went on to do."""
    await sim.set_faults(pay_after_timeout=True)
    urls = () if notify_url is None else (notify_url,)
    with pytest.raises(AcquirerUnavailable):
        await call(sim.client(*urls, timeout_s=0.2))


def qr_ask(out_trade_no: str) -> dict[str, Any]:
    """What we ask an acquirer for a QR of 5.00 open ten minutes, to ask again unchanged."""
    return {
        "out_trade_no": out_trade_no,
        "description": "契税",
        "total_fen": 500,
        "expires_at": in_minutes(10),
    }


async def refunded_twice(client: Any, out_trade_no: str, out_refund_no: str) -> None:
    """4.00 of a 10.00 payment refunded, then the same refund asked again: both succeed as
    the one refund (the same refund id at the acquirer)."""
    ask = {"out_refund_no": out_refund_no, "refund_fen": 400, "total_fen": 1_000, "reason": "多缴"}
    first: RefundOutcome = await client.refund(RefundAsk(out_trade_no=out_trade_no, **ask))
    assert first.state == "SUCCESS" and first.provider_refund_id
    again = await client.refund(RefundAsk(out_trade_no=out_trade_no, **ask))
    assert again.provider_refund_id == first.provider_refund_id
