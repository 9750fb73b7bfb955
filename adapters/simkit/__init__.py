"""What every simulator shares: its process entry point and its lifecycle hooks.

``run`` is the body of each ``adapters.NAME.simulator.main`` (``tongjiao sim NAME``): the common
options (--host, --port, --keys, --public-base-url) plus the simulator's own, logging, then
``serve`` until SIGINT or SIGTERM. ``wake_on_shutdown`` and ``add_notify_session`` wire a
simulator's state into its app: shutdown wakes delayed answers, and a simulator that sends
notifications gets a client session for them and its pending deliveries cancelled at cleanup.

The rest of the kit: ``keyfiles`` (how key and registration files are written and read) and
``faults`` (the knobs model and the ``/sim/faults`` desk). Each simulator keeps only its protocol.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Protocol, TypeVar

import aiohttp
from aiohttp import web

from clearing import listen

KEYS_HELP = "keyset root (holds merchant/ and platform/); missing keys are generated"

MakeApp = Callable[[str], web.Application]
"""Builds the simulator's app, given the public base URL it is reached at."""

Rebase = Callable[[web.Application, str], None]
"""Tells a built app its public base URL once the port it listens on is known."""

Started = Callable[[web.Application, argparse.Namespace], None]
"""Runs once the app listens and the listening line is out (demo data announced after it)."""


class Reachable(Protocol):
    public_base_url: str


R = TypeVar("R", bound=Reachable)


def rebase_via(key: web.AppKey[R]) -> Rebase:
    """The usual ``rebase``: the state under ``key`` keeps the public base URL."""

    def rebase(app: web.Application, base_url: str) -> None:
        app[key].public_base_url = base_url

    return rebase


class Stoppable(Protocol):
    stopping: asyncio.Event


class Notifying(Stoppable, Protocol):
    session: aiohttp.ClientSession | None
    tasks: set[asyncio.Task[None]]


def wake_on_shutdown(app: web.Application, state: Stoppable) -> None:
    """Set ``state.stopping`` on shutdown: delayed answers and pending retries wait on it, so
    shutdown never hangs on them."""

    async def wake_sleepers(_: web.Application) -> None:
        state.stopping.set()

    app.on_shutdown.append(wake_sleepers)


def add_notify_session(app: web.Application, state: Notifying) -> None:
    """Give ``state.session`` a client session for notifications while the app runs; at cleanup
    stop, and cancel the deliveries still pending in ``state.tasks``."""

    async def notify_session(_: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as session:
            state.session = session
            yield
            state.stopping.set()
            tasks = list(state.tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            state.session = None

    app.cleanup_ctx.append(notify_session)


def run(
    name: str,
    argv: list[str],
    *,
    port: int,
    build: Callable[[argparse.Namespace], MakeApp],
    rebase: Rebase,
    add_options: Callable[[argparse.ArgumentParser], None] | None = None,
    check: Callable[[argparse.Namespace], object] | None = None,
    keys_help: str = KEYS_HELP,
    started: Started | None = None,
) -> int:
    """``tongjiao sim NAME --host H --port P --keys DIR [--public-base-url URL] [own options]``.

    ``add_options`` adds the simulator's own options; ``check`` may raise ``ValueError`` to refuse
    them (a usage error). ``build`` gets the parsed options once logging is set up (it generates
    and loads the keys) and returns the app factory ``serve`` calls."""
    parser = argparse.ArgumentParser(prog=f"tongjiao sim {name}")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument("--keys", type=Path, required=True, help=keys_help)
    if add_options is not None:
        add_options(parser)
    parser.add_argument("--public-base-url", default="", help="default http://HOST:PORT")
    args = parser.parse_args(argv)
    if check is not None:
        try:
            check(args)
        except ValueError as exc:
            parser.error(str(exc))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    make_app = build(args)
    asyncio.run(
        serve(
            name,
            make_app,
            rebase,
            host=args.host,
            port=args.port,
            public_base_url=args.public_base_url,
            started=None if started is None else lambda app: started(app, args),
        )
    )
    return 0


async def serve(
    name: str,
    make_app: MakeApp,
    rebase: Rebase,
    *,
    host: str,
    port: int,
    public_base_url: str,
    started: Callable[[web.Application], None] | None = None,
) -> None:
    """Serve the app on ``host:port`` until SIGINT or SIGTERM, announcing the bound port on
    stdout (``NAME simulator listening on http://HOST:PORT``, port 0 picks a free one). Without
    ``public_base_url`` the app is told the bound address."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner: web.AppRunner | None = None
    try:
        app = make_app(public_base_url or f"http://{host}:{port}")
        runner = web.AppRunner(app, shutdown_timeout=2.0)
        await runner.setup()
        # a socket the demo bound for us first, when it handed one down
        await listen.site(runner, host, port).start()
        bound_port = port
        with contextlib.suppress(IndexError, TypeError):
            bound_port = int(runner.addresses[0][1])
        if not public_base_url:
            rebase(app, f"http://{host}:{bound_port}")
        print(f"{name} simulator listening on http://{host}:{bound_port}", flush=True)
        if started is not None:
            started(app)
        await stop.wait()
        logging.getLogger(f"adapters.{name}.simulator").info("%s simulator stopping", name)
    finally:
        if runner is not None:
            await runner.cleanup()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
