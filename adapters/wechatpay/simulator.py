"""A WeChat Pay v3 simulator that speaks the real wire protocol, with fault knobs.

``create_simulator_app`` serves the endpoints ``WeChatPayClient`` calls (authenticated with the
merchant public key, answered with platform signatures): Native prepay, payment codes and reverse,
query, close, refunds and refund queries, trade bills; plus unsigned ``/sim/`` control endpoints
for the citizen's phone and the tests (``sim_control``, knobs in ``sim_faults``). ``main`` is
``tongjiao sim wechatpay``.
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

from adapters.wechatpay.keys import PLATFORM_DIR, PlatformKeys, generate_keyset, load_platform_keys
from adapters.wechatpay.sim_api import add_api_routes, signed_api
from adapters.wechatpay.sim_bill import add_bill_routes, parse_fee_rate
from adapters.wechatpay.sim_codepay import add_codepay_routes
from adapters.wechatpay.sim_control import add_control_routes
from adapters.wechatpay.sim_refund import add_refund_routes
from adapters.wechatpay.sim_state import STATE, SimState

log = logging.getLogger(__name__)


def create_simulator_app(
    keys: PlatformKeys,
    *,
    public_base_url: str,
    retry_scale: float = 1.0,
    notify_timeout_s: float = 5.0,
    seed: int | None = None,
    fee_rate: str = "0.00%",
) -> web.Application:
    """The simulator as an aiohttp application; all state lives in ``app[STATE]``.

    ``fee_rate`` is charged on every payment and shown in the bill; government merchants pay
    none, hence the default."""
    if retry_scale < 0:
        raise ValueError("retry_scale must not be negative")
    fee_ppm = parse_fee_rate(fee_rate)
    app = web.Application(middlewares=[signed_api])
    app[STATE] = SimState(
        keys,
        public_base_url=public_base_url,
        retry_scale=retry_scale,
        notify_timeout_s=notify_timeout_s,
        seed=seed,
        fee_ppm=fee_ppm,
    )
    add_api_routes(app)
    add_codepay_routes(app)
    add_refund_routes(app)
    add_bill_routes(app)
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
    """``tongjiao sim wechatpay --host H --port P --keys DIR [--retry-scale X] [--fee-rate R]``."""
    parser = argparse.ArgumentParser(prog="tongjiao sim wechatpay")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument(
        "--keys",
        type=Path,
        required=True,
        help="keyset root (holds merchant/ and platform/); missing keys are generated",
    )
    parser.add_argument("--retry-scale", type=float, default=1.0)
    parser.add_argument("--public-base-url", default="", help="default http://HOST:PORT")
    parser.add_argument("--fee-rate", default="0.00%", help="fee on payments, like 0.60%%")
    args = parser.parse_args(argv)
    try:
        parse_fee_rate(args.fee_rate)
    except ValueError as exc:
        parser.error(str(exc))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    generate_keyset(args.keys)
    keys = load_platform_keys(args.keys / PLATFORM_DIR)
    asyncio.run(
        _serve(
            keys,
            host=args.host,
            port=args.port,
            retry_scale=args.retry_scale,
            public_base_url=args.public_base_url,
            fee_rate=args.fee_rate,
        )
    )
    return 0


async def _serve(
    keys: PlatformKeys,
    *,
    host: str,
    port: int,
    retry_scale: float,
    public_base_url: str,
    fee_rate: str,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner: web.AppRunner | None = None
    try:
        base = public_base_url or f"http://{host}:{port}"
        app = create_simulator_app(
            keys, public_base_url=base, retry_scale=retry_scale, fee_rate=fee_rate
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
        print(f"wechatpay simulator listening on http://{host}:{bound_port}", flush=True)
        await stop.wait()
        log.info("wechatpay simulator stopping")
    finally:
        if runner is not None:
            await runner.cleanup()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
