"""A simulator of the fiscal non-tax system's bank interface, with fault knobs.

``create_simulator_app`` serves ``POST /nontax/gateway`` (frames MAC'd with the shared token are
verified; answers are MAC'd) and unsigned ``/sim/`` endpoints to issue notices, cancel them, list
confirmations and set faults. ``main`` is ``tongjiao sim fiscal``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from datetime import datetime
from pathlib import Path

from aiohttp import web

from adapters.fiscal.frame import BEIJING, MAX_FRAME_BYTES
from adapters.fiscal.keys import PLATFORM_DIR, PlatformKeys, generate_keyset, load_platform_keys
from adapters.fiscal.sim_api import add_api_routes
from adapters.fiscal.sim_control import add_control_routes, issue_notice
from adapters.fiscal.sim_state import STATE, SimState
from clearing import listen

log = logging.getLogger(__name__)

# a few cases for a first look: (payer, item, how the amount comes about)
DEMO_NOTICES: tuple[dict[str, object], ...] = (
    {"payer_name": "张三", "item": "REG_FEE", "property_kind": "RESIDENTIAL"},
    {"payer_name": "李四", "item": "LAND_TRANSFER", "base": "1280000.00", "rate": "0.015"},
    {"payer_name": "王五", "item": "REG_FEE", "property_kind": "NON_RESIDENTIAL"},
    {"payer_name": "赵六", "item": "REG_FEE", "property_kind": "RESIDENTIAL", "certificates": 2},
    {"payer_name": "钱七", "item": "LAND_TRANSFER", "base": "865432.10", "rate": "0.01"},
    {"payer_name": "孙八", "item": "REG_FEE", "property_kind": "PARKING"},
)


def create_simulator_app(
    keys: PlatformKeys,
    *,
    public_base_url: str,
    page_size: int = 100,
    seed: int | None = None,
    demo_notices: int = 0,
) -> web.Application:
    """The simulator as an aiohttp application; all state lives in ``app[STATE]``.

    ``page_size`` is how many lines one 5998 answer carries; ``demo_notices`` notices are issued
    at start (cycling through ``DEMO_NOTICES``) so that the demo has payment codes to look up."""
    if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
        raise ValueError("page_size must be a positive integer")
    app = web.Application(client_max_size=MAX_FRAME_BYTES)
    state = SimState(keys, public_base_url=public_base_url, page_size=page_size, seed=seed)
    app[STATE] = state
    today = datetime.now(BEIJING).date()
    for n in range(demo_notices):
        notice = issue_notice(state, dict(DEMO_NOTICES[n % len(DEMO_NOTICES)]), today)
        log.info("demo notice payment_code=%s payer=%s", notice.payment_code, notice.payer_name)
    add_api_routes(app)
    add_control_routes(app)
    app.on_shutdown.append(_wake_sleepers)
    return app


async def _wake_sleepers(app: web.Application) -> None:
    # delayed answers wait on this, so shutdown never hangs on them
    app[STATE].stopping.set()


def main(argv: list[str]) -> int:
    """``tongjiao sim fiscal --host H --port P --keys DIR [--demo-notices N] [--page-size N]``."""
    parser = argparse.ArgumentParser(prog="tongjiao sim fiscal")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8095)
    parser.add_argument(
        "--keys",
        type=Path,
        required=True,
        help="keyset root (holds merchant/ and platform/); missing keys are generated",
    )
    parser.add_argument("--demo-notices", type=int, default=0, help="notices issued at start")
    parser.add_argument("--page-size", type=int, default=100, help="lines per 5998 answer")
    parser.add_argument("--public-base-url", default="", help="default http://HOST:PORT")
    args = parser.parse_args(argv)
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
            keys,
            public_base_url=public_base_url or f"http://{host}:{port}",
            page_size=args.page_size,
            demo_notices=args.demo_notices,
        )
        runner = web.AppRunner(app, shutdown_timeout=2.0)
        await runner.setup()
        site = listen.site(runner, host, port)
        await site.start()
        bound_port = port
        with contextlib.suppress(IndexError, TypeError):
            bound_port = int(runner.addresses[0][1])
        if not public_base_url:
            app[STATE].public_base_url = f"http://{host}:{bound_port}"
        print(f"fiscal simulator listening on http://{host}:{bound_port}", flush=True)
        await stop.wait()
        log.info("fiscal simulator stopping")
    finally:
        if runner is not None:
            await runner.cleanup()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
