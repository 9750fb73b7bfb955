"""An Alipay OpenAPI simulator that speaks the real wire protocol, with fault knobs.

``create_simulator_app`` serves ``/gateway.do`` (the app's RSA2 signature checked with its public
key, answers signed with the simulator's Alipay key), the bill download link, and unsigned
``/sim/`` control endpoints for the citizen's phone and the tests. ``main`` is
``tongjiao sim alipay``.
"""

from __future__ import annotations

import argparse

from aiohttp import web

from adapters import simkit
from adapters.alipay.keys import PLATFORM_DIR, PlatformKeys, generate_keyset, load_platform_keys
from adapters.alipay.sim_bill import DOWNLOAD_PATH, download
from adapters.alipay.sim_control import add_control_routes
from adapters.alipay.sim_gateway import add_gateway_routes
from adapters.alipay.sim_state import STATE, SimState
from adapters.alipay.sim_wap import add_wap_routes


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
    add_wap_routes(app)
    simkit.wake_on_shutdown(app, app[STATE])
    simkit.add_notify_session(app, app[STATE])
    return app


def main(argv: list[str]) -> int:
    """``tongjiao sim alipay --host H --port P --keys DIR [--retry-scale X] [--fee-rate-ppm N]``."""
    return simkit.run(
        "alipay",
        argv,
        port=8092,
        add_options=_options,
        build=_build,
        rebase=simkit.rebase_via(STATE),
    )


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--retry-scale", type=float, default=1.0)
    parser.add_argument("--fee-rate-ppm", type=int, default=0, help="service fee, 6000 = 0.6%%")


def _build(args: argparse.Namespace) -> simkit.MakeApp:
    generate_keyset(args.keys)
    keys = load_platform_keys(args.keys / PLATFORM_DIR)
    return lambda base_url: create_simulator_app(
        keys, public_base_url=base_url, retry_scale=args.retry_scale, fee_rate_ppm=args.fee_rate_ppm
    )


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
