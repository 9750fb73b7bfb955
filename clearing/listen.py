"""Listening sockets bound before the server starts, handed down by the process that started it.

``tongjiao demo`` starts the simulators and the service as child processes on ports it chooses.
Checking that a port is free and binding it later, in the child, races with every other process
on the machine. So the demo binds each port itself (the one asked for, or any free one when that
is taken) and hands the bound, listening socket to the child: ``TONGJIAO_LISTEN_FDS`` maps ports
to inherited descriptors, ``8091=5,8443=6``. A server asked to listen on a port it inherited a
socket for serves that socket; on any other port it binds as usual.
"""

from __future__ import annotations

import os
import socket
import ssl

from aiohttp import web

ENV = "TONGJIAO_LISTEN_FDS"


def inherited(port: int) -> socket.socket | None:
    """The listening socket handed down for ``port``, if there is one."""
    if not port:
        return None
    for part in os.environ.get(ENV, "").split(","):
        name, _, fd = part.partition("=")
        if name.strip() == str(port) and fd.strip().isdigit():
            return socket.socket(fileno=int(fd.strip()))
    return None


def site(
    runner: web.BaseRunner, host: str, port: int, *, ssl_context: ssl.SSLContext | None = None
) -> web.BaseSite:
    """The site to serve ``host:port`` on: the inherited socket, else a fresh bind."""
    sock = inherited(port)
    if sock is not None:
        return web.SockSite(runner, sock, ssl_context=ssl_context)
    return web.TCPSite(runner, host, port, ssl_context=ssl_context)


def bind(host: str, preferred: int) -> socket.socket:
    """A listening socket on ``preferred``, or on a free port the system picks when another
    process holds it. Bound here and now: nobody can take it before the server uses it."""
    try:
        return socket.create_server((host, preferred), backlog=128)
    except OSError:
        return socket.create_server((host, 0), backlog=128)


def env_for(socks: list[socket.socket]) -> str:
    """The ``TONGJIAO_LISTEN_FDS`` value that hands ``socks`` to a child process."""
    return ",".join(f"{s.getsockname()[1]}={s.fileno()}" for s in socks)
