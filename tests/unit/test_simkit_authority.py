"""The simulator kit's shared rules for the authorities' simulators and the /sim/ desks: request
ids refused when replayed and forgotten once too old to pass the clock check, counted faults used
up one at a time, a confirmation asked for again, and the desk's readers refusing bad fields."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from adapters.simkit import control
from adapters.simkit.authority import AuthorityKnobs, Refusal, Replays, asked_again

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_a_request_id_seen_is_a_replay_until_it_is_forgotten() -> None:
    replays = Replays(timedelta(seconds=600))
    assert replays.fresh("TRA-1", T0)
    assert not replays.fresh("TRA-1", T0 + timedelta(seconds=599))
    assert replays.fresh("TRA-2", T0 + timedelta(seconds=1))
    # older than the memory: the party's clock check refuses it before the replay check would
    assert replays.fresh("TRA-1", T0 + timedelta(seconds=601))


@dataclass
class _Faults(AuthorityKnobs):
    refuse_reason: str = "暂不受理"


def test_a_counted_fault_fires_as_often_as_set_and_reset_restores_the_start() -> None:
    faults = _Faults()
    faults.update({"api_5xx": 2})
    assert [faults.take("api_5xx") for _ in range(3)] == [True, True, False]
    assert faults.api_5xx == 0
    faults.update({"refuse_confirm": 1, "down": True})
    faults.reset()
    assert (faults.refuse_confirm, faults.down) == (0, False)


def test_a_confirmation_asked_again_is_answered_only_for_the_same_payment_and_amount() -> None:
    other_payment, other_amount = Refusal("24102", "已缴款"), Refusal("24103", "金额不符")
    asked_again(("P1", 100), ("P1", 100), other_payment, other_amount)  # the first answer again
    with pytest.raises(Refusal) as refused:
        asked_again(("P1", 100), ("P2", 100), other_payment, other_amount)
    assert refused.value is other_payment
    with pytest.raises(Refusal) as refused:
        asked_again(("P1", 100), ("P1", 99), other_payment, other_amount)
    assert refused.value is other_amount


def test_the_desk_readers_name_the_field_they_refuse() -> None:
    assert control.count({}, 4, 500) == 4
    for bad in (0, 501, True, "3"):
        with pytest.raises(control.BadRequest, match="count must be an int from 1 to 500"):
            control.count({"count": bad}, 4, 500)
    assert control.day_in({"on": "2026-02-28"}, "on", date(2026, 1, 1)) == date(2026, 2, 28)
    assert control.day_in({"on": None}, "on", date(2026, 1, 1)) == date(2026, 1, 1)
    with pytest.raises(control.BadRequest, match="on must be YYYY-MM-DD") as refused:
        control.day_in({"on": "2026-02-30"}, "on", date(2026, 1, 1))
    assert (refused.value.status, refused.value.code) == (400, "PARAM_ERROR")
    assert control.text({"name": "  张三 "}, "name") == "张三"
    with pytest.raises(control.BadRequest, match="name must be non-empty text"):
        control.text({"name": "  "}, "name")
    assert control.text({"case_no": ""}, "case_no", strict=False) == ""
