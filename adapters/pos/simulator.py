"""A simulator of the bank's smart-POS terminal cloud that speaks its wire protocol, with faults.

``create_simulator_app`` serves the API ``PosClient`` calls (OPEN-BODY-SIG requests verified with
the merchant's AppKey, answers signed with the cloud's key), the settlement-file downloads, and
unsigned ``/sim/`` endpoints: the terminal's screen with its card slot and PIN pad, batch
settlement, and fault knobs. ``main`` is ``tongjiao sim pos``.
"""

from __future__ import annotations

import argparse

from aiohttp import web

from adapters import simkit
from adapters.pos.keys import PLATFORM_DIR, PlatformKeys, generate_keyset, load_platform_keys
from adapters.pos.sim_api import add_api_routes, signed_api
from adapters.pos.sim_control import add_control_routes
from adapters.pos.sim_state import STATE, SimState
from adapters.pos.sim_terminal import add_terminal_routes


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

    ``fee_rate_ppm`` is the merchant discount rate in millionths (3800 = 0.38 %); government
    merchants usually pay none, hence the default.
    """
    if retry_scale < 0:
        raise ValueError("retry_scale must not be negative")
    if isinstance(fee_rate_ppm, bool) or not isinstance(fee_rate_ppm, int) or fee_rate_ppm < 0:
        raise ValueError("fee_rate_ppm must be a non-negative integer")
    app = web.Application(middlewares=[signed_api])
    app[STATE] = SimState(
        keys,
        public_base_url=public_base_url,
        retry_scale=retry_scale,
        notify_timeout_s=notify_timeout_s,
        fee_rate_ppm=fee_rate_ppm,
        seed=seed,
    )
    add_api_routes(app)
    add_terminal_routes(app)
    add_control_routes(app)
    simkit.wake_on_shutdown(app, app[STATE])
    simkit.add_notify_session(app, app[STATE])
    return app


def main(argv: list[str]) -> int:
    """``tongjiao sim pos --host H --port P --keys DIR [--retry-scale X] [--fee-rate-ppm N]``."""
    return simkit.run(
        "pos",
        argv,
        port=8094,
        add_options=_options,
        build=_build,
        rebase=simkit.rebase_via(STATE),
    )


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--retry-scale", type=float, default=1.0)
    parser.add_argument("--fee-rate-ppm", type=int, default=0, help="3800 means 0.38 %%")


def _build(args: argparse.Namespace) -> simkit.MakeApp:
    generate_keyset(args.keys)
    keys = load_platform_keys(args.keys / PLATFORM_DIR)
    return lambda base_url: create_simulator_app(
        keys, public_base_url=base_url, retry_scale=args.retry_scale, fee_rate_ppm=args.fee_rate_ppm
    )


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
