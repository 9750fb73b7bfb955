"""Pull mode: the bank fetches our files from our HTTPS endpoint with its client certificate.

    GET {our_base}/bankfiles/          {"files": [{"name", "sha256", "size"}, ...]}
    GET {our_base}/bankfiles/{name}    the bytes (and {name}.sig, {name}.sha256 when listed)

A data file is taken once its ``.sig`` is listed too, and only once per (name, sha256): the same
name with new bytes is taken again (its MsgId decides what happens then). Bytes that do not hash
to what the listing says are left for the next round. One round runs on ``POST /sim/fetch`` or
every ``poll_seconds``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import aiohttp
from aiohttp import web

from adapters import simkit
from adapters.bank.sim_intake import BadName, receive, split_name
from adapters.bank.sim_signature import sha256_hex
from adapters.bank.sim_state import STATE, PullConfig, SimState

log = logging.getLogger(__name__)


class PullFailed(Exception):
    """Our endpoint could not be read this round."""


async def fetch_once(state: SimState) -> dict[str, Any]:
    """One round: what was taken, what was left and why."""
    if state.pull is None or state.session is None:
        raise PullFailed("pull mode is off: start the simulator with --our-base-url")
    if state.faults.take("refuse_fetches"):
        log.info("sim bank pull round skipped (fault)")
        return {"fetched": [], "left": [], "refused": True}
    async with state.pull_lock:
        return await _round(state, state.pull, state.session)


async def _round(
    state: SimState, pull: PullConfig, session: aiohttp.ClientSession
) -> dict[str, Any]:
    base = pull.base_url.rstrip("/") + "/bankfiles/"
    listing = await _get(session, pull, base)
    try:
        files = _listing(listing)
    except (ValueError, TypeError) as exc:
        raise PullFailed(f"listing unreadable: {exc}") from None
    fetched: list[str] = []
    left: list[dict[str, str]] = []
    for name, digest in files.items():
        try:
            _, part = split_name(name)
        except BadName:
            left.append({"name": name, "why": "not a file the bank takes"})
            continue
        if part != "data" or state.fetched.get(name) == digest:
            continue
        if name + ".sig" not in files:
            left.append({"name": name, "why": "no signature yet"})
            continue
        data = await _get(session, pull, base + name)
        if sha256_hex(data) != digest:
            left.append({"name": name, "why": "bytes differ from the listing"})
            continue
        sig = await _get(session, pull, base + name + ".sig")
        checksum = None
        if name + ".sha256" in files:
            checksum = await _get(session, pull, base + name + ".sha256")
        state.fetched[name] = digest
        receive(state, name, data, sig, checksum, via="pull")
        fetched.append(name)
    log.info("sim bank pull round fetched=%d left=%d", len(fetched), len(left))
    return {"fetched": fetched, "left": left, "refused": False}


def _listing(document: bytes) -> dict[str, str]:
    data = json.loads(document)
    entries = data["files"]
    if not isinstance(entries, list):
        raise TypeError("files must be a list")
    files: dict[str, str] = {}
    for entry in entries:
        name, digest = entry["name"], entry["sha256"]
        if not isinstance(name, str) or not isinstance(digest, str):
            raise TypeError("name and sha256 must be strings")
        files[name] = digest.lower()
    return files


async def _get(session: aiohttp.ClientSession, pull: PullConfig, url: str) -> bytes:
    timeout = aiohttp.ClientTimeout(total=pull.timeout_s)
    try:
        async with session.get(url, ssl=pull.ssl_context or True, timeout=timeout) as resp:
            body = await resp.read()
            if resp.status != 200:
                raise PullFailed(f"GET {url} answered {resp.status}")
            return body
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise PullFailed(f"GET {url} failed: {type(exc).__name__}") from exc


def add_pull(app: web.Application) -> None:
    """In pull mode, a client session for pulling while the app runs (the kit's notification
    session: stopped and its pending jobs cancelled at cleanup), and the poller when asked for."""
    state = app[STATE]
    if state.pull is None:
        return
    simkit.add_notify_session(app, state)
    seconds = state.pull.poll_seconds

    async def start_polling(_: web.Application) -> None:
        if seconds > 0:
            state.spawn(_poll(state, seconds))

    app.on_startup.append(start_polling)


async def _poll(state: SimState, seconds: float) -> None:
    while not state.stopping.is_set():
        await state.pause(seconds)
        if state.stopping.is_set():
            return
        try:
            await fetch_once(state)
        except PullFailed as exc:
            log.warning("sim bank pull round failed: %s", exc)
