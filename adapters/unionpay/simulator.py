"""A UnionPay ACP 5.1.0 simulator that speaks the real wire protocol, with fault knobs.

``create_simulator_app`` serves the gateway endpoints ``UnionPayClient`` calls (requests verified
with the merchant certificate named by ``certId``, answers signed with UnionPay's key and carrying
its certificate), the file host (``POST /``), and unsigned ``/sim/`` control endpoints for the
citizen's phone and the tests. ``main`` is ``tongjiao sim unionpay``.
"""

from __future__ import annotations

from aiohttp import web

from adapters.simkit.acquirer import FeeOption, acquirer_app, run_acquirer
from adapters.unionpay.keys import PlatformKeys, generate_keyset, load_platform_keys
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
    state = SimState(
        keys,
        public_base_url=public_base_url,
        retry_scale=retry_scale,
        notify_timeout_s=notify_timeout_s,
        fee_rate=fee_rate,
        seed=seed,
    )
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
