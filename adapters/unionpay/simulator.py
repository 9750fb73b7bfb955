"""A UnionPay ACP 5.1.0 simulator that speaks the real wire protocol, with fault knobs.

``create_simulator_app`` serves the gateway endpoints ``UnionPayClient`` calls (requests verified
with the merchant certificate named by ``certId``, answers signed with UnionPay's key and carrying
its certificate), the file host (``POST /``), and unsigned ``/sim/`` control endpoints for the
citizen's phone and the tests. ``main`` is ``tongjiao sim unionpay``.
"""

from __future__ import annotations

import argparse

from aiohttp import web

from adapters import simkit
from adapters.unionpay.keys import PLATFORM_DIR, PlatformKeys, generate_keyset, load_platform_keys
from adapters.unionpay.sim_api import acp_gateway, add_api_routes
from adapters.unionpay.sim_control import add_control_routes
from adapters.unionpay.sim_front import add_front_routes
from adapters.unionpay.sim_state import NOTIFY_TIMEOUT_S, STATE, SimState


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
    add_front_routes(app)
    simkit.wake_on_shutdown(app, app[STATE])
    simkit.add_notify_session(app, app[STATE])
    return app


def main(argv: list[str]) -> int:
    """``tongjiao sim unionpay --host H --port P --keys DIR [--retry-scale X] [--fee-rate R]``."""
    return simkit.run(
        "unionpay",
        argv,
        port=8093,
        add_options=_options,
        keys_help="keyset root (holds ca/, merchant/ and platform/); missing keys are generated",
        build=_build,
        rebase=simkit.rebase_via(STATE),
    )


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--retry-scale", type=float, default=1.0)
    parser.add_argument("--fee-rate", default="0", help="merchant fee, e.g. 0.0038 for 0.38 %%")


def _build(args: argparse.Namespace) -> simkit.MakeApp:
    generate_keyset(args.keys)
    keys = load_platform_keys(args.keys / PLATFORM_DIR)
    return lambda base_url: create_simulator_app(
        keys, public_base_url=base_url, retry_scale=args.retry_scale, fee_rate=args.fee_rate
    )


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
