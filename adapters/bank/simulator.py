"""A simulator of the partner bank's file exchange, with its books, statements and fault knobs.

``create_simulator_app`` serves the exchange our ``BankClient`` calls (``/inbox/``, ``/outbox/``;
sim_api.py), which needs our client certificate, and the unsigned ``/sim/`` desk (sim_control.py).
``main`` is ``tongjiao sim bank``: the exchange on a TLS listener (``--port``) and the desk on a
plain-HTTP one (``--control-port``), both from one application and one state.

``adapters.simkit.run`` serves one plain-HTTP site, so the bank has this small entry point of
its own; it keeps simkit's shape (options, logging, SIGINT/SIGTERM, the announced URLs).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from adapters.bank import pki
from adapters.bank.sim_api import MAX_FILE_BYTES, add_api_routes, bank_edge
from adapters.bank.sim_control import add_control_routes, seed_demo
from adapters.bank.sim_pull import add_pull
from adapters.bank.sim_signature import VerifyKey, parse_verify_key
from adapters.bank.sim_state import STATE, Clock, PullConfig, SimState, beijing_now
from adapters.bank.sim_xml import BankIdentity
from adapters.simkit import control, wiring
from clearing import listen

log = logging.getLogger(__name__)

OUR_CN = "tongjiao"
DEFAULT_BANK = BankIdentity()


def bank_cn(bank: BankIdentity = DEFAULT_BANK) -> str:
    """The CN of the certificate the bank presents when it pulls from us."""
    return f"bank:{bank.short}"


@dataclass(frozen=True)
class TlsFiles:
    """The simulator's TLS folder: one CA for everything, as in a test or demo set-up."""

    directory: Path

    @property
    def ca(self) -> Path:
        return pki.ca_files(self.directory).cert

    @property
    def server(self) -> pki.CertFiles:
        return pki.server_files(self.directory)

    def client(self, common_name: str) -> pki.CertFiles:
        return pki.client_files(self.directory, common_name)


def prepare_tls(directory: Path, hostnames: Sequence[str] = ("127.0.0.1", "localhost")) -> TlsFiles:
    """Generate what is missing: the CA, the server certificate, client certificates for us
    ("tongjiao") and for the bank (its pulls)."""
    written = pki.ensure_pki(
        directory,
        ca_name="tongjiao bank exchange test CA",
        hostnames=hostnames,
        clients=(OUR_CN, bank_cn()),
    )
    for path in written:
        log.info("generated %s", path.name)
    return TlsFiles(directory)


def create_simulator_app(
    *,
    verify_keys: Mapping[str, VerifyKey] | None = None,
    bank: BankIdentity = DEFAULT_BANK,
    client_cn: str = OUR_CN,
    pull: PullConfig | None = None,
    clock: Clock = beijing_now,
    demo: bool = False,
) -> web.Application:
    """The simulator as one aiohttp application; all state lives in ``app[STATE]``.

    Serve it on a TLS site (``pki.server_ssl_context``) for the exchange and on a plain site for
    the desk; the middleware keeps each on its own listener."""
    app = web.Application(
        middlewares=[bank_edge, control.desk_errors], client_max_size=MAX_FILE_BYTES + 64 * 1024
    )
    state = SimState(
        verify_keys=verify_keys or {}, bank=bank, client_cn=client_cn, pull=pull, clock=clock
    )
    if demo:
        seed_demo(state)
    return wiring.assemble(app, STATE, state, add_api_routes, add_control_routes, add_pull)


def main(argv: list[str]) -> int:
    """``tongjiao sim bank --tls-dir DIR [--port P] [--control-port C] [--verify-key ...]``."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        keys = {k.key_id: k for k in map(parse_verify_key, args.verify_key)}
    except (ValueError, OSError) as exc:
        parser.error(str(exc))
    if args.poll_seconds < 0:
        parser.error("--poll-seconds must not be negative")
    if args.poll_seconds and not args.our_base_url:
        parser.error("--poll-seconds needs --our-base-url")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    tls = prepare_tls(args.tls_dir, _hostnames(args.host))
    server = pki.server_ssl_context(tls.server.cert, tls.server.key, tls.ca)
    pull = None
    if args.our_base_url:
        mine = tls.client(bank_cn())
        pull = PullConfig(
            base_url=args.our_base_url,
            ssl_context=pki.client_ssl_context(mine.cert, mine.key, args.our_ca or tls.ca),
            poll_seconds=args.poll_seconds,
        )
    app = create_simulator_app(
        verify_keys=keys, client_cn=args.client_cn, pull=pull, demo=args.demo
    )
    asyncio.run(
        serve(app, host=args.host, port=args.port, control_port=args.control_port, tls=server)
    )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tongjiao sim bank")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8098, help="the TLS exchange (0: any)")
    parser.add_argument("--control-port", type=int, default=8099, help="plain-HTTP /sim/ desk")
    parser.add_argument(
        "--tls-dir",
        "--keys",
        dest="tls_dir",
        type=Path,
        required=True,
        help="ca.pem, server and client certificates; missing ones are generated",
    )
    parser.add_argument(
        "--verify-key",
        action="append",
        default=[],
        metavar="KEY_ID:ALG:PATH",
        help="one of our public keys (rsa-pss-sha256 | ed25519 PEM, sm2-sm3 hex); repeatable",
    )
    parser.add_argument("--our-base-url", default="", help="pull mode: GET {URL}/bankfiles/")
    parser.add_argument("--our-ca", type=Path, default=None, help="CA of our endpoint's cert")
    parser.add_argument("--poll-seconds", type=float, default=0.0, help="pull every N s (0: off)")
    parser.add_argument("--client-cn", default=OUR_CN, help="the CN the exchange accepts")
    parser.add_argument("--demo", action="store_true", help="open the demo accounts")
    return parser


def _hostnames(host: str) -> list[str]:
    names = ["127.0.0.1", "localhost"]
    return names if host in names or host in ("0.0.0.0", "::") else [host, *names]  # noqa: S104


def _listen(host: str, port: int) -> socket.socket:
    handed_down = listen.inherited(port)  # bound by the demo before it started us
    if handed_down is not None:
        return handed_down
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family)


async def serve(
    app: web.Application, *, host: str, port: int, control_port: int, tls: ssl.SSLContext
) -> None:
    """Serve the exchange over TLS on ``port`` and the desk on ``control_port`` until SIGINT or
    SIGTERM, announcing both (port 0 picks a free one)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner = web.AppRunner(app, shutdown_timeout=2.0)
    exchange, desk = _listen(host, port), _listen(host, control_port)
    try:
        await runner.setup()
        await web.SockSite(runner, exchange, ssl_context=tls).start()
        await web.SockSite(runner, desk).start()
        print(f"bank simulator listening on https://{host}:{exchange.getsockname()[1]}", flush=True)
        print(f"bank simulator control desk on http://{host}:{desk.getsockname()[1]}", flush=True)
        await stop.wait()
        log.info("bank simulator stopping")
    finally:
        await runner.cleanup()
        exchange.close()
        desk.close()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
