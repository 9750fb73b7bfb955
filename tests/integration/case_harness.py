"""The service with every authority a case lookup asks, each a real simulator over HTTP: the tax
bureau, the non-tax (fiscal) system and the maintenance-fund office, besides WeChat Pay (which
every service has). Tests of orders made from a case start it once per module:

    async with running_case_service(db_dsn, tmp, workers=2) as env:
        env["svc"], env["tax"], env["fiscal"], env["fund"]
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.integration.factories import PAYER_ID
from tests.integration.fiscal_harness import running_fiscal_sim
from tests.integration.fund_harness import home, running_fund_sim
from tests.integration.service_harness import running_wechat_service
from tests.integration.serving import polled
from tests.integration.tax_harness import running_tax_sim


@asynccontextmanager
async def running_case_service(
    dsn: str, tmp: Path, **settings: Any
) -> AsyncIterator[dict[str, Any]]:
    """The running service (``svc``) and the three authorities' simulators (``tax``, ``fiscal``,
    ``fund``), our keys for each under ``tmp/NAME``; ``settings`` go to the service."""
    async with (
        running_tax_sim(tmp / "tax") as tax,
        running_fiscal_sim(tmp / "fiscal") as fiscal,
        running_fund_sim(tmp / "fund") as fund,
        running_wechat_service(
            dsn,
            tmp,
            tax_keys=tmp / "tax" / "merchant",
            tax_base_url=tax.base_url,
            fiscal_keys=tmp / "fiscal" / "merchant",
            fiscal_base_url=fiscal.base_url,
            fund_keys=tmp / "fund" / "merchant",
            fund_base_url=fund.base_url,
            **settings,
        ) as svc,
    ):
        yield {"svc": svc, "tax": tax, "fiscal": fiscal, "fund": fund}


def case_fixture(name: str, **settings: Any) -> Any:
    """A module fixture ``env``: ``running_case_service`` in a fresh folder ``name`` on the
    module's database, plus a ``clerk`` of HALL1's window."""

    @pytest.fixture(scope="module")
    async def env(
        db_dsn: str, tmp_path_factory: pytest.TempPathFactory
    ) -> AsyncIterator[dict[str, Any]]:
        tmp = tmp_path_factory.mktemp(name)
        async with running_case_service(db_dsn, tmp, **settings) as running:
            yield {**running, "clerk": await running["svc"].add_user("clerk", "HALL1")}

    return env


async def new_case(env: dict[str, Any], land_transfer: str) -> dict[str, Any]:
    """A fresh case at the three authorities for 张三: a tax declaration, a fiscal notice of
    ``land_transfer`` yuan and a fund notice; the references a case order names."""
    decl = await env["tax"].create_case(buyer_name="张三", buyer_id=PAYER_ID)
    notice = await env["fiscal"].issue(
        payer_name="张三", item="LAND_TRANSFER", amount=land_transfer
    )
    fund = await home(env["fund"])
    return {
        "declaration_no": decl["declaration_no"] if "declaration_no" in decl else decl["DeclNo"],
        "payment_codes": [
            notice["payment_code"] if "payment_code" in notice else notice["PayCode"]
        ],
        "fund_notice": fund["noticeNo"],
    }


def case_body(case_no: str, case: dict[str, Any]) -> dict[str, Any]:
    """The body of POST /v1/orders/from-case for 张三 at HALL1's window W01."""
    return {
        "case_no": case_no,
        "office": "HALL1",
        "window": "W01",
        "payer_name": "张三",
        "payer_id": PAYER_ID,
        "case": case,
    }


async def case_order(env: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """The order the clerk makes from a case (``case_body``), which must be made."""
    status, order = await env["svc"].create_order(env["clerk"], body)
    assert status == 201, order
    return dict(order)


def all_confirmed(order: dict[str, Any]) -> bool:
    """Every leg of the order that names a reference is confirmed by its authority."""
    legs = [ln for ln in order["lines"] if ln["reference"]]
    return bool(legs) and all(ln["confirm_state"] == "CONFIRMED" for ln in legs)


async def confirmed_order(
    env: dict[str, Any], order_no: str, within_s: float = 15.0, every_s: float = 0.1
) -> dict[str, Any]:
    """The order as the clerk reads it once ``all_confirmed``, or as it stands when time ran out
    (the caller asserts)."""

    async def read() -> dict[str, Any]:
        _, order = await env["svc"].request("GET", f"/api/v1/orders/{order_no}", env["clerk"])
        return dict(order)

    return await polled(read, all_confirmed, within_s, every_s)
