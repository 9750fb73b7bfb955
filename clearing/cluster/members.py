"""Starting, watching and stopping the processes of a local cluster.

Every process is started in a session of its own and its id recorded in ``state.json``, so that
``down`` stops exactly what ``up`` started, whoever runs it. PostgreSQL must not run as root:
Patroni (and through it every postmaster) runs as the ``postgres`` user.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from clearing.cluster.layout import MEMBERS, Layout

PG_USER = "postgres"


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is not alive: a child of ours that exited but was not reaped yet
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def spawn(
    lay: Layout,
    name: str,
    argv: list[str],
    *,
    env: dict[str, str] | None = None,
    as_postgres: bool = False,
    cwd: Path | None = None,
) -> int:
    """Start ``argv`` detached, output to ``log/<name>.log``; its pid is recorded under ``name``."""
    lay.log_dir.mkdir(parents=True, exist_ok=True)
    log = (lay.log_dir / f"{name}.log").open("ab")
    kwargs: dict[str, Any] = {}
    run_env = dict(env if env is not None else os.environ)
    if as_postgres and os.geteuid() == 0:
        pw = pwd.getpwnam(PG_USER)
        kwargs.update(user=pw.pw_uid, group=pw.pw_gid, extra_groups=[])
        run_env.update(HOME=pw.pw_dir, USER=PG_USER, LOGNAME=PG_USER)
        cwd = cwd or Path(pw.pw_dir)
    proc = subprocess.Popen(  # noqa: S603 - fixed programs, no shell
        argv,
        env=run_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        cwd=cwd,
        **kwargs,
    )
    log.close()
    lay.pids[name] = proc.pid
    lay.save()
    return proc.pid


def stop(lay: Layout, name: str, *, within_s: float = 30.0) -> None:
    """SIGTERM, then SIGKILL when it does not go within ``within_s``."""
    pid = lay.pids.get(name)
    if pid and alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not wait_for(lambda: not alive(pid), within_s, step=0.2):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            wait_for(lambda: not alive(pid), 5, step=0.1)
    lay.pids.pop(name, None)
    lay.save()


def wait_for(cond: Callable[[], object], within_s: float, *, step: float = 0.5) -> bool:
    deadline = time.monotonic() + within_s
    while True:
        if cond():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(step)


def http_json(url: str, timeout: float = 2.0) -> tuple[int, Any]:
    """(status, body as JSON or None); status 0 when nobody answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - our own loopback
            body = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        body, status = e.read(), e.code
    except (OSError, TimeoutError):
        return 0, None
    try:
        return status, json.loads(body)
    except ValueError:
        return status, None


def postmaster_pid(lay: Layout, member: str) -> int | None:
    try:
        return int((lay.data_dir(member) / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


def members_state(lay: Layout) -> list[dict[str, Any]]:
    """Patroni's view of every member: name, role, state, timeline, lag; from any live member."""
    for m in MEMBERS:
        status, body = http_json(f"{lay.rest_url(m)}/cluster")
        if status == 200 and isinstance(body, dict):
            return list(body.get("members", []))
    return []


def leader(lay: Layout) -> str | None:
    """The member that answers 200 on ``/primary`` (what HAProxy sends writes to)."""
    for m in MEMBERS:
        if http_json(f"{lay.rest_url(m)}/primary", timeout=1.0)[0] == 200:
            return m
    return None


def sync_standby(lay: Layout) -> str | None:
    for m in MEMBERS:
        if http_json(f"{lay.rest_url(m)}/sync", timeout=1.0)[0] == 200:
            return m
    return None


def healthy(lay: Layout) -> bool:
    """A leader, a synchronous standby, and all three members running."""
    ms = members_state(lay)
    running = [x for x in ms if x.get("state") in ("running", "streaming")]
    roles = {x.get("role") for x in ms}
    return len(running) == len(MEMBERS) and "leader" in roles and "sync_standby" in roles


def start_member(lay: Layout, member: str) -> None:
    pid = lay.pids.get(f"patroni-{member}")
    if alive(pid):
        return
    # a postmaster left behind by a killed Patroni is stopped first; Patroni starts its own
    old = postmaster_pid(lay, member)
    if old and alive(old):
        with contextlib.suppress(ProcessLookupError):
            os.kill(old, signal.SIGKILL)
        wait_for(lambda: not alive(old), 10, step=0.1)
    spawn(
        lay,
        f"patroni-{member}",
        ["/usr/bin/patroni", str(lay.patroni_file(member))],
        as_postgres=True,
    )


def kill_member(lay: Layout, member: str) -> None:
    """The member's machine dies: Patroni and the postmaster get SIGKILL, nothing shuts down
    cleanly and the leader key is left to expire."""
    patroni = lay.pids.get(f"patroni-{member}")
    pm = postmaster_pid(lay, member)
    for pid in (patroni, pm):
        if pid and alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not alive(patroni) and not alive(pm), 10, step=0.1)


def stop_postgres_left(lay: Layout, member: str) -> None:
    """After Patroni is gone no postmaster may outlive ``down``."""
    pm = postmaster_pid(lay, member)
    if pm and alive(pm):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pm, signal.SIGQUIT)  # immediate shutdown
        if not wait_for(lambda: not alive(pm), 15, step=0.2):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pm, signal.SIGKILL)


def chown_postgres(path: Path) -> None:
    if os.geteuid() != 0:
        return
    pw = pwd.getpwnam(PG_USER)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    for root, dirs, files in os.walk(path):
        for n in dirs + files:
            os.chown(os.path.join(root, n), pw.pw_uid, pw.pw_gid)
