"""A simulator of the city's maintenance-fund office interface, with fault knobs.

``create_simulator_app`` serves the API ``FundClient`` calls (HMAC-SM3 requests verified with
our app secret, answers signed with the office's secret and bound to the request nonce) and the
unsigned ``/sim/`` desk where tests and the demo register homes and read what was deposited
(sim_control.py). ``main`` is ``tongjiao sim fund``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from pathlib import Path

from aiohttp import web

from adapters.fund.keys import PLATFORM_DIR, PlatformKeys, generate_keyset, load_platform_keys
from adapters.fund.sim_api import add_api_routes, office_api
from adapters.fund.sim_control import MAX_DEMO, add_control_routes, desk_errors, seed_demo
from adapters.fund.sim_state import STATE, SimState

log = logging.getLogger(__name__)


def create_simulator_app(
    keys: PlatformKeys, *, public_base_url: str, demo_homes: int = 0
) -> web.Application:
    """The simulator as an aiohttp application; all state lives in ``app[STATE]``.

    ``demo_homes`` registers that many demo homes with open notices at once (``POST /sim/demo``
    does the same later).
    """
    if isinstance(demo_homes, bool) or not 0 <= demo_homes <= MAX_DEMO:
        raise ValueError(f"demo_homes must be 0 to {MAX_DEMO}")
    app = web.Application(middlewares=[office_api, desk_errors])
    app[STATE] = SimState(keys, public_base_url=public_base_url)
    add_api_routes(app)
    add_control_routes(app)
    if demo_homes:
        seed_demo(app[STATE], demo_homes)
    app.on_shutdown.append(_wake_sleepers)
    return app


async def _wake_sleepers(app: web.Application) -> None:
    # delayed answers wait on this, so shutdown never hangs on them
    app[STATE].stopping.set()


def main(argv: list[str]) -> int:
    """``tongjiao sim fund --host H --port P --keys DIR [--demo N]``."""
    parser = argparse.ArgumentParser(prog="tongjiao sim fund")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8097)
    parser.add_argument(
        "--keys",
        type=Path,
        required=True,
        help="keyset root (holds merchant/ and platform/); missing keys are generated",
    )
    parser.add_argument("--demo", type=int, default=0, help="register N demo homes at start")
    parser.add_argument("--public-base-url", default="", help="default http://HOST:PORT")
    args = parser.parse_args(argv)
    if not 0 <= args.demo <= MAX_DEMO:
        parser.error(f"--demo must be 0 to {MAX_DEMO}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    generate_keyset(args.keys)
    keys = load_platform_keys(args.keys / PLATFORM_DIR)
    asyncio.run(_serve(keys, args))
    return 0


async def _serve(keys: PlatformKeys, args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner: web.AppRunner | None = None
    try:
        host, port, public_base_url = args.host, args.port, args.public_base_url
        app = create_simulator_app(
            keys, public_base_url=public_base_url or f"http://{host}:{port}", demo_homes=args.demo
        )
        runner = web.AppRunner(app, shutdown_timeout=2.0)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        bound_port = port
        with contextlib.suppress(IndexError, TypeError):
            bound_port = int(runner.addresses[0][1])
        if not public_base_url:
            app[STATE].public_base_url = f"http://{host}:{bound_port}"
        print(f"fund simulator listening on http://{host}:{bound_port}", flush=True)
        await stop.wait()
        log.info("fund simulator stopping")
    finally:
        if runner is not None:
            await runner.cleanup()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
