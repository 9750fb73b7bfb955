"""A simulator of the tax bureau's 税费统缴 front-end that speaks its wire protocol, with faults.

``create_simulator_app`` serves the API ``TaxClient`` calls (requests MAC'd with the shared
token, answers signed with the bureau's key) and unsigned ``/sim/`` endpoints: cases to declare,
views of declarations and confirmations, and fault knobs. ``main`` is ``tongjiao sim tax``.
"""

from __future__ import annotations

import argparse

from aiohttp import web

from adapters.simkit import control, wiring
from adapters.tax.keys import PlatformKeys, generate_keyset, load_platform_keys
from adapters.tax.sim_api import add_api_routes
from adapters.tax.sim_control import DEMO_CASES, add_control_routes, open_case
from adapters.tax.sim_state import STATE, SimState
from clearing.domain.money import yuan_str


def create_simulator_app(keys: PlatformKeys, *, public_base_url: str) -> web.Application:
    """The simulator as an aiohttp application; all state lives in ``app[STATE]``.

    ``public_base_url`` is where the simulator is reachable; it has no callbacks to make, and
    shows it in ``GET /sim/`` only.
    """
    app = web.Application(middlewares=[control.desk_errors])
    app.router.add_get("/sim/", _index)
    state = SimState(keys, public_base_url=public_base_url)
    return wiring.assemble(app, STATE, state, add_api_routes, add_control_routes)


async def _index(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.json_response(
        {
            "authority": "tax",
            "tax_org_code": state.keys.tax_org_code,
            "tax_org_name": state.keys.tax_org_name,
            "public_base_url": state.public_base_url,
            "declarations": len(state.declarations),
            "confirmed": len(state.confirmed),
        }
    )


def main(argv: list[str]) -> int:
    """``tongjiao sim tax --host H --port P --keys DIR [--demo-cases N]``."""
    return wiring.run_keyed(
        "tax",
        argv,
        port=8095,
        key=STATE,
        keyset=(generate_keyset, load_platform_keys),
        make=lambda keys, _, base_url: create_simulator_app(keys, public_base_url=base_url),
        add_options=_options,
        check=_check,
        started=_declare_demo_cases,
    )


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--demo-cases", type=int, default=0, help="declare N demo cases at start")


def _check(args: argparse.Namespace) -> None:
    if args.demo_cases < 0:
        raise ValueError("--demo-cases must not be negative")


def _declare_demo_cases(app: web.Application, args: argparse.Namespace) -> None:
    state = app[STATE]
    for i in range(args.demo_cases):
        declaration = open_case(state, dict(DEMO_CASES[i % len(DEMO_CASES)]))
        total = sum(v.amount_fen for v in declaration.vouchers)
        print(f"tax demo declaration {declaration.declaration_no} {yuan_str(total)}", flush=True)


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
