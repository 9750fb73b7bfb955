"""A simulator of the city's maintenance-fund office interface, with fault knobs.

``create_simulator_app`` serves the API ``FundClient`` calls (HMAC-SM3 requests verified with
our app secret, answers signed with the office's secret and bound to the request nonce) and the
unsigned ``/sim/`` desk where tests and the demo register homes and read what was deposited
(sim_control.py). ``main`` is ``tongjiao sim fund``.
"""

from __future__ import annotations

import argparse

from aiohttp import web

from adapters.fund.keys import PlatformKeys, generate_keyset, load_platform_keys
from adapters.fund.sim_api import add_api_routes, office_api
from adapters.fund.sim_control import MAX_DEMO, add_control_routes, seed_demo
from adapters.fund.sim_state import STATE, SimState
from adapters.simkit import control, wiring


def create_simulator_app(
    keys: PlatformKeys, *, public_base_url: str, demo_homes: int = 0
) -> web.Application:
    """The simulator as an aiohttp application; all state lives in ``app[STATE]``.

    ``demo_homes`` registers that many demo homes with open notices at once (``POST /sim/demo``
    does the same later).
    """
    if isinstance(demo_homes, bool) or not 0 <= demo_homes <= MAX_DEMO:
        raise ValueError(f"demo_homes must be 0 to {MAX_DEMO}")
    app = web.Application(middlewares=[office_api, control.desk_errors])
    state = SimState(keys, public_base_url=public_base_url)
    if demo_homes:
        seed_demo(state, demo_homes)
    return wiring.assemble(app, STATE, state, add_api_routes, add_control_routes)


def main(argv: list[str]) -> int:
    """``tongjiao sim fund --host H --port P --keys DIR [--demo N]``."""
    return wiring.run_keyed(
        "fund",
        argv,
        port=8097,
        key=STATE,
        keyset=(generate_keyset, load_platform_keys),
        make=lambda keys, args, base_url: create_simulator_app(
            keys, public_base_url=base_url, demo_homes=args.demo
        ),
        add_options=_options,
        check=_check,
    )


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--demo", type=int, default=0, help="register N demo homes at start")


def _check(args: argparse.Namespace) -> None:
    if not 0 <= args.demo <= MAX_DEMO:
        raise ValueError(f"--demo must be 0 to {MAX_DEMO}")


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
