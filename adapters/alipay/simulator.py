"""An Alipay OpenAPI simulator that speaks the real wire protocol, with fault knobs.

``create_simulator_app`` serves ``/gateway.do`` (the app's RSA2 signature checked with its public
key, answers signed with the simulator's Alipay key), the bill download link, and unsigned
``/sim/`` control endpoints for the citizen's phone and the tests. ``main`` is
``tongjiao sim alipay``.
"""

from __future__ import annotations

from aiohttp import web

from adapters.alipay.keys import PlatformKeys, generate_keyset, load_platform_keys
from adapters.alipay.sim_bill import add_bill_routes
from adapters.alipay.sim_control import add_control_routes
from adapters.alipay.sim_gateway import add_gateway_routes
from adapters.alipay.sim_state import STATE, SimState
from adapters.alipay.sim_wap import add_wap_routes
from adapters.simkit.acquirer import FeeOption, acquirer_app, run_acquirer


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
    if not 0 <= fee_rate_ppm <= 1_000_000:
        raise ValueError("fee_rate_ppm must be between 0 and 1000000")
    state = SimState(
        keys,
        public_base_url=public_base_url,
        retry_scale=retry_scale,
        notify_timeout_s=notify_timeout_s,
        fee_rate_ppm=fee_rate_ppm,
        seed=seed,
    )
    routes = (add_gateway_routes, add_bill_routes, add_control_routes, add_wap_routes)
    return acquirer_app(STATE, state, *routes)


def main(argv: list[str]) -> int:
    """``tongjiao sim alipay --host H --port P --keys DIR [--retry-scale X] [--fee-rate-ppm N]``."""
    return run_acquirer(
        "alipay",
        argv,
        port=8092,
        key=STATE,
        generate=generate_keyset,
        load=load_platform_keys,
        create=create_simulator_app,
        fee=FeeOption("--fee-rate-ppm", int, 0, "service fee, 6000 = 0.6%%"),
    )


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
