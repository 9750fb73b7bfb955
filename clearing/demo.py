"""``tongjiao demo``: PostgreSQL, the simulators and the service, with demo data, for a first look.

Data lives under ``var/`` and is kept between runs. Ctrl-C stops everything cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp

from clearing import demo_casesys, listen
from clearing.config import Settings
from clearing.db.pool import embedded_for, resolve_dsn

# channel, the setting that says where its gateway is, and the gateway's path on the simulator
CHANNELS = [
    ("wechatpay", "WECHATPAY_BASE_URL", ""),
    ("alipay", "ALIPAY_GATEWAY_URL", "/gateway.do"),
    ("unionpay", "UNIONPAY_BASE_URL", ""),
    ("pos", "POS_BASE_URL", ""),
    # the authorities that say what a case owes and confirm each paid leg
    ("tax", "TAX_BASE_URL", ""),
    ("fiscal", "FISCAL_BASE_URL", ""),
    ("fund", "FUND_BASE_URL", ""),
]
TERMINALS = ("T0000001", "T0000002")  # at the hall's windows W01 and W02
# at the bank outlet's window (同城通办, clearing.service.catalogue.DEMO_WINDOWS)
OUTLET_TERMINAL = "T0000003"
POS_TERMINALS = (*TERMINALS, OUTLET_TERMINAL)

DEMO_USERS = [
    # username, name, role, office, password, window (clearing.service.catalogue.DEMO_WINDOWS)
    ("admin", "系统管理员", "admin", None, "admin-demo-pass", None),
    ("clerk1", "窗口一 张敏", "clerk", "HALL1", "clerk1-demo-pass", "W01"),
    ("clerk2", "窗口二 李强", "clerk", "HALL1", "clerk2-demo-pass", "W02"),
    ("super1", "值班主任 王芳", "supervisor", "HALL1", "super1-demo-pass", None),
    # 同城通办: a clerk of the outlet in the bank branch, confined to that outlet's orders
    ("outlet1", "建行网点 陈晨", "clerk", "CCB01", "outlet1-demo-pass", "W01"),
    ("finance1", "财务 赵静", "finance", None, "finance1-demo-pass", None),
    ("auditor1", "审计 孙立", "auditor", None, "auditor1-demo-pass", None),
]

# valid resident ID numbers (check digits correct) for demo payers; fictitious people
DEMO_PAYERS = [
    ("张三", "11010519491231002X"),
    ("李四", "440524188001010014"),
    ("王五", "320102197506153018"),
    ("赵六", "510107198811224523"),
    ("示范置业有限公司", "91350100M000100Y43"),
]


def generate_keys(name: str, keys: Path) -> None:
    """The keys of an outside party's simulator; the card terminals' cloud knows every terminal
    of the demo, the outlet's too."""
    module = importlib.import_module(f"adapters.{name}.keys")
    if name == "pos":
        module.generate_keyset(keys, POS_TERMINALS)
    else:
        module.generate_keyset(keys)


def _bind(preferred: int) -> socket.socket:
    """A port of our own, bound now: the one asked for, or any free one when it is taken (and
    for 0). The child serves this very socket (clearing.listen), so no other process can take
    the port between our choosing it and the child listening on it."""
    return listen.bind("127.0.0.1", preferred)


def _url(sock: socket.socket, scheme: str = "http") -> str:
    return f"{scheme}://127.0.0.1:{sock.getsockname()[1]}"


def _spawn(
    args: list[str], env: dict[str, str], log_path: Path, socks: Sequence[socket.socket] = ()
) -> subprocess.Popen[bytes]:
    """Start ``tongjiao ARGS``, handing it ``socks`` (bound and listening); our copies of them are
    closed once the child holds its own."""
    log = log_path.open("ab")
    child_env = {**env, listen.ENV: listen.env_for(list(socks))}
    try:
        return subprocess.Popen(  # noqa: S603 - our own console script
            [sys.executable, "-m", "clearing", *args],
            env=child_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            pass_fds=[s.fileno() for s in socks],
        )
    finally:
        for sock in socks:
            sock.close()


