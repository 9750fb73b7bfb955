"""The refusal log's budget: a burst, then a trickle, and a count of what was left out."""

from __future__ import annotations

import logging

import pytest

from clearing.api.refusal_log import RefusalLog


def test_a_flood_is_logged_within_budget_and_the_gap_is_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    log = RefusalLog(logging.getLogger("t.refusals"), burst=3, per_minute=6, clock=lambda: now[0])
    caplog.set_level(logging.WARNING, logger="t.refusals")
    logged = [log.refused("wechatpay", "refused %s", i) for i in range(100)]
    assert logged.count(True) == 3
    now[0] += 10.0  # one line's worth of budget back (6 a minute)
    assert log.refused("wechatpay", "refused %s", "late")
    assert "(97 similar refusals not logged)" in caplog.records[-1].getMessage()
    # another channel has a budget of its own
    assert log.refused("alipay", "refused %s", "other")
