"""The real service and the WeChat Pay simulator as separate OS processes, for tests and benchmarks.

    async with Processes(tmp_path / "procs") as procs:
        sim = await procs.simulator(keys_root, retry_scale=0.02)
        svc = await procs.service(dsn, keys_root, sim_url=sim.url, workers=2)
        svc.kill()             # SIGKILL: no shutdown handlers, no goodbyes
        await svc.restart()    # same port, same database, same var dir

Every process is started in a session of its own (so a signal to its process group reaches
anything it spawned), writes stdout and stderr to a log file under the given folder, and dies with
the process that started it (``PR_SET_PDEATHSIG``) should that be killed before cleaning up. When
the ``async with`` block ends, whatever still runs gets SIGTERM, then SIGKILL; when it ends in an
exception, the tail of every log is printed, so that a failing test shows what the service said.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    """A TCP port on 127.0.0.1 that the OS just handed out (and we let go of again)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> Callable[[], None] | None:
    # resolved here, in the parent: the child may only make the call between fork and exec
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def _set() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)

    return _set


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment minus every TONGJIAO_* variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGJIAO_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


class Proc:
    """One ``python -m clearing ...`` process that can be killed and started again."""

    def __init__(
        self, name: str, args: list[str], env: dict[str, str], log_path: Path, url: str, ready: str
    ) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.log_path = log_path
        self.url = url
        self.ready_url = url + ready
        self.popen: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def pid(self) -> int | None:
        return None if self.popen is None else self.popen.pid

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def start(self) -> None:
        if self.alive:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"----- {self.name} start #{self.starts} at {time.time():.3f}\n".encode())
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "clearing", *self.args],
                env=self.env,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent(),
            )

    async def wait_ready(self, within_s: float = 30.0) -> None:
        """Until the readiness URL answers 200; fails early if the process exits."""
        deadline = time.monotonic() + within_s
        timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            while time.monotonic() < deadline:
                if not self.alive:
                    code = None if self.popen is None else self.popen.returncode
                    raise RuntimeError(
                        f"{self.name} exited with code {code} before it was ready\n"
                        + self.log_tail()
                    )
                with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                    async with http.get(self.ready_url) as resp:
                        if resp.status == 200:
                            return
                await asyncio.sleep(0.05)
        raise RuntimeError(f"{self.name} not ready at {self.ready_url} in {within_s:.0f}s")

    async def restart(self, within_s: float = 30.0) -> None:
        """Start again (after ``kill`` or ``terminate``) and wait until ready."""
        self.start()
        await self.wait_ready(within_s)

    def _signal_group(self, signum: int) -> None:
        assert self.popen is not None
        # the child leads its own session, so its process group id is its pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signum)

    def kill(self) -> None:
        """SIGKILL the process group and reap the process."""
        if self.popen is None or self.popen.returncode is not None:
            return
        self._signal_group(signal.SIGKILL)
        self.popen.wait(10)

    def terminate(self, grace_s: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after ``grace_s``; returns the exit code."""
        if self.popen is None:
            return None
        if self.popen.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.popen.wait(grace_s)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.popen.wait(10)
        # anything it left behind in its group goes too
        self._signal_group(signal.SIGKILL)
        return self.popen.returncode

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return f"(no log at {self.log_path})"
        tail = "\n".join(text.splitlines()[-lines:])
        return f"===== {self.name}: last {lines} lines of {self.log_path}\n{tail}"


class Processes:
    """Owns the processes started through it; stops them all when the block ends."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.procs: list[Proc] = []

    async def __aenter__(self) -> Processes:
        self.folder.mkdir(parents=True, exist_ok=True)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(report=exc is not None)

    def close(self, *, report: bool = False) -> None:
        for p in reversed(self.procs):
            p.terminate(grace_s=5.0)
        if report:
            self.report()

    def report(self, lines: int = 40) -> None:
        for p in self.procs:
            print(p.log_tail(lines), file=sys.stderr)

    def _add(self, proc: Proc) -> Proc:
        self.procs.append(proc)
        return proc

    async def simulator(
        self, keys_root: Path, *, port: int | None = None, retry_scale: float = 0.02
    ) -> Proc:
        """``tongjiao sim wechatpay``, ready when ``/sim/faults`` answers."""
        port = port or free_port()
        proc = self._add(
            Proc(
                "wechatpay-sim",
                [
                    "sim",
                    "wechatpay",
                    "--port",
                    str(port),
                    "--keys",
                    str(keys_root),
                    "--retry-scale",
                    str(retry_scale),
                ],
                child_env({}),
                self.folder / "sim-wechatpay.log",
                f"http://127.0.0.1:{port}",
                "/sim/faults",
            )
        )
        proc.start()
        await proc.wait_ready()
        return proc

    async def service(
        self,
        dsn: str,
        keys_root: Path,
        *,
        sim_url: str,
        port: int | None = None,
        workers: int = 2,
        name: str = "service",
        env: Mapping[str, str] | None = None,
    ) -> Proc:
        """``tongjiao serve``, ready when ``/readyz`` answers 200. ``env`` adds or overrides
        TONGJIAO_* settings (e.g. TONGJIAO_POLL_FIRST_S)."""
        port = port or free_port()
        url = f"http://127.0.0.1:{port}"
        var_dir = self.folder / f"{name}-var"
        var_dir.mkdir(parents=True, exist_ok=True)
        settings = {
            "TONGJIAO_DATABASE_URL": dsn,
            "TONGJIAO_VAR_DIR": str(var_dir),
            "TONGJIAO_WECHATPAY_KEYS": str(keys_root / "merchant"),
            "TONGJIAO_WECHATPAY_BASE_URL": sim_url,
            "TONGJIAO_PUBLIC_BASE_URL": url,
            "TONGJIAO_LOG_LEVEL": "WARNING",
            **(env or {}),
        }
        proc = self._add(
            Proc(
                name,
                ["serve", "--port", str(port), "--workers", str(workers)],
                child_env(settings),
                self.folder / f"{name}.log",
                url,
                "/readyz",
            )
        )
        proc.start()
        await proc.wait_ready()
        return proc


def cpu_seconds(pid: int, *, reaped_children: bool = False) -> float:
    """User + system CPU a live process used so far (Linux ``/proc``); with
    ``reaped_children``, also what its children that already exited used."""
    try:
        # the fields after the ")" that closes the command name: state is the first (field 3)
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def children_of(pid: int) -> list[int]:
    """The live processes whose parent is ``pid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def tree_cpu_seconds(pid: int) -> float:
    """CPU of a process and all its children, live or exited (e.g. a postmaster and its
    backends: the postmaster reaps them, so their time moves into its children's totals)."""
    return cpu_seconds(pid, reaped_children=True) + sum(cpu_seconds(c) for c in children_of(pid))
