"""Where a local cluster's parts live and how each is configured.

One folder (``var/cluster`` by default) holds everything: etcd's data, three PostgreSQL data
directories with the Patroni configuration of each, HAProxy's configuration, the service nodes'
folders, the logs, and ``state.json`` — the ports chosen at ``up`` and the process ids to stop at
``down``. Ports are chosen free at the first ``up`` and kept, so that URLs stay the same between
runs.

Patroni reads YAML; JSON is YAML, so its files are written with ``json`` (no extra dependency).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PG_BIN = Path("/usr/lib/postgresql/15/bin")
MEMBERS = ("pg1", "pg2", "pg3")
SERVICE_NODES = ("node1", "node2")
SCOPE = "tongjiao"


# ports handed out by this process: each is free when chosen but bound later, by a daemon
_GIVEN: set[int] = set()


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A port free now, for a daemon that binds it itself a moment later (etcd, PostgreSQL,
    Patroni, HAProxy, the nodes). Chosen below the kernel's ephemeral range: a port from that
    range (what binding port 0 gives) may be taken meanwhile by any outgoing connection on the
    machine, and a node then failed to start with "address already in use"."""
    low = _ephemeral_low()
    rng = secrets.SystemRandom()
    for _ in range(500):
        port = rng.randrange(max(1024, low - 12_000), low)
        if port in _GIVEN:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _GIVEN.add(port)
        return port
    raise RuntimeError(f"no free port below {low}")


@dataclass
class Ports:
    etcd_client: int
    etcd_peer: int
    # per member: PostgreSQL and Patroni's REST API
    pg: dict[str, int]
    rest: dict[str, int]
    # HAProxy: writes (to the leader), the service's public port, bank files, its stats page
    db_rw: int
    http: int
    bankfiles: int
    stats: int
    # per service node: public, operators' and bank-file listeners
    node_http: dict[str, int]
    node_ops: dict[str, int]
    node_bankfiles: dict[str, int]

    @classmethod
    def pick(cls) -> Ports:
        return cls(
            etcd_client=free_port(),
            etcd_peer=free_port(),
            pg={m: free_port() for m in MEMBERS},
            rest={m: free_port() for m in MEMBERS},
            db_rw=free_port(),
            http=free_port(),
            bankfiles=free_port(),
            stats=free_port(),
            node_http={n: free_port() for n in SERVICE_NODES},
            node_ops={n: free_port() for n in SERVICE_NODES},
            node_bankfiles={n: free_port() for n in SERVICE_NODES},
        )


@dataclass
class Secrets:
    superuser: str = field(default_factory=lambda: secrets.token_hex(16))
    replication: str = field(default_factory=lambda: secrets.token_hex(16))
    rewind: str = field(default_factory=lambda: secrets.token_hex(16))
    app: str = field(default_factory=lambda: secrets.token_hex(16))


@dataclass
class Layout:
    root: Path
    ports: Ports
    secrets: Secrets
    # process ids of what ``up`` started, by name
    pids: dict[str, int] = field(default_factory=dict)
    sims: dict[str, str] = field(default_factory=dict)

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def log_dir(self) -> Path:
        return self.root / "log"

    def member_dir(self, member: str) -> Path:
        return self.root / member

    def data_dir(self, member: str) -> Path:
        return self.member_dir(member) / "data"

    def patroni_file(self, member: str) -> Path:
        return self.member_dir(member) / "patroni.yml"

    @property
    def app_dir(self) -> Path:
        """What the service nodes share: keys, simulators' keys, settlement files."""
        return self.root / "app"

    def node_dir(self, node: str) -> Path:
        return self.root / node

    def dsn(self, *, admin: bool = False) -> str:
        """Through HAProxy to whichever member leads."""
        if admin:
            return (
                f"postgresql://postgres:{self.secrets.superuser}@127.0.0.1:{self.ports.db_rw}"
                "/postgres"
            )
        return f"postgresql://tongjiao:{self.secrets.app}@127.0.0.1:{self.ports.db_rw}/tongjiao"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.http}"

    def rest_url(self, member: str) -> str:
        return f"http://127.0.0.1:{self.ports.rest[member]}"

    def save(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        data = {
            "ports": asdict(self.ports),
            "secrets": asdict(self.secrets),
            "pids": self.pids,
            "sims": self.sims,
        }
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2))
        tmp.chmod(0o600)
        tmp.replace(self.state_file)

    @classmethod
    def load_or_new(cls, root: Path) -> Layout:
        root = root.resolve()
        path = root / "state.json"
        if path.exists():
            data = json.loads(path.read_text())
            return cls(
                root,
                Ports(**data["ports"]),
                Secrets(**data["secrets"]),
                data.get("pids", {}),
                data.get("sims", {}),
            )
        return cls(root, Ports.pick(), Secrets())