async def _wait_http(
    url: str, proc: subprocess.Popen[bytes], what: str, within_s: float = 60
) -> None:
    deadline = time.monotonic() + within_s
    async with aiohttp.ClientSession() as s:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{what} exited with code {proc.returncode}; see var/log/")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with s.get(url) as r:
                    if r.status < 500:
                        return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{what} did not come up at {url} within {within_s:.0f}s")


async def _prepare(settings: Settings) -> None:
    import asyncpg

    from clearing.db.migrate import upgrade
    from clearing.db.pool import init_connection
    from clearing.service import catalogue, principals

    conn = await asyncpg.connect(await resolve_dsn(settings))
    await init_connection(conn)
    try:
        # what `tongjiao migrate` says: numbered migrations, then the function and view files
        for line in (await upgrade(conn)).lines():
            print(f"  {line}")
        await catalogue.seed_demo(conn)
        for username, name, role, office, password, window in DEMO_USERS:
            exists = await conn.fetchval("SELECT 1 FROM principals WHERE username = $1", username)
            if exists:
                # a demo database from before windows were assigned: give the clerk theirs
                await conn.execute(
                    "UPDATE principals SET window_code = $2 WHERE username = $1"
                    " AND window_code IS NULL",
                    username,
                    window,
                )
            else:
                await principals.add(
                    conn,
                    kind="staff",
                    username=username,
                    display_name=name,
                    role=role,
                    office=office,
                    password=password,
                    window=window,
                    actor="system:demo",
                    # demo passwords are printed on screen: no forced change, no rules
                    check_rules=False,
                )
    finally:
        await conn.close()


class PaymentSkipped(Exception):
    """A demo payment that did not go through; the demo says why and goes on."""


async def _answer(r: aiohttp.ClientResponse, what: str, ok: int = 200) -> dict[str, Any]:
    try:
        body = await r.json(content_type=None)
    except ValueError:
        body = {}
    if r.status != ok:
        detail = body.get("detail_zh") or body.get("detail") or body.get("message") or r.reason
        raise PaymentSkipped(f"{what}: {r.status} {body.get('code', '')} {detail}".strip())
    return dict(body) if isinstance(body, dict) else {}


