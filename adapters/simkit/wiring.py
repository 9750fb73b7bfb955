"""How a simulator is put together and started, the same for every party.

``assemble`` puts the state under its key, adds each set of routes and wakes the state's
sleepers at shutdown. ``run_keyed`` is the ``main`` of a simulator started from a keyset
(``tongjiao sim NAME --keys DIR``): it generates what is missing under DIR (the adapter's
``generate_keyset``), loads what the outside party holds under ``DIR/platform`` (keyfiles.py),
and serves what ``make`` builds from those keys and the options; only that is the party's own.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from aiohttp import web

from adapters import simkit
from adapters.keyset import PLATFORM_DIR

K = TypeVar("K")
S = TypeVar("S", bound=simkit.Stoppable)

AddRoutes = Callable[[web.Application], None]


def assemble(
    app: web.Application, key: web.AppKey[S], state: S, *routes: AddRoutes
) -> web.Application:
    """``app`` with ``state`` under ``key`` and ``routes`` added; shutdown wakes the state."""
    app[key] = state
    for add in routes:
        add(app)
    simkit.wake_on_shutdown(app, state)
    return app


def build(
    generate: Callable[[Path], object],
    load: Callable[[Path], K],
    make: Callable[[K, argparse.Namespace, str], web.Application],
) -> Callable[[argparse.Namespace], simkit.MakeApp]:
    """The ``build`` of ``simkit.run``: ``make(keys, options, public_base_url)`` serves."""

    def from_options(args: argparse.Namespace) -> simkit.MakeApp:
        generate(args.keys)
        keys = load(args.keys / PLATFORM_DIR)
        return lambda base_url: make(keys, args, base_url)

    return from_options


def run_keyed(
    name: str,
    argv: list[str],
    *,
    port: int,
    key: web.AppKey[simkit.R],
    keyset: tuple[Callable[[Path], object], Callable[[Path], K]],
    make: Callable[[K, argparse.Namespace, str], web.Application],
    add_options: Callable[[argparse.ArgumentParser], None] | None = None,
    check: Callable[[argparse.Namespace], object] | None = None,
    started: simkit.Started | None = None,
    keys_help: str = simkit.KEYS_HELP,
) -> int:
    """``simkit.run`` for a simulator built from a keyset: ``keyset`` is the adapter's
    ``(generate_keyset, load_platform_keys)``; the state under ``key`` keeps the public URL."""
    return simkit.run(
        name,
        argv,
        port=port,
        build=build(*keyset, make),
        rebase=simkit.rebase_via(key),
        add_options=add_options,
        check=check,
        started=started,
        keys_help=keys_help,
    )
