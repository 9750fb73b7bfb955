"""A UnionPay ACP 5.1.0 simulator that speaks the real wire protocol, with fault knobs.

``create_simulator_app`` serves the gateway endpoints ``UnionPayClient`` calls (requests verified
with the merchant certificate named by ``certId``, answers signed with UnionPay's key and carrying
its certificate), the file host (``POST /``), and unsigned ``/sim/`` control endpoints for the
citizen's phone and the tests. ``main`` is ``tongjiao sim unionpay``.
"""

from __future__ import annotations

from typing import Unpack

from aiohttp import web

from adapters.simkit.acquirer import FeeOption, Reach, acquirer_app, run_acquirer
from adapters.unionpay.keys import PlatformKeys, generate_keyset, load_platform_keys
from adapters.unionpay.sim_api import acp_gateway, add_api_routes
from adapters.unionpay.sim_control import add_control_routes
from adapters.unionpay.sim_front import add_front_routes
from adapters.unionpay.sim_state import STATE, SimState


def create_simulator_app(
    keys: PlatformKeys, *, fee_rate: str = "0", **reach: Unpack[Reach]
) -> web.Application:
    """The simulator as an aiohttp application; all state lives in ``app[STATE]``.

    ``fee_rate`` is the merchant fee as an exact decimal fraction ("0.0038" is 0.38 %); government
    merchants usually pay none."""
    state = SimState(keys, fee_rate=fee_rate, **reach)
    routes = (add_api_routes, add_control_routes, add_front_routes)
    return acquirer_app(STATE, state, *routes, middlewares=[acp_gateway])


def main(argv: list[str]) -> int:
    """``tongjiao sim unionpay --host H --port P --keys DIR [--retry-scale X] [--fee-rate R]``."""
    return run_acquirer(
        "unionpay",
        argv,
        port=8093,
        key=STATE,
        generate=generate_keyset,
        load=load_platform_keys,
        create=create_simulator_app,
        fee=FeeOption("--fee-rate", str, "0", "merchant fee, e.g. 0.0038 for 0.38 %%"),
        keys_help="keyset root (holds ca/, merchant/ and platform/); missing keys are generated",
    )


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
