"""A UnionPay ACP 5.1.0 simulator that speaks the real wire protocol, with fault knobs.

``create_simulator_app`` serves the gateway endpoints ``UnionPayClient`` calls (requests verified
with the merchant certificate named by ``certId``, answers signed with UnionPay's key and carrying
its certificate), the file host (``POST /``), and unsigned ``/sim/`` control endpoints for the
citizen's phone and the tests. ``main`` is ``tongjiao sim unionpay``.
"""

from __future__ import annotations

from adapters.simkit.acquirer import FeeOption, acquirer_app, acquirer_main
from adapters.unionpay import keys
from adapters.unionpay.sim_api import acp_gateway, add_api_routes
from adapters.unionpay.sim_control import add_control_routes
from adapters.unionpay.sim_front import add_front_routes
from adapters.unionpay.sim_state import STATE, SimState

create_simulator_app = acquirer_app(
    STATE,
    SimState,
    add_api_routes,
    add_control_routes,
    add_front_routes,
    middlewares=[acp_gateway],
)
"""The simulator as an aiohttp application; all state lives in ``app[STATE]``. Its ``fee_rate``
is the merchant fee as an exact decimal fraction ("0.0038" is 0.38 %); government merchants
usually pay none."""

main = acquirer_main(
    "unionpay",
    port=8093,
    key=STATE,
    keyset=keys,
    create=create_simulator_app,
    fee=FeeOption("--fee-rate", str, "0", "merchant fee, e.g. 0.0038 for 0.38 %%"),
    keys_help="keyset root (holds ca/, merchant/ and platform/); missing keys are generated",
)
"""``tongjiao sim unionpay --host H --port P --keys DIR [--retry-scale X] [--fee-rate R]``."""

if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
