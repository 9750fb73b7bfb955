"""A simulator of the tax bureau's 税费统缴 front-end that speaks its wire protocol, with faults.

``create_simulator_app`` serves the API ``TaxClient`` calls (requests MAC'd with the shared
token, answers signed with the bureau's key) and unsigned ``/sim/`` endpoints: cases to declare,
views of declarations and confirmations, and fault knobs. ``main`` is ``tongjiao sim tax``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from pathlib import Path

from aiohttp import web

from adapters.tax.keys import PLATFORM_DIR, PlatformKeys, generate_keyset, load_platform_keys
from adapters.tax.sim_api import add_api_routes
from adapters.tax.sim_control import DEMO_CASES, add_control_routes, open_case
from adapters.tax.sim_state import STATE, SimState
from clearing import listen
from clearing.domain.money import yuan_str

log = logging.getLogger(__name__)


def create_simulator_app(keys: PlatformKeys, *, public_base_url: str) -> web.Application:
    """The simulator as an aiohttp application; all state lives in ``app[STATE]``.

    ``public_base_url`` is where the simulator is reachable; it has no callbacks to make, and
    shows it in ``GET /sim/`` only.
    """
    app = web.Application()
    app[STATE] = SimState(keys, public_base_url=public_base_url)
    add_api_routes(app)
    add_control_routes(app)
    app.router.add_get("/sim/", _index)
    app.on_shutdown.append(_wake_sleepers)
    return app


async def _index(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.json_response(
        {
            "authority": "tax",
            "tax_org_code": state.keys.tax_org_code,
            "tax_org_name": state.keys.tax_org_name,
            "public_base_url": state.public_base_url,
            "declarations": len(state.declarations),
            "confirmed": len(state.confirmed),
        }
    )


async def _wake_sleepers(app: web.Application) -> None:
    # delayed answers wait on this, so shutdown never hangs on them
    app[STATE].stopping.set()


def main(argv: list[str]) -> int:
    """``tongjiao sim tax --host H --port P --keys DIR [--demo-cases N]``."""
    parser = argparse.ArgumentParser(prog="tongjiao sim tax")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8095)
    parser.add_argument(
        "--keys",
        type=Path,
        required=True,
        help="keyset root (holds merchant/ and platform/); missing keys are generated",
    )
    parser.add_argument("--demo-cases", type=int, default=0, help="declare N demo cases at start")
    parser.add_argument("--public-base-url", default="", help="default http://HOST:PORT")
    args = parser.parse_args(argv)
    if args.demo_cases < 0:
        parser.error("--demo-cases must not be negative")
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
        app = create_simulator_app(keys, public_base_url=public_base_url or f"http://{host}:{port}")
        runner = web.AppRunner(app, shutdown_timeout=2.0)
        await runner.setup()
        site = listen.site(runner, host, port)
        await site.start()
        bound_port = port
        with contextlib.suppress(IndexError, TypeError):
            bound_port = int(runner.addresses[0][1])
        if not public_base_url:
            app[STATE].public_base_url = f"http://{host}:{bound_port}"
        print(f"tax simulator listening on http://{host}:{bound_port}", flush=True)
        state = app[STATE]
        for i in range(args.demo_cases):
            declaration = open_case(state, dict(DEMO_CASES[i % len(DEMO_CASES)]))
            total = sum(v.amount_fen for v in declaration.vouchers)
            print(
                f"tax demo declaration {declaration.declaration_no} {yuan_str(total)}", flush=True
            )
        await stop.wait()
        log.info("tax simulator stopping")
    finally:
        if runner is not None:
            await runner.cleanup()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
