"""The ``tongjiao`` command.

tongjiao migrate                      apply pending migrations and changed functions/views
tongjiao serve [--host H --port P]    the API, notify endpoints, window screen and workers
tongjiao users add ...                create a staff user or an API client
tongjiao audit verify | seal          check (or extend) the hash-chained audit log
tongjiao seed demo                    the demo catalogue (beneficiaries, fee items)
tongjiao sim wechatpay ...            the WeChat Pay simulator
tongjiao demo [--orders N]            everything at once, for a first look
tongjiao db url                       where the database is (starts the embedded one)
tongjiao pii backfill-search          fill the ID-number search hash of orders made before it
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import asyncpg

from clearing import logs
from clearing.config import Settings
from clearing.db import migrate as migrations
from clearing.db.pool import init_connection, resolve_dsn
from clearing.errors import ClearingError

# outside parties we ship a simulator of: ``tongjiao sim NAME`` runs adapters.NAME.simulator.main
SIMULATORS = (
    "wechatpay",
    "alipay",
    "unionpay",
    "pos",
    "tax",
    "fiscal",
    "fund",
    "bank",
    "casesys",
    "sms",
)


async def _connect(settings: Settings) -> asyncpg.Connection:
    conn = await asyncpg.connect(await resolve_dsn(settings))
    await init_connection(conn)
    return conn


async def _with_conn(
    settings: Settings, work: Callable[[asyncpg.Connection], Awaitable[int]]
) -> int:
    conn = await _connect(settings)
    try:
        return await work(conn)
    finally:
        await conn.close()


async def cmd_migrate(settings: Settings, _args: argparse.Namespace) -> int:
    async def work(conn: asyncpg.Connection) -> int:
        # numbered migrations applied, then functions and views (re-)applied, or that nothing was
        for line in (await migrations.upgrade(conn)).lines():
            print(line)
        return 0

    return await _with_conn(settings, work)


async def cmd_users_add(settings: Settings, args: argparse.Namespace) -> int:
    from clearing.service import principals

    password = None
    if not args.client:
        password = args.password or getpass.getpass(f"password for {args.username}: ")

    async def work(conn: asyncpg.Connection) -> int:
        p, token = await principals.add(
            conn,
            kind="client" if args.client else "staff",
            username=args.username,
            display_name=args.name or args.username,
            role=args.role,
            office=args.office,
            window=args.window,
            password=password,
            must_change_password=not args.no_force_change,
        )
        print(
            f"created {p.kind} {p.username} (role {p.role}, office {p.office or '-'},"
            f" window {p.window or '-'})"
        )
        if p.must_change_password:
            print("the password is temporary: it must be changed at first sign-in")
        if token:
            print(f"token (shown once, store it now): {token}")
        return 0

    return await _with_conn(settings, work)


async def cmd_audit(settings: Settings, args: argparse.Namespace) -> int:
    from clearing.service import audit, audit_witness

    key_file, witness_file, retired = settings.audit_paths()

    async def work(conn: asyncpg.Connection) -> int:
        if args.action == "seal":
            total = 0
            while n := await audit.seal(conn):
                total += n
            key = audit_witness.load_or_create_key(key_file)
            witnessed = await audit_witness.Witness(witness_file, key).record(conn, 1_000_000)
            print(f"sealed {total} rows; {witnessed} rows witnessed in {witness_file}")
            return 0
        view = None
        if not args.no_witness:
            if witness_file.exists():
                view = audit_witness.read(
                    witness_file, audit_witness.verifying_keys(key_file, retired)
                )
                print(f"witness {witness_file}: {view.checkpoints} signed checkpoints")
            elif await conn.fetchval("SELECT count(*) FROM audit_log WHERE seq IS NOT NULL"):
                missing = (
                    f"no witness file at {witness_file}: a chain cut short or rewritten cannot"
                    " be told apart (--no-witness checks the chain alone)"
                )
                view = audit_witness.WitnessView(problems=[missing])
        report = await audit.verify(conn, witness=view)
        for problem in report.problems:
            print(f"PROBLEM: {problem}")
        print(
            f"{'OK' if report.ok else 'FAILED'}: {report.sealed} sealed rows, "
            f"{report.unsealed} not yet sealed, head seq {report.head_seq} hash {report.head_hash}"
        )
        return 0 if report.ok else 1

    return await _with_conn(settings, work)


async def cmd_seed(settings: Settings, _args: argparse.Namespace) -> int:
    from clearing.service import catalogue

    async def work(conn: asyncpg.Connection) -> int:
        await catalogue.seed_demo(conn)
        print("demo catalogue seeded")
        return 0

    return await _with_conn(settings, work)


async def cmd_pii(settings: Settings, _args: argparse.Namespace) -> int:
    """Orders made before the search hash existed are not findable by ID number until this
    has run; it decrypts each number in memory with the PII key and prints only a count."""
    from clearing.api.app import pii_cipher
    from clearing.service.search import backfill_search_hashes

    cipher = pii_cipher(settings)

    async def work(conn: asyncpg.Connection) -> int:
        n = await backfill_search_hashes(conn, cipher)
        print(f"search hash filled for {n} orders")
        return 0

    return await _with_conn(settings, work)


async def _emit_csv(text: str, out: str | None, counts: dict[str, int]) -> None:
    """The CSV to ``out`` (whose path is then printed) or to standard output; counts to stderr."""
    if out:
        from pathlib import Path

        # newline="" keeps the CSV's own CRLF line ends
        await asyncio.to_thread(Path(out).write_text, text, "utf-8", None, "")
        print(out)
    else:
        sys.stdout.write(text)
    for key, value in sorted(counts.items()):
        print(f"{key} {value}", file=sys.stderr)


async def cmd_bills(settings: Settings, args: argparse.Namespace) -> int:
    """Download one channel's daily bill and print it as normalized records (CSV for Excel)."""
    from datetime import date

    import aiohttp

    from clearing import wiring
    from clearing.metrics import Metrics
    from reconciliation.bills import to_csv, totals

    day = date.fromisoformat(args.date)
    async with aiohttp.ClientSession() as session:
        channels, _ = wiring.acquirers(settings, session, Metrics())
        if args.channel not in channels:
            print(f"channel {args.channel} is not configured", file=sys.stderr)
            return 2
        print(f"downloading the {args.channel} bill for {day} ...", file=sys.stderr)
        records = await channels[args.channel].daily_bill(day)
    await _emit_csv(to_csv(records), args.out, totals(records))
    return 0


