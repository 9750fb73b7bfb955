"""An Alipay OpenAPI simulator that speaks the real wire protocol, with fault knobs.

``create_simulator_app`` serves ``/gateway.do`` (the app's RSA2 signature checked with its public
key, answers signed with the simulator's Alipay key), the bill download link, and unsigned
``/sim/`` control endpoints for the citizen's phone and the tests. ``main`` is
``tongjiao sim alipay``.
"""

from __future__ import annotations

from typing import Unpack

from adapters.alipay import keys
from adapters.alipay.sim_bill import add_bill_routes
from adapters.alipay.sim_control import add_control_routes
from adapters.alipay.sim_gateway import add_gateway_routes
from adapters.alipay.sim_state import STATE, SimState
from adapters.alipay.sim_wap import add_wap_routes
from adapters.simkit.acquirer import FeeOption, Reach, acquirer_app, acquirer_main


def _state(
    platform: keys.PlatformKeys, *, fee_rate_ppm: int = 0, **reach: Unpack[Reach]
) -> SimState:
    """``fee_rate_ppm`` is the service fee in millionths (6000 is 0.6 %); government merchants
    usually pay none, so it defaults to 0."""
    if not 0 <= fee_rate_ppm <= 1_000_000:
        raise ValueError("fee_rate_ppm must be between 0 and 1000000")
    return SimState(platform, fee_rate_ppm=fee_rate_ppm, **reach)


create_simulator_app = acquirer_app(
    STATE, _state, add_gateway_routes, add_bill_routes, add_control_routes, add_wap_routes
)
"""The simulator as an aiohttp application; all state lives in ``app[STATE]``."""

main = acquirer_main(
    "alipay",
    port=8092,
    key=STATE,
    keyset=keys,
    create=create_simulator_app,
    fee=FeeOption("--fee-rate-ppm", int, 0, "service fee, 6000 = 0.6%%"),
)
"""``tongjiao sim alipay --host H --port P --keys DIR [--retry-scale X] [--fee-rate-ppm N]``."""

if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
