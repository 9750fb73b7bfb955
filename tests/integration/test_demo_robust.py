"""``tongjiao demo`` on a busy machine (issue 10, item 9): every port is ours from the moment it
is chosen (bound first, then handed to the process that serves it), and a demo payment that is
refused — a busy card terminal answers 422 — is reported and skipped, never the end of the demo.
Real simulator processes, the real service and the real terminal simulator."""

from __future__ import annotations

import asyncio
import errno
import os
import random
import secrets
import socket
import time
from pathlib import Path

import aiohttp
import pytest

from clearing import demo
from tests.integration.pos_harness import PosSim, card_service_fixture
from tests.integration.service_harness import Service, order_body


async def _answers(url: str, within_s: float = 30) -> int:
    deadline = time.monotonic() + within_s
    async with aiohttp.ClientSession() as s:
        while True:
            try:
                async with s.get(url) as r:
                    return r.status
            except aiohttp.ClientError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)


@pytest.mark.parametrize("name", ["pos", "tax"])
async def test_a_port_the_demo_chose_cannot_be_taken_before_its_server_serves_it(
    tmp_path: Path, name: str
) -> None:
    # another process already listens where the demo would like to be
    squatter = socket.create_server(("127.0.0.1", 0))
    wanted = squatter.getsockname()[1]
    ours = demo._bind(wanted)
    port = ours.getsockname()[1]
    assert port != wanted
    # from this instant the port is ours: nobody else can bind it, however fast
    with socket.socket() as racer, pytest.raises(OSError) as taken:
        racer.bind(("127.0.0.1", port))
    assert taken.value.errno == errno.EADDRINUSE
    proc = demo._spawn(
        ["sim", name, "--port", str(port), "--keys", str(tmp_path / name)],
        dict(os.environ),
        tmp_path / f"{name}.log",
        [ours],
    )
    try:
        assert ours.fileno() == -1  # our copy is closed; the child holds the socket
        assert await _answers(f"http://127.0.0.1:{port}/sim/faults") == 200
        assert proc.poll() is None
        log = (tmp_path / f"{name}.log").read_text()
        assert f"listening on http://127.0.0.1:{port}" in log, log
    finally:
        proc.terminate()
        proc.wait(10)
        squatter.close()


env = card_service_fixture(
    "demo",
    list(demo.TERMINALS),
    workers=1,
    card_wait_s=60.0,
)


async def test_a_busy_terminal_s_422_is_reported_and_the_demo_goes_on(
    env: tuple[Service, PosSim], capsys: pytest.CaptureFixture[str]
) -> None:
    svc, pos = env
    clerk = await svc.add_user("clerk", "HALL1")
    orders = []
    for _ in range(2):
        status, order = await svc.create_order(await svc.supervisor(), order_body((88_00,)))
        assert status == 201, order
        orders.append(order["order_no"])
    # someone at the window already has a sale on the terminal the demo's 5th order uses
    terminal = demo.TERMINALS[0]
    status, _ = await svc.request(
        "POST",
        f"/api/v1/orders/{orders[0]}/payments",
        clerk,
        json={"method": "card", "terminal_id": terminal},
    )
    assert status == 201
    sims = {"pos": pos.base_url, "wechatpay": svc.sim.base_url}
    headers = {"Authorization": f"Bearer {clerk}", "Idempotency-Key": secrets.token_hex(8)}
    async with aiohttp.ClientSession() as s:
        paid = await demo.pay_or_skip(
            s,
            svc.base_url,
            sims=sims,
            h=headers,
            order_no=orders[1],
            i=4,  # the demo pays every sixth order by card, this one on the busy terminal
            rng=random.Random(4),
        )
        assert paid is False
        out = capsys.readouterr().out
        assert f"order 5 ({orders[1]}) not paid, skipped" in out
        assert "422" in out and terminal in out
        # and the next order is paid as if nothing happened
        paid = await demo.pay_or_skip(
            s, svc.base_url, sims=sims, h=headers, order_no=orders[1], i=6, rng=random.Random(6)
        )
    assert paid is True
    await svc.wait_state(clerk, orders[1], "CLEARED")
