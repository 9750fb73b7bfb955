"""Fault knobs and their desk, the same for every simulator.

A simulator declares its knobs as a dataclass deriving from ``Knobs`` (what each knob means is
its protocol's business); ``add_fault_routes`` serves them at ``/sim/faults``::

    GET     the knobs as JSON
    PUT     a partial update: every knob named is checked first, and one bad knob refuses the
            whole body (400, nothing applied), so a test never runs with half its faults set
    DELETE  every knob back to what the simulator started with

Knobs are checked by the type of their default: a bool must be true or false, an int a
non-negative integer, a float a non-negative number; a str must be one of ``CHOICES[name]``.
``LIMITS`` caps numbers; a simulator with knobs of other shapes overrides ``check`` and hands
the rest to ``super().check``.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, Self

from aiohttp import web

log = logging.getLogger(__name__)

DROP_LIMIT = (1.0, "drop_callbacks is a probability between 0 and 1")


@dataclass
class Knobs:
    """The base of a simulator's ``Faults``; all knobs off by default."""

    CHOICES: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    LIMITS: ClassVar[Mapping[str, tuple[float, str]]] = {"drop_callbacks": DROP_LIMIT}

    def __post_init__(self) -> None:
        # what DELETE goes back to: the defaults, or what the simulator was started with
        self._initial = copy.deepcopy(asdict(self))

    @classmethod
    def starting(cls, **knobs: Any) -> Self:
        """Knobs checked like a ``PUT`` and kept as what ``DELETE`` goes back to."""
        made = cls()
        made.update(knobs)
        made._initial = copy.deepcopy(asdict(made))
        return made

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def update(self, knobs: Mapping[str, Any]) -> None:
        """Apply a partial update; ``ValueError`` names the first bad knob (nothing is applied)."""
        names = {f.name for f in fields(self)}
        checked: dict[str, Any] = {}
        for name, value in knobs.items():
            if name not in names:
                raise ValueError(f"unknown knob {name!r}")
            checked[name] = self.check(name, value)
        for name, value in checked.items():
            setattr(self, name, value)

    def reset(self) -> None:
        for name, value in copy.deepcopy(self._initial).items():
            setattr(self, name, value)

    def take(self, counter: str) -> bool:
        """Use up one of a counted fault (``api_5xx`` ...): whether it fired."""
        left: int = getattr(self, counter)
        if left <= 0:
            return False
        setattr(self, counter, left - 1)
        return True

    def check(self, name: str, value: Any) -> Any:
        """The value to set ``name`` to; ``ValueError`` if it cannot be."""
        kind = type(getattr(self, name))
        if kind is bool:
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be true or false")
            return value
        if kind is str:
            choices = self.CHOICES[name]
            if value not in choices:
                raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}")
            return value
        if kind not in (int, float):
            raise TypeError(f"knob {name} of type {kind.__name__} needs its own check")
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"{name} must be a non-negative number")
        if kind is int and not isinstance(value, int):
            raise ValueError(f"{name} must be an integer")
        limit = self.LIMITS.get(name)
        if limit is not None and value > limit[0]:
            raise ValueError(limit[1])
        return value if kind is int else float(value)


def refusal(message: str) -> web.Response:
    """The desk's answer to a bad body, in the shape most simulators' desks use."""
    return web.json_response({"code": "PARAM_ERROR", "message": message}, status=400)


def add_fault_routes(
    app: web.Application,
    faults_of: Callable[[web.Application], Knobs],
    *,
    refuse: Callable[[str], web.Response] = refusal,
    answer: Callable[[dict[str, Any]], web.Response] = web.json_response,
) -> None:
    """Serve ``GET|PUT|DELETE /sim/faults`` over the knobs ``faults_of(app)`` returns."""

    async def show(request: web.Request) -> web.Response:
        return answer(faults_of(request.app).as_json())

    async def put(request: web.Request) -> web.Response:
        faults = faults_of(request.app)
        try:
            knobs = json.loads(await request.read())
        except (UnicodeDecodeError, json.JSONDecodeError):
            return refuse("body must be JSON")
        if not isinstance(knobs, dict):
            return refuse("body must be a JSON object")
        try:
            faults.update(knobs)
        except ValueError as exc:
            return refuse(str(exc))
        log.info("sim faults set knobs=%s", sorted(knobs))
        return answer(faults.as_json())

    async def reset(request: web.Request) -> web.Response:
        faults = faults_of(request.app)
        faults.reset()
        return answer(faults.as_json())

    app.router.add_get("/sim/faults", show)
    app.router.add_put("/sim/faults", put)
    app.router.add_delete("/sim/faults", reset)
