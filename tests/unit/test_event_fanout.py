"""Order events fanned out to window screens: each screen gets what it asked for, and a screen
that falls behind is told to reload rather than silently missing a change."""

from __future__ import annotations

import json

from clearing.api.events import EventHub


def _event(n: int, window: str = "W01") -> str:
    return json.dumps(
        {"order_no": f"O{n:04d}", "state": "CLEARED", "office": "HALL1", "window": window}
    )


def _drain(queue: object) -> list[dict[str, object]]:
    out = []
    while not queue.empty():  # type: ignore[attr-defined]
        out.append(queue.get_nowait())  # type: ignore[attr-defined]
    return out


async def test_each_screen_gets_the_events_of_its_window_in_order() -> None:
    hub = EventHub("postgresql://unused")
    async with (
        hub.subscribe(office="HALL1", window="W01") as w01,
        hub.subscribe(office="HALL1", window="W02") as w02,
    ):
        for n in range(3):
            hub._dispatch(None, 0, "tj_order_events", _event(n))
        hub._dispatch(None, 0, "tj_order_events", _event(9, "W02"))
        assert [e["order_no"] for e in _drain(w01.queue)] == ["O0000", "O0001", "O0002"]
        assert [e["order_no"] for e in _drain(w02.queue)] == ["O0009"]
    assert hub.overflowed == 0


async def test_a_screen_that_falls_behind_is_told_to_resync_and_then_hears_what_follows() -> None:
    hub = EventHub("postgresql://unused")
    async with (
        hub.subscribe(office="HALL1") as slow,
        hub.subscribe(office="HALL1", window="W02") as other,
    ):
        backlog = slow.queue.maxsize
        for n in range(backlog + 1):  # one more than it can hold
            hub._dispatch(None, 0, "tj_order_events", _event(n))
        hub._dispatch(None, 0, "tj_order_events", _event(backlog + 1))
        got = _drain(slow.queue)
        # what it missed is not replayed: it reloads what it shows, then hears what came after
        assert got[0] == {"type": "resync"}
        assert [e["order_no"] for e in got[1:]] == [f"O{backlog + 1:04d}"]
        assert hub.overflowed == 1
        # the screen of another window was not disturbed
        assert _drain(other.queue) == []