def patroni_config(lay: Layout, member: str, *, strict: bool) -> dict[str, Any]:
    """One member's Patroni configuration (docs/ops/cluster.md explains the choices)."""
    p = lay.ports
    conn = f"127.0.0.1:{p.pg[member]}"
    archive = lay.root / "wal-archive"
    return {
        "scope": SCOPE,
        # our own keys in etcd, so that a second cluster on the same etcd cannot clash
        "namespace": f"/tongjiao-{hashlib.sha256(str(lay.root).encode()).hexdigest()[:8]}/",
        "name": member,
        "log": {"level": "INFO"},
        "restapi": {
            "listen": f"127.0.0.1:{p.rest[member]}",
            "connect_address": f"127.0.0.1:{p.rest[member]}",
        },
        "etcd3": {"hosts": [f"127.0.0.1:{p.etcd_client}"]},
        "bootstrap": {
            "dcs": {
                # loop_wait + 2 * retry_timeout <= ttl; short, so that a dead leader's lock expires
                # soon (RTO), not so short that a loaded host loses its lock by mere slowness
                "ttl": 20,
                "loop_wait": 3,
                "retry_timeout": 8,
                "maximum_lag_on_failover": 1048576,
                "synchronous_mode": True,
                # docs/decisions: no commit is acknowledged unless a second member holds it
                "synchronous_mode_strict": strict,
                "synchronous_node_count": 1,
                "postgresql": {
                    "use_pg_rewind": True,
                    "use_slots": True,
                    "parameters": {
                        # a small host: these fit three members beside everything else
                        "max_connections": 50,
                        "shared_buffers": "32MB",
                        "wal_level": "replica",
                        "hot_standby": "on",
                        "wal_log_hints": "on",
                        "max_wal_senders": 10,
                        "max_replication_slots": 10,
                        "wal_keep_size": "128MB",
                        "synchronous_commit": "on",
                        # every finished WAL segment is kept for point-in-time restores
                        "archive_mode": "on",
                        "archive_command": f"test ! -f {archive}/%f && cp %p {archive}/%f",
                        "archive_timeout": 60,
                    },
                },
            },
            "initdb": [{"encoding": "UTF8"}, {"locale": "C"}, "data-checksums"],
        },
        "postgresql": {
            "listen": conn,
            "connect_address": conn,
            "data_dir": str(lay.data_dir(member)),
            "bin_dir": str(PG_BIN),
            "pgpass": str(lay.member_dir(member) / "pgpass"),
            "authentication": {
                "superuser": {"username": "postgres", "password": lay.secrets.superuser},
                "replication": {"username": "replicator", "password": lay.secrets.replication},
                "rewind": {"username": "rewinder", "password": lay.secrets.rewind},
            },
            "pg_hba": [
                "local all all trust",
                "host replication replicator 127.0.0.1/32 scram-sha-256",
                "host all all 127.0.0.1/32 scram-sha-256",
            ],
            "parameters": {"unix_socket_directories": str(lay.member_dir(member))},
        },
        "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False},
    }


def haproxy_config(lay: Layout) -> str:
    """Writes go to the member Patroni calls primary; the public port to ready service nodes."""
    p = lay.ports
    members = "\n".join(f"  server {m} 127.0.0.1:{p.pg[m]} check port {p.rest[m]}" for m in MEMBERS)
    nodes = "\n".join(f"  server {n} 127.0.0.1:{p.node_http[n]} check" for n in SERVICE_NODES)
    bankfiles = "\n".join(
        f"  server {n} 127.0.0.1:{p.node_bankfiles[n]} check" for n in SERVICE_NODES
    )
    return f"""# written by ops/cluster; edits are lost at the next `up`
global
  maxconn 400

defaults
  mode tcp
  timeout connect 4s
  timeout client 30m
  timeout server 30m
  timeout check 3s

# PostgreSQL writes: only the member whose Patroni answers 200 on /primary; sessions to a member
# marked down are cut, so that no client keeps writing to a demoted primary
listen postgres_rw
  bind 127.0.0.1:{p.db_rw}
  option httpchk OPTIONS /primary
  http-check expect status 200
  default-server inter 1s fastinter 500ms fall 2 rise 1 on-marked-down shutdown-sessions
{members}

# the service's public port (window screens, API, channels' callbacks): nodes that are ready
listen tongjiao_http
  bind 127.0.0.1:{p.http}
  mode http
  option forwardfor
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 1s fall 2 rise 1
{nodes}

# the banks fetch settlement files over mutual TLS: passed through untouched
listen tongjiao_bankfiles
  bind 127.0.0.1:{p.bankfiles}
  balance roundrobin
  default-server inter 2s fall 2 rise 1
{bankfiles}

listen stats
  bind 127.0.0.1:{p.stats}
  mode http
  stats enable
  stats uri /
  stats refresh 2s
"""
