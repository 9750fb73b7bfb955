"""What the acquirer simulators (WeChat Pay, Alipay, UnionPay, the bank's POS cloud) share besides
their notifications (``simkit.notify``): the API knobs every gateway honours, the app they are
served as, and ``tongjiao sim NAME`` with its ``--retry-scale`` and fee option.

Each simulator's ``SimState`` derives from ``Acquirer`` and keeps only its protocol: its keys,
its orders, how it signs and what it answers.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, NotRequired, ParamSpec, Protocol, TypedDict, TypeVar, Unpack

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from adapters import simkit
from adapters.simkit import wiring
from adapters.simkit.notify import Courier

K = TypeVar("K")


class Reach(TypedDict):
    """How every acquirer simulator is set up besides its keys and its fee: where it is
    reached, how fast its retry schedule runs (tests shrink hours to milliseconds), how long a
    merchant may take to answer a notification, and the seed of its random drops."""

    public_base_url: str
    retry_scale: NotRequired[float]
    notify_timeout_s: NotRequired[float]
    seed: NotRequired[int | None]


class Acquirer(Courier, Generic[K]):
    """The base of each acquirer simulator's state; one per application, never module-level."""

    _wrong_key: RSAPrivateKey | None = None

    def __init__(self, keys: K, **reach: Unpack[Reach]) -> None:
        super().__init__(
            public_base_url=reach["public_base_url"],
            retry_scale=reach.get("retry_scale", 1.0),
            notify_timeout_s=reach.get("notify_timeout_s", 5.0),
            seed=reach.get("seed"),
        )
        self.keys = keys

    @property
    def wrong_key(self) -> RSAPrivateKey:
        """A key the party never published, for the forged-signature knobs."""
        if self._wrong_key is None:
            self._wrong_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return self._wrong_key

    def fail_5xx(self) -> bool:
        """Whether this call is one of the next ``api_5xx`` that fail (it counts them down)."""
        return self.faults.spend("api_5xx")

    async def late_answer(self) -> None:
        """``pay_after_timeout``: the payment is done at the party, but its answer waits until
        the merchant's client has given up hearing it (once)."""
        if self.faults.spend("pay_after_timeout"):
            await self.pause(self.faults.pay_after_timeout_s)


S = TypeVar("S", bound=Acquirer[Any])


P = ParamSpec("P")


def acquirer_app(
    key: web.AppKey[S],
    make: Callable[P, S],
    *routes: Callable[[web.Application], None],
    middlewares: Iterable[Any] = (),
) -> Callable[P, web.Application]:
    """The simulator's ``create_simulator_app``: it takes what ``make`` (the ``SimState``)
    takes and builds the aiohttp application: the state under ``key``, the routes, shutdown
    waking the state's sleepers and a client session for its notifications."""

    def create(*args: P.args, **kwargs: P.kwargs) -> web.Application:
        state = make(*args, **kwargs)
        app = web.Application(middlewares=list(middlewares))
        app[key] = state
        for add in routes:
            add(app)
        simkit.wake_on_shutdown(app, state)
        simkit.add_notify_session(app, state)
        return app

    return create


class Keyset(Protocol):
    """An adapter's ``keys`` module, as far as its simulator needs it."""

    def generate_keyset(self, root: Path, /) -> None: ...

    def load_platform_keys(self, path: Path, /) -> Any: ...


@dataclass(frozen=True)
class FeeOption:
    """The simulator's fee option, in the form its party states its rates."""

    flag: str
    kind: Callable[[str], Any]
    default: str | int
    help: str
    check: Callable[[Any], object] | None = None

    @property
    def dest(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")


def acquirer_main(
    name: str,
    *,
    port: int,
    key: web.AppKey[S],
    keyset: Keyset,
    create: Callable[..., web.Application],
    fee: FeeOption,
    keys_help: str = simkit.KEYS_HELP,
) -> Callable[[list[str]], int]:
    """The simulator's ``main``: ``tongjiao sim NAME --host H --port P --keys DIR
    [--retry-scale X] [FEE OPTION]``. The keyset under DIR is completed, the party's side of it
    loaded, and ``create(keys, public_base_url=…, retry_scale=…, fee=…)`` served."""

    def options(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--retry-scale", type=float, default=1.0)
        parser.add_argument(fee.flag, type=fee.kind, default=fee.default, help=fee.help)

    def check(args: argparse.Namespace) -> None:
        if fee.check is not None:
            fee.check(getattr(args, fee.dest))

    def make(keys: Any, args: argparse.Namespace, base_url: str) -> web.Application:
        rate = {fee.dest: getattr(args, fee.dest)}
        return create(keys, public_base_url=base_url, retry_scale=args.retry_scale, **rate)

    def main(argv: list[str]) -> int:
        return wiring.run_keyed(
            name,
            argv,
            port=port,
            key=key,
            keyset=(keyset.generate_keyset, keyset.load_platform_keys),
            make=make,
            add_options=options,
            check=check,
            keys_help=keys_help,
        )

    return main
