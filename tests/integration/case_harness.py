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

from tests.integration.fiscal_harness import running_fiscal_sim
from tests.integration.fund_harness import running_fund_sim
from tests.integration.service_harness import running_service
from tests.integration.tax_harness import running_tax_sim
from tests.integration.wechat_harness import running_wechat_sim


@asynccontextmanager
async def running_case_service(
    dsn: str, tmp: Path, **settings: Any
) -> AsyncIterator[dict[str, Any]]:
    """The running service (``svc``) and the three authorities' simulators (``tax``, ``fiscal``,
    ``fund``), our keys for each under ``tmp/NAME``; ``settings`` go to the service."""
    async with (
        running_wechat_sim(tmp / "wechat") as sim,
        running_tax_sim(tmp / "tax") as tax,
        running_fiscal_sim(tmp / "fiscal") as fiscal,
        running_fund_sim(tmp / "fund") as fund,
        running_service(
            dsn,
            tmp,
            sim,
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
