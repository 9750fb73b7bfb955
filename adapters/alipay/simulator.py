"""An Alipay OpenAPI simulator that speaks the real wire protocol, with fault knobs.

``create_simulator_app`` serves ``/gateway.do`` (the app's RSA2 signature checked with its public
key, answers signed with the simulator's Alipay key), the bill download link, and unsigned
``/sim/`` control endpoints for the citizen's phone and the tests. ``main`` is
``tongjiao sim alipay``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web

from adapters.alipay.keys import PLATFORM_DIR, PlatformKeys, generate_keyset, load_platform_keys
from adapters.alipay.sim_bill import DOWNLOAD_PATH, download
from adapters.alipay.sim_control import add_control_routes
from adapters.alipay.sim_gateway import add_gateway_routes
from adapters.alipay.sim_state import STATE, SimState

log = logging.getLogger(__name__)


def create_simulator_app(
    keys: PlatformKeys,
    *,
    public_base_url: str,
    retry_scale: float = 1.0,
    notify_timeout_s: float = 5.0,
    fee_rate_ppm: int = 0,
    seed: int | None = None,
) -> web.Application:
    """The simulator as an aiohttp application; all state lives in ``app[STATE]``.

    ``fee_rate_ppm`` is the service fee in millionths (6000 is 0.6 %); government merchants
    usually pay none, so it defaults to 0.
    """
    if retry_scale < 0:
        raise ValueError("retry_scale must not be negative")
    if not 0 <= fee_rate_ppm <= 1_000_000:
        raise ValueError("fee_rate_ppm must be between 0 and 1000000")
    app = web.Application()
    app[STATE] = SimState(
        keys,
        public_base_url=public_base_url,
        retry_scale=retry_scale,
        notify_timeout_s=notify_timeout_s,
        fee_rate_ppm=fee_rate_ppm,
        seed=seed,
    )
    add_gateway_routes(app)
    app.router.add_get(DOWNLOAD_PATH, download)
    add_control_routes(app)
    app.on_shutdown.append(_wake_sleepers)
    app.cleanup_ctx.append(_notify_session)
    return app


async def _wake_sleepers(app: web.Application) -> None:
    # delayed answers and pending retries wait on this, so shutdown never hangs on them
    app[STATE].stopping.set()


async def _notify_session(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE]
    async with aiohttp.ClientSession() as session:
        state.session = session
        yield
        state.stopping.set()
        tasks = list(state.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        state.session = None


def main(argv: list[str]) -> int:
    """``tongjiao sim alipay --host H --port P --keys DIR [--retry-scale X] [--fee-rate-ppm N]``."""
    parser = argparse.ArgumentParser(prog="tongjiao sim alipay")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8092)
    parser.add_argument(
        "--keys",
        type=Path,
        required=True,
        help="keyset root (holds merchant/ and platform/); missing keys are generated",
    )
    parser.add_argument("--retry-scale", type=float, default=1.0)
    parser.add_argument("--fee-rate-ppm", type=int, default=0, help="service fee, 6000 = 0.6%%")
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
        base = args.public_base_url or f"http://{args.host}:{args.port}"
        app = create_simulator_app(
            keys,
            public_base_url=base,
            retry_scale=args.retry_scale,
            fee_rate_ppm=args.fee_rate_ppm,
        )
        runner = web.AppRunner(app, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, args.host, args.port)
        await site.start()
        bound_port = args.port
        with contextlib.suppress(IndexError, TypeError):
            bound_port = int(runner.addresses[0][1])
        if not args.public_base_url:
            app[STATE].public_base_url = f"http://{args.host}:{bound_port}"
        print(f"alipay simulator listening on http://{args.host}:{bound_port}", flush=True)
        await stop.wait()
        log.info("alipay simulator stopping")
    finally:
        if runner is not None:
            await runner.cleanup()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
