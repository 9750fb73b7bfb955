"""A simulator of the bank's smart-POS terminal cloud that speaks its wire protocol, with faults.

``create_simulator_app`` serves the API ``PosClient`` calls (OPEN-BODY-SIG requests verified with
the merchant's AppKey, answers signed with the cloud's key), the settlement-file downloads, and
unsigned ``/sim/`` endpoints: the terminal's screen with its card slot and PIN pad, batch
settlement, and fault knobs. ``main`` is ``tongjiao sim pos``.
"""

from __future__ import annotations

from typing import Unpack

from aiohttp import web

from adapters.pos.keys import PlatformKeys, generate_keyset, load_platform_keys
from adapters.pos.sim_api import add_api_routes, signed_api
from adapters.pos.sim_control import add_control_routes
from adapters.pos.sim_state import STATE, SimState
from adapters.pos.sim_terminal import add_terminal_routes
from adapters.simkit.acquirer import FeeOption, Reach, acquirer_app, run_acquirer


def create_simulator_app(
    keys: PlatformKeys, *, fee_rate_ppm: int = 0, **reach: Unpack[Reach]
) -> web.Application:
    """The simulator as an aiohttp application; all state lives in ``app[STATE]``.

    ``fee_rate_ppm`` is the merchant discount rate in millionths (3800 = 0.38 %); government
    merchants usually pay none, hence the default.
    """
    if isinstance(fee_rate_ppm, bool) or not isinstance(fee_rate_ppm, int) or fee_rate_ppm < 0:
        raise ValueError("fee_rate_ppm must be a non-negative integer")
    state = SimState(keys, fee_rate_ppm=fee_rate_ppm, **reach)
    routes = (add_api_routes, add_terminal_routes, add_control_routes)
    return acquirer_app(STATE, state, *routes, middlewares=[signed_api])


def main(argv: list[str]) -> int:
    """``tongjiao sim pos --host H --port P --keys DIR [--retry-scale X] [--fee-rate-ppm N]``."""
    return run_acquirer(
        "pos",
        argv,
        port=8094,
        key=STATE,
        generate=generate_keyset,
        load=load_platform_keys,
        create=create_simulator_app,
        fee=FeeOption("--fee-rate-ppm", int, 0, "3800 means 0.38 %%"),
    )


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
