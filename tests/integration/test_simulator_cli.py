"""Every channel's simulator as people start it: ``tongjiao sim NAME``, announces its URL,
answers, and stops cleanly on SIGTERM."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from tests.integration.serving import running_sim_cli, stops_on_sigterm


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("wechatpay", ("--retry-scale", "0.01", "--fee-rate", "0.38%")),
        ("alipay", ("--retry-scale", "0.01")),
        ("unionpay", ("--retry-scale", "0.01")),
        ("pos", ("--retry-scale", "0.01", "--fee-rate-ppm", "3800")),
    ],
)
async def test_cli_listens_and_stops_on_sigterm(
    tmp_path: Path, name: str, options: tuple[str, ...]
) -> None:
    async with running_sim_cli(name, tmp_path / name, *options) as (url, proc):
        async with aiohttp.ClientSession() as session, session.get(f"{url}/sim/faults") as resp:
            assert resp.status == 200
        assert await stops_on_sigterm(proc)
