"""``ops/cluster up|down|status|switchover|kill-leader|heal``: a real deployment on one machine.

``up`` starts etcd, three PostgreSQL 15 members under Patroni (synchronous replication), HAProxy
(writes to the leader, the public port to ready service nodes), the simulators and two
``tongjiao serve`` nodes, then prints every URL and the leader. ``down`` stops all of it. State
lives in one folder (``var/cluster``); ``up`` again reuses its data.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import time
from pathlib import Path

from clearing.cluster import backup
from clearing.cluster import members as mb
from clearing.cluster.layout import (
    MEMBERS,
    SERVICE_NODES,
    Layout,
    free_port,
    haproxy_config,
    patroni_config,
)


def _say(text: str) -> None:
    print(text, flush=True)


def _start_etcd(lay: Layout) -> None:
    if mb.alive(lay.pids.get("etcd")):
        return
    p = lay.ports
    data = lay.root / "etcd"
    data.mkdir(parents=True, exist_ok=True)
    data.chmod(0o700)
    peer = f"http://127.0.0.1:{p.etcd_peer}"
    client = f"http://127.0.0.1:{p.etcd_client}"
    mb.spawn(
        lay,
        "etcd",
        [
            "etcd", "--name", "e1", "--data-dir", str(data),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"e1={peer}", "--initial-cluster-state", "new",
        ],
    )  # fmt: skip
    if not mb.wait_for(lambda: mb.http_json(f"{client}/health")[0] == 200, 60):
        raise RuntimeError(f"etcd did not come up; see {lay.log_dir}/etcd.log")


def _start_members(lay: Layout, *, strict: bool, within_s: float) -> None:
    archive = lay.root / "wal-archive"
    archive.mkdir(parents=True, exist_ok=True)
    mb.chown_postgres(archive)
    for m in MEMBERS:
        d = lay.member_dir(m)
        d.mkdir(parents=True, exist_ok=True)
        f = lay.patroni_file(m)
        f.write_text(json.dumps(patroni_config(lay, m, strict=strict), indent=2))
        f.chmod(0o600)  # it holds the passwords
        mb.chown_postgres(d)
        d.chmod(0o700)
    for m in MEMBERS:
        mb.start_member(lay, m)
        if m == MEMBERS[0]:
            # the first member bootstraps the cluster; the others clone from it
            mb.wait_for(lambda: mb.leader(lay) is not None, within_s)
    if not mb.wait_for(lambda: mb.healthy(lay), within_s, step=1.0):
        raise RuntimeError(
            f"the PostgreSQL members did not all come up within {within_s:.0f}s: "
            f"{mb.members_state(lay)}; see {lay.log_dir}/patroni-*.log"
        )


def _start_haproxy(lay: Layout) -> None:
    cfg = lay.root / "haproxy.cfg"
    cfg.write_text(haproxy_config(lay))
    mb.stop(lay, "haproxy", within_s=5)  # configuration may have changed
    mb.spawn(lay, "haproxy", ["haproxy", "-db", "-f", str(cfg)])
    if not mb.wait_for(lambda: mb.http_json(f"http://127.0.0.1:{lay.ports.stats}/")[0], 20):
        raise RuntimeError(f"HAProxy did not come up; see {lay.log_dir}/haproxy.log")


async def _prepare_database(lay: Layout) -> None:
    """The service's role and database (once), migrations and the demo's staff accounts."""
    import asyncpg

    from clearing.config import Settings
    from clearing.demo import _prepare

    deadline = time.monotonic() + 60
    while True:
        try:
            conn = await asyncpg.connect(lay.dsn(admin=True), timeout=5)
            break
        except (OSError, asyncpg.PostgresError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = 'tongjiao'"):
            # identifiers and passwords cannot be parameters; the password is our own hex
            await conn.execute(f"CREATE ROLE tongjiao LOGIN PASSWORD '{lay.secrets.app}'")
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = 'tongjiao'"):
            await conn.execute("CREATE DATABASE tongjiao OWNER tongjiao")
    finally:
        await conn.close()
    await _prepare(Settings(database_url=lay.dsn(), var_dir=lay.app_dir))


def _node_env(lay: Layout, node: str, sim_env: dict[str, str]) -> dict[str, str]:
    p = lay.ports
    keys = lay.app_dir / "keys"
    env = dict(os.environ)
    env.update(sim_env)
    env.update(
        {
            "TONGJIAO_DATABASE_URL": lay.dsn(),
            "TONGJIAO_VAR_DIR": str(lay.node_dir(node)),
            "TONGJIAO_HOST": "127.0.0.1",
            "TONGJIAO_PORT": str(p.node_http[node]),
            "TONGJIAO_OPS_PORT": str(p.node_ops[node]),
            "TONGJIAO_BANKFILES_PORT": str(p.node_bankfiles[node]),
            # callbacks and links go to the load balancer, never to one node
            "TONGJIAO_PUBLIC_BASE_URL": lay.base_url,
            # what every node must share: the PII key, the receipt key, the settlement files
            "TONGJIAO_PII_KEY_FILE": str(keys / "pii.key"),
            "TONGJIAO_RECEIPT_KEY_FILE": str(keys / "receipt-ed25519.pem"),
            "TONGJIAO_SETTLEMENT_DIR": str(lay.app_dir / "settlement"),
            # max_connections is 50 for three members' worth of clients
            "TONGJIAO_DB_POOL_MIN": "1",
            "TONGJIAO_DB_POOL_MAX": "8",
        }
    )
    return env


def _start_sims(lay: Layout, retry_scale: float) -> dict[str, str]:
    """The outside parties, as ``tongjiao demo`` starts them; the environment the nodes need."""
    from clearing import demo

    var = lay.app_dir
    env: dict[str, str] = {}
    for name, base_setting, path in demo.CHANNELS:
        keys = var / "keys" / name
        demo.generate_keys(name, keys)
        url = lay.sims.get(name) or f"http://127.0.0.1:{free_port()}"
        lay.sims[name] = url
        env[f"TONGJIAO_{name.upper()}_KEYS"] = str(keys / "merchant")
        env[f"TONGJIAO_{base_setting}"] = url + path
        env[f"TONGJIAO_{name.upper()}_SIM_URL"] = url
    env["TONGJIAO_POS_TERMINALS"] = json.dumps(list(demo.POS_TERMINALS))
    bank = demo._bank_setup(var, env, 0)
    # the demo hands its bound sockets to the bank it starts; here the bank process is started
    # by the cluster's own supervisor and binds the ports itself
    for sock in [*bank["socks"], bank["ours_sock"]]:
        sock.close()
    args = list(bank["args"])
    # the bank fetches our files through the load balancer, from whichever node is up
    args[args.index("--our-base-url") + 1] = f"https://127.0.0.1:{lay.ports.bankfiles}"
    lay.sims["bank"] = bank["desk"]
    lay.sims["bank-exchange"] = bank["exchange"]
    lay.save()
    for name, url in lay.sims.items():
        if name == "bank-exchange" or mb.alive(lay.pids.get(f"sim-{name}")):
            continue
        if name == "bank":
            argv = args
        else:
            argv = [
                "sim",
                name,
                "--port",
                url.rsplit(":", 1)[1],
                "--keys",
                str(var / "keys" / name),
            ]
            if name == "wechatpay":
                argv += ["--retry-scale", str(retry_scale)]
        mb.spawn(lay, f"sim-{name}", [sys.executable, "-m", "clearing", *argv], env=_sim_env(env))
    for name, url in lay.sims.items():
        if name != "bank-exchange" and not _answers(f"{url}/sim/faults", 60):
            raise RuntimeError(f"the {name} simulator did not come up; see {lay.log_dir}")
    return env


def _answers(url: str, within_s: float) -> bool:
    return mb.wait_for(lambda: mb.http_json(url)[0] == 200, within_s)


def _sim_env(env: dict[str, str]) -> dict[str, str]:
    full = dict(os.environ)
    full.update(env)
    return full


def _start_nodes(lay: Layout, sim_env: dict[str, str]) -> None:
    from clearing.api.app import pii_cipher
    from clearing.config import Settings
    from clearing.service.receipts import load_receipt_signer

    keys = lay.app_dir / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    # made once here, so that two nodes starting together cannot each make their own
    pii_cipher(Settings(pii_key_file=keys / "pii.key"))
    load_receipt_signer(keys / "receipt-ed25519.pem")
    for node in SERVICE_NODES:
        if mb.alive(lay.pids.get(node)):
            continue
        lay.node_dir(node).mkdir(parents=True, exist_ok=True)
        env = _node_env(lay, node, sim_env)
        mb.spawn(lay, node, [sys.executable, "-m", "clearing", "serve"], env=env)
    for node in SERVICE_NODES:
        url = f"http://127.0.0.1:{lay.ports.node_http[node]}/readyz"
        if not _answers(url, 120):
            raise RuntimeError(f"{node} did not become ready; see {lay.log_dir}/{node}.log")
    if not mb.wait_for(lambda: mb.http_json(f"{lay.base_url}/readyz")[0] == 200, 30):
        raise RuntimeError("the load balancer does not reach a ready node")


def up(lay: Layout, *, strict: bool = True, retry_scale: float = 1.0) -> None:
    lay.root.mkdir(parents=True, exist_ok=True)
    lay.root.chmod(0o755)  # the postgres user walks through it to its members' folders
    lay.save()
    _say("==> etcd")
    _start_etcd(lay)
    _say("==> PostgreSQL 15 × 3 under Patroni (synchronous replication)")
    _start_members(
        lay, strict=strict, within_s=float(os.environ.get("TONGJIAO_CLUSTER_WAIT_S", "300"))
    )
    _say("==> HAProxy")
    _start_haproxy(lay)
    _say("==> database, migrations, staff accounts")
    asyncio.run(_prepare_database(lay))
    _say("==> simulators")
    sim_env = _start_sims(lay, retry_scale)
    _say("==> tongjiao nodes")
    _start_nodes(lay, sim_env)
    (lay.root / "urls.json").write_text(json.dumps(urls(lay), indent=2))
    _say(banner(lay))


def down(lay: Layout) -> None:
    order = [*SERVICE_NODES, *(n for n in lay.pids if n.startswith("sim-")), "haproxy"]
    for name in order:
        mb.stop(lay, name, within_s=10)
    # Patroni stops its PostgreSQL when it stops; any postmaster left over is stopped after
    for m in MEMBERS:
        mb.stop(lay, f"patroni-{m}", within_s=40)
    for m in MEMBERS:
        mb.stop_postgres_left(lay, m)
    mb.stop(lay, "etcd", within_s=10)
    for name in list(lay.pids):
        mb.stop(lay, name, within_s=5)
    _say(f"stopped; data kept in {lay.root} (`ops/cluster down --purge` removes it)")


def urls(lay: Layout) -> dict[str, object]:
    p = lay.ports
    return {
        "base": lay.base_url,
        "nodes": {n: f"http://127.0.0.1:{p.node_http[n]}" for n in SERVICE_NODES},
        "ops": {n: f"http://127.0.0.1:{p.node_ops[n]}" for n in SERVICE_NODES},
        "patroni": {m: lay.rest_url(m) for m in MEMBERS},
        "postgres": {m: f"127.0.0.1:{p.pg[m]}" for m in MEMBERS},
        "dsn": lay.dsn(),
        "haproxy_stats": f"http://127.0.0.1:{p.stats}/",
        "etcd": f"http://127.0.0.1:{p.etcd_client}",
        "sims": dict(lay.sims),
    }


def status_text(lay: Layout) -> str:
    rows = []
    for x in mb.members_state(lay):
        rows.append(
            f"    {x.get('name', '?'):<5} {x.get('role', '?'):<13} {x.get('state', '?'):<10}"
            f" timeline {x.get('timeline', '-')}  lag {x.get('lag', 0)}"
        )
    if not rows:
        rows.append("    (no Patroni member answers)")
    nodes = []
    for n in SERVICE_NODES:
        code, body = mb.http_json(f"http://127.0.0.1:{lay.ports.node_http[n]}/readyz")
        said = body.get("status") if isinstance(body, dict) else "down"
        nodes.append(f"    {n:<5} {said} ({code or 'no answer'})")
    return "\n".join(
        [
            f"  leader: {mb.leader(lay) or 'none'}   synchronous standby: "
            f"{mb.sync_standby(lay) or 'none'}",
            "  PostgreSQL members (Patroni):",
            *rows,
            "  tongjiao nodes:",
            *nodes,
        ]
    )


def banner(lay: Layout) -> str:
    u = urls(lay)
    nodes = "\n".join(f"      {n}  {v}   ops {u['ops'][n]}" for n, v in u["nodes"].items())  # type: ignore[index,attr-defined]
    sims = "\n".join(f"      {n:<13} {v}" for n, v in lay.sims.items())
    patroni = "  ".join(f"{m} {lay.rest_url(m)}" for m in MEMBERS)
    return f"""
  The tongjiao cluster is running ({lay.root}).

    window screen / API (HAProxy)   {lay.base_url}/window   {lay.base_url}/api/v1/openapi.json
    service nodes (behind HAProxy)
{nodes}
    database (writes, via HAProxy)  {lay.dsn()}
    Patroni REST                    {patroni}
    HAProxy stats                   {u["haproxy_stats"]}
    etcd                            {u["etcd"]}
    simulators
{sims}
    logs                            {lay.log_dir}/