async def cmd_confirmations(settings: Settings, args: argparse.Namespace) -> int:
    """Download one authority's list of legs it confirmed on a day, as CSV for Excel."""
    from datetime import date

    import aiohttp

    from clearing import wiring
    from reconciliation.confirmations import to_csv, totals

    day = date.fromisoformat(args.date)
    async with aiohttp.ClientSession() as session:
        authorities = wiring.authorities(settings, session)
        if args.authority not in authorities:
            print(f"authority {args.authority} is not configured", file=sys.stderr)
            return 2
        print(f"downloading the {args.authority} confirmations for {day} ...", file=sys.stderr)
        found = await authorities[args.authority].daily_confirmations(day)
    await _emit_csv(to_csv(args.authority, found), args.out, totals(found))
    return 0


async def cmd_settle(settings: Settings, args: argparse.Namespace) -> int:
    """Run a cut-off by hand: gather what is due, write and sign the batch's files, print each
    file's path on its own line (progress goes to standard error)."""
    from datetime import UTC, datetime, timedelta, timezone

    from clearing import wiring
    from clearing.domain.money import format_yuan
    from clearing.service import settlement

    setup = wiring.settlement_setup(settings)

    def progress(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    async def work(conn: asyncpg.Connection) -> int:
        # a batch whose files a crash interrupted is finished first, byte for byte the same
        pending = [
            r["id"]
            for r in await conn.fetch(
                "SELECT id FROM settlement_batches WHERE bank = $1 AND state = 'CREATED'"
                " ORDER BY id",
                setup.bank,
            )
        ]
        now = datetime.now(UTC)
        # cut-off times are Beijing times; so is what the operator reads
        beijing = now.astimezone(timezone(timedelta(hours=8)))
        progress(f"cut-off for {setup.bank} at {beijing.isoformat(timespec='seconds')} ...")
        batch_id = await settlement.cutoff(
            conn, bank=setup.bank, now=now, every_account=args.cutoff == "now", actor="cli"
        )
        if batch_id is None:
            progress("nothing due: every paid line is already in a batch (or held)")
        else:
            row = await conn.fetchrow(
                "SELECT msg_id, instruction_count, line_count, total_fen"
                " FROM settlement_batches WHERE id = $1",
                batch_id,
            )
            assert row is not None
            progress(
                f"batch {row['msg_id']}: {row['line_count']} lines in"
                f" {row['instruction_count']} instructions, {format_yuan(row['total_fen'])}"
            )
            pending.append(batch_id)
        for b in pending:
            for path in await settlement.write_files(conn, b, setup, progress):
                print(path, flush=True)
        return 0

    return await _with_conn(settings, work)


async def cmd_reconcile(settings: Settings, args: argparse.Namespace) -> int:
    """Reconcile one business day; progress on standard error, the run as JSON on standard out."""
    import dataclasses
    import json
    from datetime import date, datetime, timedelta, timezone

    import aiohttp

    from clearing import wiring
    from clearing.db.pool import create_pool
    from clearing.metrics import Metrics
    from reconciliation.runs import reconcile

    today = datetime.now(timezone(timedelta(hours=8))).date()
    named = {"today": today, "yesterday": today - timedelta(days=1)}
    try:
        day = named.get(args.date) or date.fromisoformat(args.date)
    except ValueError:
        print(f"error: --date {args.date!r} is not YYYY-MM-DD, today or yesterday", file=sys.stderr)
        return 2
    pool = await create_pool(await resolve_dsn(settings), min_size=1, max_size=4)
    try:
        async with aiohttp.ClientSession() as session:
            sources, options = wiring.recon_sources(settings, session, Metrics(), pool)
            if args.no_fetch:
                options = dataclasses.replace(options, fetch=False, recover=False)
            run = await reconcile(
                pool,
                day,
                sources,
                options,
                actor="cli",
                progress=lambda text: print(text, file=sys.stderr, flush=True),
            )
    finally:
        await pool.close()
    print(json.dumps(run, default=str, ensure_ascii=False))
    return 0


async def cmd_db_url(settings: Settings, _args: argparse.Namespace) -> int:
    print(await resolve_dsn(settings))
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvloop
    from aiohttp import web

    from clearing import listen
    from clearing.api.app import create_app

    if args.host:
        settings.host = args.host
    if args.port is not None:
        settings.port = args.port
    if args.workers is not None:
        settings.workers = args.workers
    dsn = asyncio.run(resolve_dsn(settings))
    if args.migrate:
        asyncio.run(_with_conn(settings, _migrate_quiet))
    app = create_app(settings, dsn)
    print(f"tongjiao serving on http://{settings.host}:{settings.port}", flush=True)
    # the demo binds the port before starting us and hands the socket down (clearing.listen)
    sock = listen.inherited(settings.port)
    web.run_app(
        app,
        # uvloop: the event loop on libuv, the well-kept drop-in for asyncio's own; it halves
        # what the loop itself costs per request (decision: capture cost)
        loop=uvloop.new_event_loop(),
        host=None if sock else settings.host,
        port=None if sock else settings.port,
        sock=sock,
        print=None,
        access_log=None,
        shutdown_timeout=5,
    )
    return 0


async def _migrate_quiet(conn: asyncpg.Connection) -> int:
    await migrations.migrate(conn)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tongjiao", description="税费通缴 clearing service")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply pending database migrations")
    s = sub.add_parser("serve", help="run the service")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--workers", type=int, help="task workers in this process (0: none)")
    s.add_argument("--migrate", action="store_true", help="apply migrations before serving")
    u = sub.add_parser("users", help="staff users and API clients")
    usub = u.add_subparsers(dest="action", required=True)
    ua = usub.add_parser("add", help="create a user (or --client for an API client)")
    ua.add_argument("--username", required=True)
    ua.add_argument("--name", help="display name, e.g. 张三")
    ua.add_argument(
        "--role", required=True, choices=["clerk", "supervisor", "finance", "admin", "auditor"]
    )
    ua.add_argument("--office")
    ua.add_argument("--window", help="the window a clerk works at (a window of --office)")
    ua.add_argument("--password", help="asked for when not given")
    ua.add_argument(
        "--no-force-change",
        action="store_true",
        help="the password is final: no change forced at first sign-in (development, demos)",
    )
    ua.add_argument("--client", action="store_true", help="an API client with a bearer token")
    a = sub.add_parser("audit", help="the hash-chained audit log")
    a.add_argument("action", choices=["verify", "seal"])
    a.add_argument(
        "--no-witness",
        action="store_true",
        help="check the chain in the database alone, without the witness file",
    )
    sd = sub.add_parser("seed", help="seed data")
    sd.add_argument("what", choices=["demo"])
    b = sub.add_parser("bills", help="acquirers' daily bills")
    bsub = b.add_subparsers(dest="action", required=True)
    bf = bsub.add_parser("fetch", help="download a channel's bill for a day, as CSV")
    bf.add_argument("--channel", required=True)
    bf.add_argument("--date", required=True, help="YYYY-MM-DD")
    bf.add_argument("--out", help="write the CSV here instead of standard output")
    c = sub.add_parser("confirmations", help="authorities' daily confirmation lists")
    csub = c.add_subparsers(dest="action", required=True)
    cf = csub.add_parser("fetch", help="download what an authority confirmed on a day, as CSV")
    cf.add_argument("--authority", required=True, choices=["tax", "fiscal", "fund"])
    cf.add_argument("--date", required=True, help="YYYY-MM-DD")
    cf.add_argument("--out", help="write the CSV here instead of standard output")
    st = sub.add_parser("statements", help="bank statements (camt.052/053/054)")
    st.add_argument(
        "action", choices=["check"], help="check FILE…: parse without importing, one JSON per line"
    )
    se = sub.add_parser("settle", help="run a settlement cut-off and write the bank files")
    se.add_argument(
        "--cutoff",
        choices=["now", "scheduled"],
        required=True,
        help="now: every account, whatever its schedule, up to now; scheduled: each daily account"
        " once per business day, at its cut-off (Beijing time), with the lines paid before it,"
        " and real-time accounts up to now",
    )
    rc = sub.add_parser("reconcile", help="reconcile one business day (bills, statements, lists)")
    rc.add_argument("--date", required=True, help="YYYY-MM-DD, today or yesterday (Beijing)")
    rc.add_argument(
        "--no-fetch", action="store_true", help="match what is staged; fetch and recover nothing"
    )
    pi = sub.add_parser("pii", help="payers' personal data")
    pi.add_argument(
        "action", choices=["backfill-search"], help="fill the ID-number search hash of old orders"
    )
    d = sub.add_parser("db", help="database location")
    d.add_argument("what", choices=["url"])
    sm = sub.add_parser("sim", help="run a simulator of an outside party", add_help=False)
    sm.add_argument("name", choices=SIMULATORS)
    sm.add_argument("rest", nargs=argparse.REMAINDER)
    dm = sub.add_parser("demo", help="start everything with demo data", add_help=False)
    dm.add_argument("rest", nargs=argparse.REMAINDER)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # these two own their options; argparse would swallow them
    if argv[:1] == ["sim"] and len(argv) > 1 and argv[1] in SIMULATORS:
        import importlib

        sim_main = importlib.import_module(f"adapters.{argv[1]}.simulator").main
        return int(sim_main(argv[2:]))
    if argv[:2] == ["statements", "check"]:
        from reconciliation.statements_cli import main as check_main

        return check_main(argv[2:])
    if argv[:1] == ["demo"]:
        from clearing.demo import main as demo_main

        return demo_main(argv[1:])
    args = parser().parse_args(argv)
    try:
        settings = Settings()
    except Exception as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    logs.setup(settings.log_level, settings.log_json)
    commands: dict[str, Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]] = {
        "migrate": cmd_migrate,
        "audit": cmd_audit,
        "seed": cmd_seed,
        "db": cmd_db_url,
        "pii": cmd_pii,
        "users": cmd_users_add,
        "bills": cmd_bills,
        "confirmations": cmd_confirmations,
        "settle": cmd_settle,
        "reconcile": cmd_reconcile,
    }
    try:
        if args.command == "serve":
            return cmd_serve(settings, args)
        return asyncio.run(commands[args.command](settings, args))
    except (ClearingError, migrations.MigrationError) as exc:
        code = getattr(exc, "code", "MIGRATION")
        print(f"error [{code}]: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
