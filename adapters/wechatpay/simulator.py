"""A WeChat Pay v3 simulator that speaks the real wire protocol, with fault knobs.

``create_simulator_app`` serves the endpoints ``WeChatPayClient`` calls (authenticated with the
merchant public key, answered with platform signatures): Native prepay, payment codes and reverse,
H5 and JSAPI with the 公众平台's web authorization (``sim_mobile``),
query, close, refunds and refund queries, trade bills; plus unsigned ``/sim/`` control endpoints
for the citizen's phone and the tests (``sim_control``, knobs in ``sim_faults``). ``main`` is
``tongjiao sim wechatpay``.
"""

from __future__ import annotations

from typing import Unpack

from adapters.simkit.acquirer import FeeOption, Reach, acquirer_app, acquirer_main
from adapters.wechatpay import keys
from adapters.wechatpay.sim_api import add_api_routes, signed_api
from adapters.wechatpay.sim_bill import add_bill_routes, parse_fee_rate
from adapters.wechatpay.sim_codepay import add_codepay_routes
from adapters.wechatpay.sim_control import add_control_routes
from adapters.wechatpay.sim_mobile import add_mobile_routes
from adapters.wechatpay.sim_refund import add_refund_routes
from adapters.wechatpay.sim_state import STATE, SimState


def _state(
    platform: keys.PlatformKeys, *, fee_rate: str = "0.00%", **reach: Unpack[Reach]
) -> SimState:
    """``fee_rate`` is charged on every payment and shown in the bill; government merchants pay
    none, hence the default."""
    return SimState(platform, fee_ppm=parse_fee_rate(fee_rate), **reach)


create_simulator_app = acquirer_app(
    STATE,
    _state,
    add_api_routes,
    add_codepay_routes,
    add_refund_routes,
    add_bill_routes,
    add_control_routes,
    add_mobile_routes,
    middlewares=[signed_api],
)
"""The simulator as an aiohttp application; all state lives in ``app[STATE]``."""

main = acquirer_main(
    "wechatpay",
    port=8091,
    key=STATE,
    keyset=keys,
    create=create_simulator_app,
    fee=FeeOption("--fee-rate", str, "0.00%", "fee on payments, like 0.60%%", parse_fee_rate),
)
"""``tongjiao sim wechatpay --host H --port P --keys DIR [--retry-scale X] [--fee-rate R]``."""

if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