async def pay_or_skip(
    s: aiohttp.ClientSession,
    base: str,
    *,
    sims: dict[str, str],
    h: dict[str, str],
    order_no: str,
    i: int,
    rng: random.Random,
) -> bool:
    """Pay one demo order a different way each time; False if it is left for the window.
    A payment that fails (a busy terminal, a channel fault) is reported and skipped: one
    must not end the demo."""
    try:
        way = i % 6
        url = f"{base}/api/v1/orders/{order_no}/payments"
        if way in (0, 1, 2):  # the citizen scans our QR with WeChat, Alipay or UnionPay
            channel = ("wechatpay", "alipay", "unionpay")[way]
            async with s.post(url, json={"method": "qr", "channel": channel}, headers=h) as r:
                started = await _answer(r, f"{channel} QR", 201)
            async with s.post(f"{sims[channel]}/sim/orders/{started['out_trade_no']}/pay") as r:
                await _answer(r, f"{channel} payment")
            return True
        if way == 3:  # the clerk scans the citizen's payment code
            code = f"{rng.choice(['13', '28'])}{rng.randint(10**15, 10**16 - 1)}"
            async with s.post(url, json={"method": "code", "auth_code": code}, headers=h) as r:
                await _answer(r, "payment code", 201)
            return True
        if way == 4:  # a card at the window's terminal; the two terminals take turns
            terminal = TERMINALS[(i // 6) % len(TERMINALS)]
            body = {"method": "card", "channel": "pos", "terminal_id": terminal}
            async with s.post(url, json=body, headers=h) as r:
                await _answer(r, f"card sale on {terminal}", 201)
            async with s.post(f"{sims['pos']}/sim/terminals/{terminal}/swipe", json={}) as r:
                await _answer(r, f"card on {terminal}")
            return True
        async with s.post(url, json={"method": "qr", "channel": "wechatpay"}, headers=h) as r:
            await _answer(r, "wechatpay QR", 201)
        return False  # left unpaid, so the screen shows a waiting order too
    except (PaymentSkipped, aiohttp.ClientError, TimeoutError, KeyError) as exc:
        why = exc if isinstance(exc, PaymentSkipped) else f"{type(exc).__name__}: {exc}"
        print(f"  order {i + 1} ({order_no}) not paid, skipped: {why}")
        return False


async def _demo_case(
    s: aiohttp.ClientSession, sims: dict[str, str], name: str, pid: str, rng: random.Random
) -> dict[str, Any]:
    """A resale the tax bureau has assessed and a land-transfer fee notice, at the simulators."""
    async with s.post(f"{sims['tax']}/sim/cases", json={"buyer_name": name, "buyer_id": pid}) as r:
        decl = await r.json()
    notice_body = {
        "payer_name": name,
        "item": "LAND_TRANSFER",
        "amount": f"{rng.randint(1000, 90000)}.00",
    }
    async with s.post(f"{sims['fiscal']}/sim/notices", json=notice_body) as r:
        notice = await r.json()
    return {
        "declaration_no": decl.get("declaration_no") or decl.get("DeclNo"),
        "payment_codes": [notice.get("payment_code") or notice.get("PayCode")],
        "matters": [{"kind": "residential", "extra_certificates": rng.randint(0, 1)}],
    }


async def _demo_orders(base: str, sims: dict[str, str], n: int) -> None:
    """Create and pay n varied orders through the API and the simulator, as a window would."""
    rng = random.Random()  # noqa: S311 - demo data, not secrets
    items = ["DEED_TAX", "VAT", "IIT", "STAMP_DUTY", "LAND_TRANSFER", "MAINT_FUND"]
    async with aiohttp.ClientSession() as s:
        tokens = {}
        for user in ("clerk1", "clerk2", "super1"):
            password = next(u[4] for u in DEMO_USERS if u[0] == user)
            async with s.post(
                f"{base}/api/v1/sessions", json={"username": user, "password": password}
            ) as r:
                tokens[user] = (await r.json())["token"]
        paid = 0
        for i in range(n):
            user = "clerk1" if i % 2 == 0 else "clerk2"
            window = "W01" if user == "clerk1" else "W02"
            name, pid = DEMO_PAYERS[i % len(DEMO_PAYERS)]
            body: dict[str, Any] = {
                "case_no": f"2026-BDC-{rng.randint(100000, 999999)}",
                "office": "HALL1",
                "window": window,
                "payer_name": name,
                "payer_id": pid,
            }
            creator = user
            if i % 3 != 2:
                # amounts from the authorities, as the window is meant to work
                try:
                    body["case"] = await _demo_case(s, sims, name, pid, rng)
                except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                    print(f"  order {i + 1} not created, skipped: the authorities' case: {exc!r}")
                    continue
            else:
                # the exception: the supervisor types the amounts, with a reason, audited
                lines: list[dict[str, Any]] = [{"item_code": "REG_FEE", "amount_fen": 80_00}]
                for code in rng.sample(items, rng.randint(1, 4)):
                    lines.append({"item_code": code, "amount_fen": rng.randint(100_00, 900_000_00)})
                body["lines"] = lines
                body["manual_reason"] = "演示：系统对接前的历史业务，主管手工录入"
                creator = "super1"
            h = {
                "Authorization": f"Bearer {tokens[creator]}",
                "Idempotency-Key": secrets.token_hex(12),
            }
            async with s.post(f"{base}/api/v1/orders", json=body, headers=h) as r:
                try:
                    order = await _answer(r, "order", 201)
                except PaymentSkipped as exc:
                    print(f"  order {i + 1} not created, skipped: {exc}")
                    continue
            # the clerk at the window takes the payment
            h["Authorization"] = f"Bearer {tokens[user]}"
            paid += await pay_or_skip(
                s, base, sims=sims, h=h, order_no=order["order_no"], i=i, rng=rng
            )
        # wait for the callbacks to be cleared
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            async with s.get(
                f"{base}/api/v1/orders?office=HALL1",
                headers={"Authorization": f"Bearer {tokens['clerk1']}"},
            ) as r:
                states = [o["state"] for o in (await r.json())["orders"]]
            if states.count("CLEARED") + states.count("SETTLED") >= paid:
                break
            await asyncio.sleep(0.3)
        print(f"  {n} demo orders created, {paid} paid and cleared")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="tongjiao demo")
    ap.add_argument("--orders", type=int, default=0, help="create and pay N demo orders")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument(
        "--sim-port", type=int, default=8091, help="first simulator port (0: any free ports)"
    )
    args = ap.parse_args(argv)
    if args.orders < 0:
        ap.error("--orders must not be negative")

    settings = Settings()
    var = settings.var_dir.resolve()
    (var / "log").mkdir(parents=True, exist_ok=True)
    print(
        "==> PostgreSQL"
        + (" (external)" if settings.database_url else f" (embedded, {var}/pgdata)")
    )
    asyncio.run(_prepare(settings))

    # every port is bound here, first, and handed to the process that serves it
    service_sock = _bind(args.port)
    base = _url(service_sock)
    env = dict(os.environ)
    ops_sock = _bind(args.port + 100 if args.port else 0)
    ops = _url(ops_sock)
    env.update(
        {
            "TONGJIAO_VAR_DIR": str(var),
            "TONGJIAO_PORT": str(service_sock.getsockname()[1]),
            "TONGJIAO_PUBLIC_BASE_URL": base,
            "TONGJIAO_OPS_PORT": str(ops_sock.getsockname()[1]),
        }
    )
    sims: dict[str, str] = {}
    sim_socks: dict[str, socket.socket] = {}
    for offset, (name, base_setting, path) in enumerate(CHANNELS):
        keys = var / "keys" / name
        generate_keys(name, keys)
        sim_socks[name] = _bind(args.sim_port + offset if args.sim_port else 0)
        sims[name] = _url(sim_socks[name])
        env[f"TONGJIAO_{name.upper()}_KEYS"] = str(keys / "merchant")
        env[f"TONGJIAO_{base_setting}"] = sims[name] + path
        env[f"TONGJIAO_{name.upper()}_SIM_URL"] = sims[name]
    # the WeChat simulator also plays the 公众平台's web authorization (JSAPI on the phone)
    env["TONGJIAO_WECHATPAY_OPEN_URL"] = env["TONGJIAO_WECHATPAY_SNS_URL"] = sims["wechatpay"]
    env["TONGJIAO_POS_TERMINALS"] = json.dumps(list(POS_TERMINALS))
    # the registration case system, subscribed to the order events (clearing.demo_casesys)
    sim_socks["casesys"] = _bind(args.sim_port + 9 if args.sim_port else 0)
    sims["casesys"] = _url(sim_socks["casesys"])
    demo_casesys.subscribe(settings, sims["casesys"], var / "keys" / "casesys")
    # what staff read for the demo hall's code (a deployment names its own halls)
    bank = _bank_setup(var, env, args.sim_port + len(CHANNELS) if args.sim_port else 0)
    # the SMS provider, after the case system; its notice template carries our address
    from clearing import demo_notice

    sms_sock = _bind(args.sim_port + 10 if args.sim_port else 0)
    sims["sms"] = _url(sms_sock)
    demo_notice.prepare_keys(var / "keys" / "sms", base)
    env["TONGJIAO_SMS_KEYS"] = str(var / "keys" / "sms" / "merchant")
    env["TONGJIAO_SMS_BASE_URL"] = sims["sms"]
    env["TONGJIAO_SMS_SIM_URL"] = sims["sms"]
    sim_socks["sms"] = sms_sock
    procs: list[subprocess.Popen[bytes]] = []
    stop = False

    def _stop(_sig: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        for name, url in sims.items():
            print(f"==> {name} simulator on {url}")
            sim_args = ["sim", name, "--port", url.rsplit(":", 1)[1], "--keys"]
            log = var / "log" / f"sim-{name}.log"
            procs.append(
                _spawn([*sim_args, str(var / "keys" / name)], env, log, [sim_socks.pop(name)])
            )
        print(f"==> partner bank simulator on {bank['exchange']} (desk {bank['desk']})")
        bank_proc = _spawn(bank["args"], env, var / "log" / "sim-bank.log", bank["socks"])
        procs.append(bank_proc)
        print(f"==> tongjiao service on {base} (bank files on {bank['ours']}/bankfiles/)")
        socks = [service_sock, ops_sock, bank["ours_sock"]]
        procs.append(_spawn(["serve"], env, var / "log" / "service.log", socks))
        for (name, url), proc in zip(sims.items(), procs, strict=False):
            asyncio.run(_wait_http(f"{url}/sim/faults", proc, f"the {name} simulator"))
        asyncio.run(_wait_http(f"{bank['desk']}/sim/faults", bank_proc, "the bank simulator"))
        asyncio.run(_wait_http(f"{base}/readyz", procs[-1], "the service"))
        print("==> a payment notice (缴费通知书) for a demo order, its link sent by SMS")
        notice = asyncio.run(demo_notice.issue(base, {u[0]: u[4] for u in DEMO_USERS}))
        notice_link = notice["link"] if notice else None
        if args.orders:
            print(f"==> creating and paying {args.orders} demo orders")
            asyncio.run(_demo_orders(base, sims, args.orders))
            print("==> settling them: cut-off, signed files, the bank fetches and books them")
            asyncio.run(_demo_settlement(env, bank["desk"], var))
        kiosk = asyncio.run(_demo_kiosk(base))
        # the same addresses for programs (the browser tests read them)
        urls = {
            "base": base,
            "kiosk": kiosk,
            "ops": ops,
            "sims": {**sims, "bank": bank["desk"]},
            "bankfiles": bank["ours"],
            "notice_link": notice_link,
        }
        (var / "demo-urls.json").write_text(json.dumps(urls, indent=2))
        print(_banner(base, ops, sims, var, bank, kiosk=kiosk, notice_link=notice_link), flush=True)
        while not stop and all(p.poll() is None for p in procs):
            time.sleep(0.5)
        if not stop:
            dead = next(p for p in procs if p.poll() is not None)
            print(f"a demo process exited (code {dead.returncode}); logs in {var}/log/")
            return 1
    except KeyboardInterrupt:
        pass
    finally:
        print("\n==> stopping")
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        if settings.database_url is None:
            embedded_for(settings).stop()
        print("stopped; data kept in var/ (delete it for a fresh start)")
    return 0


def _bank_setup(var: Path, env: dict[str, str], port: int) -> dict[str, Any]:
    """The partner bank: one demo PKI (its exchange and our bank-file endpoint both use mutual
    TLS), our settlement signing key, whose public half the bank trusts."""
    from adapters.bank.simulator import prepare_tls
    from clearing.settlement.signing import generate_keypair

    tls = prepare_tls(var / "bank-tls")
    key_id = "tj-settle-1"
    keys = var / "keys" / "settlement"
    if not (keys / f"{key_id}.key").exists():
        generate_keypair("ed25519", keys, key_id)
    exchange_sock = _bind(port)
    desk_sock = _bind(port + 1 if port else 0)
    ours_sock = _bind(8443 if port else 0)
    exchange, desk, ours = (
        _url(exchange_sock, "https"),
        _url(desk_sock),
        _url(ours_sock, "https"),
    )
    env.update(
        {
            "TONGJIAO_SETTLEMENT_KEY_FILE": str(keys / f"{key_id}.key"),
            "TONGJIAO_SETTLEMENT_KEY_ID": key_id,
            "TONGJIAO_BANK_BASE_URL": exchange,
            "TONGJIAO_BANK_TLS_DIR": str(tls.directory),
            "TONGJIAO_BANK_POLL_S": "3",
            "TONGJIAO_BANKFILES_PORT": ours.rsplit(":", 1)[1],
            "TONGJIAO_SETTLEMENT_CUTOFF_CHECK_S": "60",
            "TONGJIAO_RECON_DAILY_AT": "02:30",
        }
    )
    args = [
        "sim", "bank", "--tls-dir", str(tls.directory),
        "--port", exchange.rsplit(":", 1)[1], "--control-port", desk.rsplit(":", 1)[1],
        "--verify-key", f"{key_id}:ed25519:{keys / f'{key_id}.pub'}",
        "--our-base-url", ours, "--poll-seconds", "10", "--demo",
    ]  # fmt: skip
    return {
        "exchange": exchange,
        "desk": desk,
        "ours": ours,
        "args": args,
        "socks": [exchange_sock, desk_sock],
        "ours_sock": ours_sock,
    }


async def _demo_settlement(env: dict[str, str], desk: str, var: Path) -> None:
    """`tongjiao settle --cutoff now`, then the bank fetches the files at once (rather than at
    its next poll), so that the finance page shows a booked batch."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "clearing", "settle", "--cutoff", "now",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    for line in err.decode().splitlines():
        print(f"  {line}")
    print(f"  {len(out.decode().split())} files written under {var}/settlement/")
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{desk}/sim/fetch", json={}) as r:
            fetched = await r.json()
        print(f"  the bank fetched {len(fetched.get('fetched', []))} files and booked them")
        await asyncio.sleep(4)  # the service reads the bank's answer at its next poll
        async with s.post(f"{desk}/sim/close-day", json={"date": _today()}) as r:
            await r.read()
    print("==> reconciling today: bills, the bank's statement, the authorities' lists")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "clearing", "reconcile", "--date", "today",
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await proc.communicate()
    progress = [ln for ln in err.decode().splitlines() if not ln.startswith("{")]  # not log lines
    for line in progress[-2:]:
        print(f"  {line}")


def _today() -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))  # Beijing


async def _demo_kiosk(base: str) -> str:
    """A self-service kiosk of HALL1, registered as the administrator does it: the link that
    enrols a browser as that kiosk (once; afterwards /kiosk alone)."""
    password = next(u[4] for u in DEMO_USERS if u[0] == "admin")
    name = f"演示自助机 {time.strftime('%m%d-%H%M%S')}"  # a fresh one each start
    try:
        async with aiohttp.ClientSession() as s:
            async with s.post(
                f"{base}/api/v1/sessions", json={"username": "admin", "password": password}
            ) as r:
                token = (await r.json())["token"]
            async with s.post(
                f"{base}/api/v1/admin/kiosks",
                json={"office": "HALL1", "name": name},
                headers={"Authorization": f"Bearer {token}"},
            ) as r:
                body = await r.json()
                if r.status != 201:
                    raise RuntimeError(body.get("detail", r.status))
    except (aiohttp.ClientError, RuntimeError, KeyError) as exc:
        print(f"  no demo kiosk registered ({exc!r}); register one in 系统管理")
        return f"{base}/kiosk"
    return f"{base}/kiosk#enrol={body['enrol_code']}"


def _banner(
    base: str,
    ops: str,
    sims: dict[str, str],
    var: Path,
    bank: dict[str, Any],
    *,
    kiosk: str,
    notice_link: str | None = None,
) -> str:
    users = "\n".join(
        f"      {u:<9} {pw:<20} {role:<10} {name}" for u, name, role, _o, pw, _w in DEMO_USERS
    )
    return f"""
  tongjiao is running.

    窗口收费界面 window screen   {base}/window
    客显屏 citizen's screen      {base}/display   (pair it: 客显屏 on the window screen)
    自助缴费 self-service kiosk   {kiosk}
                                (the link enrols one browser once; then {base}/kiosk)
    API document (OpenAPI 3.1)  {base}/api/v1/openapi.json
    health / readiness          {base}/healthz   {base}/readyz
    metrics (Prometheus)        {ops}/metrics   (operators' listener, loopback only)
    simulators (faults: PUT …/sim/faults)
      微信支付 WeChat Pay       {sims["wechatpay"]}
      支付宝 Alipay             {sims["alipay"]}
      银联 UnionPay             {sims["unionpay"]}
      银行卡终端 card terminal   {sims["pos"]}/sim/terminals/{TERMINALS[0]}
      税务 tax bureau           {sims["tax"]}/sim/cases
      财政非税 fiscal non-tax    {sims["fiscal"]}/sim/notices
      维修资金 maintenance fund  {sims["fund"]}/sim/properties
      合作银行 partner bank     {bank["desk"]}/sim/accounts  (exchange {bank["exchange"]})
      登记业务系统 case system   {sims["casesys"]}/sim/   (order events arrive here)
      短信平台 SMS provider      {sims["sms"]}/sim/   (outbox of sent messages)
    缴费通知书 mobile pay link   {notice_link or "(not issued, see above)"}
    清分结算 settlement (finance) {base}/finance   files for the bank: {bank["ours"]}/bankfiles/
    对账日报 daily report         {base}/reports/daily?date={_today()}   (as finance1)
    logs                        {var}/log/

    sign in as (username, password, role):
{users}

  Pay an order: create it at the window screen, then click "模拟扫码支付" under the QR code,
  scan a payment code (the screen can make a test code), or send it to the card terminal and
  click "模拟刷卡".
  Press Ctrl-C to stop.
"""
