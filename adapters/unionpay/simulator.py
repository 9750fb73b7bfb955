"""A UnionPay ACP 5.1.0 simulator that speaks the real wire protocol, with fault knobs.

``create_simulator_app`` serves the gateway endpoints ``UnionPayClient`` calls (requests verified
with the merchant certificate named by ``certId``, answers signed with UnionPay's key and carrying
its certificate), the file host (``POST /``), and unsigned ``/sim/`` control endpoints for the
citizen's phone and the tests. ``main`` is ``tongjiao sim unionpay``.
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

from adapters.unionpay.keys import PLATFORM_DIR, PlatformKeys, generate_keyset, load_platform_keys
from adapters.unionpay.sim_api import acp_gateway, add_api_routes
from adapters.unionpay.sim_control import add_control_routes
from adapters.unionpay.sim_state import NOTIFY_TIMEOUT_S, STATE, SimState

log = logging.getLogger(__name__)


def create_simulator_app(
    keys: PlatformKeys,
    *,
    public_base_url: str,
    retry_scale: float = 1.0,
    notify_timeout_s: float = NOTIFY_TIMEOUT_S,
    fee_rate: str = "0",
    seed: int | None = None,
) -> web.Application:
    """The simulator as an aiohttp application; all state lives in ``app[STATE]``.

    ``fee_rate`` is the merchant fee as an exact decimal fraction ("0.0038" is 0.38 %); government
    merchants usually pay none."""
    if retry_scale < 0:
        raise ValueError("retry_scale must not be negative")
    app = web.Application(middlewares=[acp_gateway])
    app[STATE] = SimState(
        keys,
        public_base_url=public_base_url,
        retry_scale=retry_scale,
        notify_timeout_s=notify_timeout_s,
        fee_rate=fee_rate,
        seed=seed,
    )
    add_api_routes(app)
    add_control_routes(app)
    app.on_shutdown.append(_wake_sleepers)
    app.cleanup_ctx.append(_notify_session)
    return app


async def _wake_sleepers(app: web.Application) -> None:
    # delayed answers and pending resends wait on this, so shutdown never hangs on them
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
    """``tongjiao sim unionpay --host H --port P --keys DIR [--retry-scale X] [--fee-rate R]``."""
    parser = argparse.ArgumentParser(prog="tongjiao sim unionpay")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8093)
    parser.add_argument(
        "--keys",
        type=Path,
        required=True,
        help="keyset root (holds ca/, merchant/ and platform/); missing keys are generated",
    )
    parser.add_argument("--retry-scale", type=float, default=1.0)
    parser.add_argument("--fee-rate", default="0", help="merchant fee, e.g. 0.0038 for 0.38 %%")
    parser.add_argument("--public-base-url", default="", help="default http://HOST:PORT")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    generate_keyset(args.keys)
    keys = load_platform_keys(args.keys / PLATFORM_DIR)
    asyncio.run(_serve(keys, args))
    return 0


async def _serve(keys: PlatformKeys, args: argparse.Namespace) -> None:
    host: str = args.host
    port: int = args.port
    public_base_url: str = args.public_base_url
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner: web.AppRunner | None = None
    try:
        base = public_base_url or f"http://{host}:{port}"
        app = create_simulator_app(
            keys, public_base_url=base, retry_scale=args.retry_scale, fee_rate=args.fee_rate
        )
        runner = web.AppRunner(app, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_port = port
        with contextlib.suppress(IndexError, TypeError):
            bound_port = int(runner.addresses[0][1])
        if not public_base_url:
            app[STATE].public_base_url = f"http://{host}:{bound_port}"
        print(f"unionpay simulator listening on http://{host}:{bound_port}", flush=True)
        await stop.wait()
        log.info("unionpay simulator stopping")
    finally:
        if runner is not None:
            await runner.cleanup()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
