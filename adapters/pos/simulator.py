"""A simulator of the bank's smart-POS terminal cloud that speaks its wire protocol, with faults.

``create_simulator_app`` serves the API ``PosClient`` calls (OPEN-BODY-SIG requests verified with
the merchant's AppKey, answers signed with the cloud's key), the settlement-file downloads, and
unsigned ``/sim/`` endpoints: the terminal's screen with its card slot and PIN pad, batch
settlement, and fault knobs. ``main`` is ``tongjiao sim pos``.
"""

from __future__ import annotations

from typing import Unpack

from adapters.pos import keys
from adapters.pos.sim_api import add_api_routes, signed_api
from adapters.pos.sim_control import add_control_routes
from adapters.pos.sim_state import STATE, SimState
from adapters.pos.sim_terminal import add_terminal_routes
from adapters.simkit.acquirer import FeeOption, Reach, acquirer_app, acquirer_main


def _state(
    platform: keys.PlatformKeys, *, fee_rate_ppm: int = 0, **reach: Unpack[Reach]
) -> SimState:
    """``fee_rate_ppm`` is the merchant discount rate in millionths (3800 = 0.38 %); government
    merchants usually pay none, hence the default."""
    if isinstance(fee_rate_ppm, bool) or not isinstance(fee_rate_ppm, int) or fee_rate_ppm < 0:
        raise ValueError("fee_rate_ppm must be a non-negative integer")
    return SimState(platform, fee_rate_ppm=fee_rate_ppm, **reach)


create_simulator_app = acquirer_app(
    STATE,
    _state,
    add_api_routes,
    add_terminal_routes,
    add_control_routes,
    middlewares=[signed_api],
)
"""The simulator as an aiohttp application; all state lives in ``app[STATE]``."""

main = acquirer_main(
    "pos",
    port=8094,
    key=STATE,
    keyset=keys,
    create=create_simulator_app,
    fee=FeeOption("--fee-rate-ppm", int, 0, "3800 means 0.38 %%"),
)
"""``tongjiao sim pos --host H --port P --keys DIR [--retry-scale X] [--fee-rate-ppm N]``."""

if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
