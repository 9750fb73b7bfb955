"""A WeChat Pay v3 simulator that speaks the real wire protocol, with fault knobs.

``create_simulator_app`` serves the endpoints ``WeChatPayClient`` calls (authenticated with the
merchant public key, answered with platform signatures): Native prepay, payment codes and reverse,
H5 and JSAPI with the 公众平台's web authorization (``sim_mobile``),
query, close, refunds and refund queries, trade bills; plus unsigned ``/sim/`` control endpoints
for the citizen's phone and the tests (``sim_control``, knobs in ``sim_faults``). ``main`` is
``tongjiao sim wechatpay``.
"""

from __future__ import annotations

import argparse

from aiohttp import web

from adapters import simkit
from adapters.wechatpay.keys import PLATFORM_DIR, PlatformKeys, generate_keyset, load_platform_keys
from adapters.wechatpay.sim_api import add_api_routes, signed_api
from adapters.wechatpay.sim_bill import add_bill_routes, parse_fee_rate
from adapters.wechatpay.sim_codepay import add_codepay_routes
from adapters.wechatpay.sim_control import add_control_routes
from adapters.wechatpay.sim_mobile import add_mobile_routes
from adapters.wechatpay.sim_refund import add_refund_routes
from adapters.wechatpay.sim_state import STATE, SimState


def create_simulator_app(
    keys: PlatformKeys,
    *,
    public_base_url: str,
    retry_scale: float = 1.0,
    notify_timeout_s: float = 5.0,
    seed: int | None = None,
    fee_rate: str = "0.00%",
) -> web.Application:
    """The simulator as an aiohttp application; all state lives in ``app[STATE]``.

    ``fee_rate`` is charged on every payment and shown in the bill; government merchants pay
    none, hence the default."""
    if retry_scale < 0:
        raise ValueError("retry_scale must not be negative")
    fee_ppm = parse_fee_rate(fee_rate)
    app = web.Application(middlewares=[signed_api])
    app[STATE] = SimState(
        keys,
        public_base_url=public_base_url,
        retry_scale=retry_scale,
        notify_timeout_s=notify_timeout_s,
        seed=seed,
        fee_ppm=fee_ppm,
    )
    add_api_routes(app)
    add_codepay_routes(app)
    add_refund_routes(app)
    add_bill_routes(app)
    add_control_routes(app)
    add_mobile_routes(app)
    simkit.wake_on_shutdown(app, app[STATE])
    simkit.add_notify_session(app, app[STATE])
    return app


def main(argv: list[str]) -> int:
    """``tongjiao sim wechatpay --host H --port P --keys DIR [--retry-scale X] [--fee-rate R]``."""
    return simkit.run(
        "wechatpay",
        argv,
        port=8091,
        add_options=_options,
        check=lambda args: parse_fee_rate(args.fee_rate),
        build=_build,
        rebase=simkit.rebase_via(STATE),
    )


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--retry-scale", type=float, default=1.0)
    parser.add_argument("--fee-rate", default="0.00%", help="fee on payments, like 0.60%%")


def _build(args: argparse.Namespace) -> simkit.MakeApp:
    generate_keyset(args.keys)
    keys = load_platform_keys(args.keys / PLATFORM_DIR)
    return lambda base_url: create_simulator_app(
        keys, public_base_url=base_url, retry_scale=args.retry_scale, fee_rate=args.fee_rate
    )


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