{status_text(lay)}

  Sign in as in ./ops/demo (clerk1 / clerk1-demo-pass, …). Stop with ./ops/cluster down.
"""


def switchover(lay: Layout, candidate: str | None) -> str:
    """A planned change of leader through ``patronictl``; the new leader's name."""
    import subprocess

    old = mb.leader(lay)
    if old is None:
        raise RuntimeError("no leader to switch over from")
    cand = candidate or mb.sync_standby(lay)
    if cand is None:
        raise RuntimeError("no synchronous standby to switch over to")
    cfg = lay.patroni_file(old)
    subprocess.run(  # noqa: S603 - fixed program
        ["/usr/bin/patronictl", "-c", str(cfg), "switchover", "--leader", old, "--candidate", cand,
         "--force"],
        check=True,
        user="postgres" if os.geteuid() == 0 else None,
        capture_output=True,
        timeout=120,
    )  # fmt: skip
    if not mb.wait_for(lambda: mb.leader(lay) == cand, 90):
        raise RuntimeError(f"{cand} did not take over from {old}")
    return cand


def _restore_drill(lay: Layout, target_text: str | None, *, keep: bool) -> int:
    from datetime import UTC, datetime

    if target_text:
        target = datetime.fromisoformat(target_text)
        if target.tzinfo is None:
            _say("--target needs a time zone, e.g. 2026-12-07T18:30:00+08:00")
            return 2
    else:
        target = datetime.now(UTC)
        backup.switch_wal(lay)  # what was committed until now reaches the archive
    res = backup.drill(lay, target, keep=keep)
    _say(
        f"restored {res.backup.name} to {res.target:%Y-%m-%d %H:%M:%S} UTC in {res.seconds:.0f} s:"
        f" {res.payments} payments, every journal entry balanced, tongjiao ready on it;"
        f" {res.audit_output.strip().splitlines()[-1] if res.audit_output.strip() else ''}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="ops/cluster")
    ap.add_argument(
        "--dir", type=Path, default=Path(os.environ.get("TONGJIAO_CLUSTER_DIR", "var/cluster"))
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    u = sub.add_parser("up", help="start everything (reusing the data of an earlier run)")
    u.add_argument("--no-strict", action="store_true", help="let a lone primary go on writing")
    u.add_argument("--sim-retry-scale", type=float, default=1.0)
    d = sub.add_parser("down", help="stop everything this folder's `up` started")
    d.add_argument("--purge", action="store_true", help="and delete the folder")
    sub.add_parser("status", help="the leader, the members, the service nodes")
    s = sub.add_parser("switchover", help="planned change of leader (patronictl switchover)")
    s.add_argument("--candidate", choices=MEMBERS)
    sub.add_parser("kill-leader", help="SIGKILL the leader's Patroni and postmaster")
    sub.add_parser("heal", help="start members that are not running")
    sub.add_parser("backup", help="a base backup of the leader (pg_basebackup)")
    r = sub.add_parser("restore-drill", help="restore to a point in time and check the copy")
    r.add_argument("--target", help="ISO time with zone (default: now)")
    r.add_argument("--keep", action="store_true", help="keep the restored data directory")
    args = ap.parse_args(argv)
    lay = Layout.load_or_new(args.dir)
    if args.cmd == "up":
        try:
            up(lay, strict=not args.no_strict, retry_scale=args.sim_retry_scale)
        except RuntimeError as exc:
            _say(f"cluster did not come up: {exc}\nstopping what was started")
            down(lay)
            return 1
    elif args.cmd == "down":
        down(lay)
        if args.purge:
            shutil.rmtree(lay.root, ignore_errors=True)
    elif args.cmd == "status":
        _say(status_text(lay))
    elif args.cmd == "switchover":
        _say(f"new leader: {switchover(lay, args.candidate)}")
    elif args.cmd == "kill-leader":
        old = mb.leader(lay)
        if old is None:
            _say("no leader")
            return 1
        mb.kill_member(lay, old)
        _say(f"killed {old}")
    elif args.cmd == "backup":
        _say(f"base backup in {backup.backup(lay)}")
    elif args.cmd == "restore-drill":
        return _restore_drill(lay, args.target, keep=args.keep)
    elif args.cmd == "heal":
        for m in MEMBERS:
            mb.start_member(lay, m)
        _say(status_text(lay))
    return 0


if __name__ == "__main__":
    sys.exit(main())
