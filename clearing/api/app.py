"""``create_app(settings, dsn)``: the service's aiohttp application, resources in cleanup_ctx."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web

from clearing import listen, wiring
from clearing.announce import Announcer
from clearing.api import (
    routes_admin,
    routes_desk,
    routes_display,
    routes_kiosk,
    routes_mobile,
    routes_notices,
    routes_notify,
    routes_ops,
    routes_orders,
    routes_pages,
    routes_receipts,
    routes_recon,
    routes_refunds,
    routes_reports,
    routes_sessions,
    routes_settlement,
    routes_shifts,
    routes_webhooks,
)
from clearing.api.events import EventHub
from clearing.api.keys import (
    ACQUIRERS,
    ANNOUNCER,
    AUTHORITIES,
    BATCHER,
    CIPHER,
    DSN,
    EVENTS,
    HASHER,
    HTTP,
    LIMITS,
    METRICS,
    NOTIFY_PARSERS,
    OPS_URL,
    PAY_LINK_KEY,
    POOL,
    RECEIPTS,
    REFUSALS,
    SETTINGS,
)
from clearing.api.refusal_log import RefusalLog
from clearing.api.web import request_context, security_headers
from clearing.config import Settings
from clearing.db.pool import create_pool
from clearing.domain.orders import Limits
from clearing.metrics import Metrics
from clearing.security import PiiCipher, load_or_create_key
from clearing.service import audit
from clearing.service.audit_witness import Witness
from clearing.service.audit_witness import load_or_create_key as load_witness_key
from clearing.service.batching import CaptureBatcher
from clearing.service.hashpool import HashPool
from clearing.service.receipts import load_receipt_signer
from clearing.workers.handlers import Handlers
from clearing.workers.legs import LegConfirmer
from clearing.workers.runner import TaskRunner
from clearing.workers.settlement import SettlementWork
from clearing.workers.webhooks import WebhookSender

log = logging.getLogger(__name__)


def pii_cipher(settings: Settings) -> PiiCipher:
    import base64

    if settings.pii_search_key is not None:
        search = base64.b64decode(settings.pii_search_key.get_secret_value())
    else:
        where = settings.pii_search_key_file or Path(settings.var_dir) / "keys" / "pii-search.key"
        search = load_or_create_key(where)
    if settings.pii_key is not None:
        return PiiCipher(base64.b64decode(settings.pii_key.get_secret_value()), search_key=search)
    path = settings.pii_key_file or Path(settings.var_dir) / "keys" / "pii.key"
    return PiiCipher(load_or_create_key(path), search_key=search)


async def _database(app: web.Application) -> AsyncIterator[None]:
    s = app[SETTINGS]
    app[POOL] = await create_pool(
        app[DSN],
        min_size=s.db_pool_min,
        max_size=s.db_pool_max,
        statement_cache_size=s.db_statement_cache_size,
    )
    yield
    await app[POOL].close()


async def _hasher(app: web.Application) -> AsyncIterator[None]:
    s = app[SETTINGS]
    app[HASHER] = HashPool(s.password_hash_workers, s.password_hash_queue)
    yield
    app[HASHER].close()


async def _outside(app: web.Application) -> AsyncIterator[None]:
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
    app[HTTP] = session
    app[ACQUIRERS], app[NOTIFY_PARSERS] = wiring.acquirers(
        app[SETTINGS], session, app[METRICS], app[POOL]
    )
    app[AUTHORITIES] = wiring.authorities(app[SETTINGS], session)
    yield
    await session.close()


async def _events(app: web.Application) -> AsyncIterator[None]:
    listen = app[SETTINGS].listen_database_url
    hub = EventHub(listen.get_secret_value() if listen is not None else app[DSN])
    app[EVENTS] = hub
    announcer = Announcer(app[POOL])
    app[ANNOUNCER] = announcer
    app[BATCHER] = CaptureBatcher(app[POOL], announcer, metrics=app[METRICS])
    await hub.start()
    await announcer.start()
    yield
    await app[BATCHER].close()
    await announcer.stop()
    await hub.stop()


async def _sealer(pool: object, stop: asyncio.Event, witness: Witness) -> None:
    from asyncpg import Pool

    assert isinstance(pool, Pool)
    while not stop.is_set():
        try:
            async with pool.acquire() as conn:
                n = await audit.seal(conn)
                # what is sealed is witnessed outside the database (audit_witness.py)
                w = await witness.record(conn)
            if n or w:
                log.debug("sealed %d audit rows, witnessed %d", n, w)
        except Exception as exc:
            log.warning("audit sealing or witnessing failed: %r", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


async def _bankfiles(app: web.Application) -> AsyncIterator[None]:
    """The mutual-TLS listener where banks fetch their files, when a port is configured."""
    s = app[SETTINGS]
    if s.bankfiles_port == 0:
        yield
        return
    if s.bank_tls_dir is None:
        raise ValueError("TONGJIAO_BANKFILES_PORT needs TONGJIAO_BANK_TLS_DIR (ca.pem, server.pem)")
    from adapters.bank import pki
    from clearing.api.bankfiles import create_bankfiles_app
    from clearing.service.settlement import files_root

    server = pki.server_files(s.bank_tls_dir)
    context = pki.server_ssl_context(server.cert, server.key, pki.ca_files(s.bank_tls_dir).cert)
    runner = web.AppRunner(create_bankfiles_app(app[POOL], files_root(s.var_dir, s.settlement_dir)))
    await runner.setup()
    await listen.site(runner, s.host, s.bankfiles_port, ssl_context=context).start()
    log.info("bank file endpoint on https://%s:%d/bankfiles/", s.host, s.bankfiles_port)
    yield
    await runner.cleanup()


async def _ops_listener(app: web.Application) -> AsyncIterator[None]:
    """/metrics (and health) for the operators, on a listener of their own."""
    s = app[SETTINGS]
    if s.ops_port is None:
        log.warning("no operators' listener (TONGJIAO_OPS_PORT): metrics are not served")
        yield
        return
    ops = web.Application()
    ops[METRICS] = app[METRICS]
    ops[POOL] = app[POOL]
    ops[SETTINGS] = s  # the certificate and key folders whose expiry /metrics reports
    ops.add_routes(routes_ops.ops_routes)
    runner = web.AppRunner(ops, access_log=None)
    await runner.setup()
    # bound here so that port 0 (any free port) is known before anyone asks, unless the demo
    # bound it before starting us and handed it down (clearing.listen)
    sock = listen.inherited(s.ops_port) or socket.create_server(
        (s.ops_host, s.ops_port), reuse_port=False
    )
    port = int(sock.getsockname()[1])
    await web.SockSite(runner, sock).start()
    app[OPS_URL] = f"http://{s.ops_host}:{port}"
    log.info("operators' listener (metrics, health) on %s", app[OPS_URL])
    yield
    await runner.cleanup()


async def _workers(app: web.Application) -> AsyncIterator[None]:
    s = app[SETTINGS]
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    if s.workers > 0:
        from datetime import timedelta

        handlers = Handlers(
            app[POOL],
            app[ACQUIRERS],
            app[METRICS],
            app[ANNOUNCER],
            poll_first=timedelta(seconds=s.poll_first_s),
            poll_later=timedelta(seconds=s.poll_later_s),
            poll_code=timedelta(seconds=s.code_poll_s),
        )
        table = dict(handlers.table())
        work = SettlementWork(
            app[POOL],
            wiring.settlement_setup(s),
            bank=wiring.bank_client(s, app[HTTP]),
            push=s.settlement_delivery == "push",
            acquirer_accounts=s.settlement_acquirer_accounts,
        )
        table.update(work.table())
        if s.settlement_cutoff_check_s > 0 or work.bank is not None:
            clock = work.run_clock(stop, cutoff_s=s.settlement_cutoff_check_s, poll_s=s.bank_poll_s)
            tasks.append(asyncio.create_task(clock, name="settlement-clock"))
        if s.recon_daily_at is not None:
            from datetime import time as clock_time

            from reconciliation.runs import nightly

            hour, minute = (int(x) for x in s.recon_daily_at.split(":"))
            night = nightly(
                app[POOL],
                lambda: wiring.recon_sources(s, app[HTTP], app[METRICS], app[POOL]),
                clock_time(hour, minute),
                stop,
            )
            tasks.append(asyncio.create_task(night, name="nightly-reconciliation"))
        if app[AUTHORITIES]:
            # without any authority configured, legs wait in the queue (and in the metrics)
            table["leg.confirm"] = LegConfirmer(app[POOL], app[AUTHORITIES], app[ANNOUNCER])
        # events to the case system (clearing.workers.webhooks); an attempt ends inside the lease
        table["webhook.deliver"] = WebhookSender(
            app[POOL],
            app[HTTP],
            app[CIPHER],
            timeout_s=min(s.webhook_timeout_s, s.task_lease_s / 2),
            schedule_scale=s.webhook_schedule_scale,
        )
        me = f"{socket.gethostname()}:{os.getpid()}"
        for i in range(s.workers):
            runner = TaskRunner(
                app[POOL],
                table,
                app[METRICS],
                worker_id=f"{me}:{i}",
                lease=timedelta(seconds=s.task_lease_s),
            )
            tasks.append(asyncio.create_task(runner.run_forever(stop), name=f"worker-{i}"))
        key_file, witness_file, _ = s.audit_paths()
        witness = Witness(witness_file, load_witness_key(key_file))
        tasks.append(asyncio.create_task(_sealer(app[POOL], stop, witness), name="audit-sealer"))
    yield
    stop.set()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def create_app(settings: Settings, dsn: str) -> web.Application:
    app = web.Application(middlewares=[request_context], client_max_size=256 * 1024)
    app[SETTINGS] = settings
    app[DSN] = dsn
    app[METRICS] = Metrics()
    app[REFUSALS] = RefusalLog(logging.getLogger("clearing.api.routes_notify"))
    app[CIPHER] = pii_cipher(settings)
    app[RECEIPTS] = load_receipt_signer(
        settings.receipt_key_file or Path(settings.var_dir) / "keys" / "receipt-ed25519.pem"
    )
    # the notices' pay links: made on first start, one key for notices, the phone and the kiosk
    app[PAY_LINK_KEY] = load_or_create_key(settings.pay_link_key_path())
    app[LIMITS] = Limits(
        max_lines=settings.max_lines_per_order,
        max_line_fen=settings.max_line_fen,
        max_order_fen=settings.max_order_fen,
    )
    app.cleanup_ctx.extend(
        [_database, _hasher, _outside, _events, _bankfiles, _ops_listener, _workers]
    )
    app.on_response_prepare.append(security_headers)
    app.add_routes(routes_ops.routes)
    app.add_routes(routes_sessions.routes)
    app.add_routes(routes_notify.routes)
    # before routes_orders: POST /api/v1/orders/search must not read as an order number
    app.add_routes(routes_shifts.routes)
    app.add_routes(routes_orders.routes)
    app.add_routes(routes_refunds.routes)
    app.add_routes(routes_admin.routes)
    app.add_routes(routes_webhooks.routes)
    app.add_routes(routes_pages.routes)
    app.add_routes(routes_receipts.routes)
    app.add_routes(routes_desk.routes)
    app.add_routes(routes_settlement.routes)
    app.add_routes(routes_reports.routes)
    app.add_routes(routes_recon.routes)
    routes_display.setup(app)
    routes_kiosk.setup(app)
    routes_notices.setup(app)
    routes_mobile.setup(app)  # the citizen's own phone: /m/{token}, /api/m/{token}
    return app
