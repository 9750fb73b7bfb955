"""A simulator of the fiscal non-tax system's bank interface, with fault knobs.

``create_simulator_app`` serves ``POST /nontax/gateway`` (frames MAC'd with the shared token are
verified; answers are MAC'd) and unsigned ``/sim/`` endpoints to issue notices, cancel them, list
confirmations and set faults. ``main`` is ``tongjiao sim fiscal``.
"""

from __future__ import annotations

import argparse
import logging
from datetime import datetime

from aiohttp import web

from adapters.fiscal.frame import BEIJING, MAX_FRAME_BYTES
from adapters.fiscal.keys import PlatformKeys, generate_keyset, load_platform_keys
from adapters.fiscal.sim_api import add_api_routes
from adapters.fiscal.sim_control import add_control_routes, issue_notice
from adapters.fiscal.sim_state import STATE, SimState
from adapters.simkit import control, wiring

log = logging.getLogger(__name__)

# a few cases for a first look: (payer, item, how the amount comes about)
DEMO_NOTICES: tuple[dict[str, object], ...] = (
    {"payer_name": "张三", "item": "REG_FEE", "property_kind": "RESIDENTIAL"},
    {"payer_name": "李四", "item": "LAND_TRANSFER", "base": "1280000.00", "rate": "0.015"},
    {"payer_name": "王五", "item": "REG_FEE", "property_kind": "NON_RESIDENTIAL"},
    {"payer_name": "赵六", "item": "REG_FEE", "property_kind": "RESIDENTIAL", "certificates": 2},
    {"payer_name": "钱七", "item": "LAND_TRANSFER", "base": "865432.10", "rate": "0.01"},
    {"payer_name": "孙八", "item": "REG_FEE", "property_kind": "PARKING"},
)


def create_simulator_app(
    keys: PlatformKeys,
    *,
    public_base_url: str,
    page_size: int = 100,
    seed: int | None = None,
    demo_notices: int = 0,
) -> web.Application:
    """The simulator as an aiohttp application; all state lives in ``app[STATE]``.

    ``page_size`` is how many lines one 5998 answer carries; ``demo_notices`` notices are issued
    at start (cycling through ``DEMO_NOTICES``) so that the demo has payment codes to look up."""
    if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
        raise ValueError("page_size must be a positive integer")
    app = web.Application(client_max_size=MAX_FRAME_BYTES, middlewares=[control.desk_errors])
    state = SimState(keys, public_base_url=public_base_url, page_size=page_size, seed=seed)
    today = datetime.now(BEIJING).date()
    for n in range(demo_notices):
        notice = issue_notice(state, dict(DEMO_NOTICES[n % len(DEMO_NOTICES)]), today)
        log.info("demo notice payment_code=%s payer=%s", notice.payment_code, notice.payer_name)
    return wiring.assemble(app, STATE, state, add_api_routes, add_control_routes)


def main(argv: list[str]) -> int:
    """``tongjiao sim fiscal --host H --port P --keys DIR [--demo-notices N] [--page-size N]``."""
    return wiring.run_keyed(
        "fiscal",
        argv,
        port=8095,
        key=STATE,
        keyset=(generate_keyset, load_platform_keys),
        make=_make,
        add_options=_options,
    )


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--demo-notices", type=int, default=0, help="notices issued at start")
    parser.add_argument("--page-size", type=int, default=100, help="lines per 5998 answer")


def _make(keys: PlatformKeys, args: argparse.Namespace, base_url: str) -> web.Application:
    return create_simulator_app(
        keys, public_base_url=base_url, page_size=args.page_size, demo_notices=args.demo_notices
    )


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
