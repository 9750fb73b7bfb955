"""A simulator of Tencent Cloud SMS that speaks ``SendSms`` 2021-01-11, with fault knobs.

``create_simulator_app`` serves ``POST /`` (TC3-HMAC-SHA256 checked against the account's own
SecretId/SecretKey, the approved sign and templates enforced, sim_api.py) and the unsigned
``/sim/`` desk (the outbox of delivered messages, faults; sim_control.py). ``main`` is
``tongjiao sim sms``.
"""

from __future__ import annotations

from aiohttp import web

from adapters.simkit import wiring
from adapters.sms.keys import SmsAccount, generate_keyset, load_account
from adapters.sms.sim_api import add_api_routes
from adapters.sms.sim_control import add_control_routes
from adapters.sms.sim_state import STATE, SimState


def create_simulator_app(account: SmsAccount, *, public_base_url: str) -> web.Application:
    """The simulator as an aiohttp application; all state lives in ``app[STATE]``."""
    state = SimState(account, public_base_url=public_base_url)
    return wiring.assemble(web.Application(), STATE, state, add_api_routes, add_control_routes)


def main(argv: list[str]) -> int:
    """``tongjiao sim sms --host H --port P --keys DIR``."""
    return wiring.run_keyed(
        "sms",
        argv,
        port=8100,
        key=STATE,
        keyset=(generate_keyset, load_account),
        make=lambda account, _, base_url: create_simulator_app(account, public_base_url=base_url),
    )


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
